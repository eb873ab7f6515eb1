"""Scheduled times: which passed without a run (Missed), whether a one-time run is due,
and when to look again. Pure, the clock passed in."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from aischeduler_operator import names, span
from aischeduler_operator.models import HistoryEntry
from aischeduler_operator.resolve import Resolved
from aischeduler_operator.runs import JobView
from aischeduler_operator.schedule import next_times
from aischeduler_operator.times import parse_time, rfc3339

# How long after a scheduled time's deadline we wait before calling it Missed: covers the
# CronJob controller's and our own watch latency.
MISSED_SLACK = timedelta(seconds=15)
# Scheduled times with a run looked past when finding the next one not accounted for.
MAX_MISSED_SCAN = 1000
# startingDeadlineSeconds has no upper bound in the API; beyond this it changes nothing.
MAX_DEADLINE = timedelta(days=3650)
# More Missed times than this in one look (an operator away for days, a schedule never
# served) become ONE history entry and ONE event saying how many, between when and when;
# the counters still count each. The CronJob controller's own bound is 100 too.
MAX_LISTED_MISSED = 100


@dataclass(frozen=True)
class CronJobRecord:
    """What our CronJob says about the runs it made: its status.lastScheduleTime and its
    history limits (the CronJob controller deletes the oldest finished Jobs beyond them)."""

    last_schedule_time: datetime | None
    successful_limit: int | None
    failed_limit: int | None


@dataclass(frozen=True)
class Times:
    """Where the schedule's accounting of scheduled times stands after this decision."""

    watermark: str | None
    missed: tuple[HistoryEntry, ...] = ()
    wake_at: datetime | None = None
    # Runs each Missed entry stands for, by job, where more than one (a summary).
    counts: tuple[tuple[str, int], ...] = ()
    # Scheduled times the CronJob may have run and lost the Jobs of: not counted, said once.
    unrecorded: str | None = None

    def count_of(self, entry: HistoryEntry) -> int:
        return dict(self.counts).get(entry.job, 1) if entry.result == "Missed" else 1


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


def lost_until(views: tuple[JobView, ...], record: CronJobRecord | None) -> datetime | None:
    """The newest scheduled time whose Job the CronJob controller may have deleted before
    the operator recorded it, or None. It deletes only the oldest finished Jobs of an
    outcome beyond that outcome's limit, and only Jobs it made (up to lastScheduleTime):
    so only an outcome at its limit can have lost any, all older than its oldest Job left.
    Anything else without a Job or a record was not run."""
    if record is None or record.last_schedule_time is None:
        return None
    cut: datetime | None = None
    for state, limit in (("Succeeded", record.successful_limit), ("Failed", record.failed_limit)):
        kept = [
            v.scheduled_time
            for v in views
            if v.trigger == "Scheduled" and v.state == state and v.scheduled_time
        ]
        if limit is None or len(kept) < limit:
            continue
        oldest = min(kept, default=record.last_schedule_time + timedelta(seconds=1))
        cut = max(cut or oldest, oldest)
    if cut is None:
        return None
    return min(record.last_schedule_time, cut - timedelta(seconds=1))


def summary_entry(name: str, unseen: span.Unseen, why: str) -> HistoryEntry:
    """One Missed entry for many scheduled times (its job: the first one's name)."""
    first, last = unseen.listed[0], unseen.last or unseen.listed[0]
    return missed_entry(
        names.scheduled_job_name(name, int(first.timestamp())),
        "Scheduled",
        first,
        f"{unseen.count} scheduled times between {rfc3339(first)} and {rfc3339(last)} were "
        f"not run: {why}",
    )


def _missed(
    r: Resolved, name: str, views: tuple[JobView, ...], unseen: span.Unseen
) -> tuple[tuple[HistoryEntry, ...], tuple[tuple[str, int], ...]]:
    if unseen.count <= MAX_LISTED_MISSED:
        entries = tuple(
            missed_entry(
                names.scheduled_job_name(name, int(t.timestamp())),
                "Scheduled",
                t,
                why_missed(r, views, t),
            )
            for t in unseen.listed
        )
        return entries, ()
    entry = summary_entry(name, unseen, why_missed(r, (), unseen.listed[0]))
    return (entry,), ((entry.job, unseen.count),)


def _unrecorded(unseen: span.Unseen, record: CronJobRecord) -> str | None:
    if not unseen.count:
        return None
    first, last = unseen.listed[0], unseen.last or unseen.listed[0]
    return (
        f"{unseen.count} scheduled times between {rfc3339(first)} and {rfc3339(last)} have "
        "no record: the CronJob controller may have run them and deleted their Jobs (its "
        f"history limits: {record.successful_limit} succeeded, {record.failed_limit} failed) "
        "before the operator recorded them; they are not counted"
    )


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
    cronjob: CronJobRecord | None = None,
) -> Times:
    """Accounts for the scheduled times that passed their deadline since the watermark:
    a time with a Job or a history entry ran; one whose Job the CronJob controller may
    have deleted unrecorded is said so, not counted; any other was Missed."""
    assert r.cron is not None  # noqa: S101
    if r.spec.suspend or spec_changed:
        return Times(watermark=rfc3339(now))
    start = parse_time(watermark) or parse_time(created) or now
    # Once the CronJob controller has started a later time it never starts an earlier
    # one: times before the newest scheduled run are settled, deadline or not.
    started = [v.scheduled_time for v in views if v.trigger == "Scheduled" and v.scheduled_time]
    horizon = max([now - deadline_of(r) - MISSED_SLACK, *started])
    seen = {v.scheduled_time for v in views} | {parse_time(h.scheduled_time) for h in history}
    known = {t for t in seen if t is not None}
    lost = lost_until(views, cronjob)
    split = min(max(lost, start), horizon) if lost is not None else start
    unrecorded = span.unseen(r.cron, r.time_zone, start, split, known, 1)
    unseen = span.unseen(r.cron, r.time_zone, split, horizon, known, MAX_LISTED_MISSED)
    missed, counts = _missed(r, name, views, unseen)
    newest = unseen.last_any or unrecorded.last_any
    return Times(
        watermark=rfc3339(newest or start),
        missed=missed,
        wake_at=_next_look(r, horizon, seen, now),
        counts=counts,
        unrecorded=_unrecorded(unrecorded, cronjob) if cronjob is not None else None,
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
