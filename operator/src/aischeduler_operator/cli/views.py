"""What `kubectl asched` shows, computed from AssistantSchedule objects as the API returns
them. Pure: no I/O, the clock is passed in."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from aischeduler_operator.hashcron import resolve_hash
from aischeduler_operator.schedule import (
    CronSchedule,
    ScheduleError,
    TimeZoneError,
    load_time_zone,
    next_times,
    parse_run_at,
    parse_schedule,
)
from aischeduler_operator.times import parse_time


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Columns padded like kubectl's: upper-case headers, three spaces between columns."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(headers)]
    lines = [headers, *rows]
    return "\n".join(
        "   ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def relative(when: datetime, now: datetime) -> str:
    """ "in 3h" / "5m ago", in the largest whole unit, like kubectl's ages."""
    seconds = int((when - now).total_seconds())
    span = abs(seconds)
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if span >= size:
            amount = f"{span // size}{unit}"
            break
    else:
        amount = f"{span}s"
    return f"in {amount}" if seconds > 0 else f"{amount} ago"


def local_time(when: datetime, zone: ZoneInfo) -> str:
    return when.astimezone(zone).strftime("%Y-%m-%d %H:%M %Z")


# --------------------------------------------------------------------------- one schedule


@dataclass(frozen=True)
class Summary:
    """The facts a list row and the head of `show` are made of."""

    namespace: str
    name: str
    target: str
    when: str  # the cron expression, or "at <runAt>"
    zone_name: str
    state: str
    next_run: datetime | None
    last_result: str | None
    last_run: datetime | None
    succeeded: int
    finished: int  # history entries that ran (Succeeded or Failed)

    def as_dict(self) -> dict[str, Any]:
        return {
            "namespace": self.namespace,
            "name": self.name,
            "target": self.target,
            "schedule": self.when,
            "timeZone": self.zone_name,
            "state": self.state,
            "nextRunTime": iso(self.next_run),
            "lastResult": self.last_result,
            "lastRunTime": iso(self.last_run),
            "successRate": self.success_rate,
        }

    @property
    def success_rate(self) -> str:
        return f"{self.succeeded}/{self.finished}" if self.finished else "-"


def iso(when: datetime | None) -> str | None:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if when else None


def _condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    found: dict[str, Any] = next(
        (c for c in status.get("conditions") or [] if c.get("type") == kind), {}
    )
    return found


def state_of(obj: dict[str, Any]) -> str:
    """active, suspended, paused (reason), completed, invalid (reason), or pending (the
    operator has not described this generation yet)."""
    status = obj.get("status") or {}
    if status.get("observedGeneration") != obj["metadata"].get("generation"):
        return "pending"
    phase = status.get("phase")
    if phase == "Invalid":
        return f"invalid: {_condition(status, 'Ready').get('reason', 'unknown')}"
    paused = _condition(status, "Paused")
    if phase == "Paused" or paused.get("status") == "True":
        return f"paused: {paused.get('reason', 'unknown')}"
    if phase in ("Suspended", "Completed", "Active"):
        return str(phase).lower()
    ready = _condition(status, "Ready")
    if ready.get("status") == "False":
        return f"not ready: {ready.get('reason', 'unknown')}"
    return str(phase or "pending").lower()


def target_of(spec: dict[str, Any]) -> str:
    for kind in ("assistant", "workflow"):
        if isinstance(spec.get(kind), dict):
            return f"{kind}/{spec[kind].get('id', '?')}"
    return "?"


def zone_name_of(obj: dict[str, Any]) -> str:
    """The effective zone: the operator's record of it, else the spec's, else UTC."""
    status = obj.get("status") or {}
    return str(status.get("timeZone") or obj.get("spec", {}).get("timeZone") or "UTC")


def _when(spec: dict[str, Any], status: dict[str, Any]) -> str:
    """The schedule as written, with what an H in it resolved to; or the one-time runAt."""
    schedule = spec.get("schedule")
    if not schedule:
        return f"at {spec.get('runAt', '?')}"
    effective = status.get("effectiveSchedule")
    return f"{schedule} → {effective}" if effective and effective != schedule else schedule


