"""Jenkins-style H in schedules: resolved to plain cron that robfig (our port) accepts,
stable for one namespace/name, spread across many."""

from __future__ import annotations

import statistics
import subprocess
import sys
import textwrap
from collections import Counter
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from aischeduler_operator.hashcron import has_hash, resolve_hash
from aischeduler_operator.schedule import ScheduleError, next_times, parse_schedule

ID = "team-a/daily-report"


@pytest.mark.parametrize(
    ("expression", "identity", "resolved"),
    [
        # Pinned values: a change to the hash would move every user's schedule.
        ("H 9 * * *", ID, "3 9 * * *"),
        ("H 9 * * 1-5", ID, "3 9 * * 1-5"),
        ("H/15 * * * *", ID, "3-59/15 * * * *"),
        ("H(0-29) 2 * * *", ID, "3 2 * * *"),
        ("H(0-29)/10 * * * *", ID, "3-29/10 * * * *"),
        ("H H H * H", ID, "3 19 11 * 0"),
        ("H 9 * * *", "team-b/daily-report", "26 9 * * *"),
        ("H,30 * * * *", ID, "3,30 * * * *"),
        ("H/1 * * * *", ID, "0-59 * * * *"),
        ("H/60 * * * *", ID, "3-59/60 * * * *"),
    ],
)
def test_resolution_table(expression: str, identity: str, resolved: str) -> None:
    assert resolve_hash(expression, identity) == resolved
    parse_schedule(resolved)  # what the CronJob API gets must parse as robfig does


@pytest.mark.parametrize(
    "expression", ["0 9 * * *", "*/15 * * * *", "@daily", "@hourly", "0 9 * * THU", "  0 9 * * *"]
)
def test_schedules_without_h_are_unchanged(expression: str) -> None:
    assert not has_hash(expression)
    assert resolve_hash(expression, ID) == expression


@pytest.mark.parametrize(
    ("expression", "fragment"),
    [
        ("H(30-10) * * * *", "range must lie within 0-59 and not be empty"),
        ("H(0-60) * * * *", "range must lie within 0-59"),
        ("* H(0-24) * * *", "range must lie within 0-23"),
        ("H/0 * * * *", "step must be between 1 and 60"),
        ("H/61 * * * *", "step must be between 1 and 60"),
        ("H(0-9)/11 * * * *", "step must be between 1 and 10"),
        ("H-5 * * * *", "write H as H, H(a-b), H/n or H(a-b)/n"),
        ("Hx * * * *", "write H as"),
        ("H * * *", "expected exactly 5 fields, found 4"),
        ("H * * * * *", "expected exactly 5 fields, found 6"),
    ],
)
def test_invalid_h_is_a_schedule_error(expression: str, fragment: str) -> None:
    with pytest.raises(ScheduleError, match="invalid schedule") as err:
        resolve_hash(expression, ID)
    assert fragment in str(err.value)


def test_fields_stay_in_their_hash_ranges() -> None:
    """A bare H: day-of-month 1-28 (every month has it), day-of-week 0-6, month 1-12."""
    for i in range(300):
        minute, hour, dom, month, dow = resolve_hash("H H H H H", f"ns/s{i}").split()
        assert 0 <= int(minute) <= 59 and 0 <= int(hour) <= 23
        assert 1 <= int(dom) <= 28 and 1 <= int(month) <= 12 and 0 <= int(dow) <= 6


def test_stable_across_processes() -> None:
    """No per-process hash seed: a fresh interpreter with another PYTHONHASHSEED agrees."""
    code = textwrap.dedent(
        """
        from aischeduler_operator.hashcron import resolve_hash
        print(";".join(resolve_hash("H H(8-10) * * H", f"ns/s{i}") for i in range(50)))
        """
    )
    here = ";".join(resolve_hash("H H(8-10) * * H", f"ns/s{i}") for i in range(50))
    for seed in ("1", "4242"):
        out = subprocess.run(
            [sys.executable, "-c", code],
            capture_output=True,
            text=True,
            check=True,
            env={"PYTHONHASHSEED": seed, "PATH": ""},
        )
        assert out.stdout.strip() == here


def spread_of_daily_at_nine(count: int) -> Counter[int]:
    """The minute chosen for ``count`` "H 9 * * *" schedules in 10 namespaces."""
    return Counter(
        int(resolve_hash("H 9 * * *", f"team-{i % 10}/report-{i}").split()[0]) for i in range(count)
    )


def test_500_daily_at_nine_are_spread_over_the_hour() -> None:
    minutes = spread_of_daily_at_nine(500)
    per_minute = [minutes.get(m, 0) for m in range(60)]
    print(f"\n500 x 'H 9 * * *': minutes used {len(minutes)}/60, per minute {per_minute}")
    print(
        f"min {min(per_minute)} max {max(per_minute)} mean {statistics.mean(per_minute):.2f} "
        f"stdev {statistics.pstdev(per_minute):.2f} (uniform ideal: 8.33 each)"
    )
    assert len(minutes) == 60  # every minute of the hour is used
    assert max(per_minute) <= 20  # no pile-up: at most ~2.4x the mean in one minute
    # and the same schedule always gets the same minute
    assert spread_of_daily_at_nine(500) == minutes


def test_next_run_times_follow_the_resolved_expression() -> None:
    resolved = resolve_hash("H 9 * * 1-5", ID)
    times = next_times(
        parse_schedule(resolved), ZoneInfo("Europe/Berlin"), datetime(2026, 3, 27, tzinfo=UTC), 3
    )
    assert [t.isoformat() for t in times] == [
        "2026-03-27T08:03:00+00:00",  # Friday, CET
        "2026-03-30T07:03:00+00:00",  # Monday, CEST
        "2026-03-31T07:03:00+00:00",
    ]
