"""Schedule policies (spec §7) of a recurring schedule: the active window, the run limit,
the pause after failures and the token budget. For one decision they say whether
scheduled runs are held (the CronJob suspended), the phase, the next times, the Paused
condition, and the counters they keep. Pure, the clock passed in.

Holding is the CronJob's ``suspend``: the CronJob controller starts nothing while it is
set, and when it is cleared it may still start the newest time it missed, if that is
within ``startingDeadlineSeconds``. So the window opens only once the last time before
``startTime`` is past its deadline (it can never start late), and closes a little before
the first time at or after ``endTime``."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from aischeduler_operator import due, names
from aischeduler_operator.actions import PostEvent
from aischeduler_operator.models import (
    AssistantScheduleStatus,
    BudgetPeriod,
    Condition,
    HistoryEntry,
    Phase,
    Runs,
    Tokens,
)
from aischeduler_operator.observe import CronJobFacts, ScheduleFacts
from aischeduler_operator.resolve import Resolved
from aischeduler_operator.runs import JobView
from aischeduler_operator.schedule import CronSchedule, next_time, next_times
from aischeduler_operator.times import parse_time, rfc3339

# Margin between the CronJob controller's decision and ours at the window's edges.
WINDOW_SLACK = timedelta(seconds=5)
LOOKBACK = timedelta(days=5 * 366)  # robfig gives up after five years, so do we
Verdict = tuple[Literal["True", "False"], str, str]  # a condition's status, reason, message


# --------------------------------------------------------------------------- window


def previous_time(cron: CronSchedule, zone: ZoneInfo, before: datetime) -> datetime | None:
    """The last scheduled time strictly before ``before``: look back over growing spans
    until one holds a time (bounded: a span holds few times when a smaller one held none)."""
    span = timedelta(minutes=1)
    while span <= LOOKBACK * 8:
        found, t = None, before - span
        while (following := next_time(cron, zone, t)) is not None and following < before:
            found = t = following
        if found is not None:
            return found
        span *= 8
    return None


def first_at_or_after(cron: CronSchedule, zone: ZoneInfo, when: datetime) -> datetime | None:
    return next_time(cron, zone, when - timedelta(seconds=1))


@dataclass(frozen=True)
class Gate:
    """Where ``now`` is relative to the active window."""

    open: bool  # the CronJob may fire
    done: bool  # the window has closed for good
    first: datetime | None = None  # before it opens: the first time that will run
    wake_at: datetime | None = None  # when this changes


def window_gate(r: Resolved, now: datetime) -> Gate:
    assert r.cron is not None  # noqa: S101
    cron, zone, window = r.cron, r.time_zone, r.window
    closes_at = None
    if window.end is not None:
        boundary = first_at_or_after(cron, zone, window.end)
        closes_at = window.end if boundary is None else min(window.end, boundary - WINDOW_SLACK)
        if now >= closes_at:
            return Gate(open=False, done=True)
    if window.start is not None:
        before = previous_time(cron, zone, window.start)
        opens_at = before + due.deadline_of(r) + WINDOW_SLACK if before is not None else None
        if opens_at is not None and now < opens_at:
            return Gate(open=False, done=False, first=_first_run(r, opens_at), wake_at=opens_at)
    return Gate(open=True, done=False, wake_at=closes_at)


def _first_run(r: Resolved, opens_at: datetime) -> datetime | None:
    """The scheduled time that runs first once the CronJob opens: the first one at or after
    startTime, unless the CronJob opens after it (a schedule denser than its starting
    deadline), when the controller starts the newest one it missed."""
    assert r.cron is not None and r.window.start is not None  # noqa: S101
    first = first_at_or_after(r.cron, r.time_zone, r.window.start)
    if first is not None and first < opens_at:
        first = previous_time(r.cron, r.time_zone, opens_at + timedelta(seconds=1))
    if first is None or not r.window.holds(first):
        return None
    return first


def upcoming(r: Resolved, gate: Gate, now: datetime, count: int) -> tuple[datetime, ...]:
    """The next ``count`` times that will run, inside the window."""
    assert r.cron is not None  # noqa: S101
    if gate.done:
        return ()
    found = [gate.first] if gate.first is not None else []
    found += next_times(r.cron, r.time_zone, found[0] if found else now, count - len(found))
    return tuple(t for t in found if r.window.holds(t))


# --------------------------------------------------------------------------- tokens


def period_of(when: datetime, zone: ZoneInfo, per: BudgetPeriod) -> tuple[str, datetime]:
    """The budget period ``when`` falls in (its name) and when the next one starts (UTC)."""
    day = when.astimezone(zone).date()
    if per == "Day":
        key, following = day.isoformat(), day + timedelta(days=1)
    elif per == "Week":
        year, week, weekday = day.isocalendar()
        key, following = f"{year}-W{week:02d}", day + timedelta(days=8 - weekday)
    else:
        key = f"{day.year}-{day.month:02d}"
        following = date(day.year + day.month // 12, day.month % 12 + 1, 1)
    return key, datetime.combine(following, time(), tzinfo=zone).astimezone(UTC)


def token_use(
    r: Resolved, old: Tokens | None, entries: tuple[HistoryEntry, ...], now: datetime
) -> Tokens | None:
    """Tokens recorded in the current period: the stored sum (same period) plus the runs
    recorded now that finished in it."""
    budget = r.spec.token_budget
    if budget is None:
        return None
    key, _ = period_of(now, r.time_zone, budget.per)
    used = old.used if old is not None and old.period == key else 0
    for entry in entries:
        finished = parse_time(entry.completion_time) or now
        if entry.tokens_used and period_of(finished, r.time_zone, budget.per)[0] == key:
            used += entry.tokens_used
    return Tokens(period=key, used=used)


# --------------------------------------------------------------------------- runs


def started_runs(runs: Runs, views: tuple[JobView, ...]) -> int:
    """Runs started so far that count toward maxRuns (every trigger but Backfill)."""
    running = sum(1 for v in views if not v.finished and v.trigger != "Backfill")
    return runs.succeeded + runs.failed - (runs.backfill or 0) + running


def _last_failure(entries: tuple[HistoryEntry, ...], history: list[HistoryEntry]) -> str:
    newest_first = [*reversed(entries), *history]
    failed = next((e for e in newest_first if e.result == "Failed"), None)
    return f"job {failed.job}: {failed.message}" if failed is not None else "none recorded"


# --------------------------------------------------------------------------- decision


@dataclass(frozen=True)
class Policy:
    """What the policies say for one decision about a valid schedule."""

    hold: bool = False  # scheduled runs may not start (the CronJob is suspended)
    phase: Phase = "Active"
    upcoming: tuple[datetime, ...] = ()
    wake_at: datetime | None = None
    reopened: bool = False  # the CronJob was suspended and opens now: times restart now
    paused: Verdict | None = None  # the Paused condition; None: the schedule has none
    reset_streak: bool = False  # a pause was cleared: failures count from zero again
    last_resume: str | None = None
    tokens: Tokens | None = None
    events: tuple[PostEvent, ...] = ()

    @property
    def is_paused(self) -> bool:
        return self.paused is not None and self.paused[0] == "True"


def held(r: Resolved, p: Policy) -> Resolved:
    """The schedule as the CronJob and the missed-time accounting see it: suspended while
    a policy holds it."""
    if not p.hold or r.spec.suspend:
        return r
    return replace(r, spec=r.spec.model_copy(update={"suspend": True}))


@dataclass(frozen=True)
class _Pause:
    verdict: Verdict | None
    cleared: bool
    last_resume: str | None
    wake_at: datetime | None = None


def _pause(
    r: Resolved,
    s: ScheduleFacts,
    old: AssistantScheduleStatus,
    runs: Runs,
    entries: tuple[HistoryEntry, ...],
    tokens: Tokens | None,
    now: datetime,
) -> _Pause:
    """The Paused condition: TooManyFailures holds until a new resume value or a spec
    change (never by itself, so it cannot flap); BudgetExceeded until the next period."""
    previous = next((c for c in old.conditions if c.type == "Paused"), None)
    value = s.annotation(names.RESUME_ANNOTATION)
    resume = names.digest(value, 16) if value else old.last_resume
    resumed = resume != old.last_resume
    spec_changed = old.observed_generation is not None and old.observed_generation != s.generation
    was = (previous.status, previous.reason) if previous is not None else ("False", "")
    failing = was == ("True", "TooManyFailures")
    cleared = failing and (resumed or spec_changed)
    how = "the aischeduler.io/resume annotation" if resumed else "a spec change"
    limit = r.spec.pause_after_failures
    budget = r.spec.token_budget
    if failing and not cleared and previous is not None:
        return _Pause(("True", "TooManyFailures", previous.message), False, resume)
    streak = runs.failed_in_a_row or 0
    if limit is not None and not cleared and streak >= limit:
        message = (
            f"{streak} failed run{'s' if streak != 1 else ''} in a row "
            f"(pauseAfterFailures {limit}); last: {_last_failure(entries, old.history)}"
        )
        return _Pause(("True", "TooManyFailures", message), False, resume)
    if budget is not None and tokens is not None and tokens.used >= budget.tokens:
        _, renews = period_of(now, r.time_zone, budget.per)
        message = (
            f"{tokens.used} of {budget.tokens} tokens used this {budget.per} ({tokens.period}); "
            f"scheduled runs resume at {rfc3339(renews)}"
        )
        return _Pause(("True", "BudgetExceeded", message), cleared, resume, renews)
    if previous is None and limit is None and budget is None:
        return _Pause(None, cleared, resume)
    if cleared or (was[0] == "True" and spec_changed):
        return _Pause(("False", "Resumed", f"resumed by {how}"), cleared, resume)
    return _Pause(_not_paused(previous), cleared, resume)


def _not_paused(previous: Condition | None) -> Verdict:
    """Not paused, and no one lifted a pause: a budget pause ended with its period."""
    if previous is not None and previous.status == "True":
        return ("False", "BudgetRenewed", f"a new budget period began ({previous.message})")
    if previous is not None:
        return ("False", previous.reason, previous.message)
    return ("False", "WithinLimits", "scheduled runs are not paused")


def _events(
    old: AssistantScheduleStatus, paused: Verdict | None, phase: Phase, why_done: str
) -> list[PostEvent]:
    """Posted once, on the change (the status records the new state)."""
    events = []
    previous = next((c for c in old.conditions if c.type == "Paused"), None)
    before = (previous.status, previous.reason) if previous is not None else ("False", "")
    if paused is not None and paused[0] == "True" and before != paused[:2]:
        events.append(PostEvent("Warning", "Paused", f"{paused[1]}: {paused[2]}"))
    elif before[0] == "True" and (paused is None or paused[0] == "False"):
        events.append(PostEvent("Normal", "Resumed", paused[2] if paused else "not paused"))
    if phase == "Completed" and old.phase != "Completed":
        events.append(PostEvent("Normal", "Completed", f"no more scheduled runs: {why_done}"))
    return events


def _why_done(r: Resolved, gate: Gate) -> str:
    if gate.done:
        return f"the window ended at endTime {r.spec.end_time}"
    return f"maxRuns ({r.spec.max_runs}) runs started"


def evaluate(
    r: Resolved,
    s: ScheduleFacts,
    old: AssistantScheduleStatus,
    views: tuple[JobView, ...],
    runs: Runs,
    entries: tuple[HistoryEntry, ...],
    cronjob: CronJobFacts | None,
    now: datetime,
    count: int,
) -> Policy:
    """The policies for a recurring schedule; ``runs`` already count ``entries`` (the
    runs recorded in this decision)."""
    gate = window_gate(r, now)
    tokens = token_use(r, old.tokens, entries, now)
    pause = _pause(r, s, old, runs, entries, tokens, now)
    running = any(not v.finished and v.trigger != "Backfill" for v in views)
    limit = r.spec.max_runs
    finished = gate.done or (limit is not None and started_runs(runs, views) >= limit)
    phase: Phase = "Active"
    if finished:
        phase = "Active" if running else "Completed"
    elif pause.verdict is not None and pause.verdict[0] == "True":
        phase = "Paused"
    elif r.spec.suspend:
        phase = "Suspended"
    hold = finished or phase != "Active" or not gate.open
    times = upcoming(r, gate, now, count) if phase == "Active" and not finished else ()
    wakes = [t for t in (gate.wake_at, pause.wake_at) if t is not None]
    if r.spec.token_budget is not None:  # status.tokens moves to the new period
        wakes.append(period_of(now, r.time_zone, r.spec.token_budget.per)[1])
    reopened = not hold and cronjob is not None and cronjob.spec.get("suspend") is True
    return Policy(
        hold=hold,
        phase=phase,
        upcoming=times,
        wake_at=min(wakes, default=None),
        reopened=reopened,
        paused=pause.verdict,
        reset_streak=pause.cleared,
        last_resume=pause.last_resume,
        tokens=tokens,
        events=tuple(_events(old, pause.verdict, phase, _why_done(r, gate))),
    )


def one_time(
    r: Resolved, old: AssistantScheduleStatus, entries: tuple[HistoryEntry, ...], now: datetime
) -> Policy:
    """A runAt schedule runs once: of the policies only the token record applies."""
    return Policy(last_resume=old.last_resume, tokens=token_use(r, old.tokens, entries, now))
