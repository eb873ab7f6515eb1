"""The memo of activations gives exactly what the calendar search gives, in any order of
questions, searches each activation once, and stays bounded."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aischeduler_operator import schedule
from aischeduler_operator.firetimes import FireTimes


def step_every(period: int, until: int | None = None):  # type: ignore[no-untyped-def]
    """Activations at multiples of ``period`` (none after ``until``); counts its calls."""
    calls: list[int] = []

    def step(t: int) -> int | None:
        calls.append(t)
        found = (t // period + 1) * period
        return None if until is not None and found > until else found

    return step, calls


def direct(step, after: int, count: int) -> list[int]:  # type: ignore[no-untyped-def]
    found: list[int] = []
    t = after
    for _ in range(count):
        nxt = step(t)
        if nxt is None:
            break
        found.append(nxt)
        t = nxt
    return found


@pytest.mark.parametrize(
    ("questions", "expected"),
    [
        # (after, count) asked in order -> the answers
        ([(0, 3)], [[10, 20, 30]]),
        ([(0, 3), (5, 2), (10, 2), (29, 1)], [[10, 20, 30], [10, 20], [20, 30], [30]]),
        ([(25, 2), (3, 2)], [[30, 40], [10, 20]]),  # back before the window
        ([(0, 2), (95, 2)], [[10, 20], [100, 110]]),  # far ahead of it
        ([(0, 0)], [[]]),
    ],
)
def test_answers_as_the_search(questions: list[tuple[int, int]], expected: list[list[int]]) -> None:
    memo = FireTimes()
    step, _ = step_every(10)
    assert [memo.after("k", a, c, step) for a, c in questions] == expected


def test_each_activation_is_searched_once() -> None:
    memo = FireTimes()
    step, calls = step_every(10)
    memo.after("k", 0, 5, step)
    searched = len(calls)
    for after in range(45):  # the same question, as the clock moves within the window
        memo.after("k", after, 1, step)
    assert searched == 5
    assert len(calls) == 5  # 10..50 were known already


def test_a_schedule_that_stops_firing() -> None:
    memo = FireTimes()
    step, calls = step_every(10, until=30)
    assert memo.after("k", 0, 5, step) == [10, 20, 30]
    assert memo.after("k", 15, 5, step) == [20, 30]
    assert memo.after("k", 30, 5, step) == []
    assert len(calls) == 4  # 10, 20, 30 and the search from 30 that found none


def test_bounded() -> None:
    memo = FireTimes(max_windows=3, max_times=8)
    step, _ = step_every(1)
    for key in range(10):
        memo.after(key, 0, 5, step)
    assert len(memo) == 3
    assert memo.after("long", 0, 100, step) == list(range(1, 101))
    assert memo.after("long", 99, 2, step) == [100, 101]
    assert memo.after("long", 0, 2, step) == [1, 2]  # trimmed away: searched again


@settings(max_examples=200, deadline=None)
@given(
    period=st.integers(1, 50),
    until=st.none() | st.integers(0, 2000),
    questions=st.lists(st.tuples(st.integers(0, 2000), st.integers(0, 12)), max_size=30),
    max_times=st.integers(2, 20),
)
def test_any_order_of_questions(
    period: int, until: int | None, questions: list[tuple[int, int]], max_times: int
) -> None:
    memo = FireTimes(max_windows=2, max_times=max_times)
    step, _ = step_every(period, until)
    for after, count in questions:
        assert memo.after("k", after, count, step) == direct(step, after, count)


ZONES = ["UTC", "Europe/Berlin", "America/Sao_Paulo", "Australia/Lord_Howe", "Pacific/Apia"]
EXPRESSIONS = ["*/15 8-18 * * 1-5", "30 2 * * *", "0 0 29 2 *", "0 0 31 * 1", "@hourly"]


@settings(max_examples=60, deadline=None)
@given(
    expression=st.sampled_from(EXPRESSIONS),
    zone=st.sampled_from(ZONES),
    offsets=st.lists(st.integers(0, 400 * 24 * 3600), min_size=1, max_size=8),
    count=st.integers(1, 6),
)
def test_next_times_as_without_the_memo(
    expression: str, zone: str, offsets: list[int], count: int
) -> None:
    cron = schedule.parse_schedule(expression)
    tz = schedule.load_time_zone(zone)
    start = datetime(2025, 10, 1, tzinfo=UTC)
    for offset in offsets:
        after = start + timedelta(seconds=offset)
        t = schedule._unix_floor(after)
        expected = [
            datetime(1970, 1, 1, tzinfo=UTC) + timedelta(seconds=u)
            for u in direct(lambda u: schedule._spec_next(cron, tz, u), t, count)
        ]
        assert schedule.next_times(cron, tz, after, count) == expected
