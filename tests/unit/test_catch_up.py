"""Bounded, honest catch-up after the operator was away: every scheduled time is accounted
for exactly once, from the CronJob's own record before anything is called Missed, and a
long gap is one history entry and one event, not one per time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from decisions import Plan, decide_on
from hypothesis import given, settings
from hypothesis import strategies as st
from objects import NOW, job, schedule

from aischeduler_operator import due, manifests, names
from aischeduler_operator.plan import MAX_EVENTS
from aischeduler_operator.schedule import load_time_zone, next_times, parse_schedule
from aischeduler_operator.settings import Settings
from aischeduler_operator.span import unseen
from aischeduler_operator.times import rfc3339

SETTINGS = Settings(platform_url="https://codemie.example.com/api", credentials_secret="creds")
EVERY_5 = {"schedule": "*/5 * * * *"}
# A decision records everything it found, but posts no more than a handful of Events.
HANDFUL = MAX_EVENTS


def cronjob(last_scheduled: datetime | None, limit: int = manifests.CRONJOB_JOBS_KEPT) -> Any:
    body: dict[str, Any] = {
        "metadata": {"name": "daily", "labels": names.owned_labels("daily")},
        "spec": {"successfulJobsHistoryLimit": limit, "failedJobsHistoryLimit": limit},
    }
    if last_scheduled is not None:
        body["status"] = {"lastScheduleTime": rfc3339(last_scheduled)}
    return body


def away(since: datetime, **status: Any) -> dict[str, Any]:
    """A */5 schedule whose status was last written at ``since`` (the operator left)."""
    return schedule(
        EVERY_5,
        status={"observedGeneration": 1, "scheduleWatermark": rfc3339(since), **status},
        created=since - timedelta(days=30),
    )


def decide(cr: dict[str, Any], jobs: Any = (), cj: Any = None, now: datetime = NOW) -> Plan:
    return decide_on(cr, jobs, settings=SETTINGS, now=now, cronjob=cj)


def slots(after: datetime, until: datetime, every: timedelta = timedelta(minutes=5)) -> int:
    """How many multiples of ``every`` lie in (after, until] (UTC, whole minutes)."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return (until - epoch) // every - (after - epoch) // every


HORIZON = NOW - timedelta(seconds=300) - due.MISSED_SLACK  # deadline 300 s + slack


def test_three_days_away_with_no_jobs_is_one_entry_and_one_event() -> None:
    # Today's figure before this change: 863 Missed entries and 863 Events.
    since = NOW.replace(second=0) - timedelta(days=3)
    plan = decide(away(since), cj=cronjob(since))
    expected = slots(since, HORIZON)
    assert expected == 863
    (entry,) = plan.status["history"]
    assert entry["result"] == "Missed"
    assert entry["message"].startswith(
        f"863 scheduled times between {rfc3339(since + timedelta(minutes=5))} and "
        "2026-03-10T11:55:00Z were not run: no run started within startingDeadlineSeconds"
    )
    runs = plan.status["runs"]
    assert (runs["total"], runs["missed"], runs["consecutiveFailures"]) == (863, 863, 863)
    missed_events = [e for e in plan.events if e.reason == "RunMissed"]
    assert len(missed_events) == 1 and missed_events[0].type == "Warning"
    assert "863 scheduled times" in missed_events[0].message
    assert len(plan.events) <= HANDFUL
    assert plan.status["scheduleWatermark"] == "2026-03-10T11:55:00Z"
    print(f"\n3 days of */5 away: {len(plan.status['history'])} entry, {len(plan.events)} event(s)")

    # Stored, the next look adds nothing.
    again = decide({**away(since), "status": plan.status}, cj=cronjob(since))
    assert again.status["runs"] == runs
    assert again.events == []


def test_no_status_and_a_year_old_schedule_counts_every_time_in_one_entry() -> None:
    created = NOW.replace(second=0) - timedelta(days=365)
    cr = schedule(EVERY_5, created=created)
    plan = decide(cr)
    expected = slots(created, HORIZON)
    assert expected > 100_000
    (entry,) = plan.status["history"]
    assert entry["message"].startswith(f"{expected} scheduled times between ")
    assert plan.status["runs"]["missed"] == plan.status["runs"]["total"] == expected
    assert len(plan.events) <= HANDFUL


def test_a_few_missed_times_are_listed_but_their_events_are_one() -> None:
    since = NOW.replace(second=0) - timedelta(minutes=60)
    plan = decide(away(since), cj=cronjob(since))
    missed = [h for h in plan.status["history"] if h["result"] == "Missed"]
    assert slots(since, HORIZON) == 11
    assert len(missed) == 10  # historyLimit
    assert plan.status["runs"]["missed"] == 11
    (event,) = [e for e in plan.events if e.reason == "RunMissed"]
    assert event.message.startswith("11 runs were missed (see status.history); the newest: ")