def summarize(obj: dict[str, Any]) -> Summary:
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    history = status.get("history") or []
    ran = [h for h in history if h.get("result") in ("Succeeded", "Failed")]
    newest = history[0] if history else {}
    last_run = parse_time(
        newest.get("startTime") or newest.get("scheduledTime") or newest.get("completionTime")
    )
    return Summary(
        namespace=obj["metadata"].get("namespace", ""),
        name=obj["metadata"]["name"],
        target=status.get("target") or target_of(spec),
        when=_when(spec, status),
        zone_name=zone_name_of(obj),
        state=state_of(obj),
        next_run=parse_time(status.get("nextRunTime")),
        last_result=status.get("lastResult"),
        last_run=last_run,
        succeeded=sum(1 for h in ran if h["result"] == "Succeeded"),
        finished=len(ran),
    )


def zone_or_utc(name: str) -> ZoneInfo:
    try:
        return load_time_zone(name)
    except TimeZoneError:
        return ZoneInfo("UTC")


def list_rows(summaries: Sequence[Summary], now: datetime, *, namespaces: bool) -> str:
    headers = ["NAME", "TARGET", "SCHEDULE", "STATE", "NEXT RUN", "LAST RESULT", "SUCCESS"]
    if namespaces:
        headers.insert(0, "NAMESPACE")
    rows = []
    for s in summaries:
        zone = zone_or_utc(s.zone_name)
        next_run = (
            f"{local_time(s.next_run, zone)} ({relative(s.next_run, now)})" if s.next_run else "-"
        )
        last = (
            f"{s.last_result} {relative(s.last_run, now)}"
            if s.last_result and s.last_run
            else (s.last_result or "-")
        )
        row = [s.name, s.target, f"{s.when} {s.zone_name}", s.state, next_run, last]
        row.append(s.success_rate)
        rows.append([s.namespace, *row] if namespaces else row)
    return table(headers, rows)


def sort_key_next(s: Summary) -> tuple[bool, datetime, str, str]:
    """Soonest next run first; schedules with none last, by namespace and name."""
    far = datetime.max.replace(tzinfo=UTC)
    return (s.next_run is None, s.next_run or far, s.namespace, s.name)


# --------------------------------------------------------------------------- times and DST


def _day_allowed(cron: CronSchedule, day: datetime) -> bool:
    """robfig's day rule: with a `*` in either day field both must match, else either."""
    if day.month not in cron.months:
        return False
    dom = day.day in cron.days_of_month
    dow = (day.weekday() + 1) % 7 in cron.days_of_week
    return (dom and dow) if cron.dom_star or cron.dow_star else (dom or dow)


def _transition(start: datetime, end: datetime, zone: ZoneInfo) -> datetime:
    """The first instant in (start, end] whose UTC offset differs from start's (the two
    ends' offsets differ); found by bisection to the second."""
    before = start.astimezone(zone).utcoffset()
    while (end - start).total_seconds() > 1:
        middle = start + (end - start) / 2
        if middle.astimezone(zone).utcoffset() == before:
            start = middle
        else:
            end = middle
    return end.replace(microsecond=0)


def skipped_by_dst(cron: CronSchedule, zone: ZoneInfo, start: datetime, end: datetime) -> str:
    """A note when a DST gap between two run times swallowed a scheduled wall time: the
    CronJob controller skips it, with no run that day at that time."""
    if start.astimezone(zone).utcoffset() == end.astimezone(zone).utcoffset():
        return ""
    switch = _transition(start, end, zone)
    old = (switch - timedelta(seconds=1)).astimezone(zone)
    new = switch.astimezone(zone)
    old_offset, new_offset = old.utcoffset(), new.utcoffset()
    if old_offset is None or new_offset is None or new_offset <= old_offset:
        return ""  # DST ends: nothing is skipped
    wall = old.replace(tzinfo=None, second=0) + timedelta(minutes=1)
    gap_end = new.replace(tzinfo=None)
    while wall < gap_end:
        if wall.hour in cron.hours and wall.minute in cron.minutes and _day_allowed(cron, wall):
            return f"DST starts {wall:%Y-%m-%d}: {wall:%H:%M} does not exist and is not run"
        wall += timedelta(minutes=1)
    return ""


