"""Scheduled times: which passed without a run (Missed), whether a one-time run is due,
and when to look again. Pure, the clock passed in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from aischeduler_operator import names
from aischeduler_operator.models import HistoryEntry
from aischeduler_operator.resolve import Resolved
from aischeduler_operator.runs import JobView
from aischeduler_operator.schedule import next_times
from aischeduler_operator.times import parse_time, rfc3339

# How long after a scheduled time's deadline we wait before calling it Missed: covers the
# CronJob controller's and our own watch latency.
MISSED_SLACK = timedelta(seconds=15)
# Scheduled times examined per reconcile (a schedule unwatched for years stays bounded).
MAX_MISSED_SCAN = 1000
# startingDeadlineSeconds has no upper bound in the API; beyond this it changes nothing.
MAX_DEADLINE = timedelta(days=3650)


@dataclass(frozen=True)
class Times:
    """Where the schedule's accounting of scheduled times stands after this decision."""

    watermark: str | None
    missed: tuple[HistoryEntry, ...] = ()
    wake_at: datetime | None = None


@dataclass(frozen=True)
class OneTime:
    times: Times
    accounted: bool  # the runAt run was started or recorded Missed
    start: str | None = None  # the Job to start now


def deadline_of(r: Resolved) -> timedelta:
    # Clamped before it becomes a timedelta: the CRD sets no maximum, and timedelta
    # overflows past ~8.6e13 s.
    seconds = min(r.spec.starting_deadline_seconds, MAX_DEADLINE.total_seconds())
    return timedelta(seconds=seconds)


def missed_entry(
    job: str, trigger: Literal["Scheduled", "OneTime"], when: datetime, why: str
) -> HistoryEntry:
    return HistoryEntry(
        job=job, trigger=trigger, result="Missed", scheduled_time=rfc3339(when), message=why
    )


def times_until(r: Resolved, start: datetime, horizon: datetime) -> list[datetime]:
    """Scheduled times after ``start`` up to ``horizon`` (bounded by MAX_MISSED_SCAN)."""
    assert r.cron is not None  # noqa: S101
    due: list[datetime] = []
    t = start
    while len(due) < MAX_MISSED_SCAN:
        found = next_times(r.cron, r.time_zone, t, 1)
        if not found or found[0] > horizon:
            break
        due.append(found[0])
        t = found[0]
    return due


def why_missed(r: Resolved, views: tuple[JobView, ...], t: datetime) -> str:
    if r.spec.concurrency_policy == "Forbid":
        for v in views:
            begun = v.start_time or v.scheduled_time
            ended = v.completion_time
            if begun is not None and begun <= t and (ended is None or ended >= t):
                return (
                    f"skipped: concurrencyPolicy is Forbid and run {v.name} was still "
                    f"active at {rfc3339(t)}"
                )
    return (
        f"no run started within startingDeadlineSeconds ({r.spec.starting_deadline_seconds}s)"
        f" of {rfc3339(t)}: the CronJob controller or the operator was not running, or the "
        "cluster could not start the Job in time"
    )


def _next_look(
    r: Resolved, horizon: datetime, seen: set[datetime | None], now: datetime
) -> datetime | None:
    """A run that never starts (CronJob controller down, deadline passed, skipped under
    Forbid) makes no event of its own: look again once the first time not accounted for
    yet is past its deadline (to record it Missed), and shortly after the next time (so
    nextRunTime does not stay in the past), whatever else happens meanwhile."""
    assert r.cron is not None  # noqa: S101
    pending = next_times(r.cron, r.time_zone, horizon, 1)
    for _ in range(MAX_MISSED_SCAN):
        if not pending or pending[0] not in seen:
            break
        pending = next_times(r.cron, r.time_zone, pending[0], 1)
    wake = [t + deadline_of(r) + MISSED_SLACK for t in pending]
    wake += [t + MISSED_SLACK for t in next_times(r.cron, r.time_zone, now, 1)]
    return min(wake, default=None)


def recurring(
    r: Resolved,
    *,
    name: str,
    views: tuple[JobView, ...],
    history: list[HistoryEntry],
    watermark: str | None,
    created: str | None,
    spec_changed: bool,
    now: datetime,
) -> Times:
    """Records scheduled times that passed their deadline with no run started."""
    if r.spec.suspend or spec_changed:
        return Times(watermark=rfc3339(now))
    start = parse_time(watermark) or parse_time(created) or now
    # Once the CronJob controller has started a later time it never starts an earlier
    # one: times before the newest scheduled run are settled, deadline or not.
    started = [v.scheduled_time for v in views if v.trigger == "Scheduled" and v.scheduled_time]
    horizon = max([now - deadline_of(r) - MISSED_SLACK, *started])
    seen = {v.scheduled_time for v in views} | {parse_time(h.scheduled_time) for h in history}
    due = times_until(r, start, horizon)
    missed = tuple(
        missed_entry(
            names.scheduled_job_name(name, int(t.timestamp())),
            "Scheduled",
            t,
            why_missed(r, views, t),
        )
        for t in due
        if t not in seen
    )
    return Times(
        watermark=rfc3339(due[-1] if due else start),
        missed=missed,
        wake_at=_next_look(r, horizon, seen, now),
    )


def one_time(
    r: Resolved, *, name: str, views: tuple[JobView, ...], watermark: str | None, now: datetime
) -> OneTime:
    """A runAt schedule: start its run when due (inside the deadline), else record it
    Missed; wait with a timer until then."""
    assert r.run_at is not None and r.spec.run_at is not None  # noqa: S101
    key = rfc3339(r.run_at)
    job = names.one_time_job_name(name, r.spec.run_at)
    if watermark == key or any(v.name == job for v in views):
        return OneTime(Times(watermark=key), accounted=True)
    if r.spec.suspend:
        return OneTime(Times(watermark=watermark), accounted=False)
    if now < r.run_at:
        return OneTime(Times(watermark=watermark, wake_at=r.run_at), accounted=False)
    if now <= r.run_at + deadline_of(r):
        return OneTime(Times(watermark=key), accounted=True, start=job)
    late = int((now - r.run_at).total_seconds())
    why = (
        f"runAt {key} passed {late}s ago, beyond startingDeadlineSeconds "
        f"({r.spec.starting_deadline_seconds}s): the operator was not running then"
    )
    entry = missed_entry(job, "OneTime", r.run_at, why)
    return OneTime(Times(watermark=key, missed=(entry,)), accounted=True)