def test_jobs_the_cronjob_kept_are_runs_not_missed() -> None:
    # Away 2 hours; the CronJob controller ran every time and kept every Job (its limits
    # are generous): all 24 are recorded with their results, none is Missed.
    since = NOW.replace(second=0) - timedelta(hours=2)
    times = [since + timedelta(minutes=5 * i) for i in range(1, 25)]
    jobs = [
        job(
            f"daily-{int(t.timestamp()) // 60}",
            scheduled=t,
            state="Failed" if i % 2 else "Succeeded",
            reason="BackoffLimitExceeded",
            completed=t + timedelta(seconds=2),
        )
        for i, t in enumerate(times)
    ]
    plan = decide(away(since), jobs, cj=cronjob(times[-1]))
    runs = plan.status["runs"]
    assert (runs["total"], runs["succeeded"], runs["failed"], runs["missed"]) == (24, 12, 12, 0)
    assert len(plan.events) <= HANDFUL
    assert {e.reason for e in plan.events} == {"RunSucceeded", "RunFailed"}


def test_times_whose_jobs_the_cronjob_may_have_deleted_are_not_called_missed() -> None:
    # Away 3 days under an old CronJob that kept 3 Jobs per outcome: it ran up to its
    # lastScheduleTime and kept the newest 3 successful Jobs. The times before them may
    # have run: said once, not counted. Only the time after lastScheduleTime is Missed.
    since = NOW.replace(second=0) - timedelta(days=3)
    last = NOW.replace(second=0) - timedelta(minutes=15)
    kept = [last - timedelta(minutes=5 * i) for i in (2, 1, 0)]
    jobs = [
        job(
            f"daily-{int(t.timestamp()) // 60}",
            scheduled=t,
            state="Succeeded",
            completed=t + timedelta(seconds=3),
        )
        for t in kept
    ]
    plan = decide(away(since), jobs, cj=cronjob(last, limit=3))
    runs = plan.status["runs"]
    assert (runs["succeeded"], runs["missed"]) == (3, 2)  # 11:50 and 11:55 were not run
    (notice,) = [e for e in plan.events if e.reason == "RunsNotRecorded"]
    unrecorded = slots(since, kept[0] - timedelta(minutes=1))
    assert notice.type == "Warning"
    assert notice.message.startswith(f"{unrecorded} scheduled times between ")
    assert "they are not counted" in notice.message
    assert len(plan.events) <= HANDFUL


ZONES = ["UTC", "Europe/Berlin", "America/Sao_Paulo", "Australia/Lord_Howe", "Asia/Kathmandu"]
CRONS = ["*/7 * * * *", "30 2 * * *", "0 * * * 1-5", "15 1,2,3 * 3,10 0", "0 0 29 2 *", "@hourly"]


@settings(max_examples=40, deadline=None)
@given(
    cron=st.sampled_from(CRONS),
    zone=st.sampled_from(ZONES),
    start=st.integers(0, 86400 * 800),
    length=st.integers(0, 86400 * 12),
    drop=st.lists(st.integers(0, 50), max_size=4),
    limit=st.integers(0, 8),
)
def test_span_counts_exactly_what_next_times_finds(
    cron: str, zone: str, start: int, length: int, drop: list[int], limit: int
) -> None:
    s, tz = parse_schedule(cron), load_time_zone(zone)
    after = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(seconds=start)
    until = after + timedelta(seconds=length)
    every: list[datetime] = []
    while (found := next_times(s, tz, every[-1] if every else after, 1)) and found[0] <= until:
        every.append(found[0])
    seen = {every[i] for i in drop if i < len(every)}
    left = [t for t in every if t not in seen]
    got = unseen(s, tz, after, until, seen, limit)
    assert got.count == len(left)
    assert list(got.listed) == left[:limit]
    assert got.last == (left[-1] if left else None)
    assert got.last_any == (every[-1] if every else None)


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York"])
def test_span_across_dst_days_matches_next_times(zone: str) -> None:
    s, tz = parse_schedule("*/30 * * * *"), load_time_zone(zone)
    for after in (datetime(2026, 3, 7, tzinfo=UTC), datetime(2026, 10, 23, tzinfo=UTC)):
        until = after + timedelta(days=10)
        every = next_times(s, tz, after, 2000)
        every = [t for t in every if t <= until]
        assert unseen(s, tz, after, until, (), 0).count == len(every)
