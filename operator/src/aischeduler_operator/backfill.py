"""Backfill (spec §7): annotation ``aischeduler.io/backfill: <from>/<to>`` runs the
schedule once for every scheduled time in ``[from, to)``, oldest first, at most
``backfillParallelism`` at a time, each run with its own scheduled time. Pure.

Exactly once per annotation value: the value's Jobs have deterministic names (the value's
digest and the time's index), and ``status.backfill`` records how many were started and
how many finished, written after the Jobs are created. A restart between the two only
repeats a create that the API answers with "already exists"."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from aischeduler_operator import names
from aischeduler_operator.actions import PostEvent
from aischeduler_operator.models import Backfill, HistoryEntry
from aischeduler_operator.resolve import Resolved
from aischeduler_operator.schedule import ScheduleError, next_time, parse_run_at

MAX_TIMES = 100
COUNT_LIMIT = 1000  # how far a refusal counts the times it would have run
MAX_VALUE_CHARS = 128  # longer values are refused and recorded by digest


class BackfillError(ValueError):
    pass


def recorded_value(value: str) -> str:
    return value if len(value) <= MAX_VALUE_CHARS else f"sha256:{names.digest(value, 64)}"


def times(r: Resolved, value: str, now: datetime) -> list[datetime]:
    """The scheduled times of ``value``, oldest first; raises BackfillError when the value
    cannot be run (unreadable, empty or future interval, one-time schedule, > 100 times)."""
    if r.cron is None:
        raise BackfillError("a one-time (runAt) schedule has nothing to backfill")
    if len(value) > MAX_VALUE_CHARS:
        raise BackfillError(f"the value is longer than {MAX_VALUE_CHARS} characters")
    first, slash, last = value.partition("/")
    if not slash:
        raise BackfillError(f"{value!r} is not an interval <from>/<to> of RFC 3339 date-times")
    try:
        start = parse_run_at(first.strip(), r.time_zone, "backfill start").replace(microsecond=0)
        end = parse_run_at(last.strip(), r.time_zone, "backfill end")
    except ScheduleError as e:
        raise BackfillError(str(e)) from None
    if end <= start:
        raise BackfillError(f"the interval {value!r} is empty: its end is not after its start")
    if end > now:
        raise BackfillError(f"the interval {value!r} ends in the future")
    found: list[datetime] = []
    t = next_time(r.cron, r.time_zone, start - timedelta(seconds=1))
    while t is not None and t < end and len(found) < COUNT_LIMIT:
        found.append(t)
        t = next_time(r.cron, r.time_zone, t)
    if len(found) > MAX_TIMES:
        many = f"{len(found)}" if len(found) < COUNT_LIMIT else f"at least {COUNT_LIMIT}"
        raise BackfillError(
            f"the interval {value!r} holds {many} scheduled times, more than {MAX_TIMES}"
        )
    return found


@dataclass(frozen=True)
class Step:
    status: Backfill | None  # the new status.backfill
    start: tuple[tuple[str, datetime], ...] = ()  # Jobs to create now: (name, scheduled time)
    events: tuple[PostEvent, ...] = ()


def _count(b: Backfill, schedule: str, value: str, entries: tuple[HistoryEntry, ...]) -> Backfill:
    """Counts this value's runs recorded in this decision."""
    ours = {names.backfill_job_name(schedule, value, i) for i in range(b.total)}
    done = [e for e in entries if e.trigger == "Backfill" and e.job in ours]
    return b.model_copy(
        update={
            "succeeded": b.succeeded + sum(e.result == "Succeeded" for e in done),
            "failed": b.failed + sum(e.result == "Failed" for e in done),
        }
    )


def step(
    r: Resolved,
    schedule: str,
    value: str | None,
    old: Backfill | None,
    entries: tuple[HistoryEntry, ...],
    paused: bool,
    now: datetime,
) -> Step:
    """Accept or refuse a new value; count finished runs; start the next ones while the
    schedule is not paused and the annotation is still there."""
    events: list[PostEvent] = []
    current = old
    if value and (old is None or old.value != recorded_value(value)):
        try:
            found = times(r, value, now)
        except BackfillError as e:
            refused = Backfill(value=recorded_value(value), message=f"refused: {e}")
            return Step(refused, events=(PostEvent("Warning", "BackfillRejected", str(e)),))
        current = Backfill(value=value, total=len(found), message="running")
        events.append(
            PostEvent(
                "Normal",
                "BackfillStarted",
                f"{value}: {len(found)} scheduled times, {r.spec.backfill_parallelism} at a time",
            )
        )
    if current is None or current.message.startswith("refused"):
        return Step(current)
    counted = _count(current, schedule, current.value, entries)
    starts: list[tuple[str, datetime]] = []
    if value == current.value and not paused and counted.started < counted.total:
        running = counted.started - counted.succeeded - counted.failed
        free = max(0, r.spec.backfill_parallelism - running)
        try:
            pending = times(r, value, now)[counted.started : counted.started + free]
        except BackfillError:  # the spec changed under it (e.g. to a runAt): stop here
            pending = []
        starts = [
            (names.backfill_job_name(schedule, value, counted.started + i), t)
            for i, t in enumerate(pending)
        ]
        counted = counted.model_copy(update={"started": counted.started + len(starts)})
    finished = counted.succeeded + counted.failed
    if finished == counted.total and counted.message == "running":
        counted = counted.model_copy(
            update={"message": f"done: {counted.succeeded} succeeded, {counted.failed} failed"}
        )
        done = f"{counted.value}: {counted.message}"
        events.append(PostEvent("Normal", "BackfillCompleted", done))
    return Step(counted, tuple(starts), tuple(events))