def repeated_by_dst(when: datetime, zone: ZoneInfo) -> str:
    local = when.astimezone(zone)
    naive = local.replace(tzinfo=None)
    if (
        naive.replace(tzinfo=zone, fold=0).utcoffset()
        != naive.replace(tzinfo=zone, fold=1).utcoffset()
    ):
        return f"DST ends: {local:%H:%M} happens twice that day; it runs once"
    return ""


def upcoming(
    expression: str, zone_name: str, after: datetime, count: int
) -> list[tuple[datetime, str]]:
    """The next ``count`` times the CronJob controller fires, each with a note when DST
    skipped a run before it or makes its wall time repeat. Raises ScheduleError /
    TimeZoneError with the operator's messages."""
    cron = parse_schedule(expression)
    zone = load_time_zone(zone_name)
    found = []
    previous = after
    for t in next_times(cron, zone, after, count):
        notes = [skipped_by_dst(cron, zone, previous, t), repeated_by_dst(t, zone)]
        found.append((t, "; ".join(n for n in notes if n)))
        previous = t
    return found


def upcoming_lines(times: Sequence[tuple[datetime, str]], zone: ZoneInfo, now: datetime) -> str:
    rows = [[local_time(t, zone), iso(t) or "", relative(t, now), note] for t, note in times]
    return table(["LOCAL", "UTC", "WHEN", "NOTE"], rows)


# --------------------------------------------------------------------------- history


def _duration(entry: dict[str, Any]) -> str:
    seconds = entry.get("durationSeconds")
    if seconds is None:
        return "-"
    return str(timedelta(seconds=round(float(seconds))))


def _short(text: str, limit: int = 60) -> str:
    one_line = " ".join(text.split())
    return one_line if len(one_line) <= limit else one_line[: limit - 1] + "…"


def history_rows(history: Sequence[dict[str, Any]], zone: ZoneInfo) -> str:
    def at(value: str | None) -> str:
        when = parse_time(value)
        return local_time(when, zone) if when else "-"

    rows = [
        [
            h.get("job", "-"),
            h.get("trigger", "-"),
            at(h.get("scheduledTime")),
            at(h.get("startTime")),
            _duration(h),
            h.get("result", "-"),
            str(h["tokensUsed"]) if h.get("tokensUsed") is not None else "-",
            _short(h.get("message") or ""),
        ]
        for h in history
    ]
    headers = ["JOB", "TRIGGER", "SCHEDULED", "STARTED", "DURATION", "RESULT", "TOKENS"]
    return table([*headers, "MESSAGE"], rows)


def failed_only(history: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [h for h in history if h.get("result") != "Succeeded"]


# --------------------------------------------------------------------------- show


def show_text(obj: dict[str, Any], now: datetime, upcoming_count: int = 10) -> str:
    s = summarize(obj)
    spec = obj.get("spec") or {}
    status = obj.get("status") or {}
    zone = zone_or_utc(s.zone_name)
    platform = spec.get("platform") or {}
    lines = [
        f"Name:        {s.namespace}/{s.name}",
        f"Target:      {s.target}",
        f"Schedule:    {s.when} ({s.zone_name})",
        f"State:       {s.state}",
        f"Platform:    {platform.get('type', 'operator default')}"
        f" {platform.get('url', '')}".rstrip(),
        f"Policy:      concurrency {spec.get('concurrencyPolicy', 'Forbid')}, "
        f"timeout {spec.get('timeoutSeconds', 3600)}s, retries {spec.get('retries', 1)}, "
        f"history {spec.get('historyLimit', 10)}"
        + (f", jitter {spec['jitterSeconds']}s" if spec.get("jitterSeconds") else "")
        + (f", max {spec['maxTokensPerRun']} tokens/run" if spec.get("maxTokensPerRun") else ""),
    ]
    runs = status.get("runs") or {}
    lines.append(
        f"Runs:        {runs.get('total', 0)} total, {runs.get('succeeded', 0)} succeeded, "
        f"{runs.get('failed', 0)} failed, {runs.get('missed', 0)} missed, "
        f"{runs.get('consecutiveFailures', 0)} consecutive failures"
    )
    lines += policy_lines(spec, status)
    active = status.get("active") or []
    if active:
        lines.append("Active:      " + ", ".join(a.get("job", "?") for a in active))
    lines += ["", "Conditions:"]
    conditions = status.get("conditions") or []
    lines.append(
        table(
            ["TYPE", "STATUS", "REASON", "MESSAGE"],
            [
                [c.get("type", ""), c.get("status", ""), c.get("reason", ""), c.get("message", "")]
                for c in conditions
            ],
        )
        if conditions
        else "  none yet"
    )
    lines += ["", f"Next {upcoming_count} runs:"]
    lines.append(_upcoming_section(spec, s, now, zone, upcoming_count))
    history = status.get("history") or []
    lines += ["", f"History ({len(history)}):"]
    lines.append(history_rows(history, zone) if history else "  no runs yet")
    return "\n".join(lines)


def policy_lines(spec: dict[str, Any], status: dict[str, Any]) -> list[str]:
    """The schedule policies (spec §7) and where each stands."""
    lines = []
    if spec.get("startTime") or spec.get("endTime"):
        lines.append(
            f"Window:      from {spec.get('startTime', 'the start')} "
            f"until {spec.get('endTime', 'no end')}"
        )
    runs = status.get("runs") or {}
    limits = []
    if spec.get("maxRuns"):
        started = runs.get("succeeded", 0) + runs.get("failed", 0) - runs.get("backfill", 0)
        limits.append(f"maxRuns {spec['maxRuns']} ({started} finished)")
    if spec.get("pauseAfterFailures"):
        limits.append(
            f"pause after {spec['pauseAfterFailures']} failures "
            f"({runs.get('failedInARow', 0)} in a row)"
        )
    budget = spec.get("tokenBudget") or {}
    if budget:
        tokens = status.get("tokens") or {}
        limits.append(
            f"{tokens.get('used', 0)} of {budget.get('tokens')} tokens per {budget.get('per')}"
            f" ({tokens.get('period', 'no period yet')})"
        )
    if limits:
        lines.append("Limits:      " + ", ".join(limits))
    filled = status.get("backfill")
    if filled:
        lines.append(
            f"Backfill:    {filled.get('value')}: {filled.get('started', 0)} of "
            f"{filled.get('total', 0)} started, {filled.get('succeeded', 0)} succeeded, "
            f"{filled.get('failed', 0)} failed ({filled.get('message', '')})"
        )
    return lines


def _bound(spec: dict[str, Any], key: str, zone: ZoneInfo) -> datetime | None:
    try:
        return parse_run_at(spec[key], zone) if spec.get(key) else None
    except ScheduleError:
        return None  # the operator reports it


def in_window(spec: dict[str, Any], zone: ZoneInfo, when: datetime) -> bool:
    """Inside spec.startTime/endTime."""
    start, end = _bound(spec, "startTime", zone), _bound(spec, "endTime", zone)
    return (start is None or when >= start) and (end is None or when < end)


def _upcoming_section(
    spec: dict[str, Any], s: Summary, now: datetime, zone: ZoneInfo, count: int
) -> str:
    if not spec.get("schedule"):
        return f"  {local_time(s.next_run, zone)}" if s.next_run else "  none"
    if s.state in ("suspended", "completed") or s.state.startswith(("invalid", "paused")):
        return f"  none while {s.state}"
    try:
        effective = resolve_hash(spec["schedule"], f"{s.namespace}/{s.name}")
        after = max(now, s.next_run - timedelta(seconds=1)) if s.next_run else now
        times = [
            (t, note)
            for t, note in upcoming(effective, s.zone_name, after, count)
            if in_window(spec, zone, t)
        ]
    except (ScheduleError, TimeZoneError) as e:
        return f"  {e}"
    return upcoming_lines(times, zone, now) if times else "  none within five years"
