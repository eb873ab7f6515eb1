"""The runner's part of the schedule policies (spec §7), read from the environment: when the
run is about (for the input's placeholders), its start jitter and its token limit."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from .contract import Env
from .placeholders import RunFacts, render
from .runtime import ScheduledTime, scheduled_time

MAX_JITTER_SECONDS = 3600


@dataclass(frozen=True)
class RunPolicy:
    scheduled_time: datetime | None = None  # given by the operator (aware)
    cronjob: str = ""  # a CronJob's run: the scheduled time is in the Job's name
    time_zone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))
    trigger: str = ""
    jitter_seconds: int = 0
    max_tokens: int | None = None


def _whole(raw: str, name: str, low: int, high: int | None, problems: list[str]) -> int | None:
    if not raw:
        return None
    if not raw.isdigit() or int(raw) < low or (high is not None and int(raw) > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        problems.append(f"{name} must be a whole number {bound} (got {raw!r})")
        return None
    return int(raw)


def _instant(raw: str, problems: list[str]) -> datetime | None:
    if not raw:
        return None
    try:
        when = datetime.fromisoformat(raw.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        when = None
    if when is None or when.tzinfo is None:
        problems.append(
            f"{Env.SCHEDULED_TIME} must be an RFC 3339 time with an offset (got {raw!r})"
        )
        return None
    return when


def _zone(raw: str, problems: list[str]) -> ZoneInfo:
    try:
        return ZoneInfo(raw or "UTC")
    except (ZoneInfoNotFoundError, ValueError, OSError):
        problems.append(f"{Env.TIME_ZONE} must be an IANA time zone (got {raw!r})")
        return ZoneInfo("UTC")


def load_policy(environ: Mapping[str, str], problems: list[str]) -> RunPolicy:
    """The policy settings; each problem is appended to ``problems``."""

    def text(name: str) -> str:
        return environ.get(name, "").strip()

    jitter = _whole(text(Env.JITTER_SECONDS), Env.JITTER_SECONDS, 0, MAX_JITTER_SECONDS, problems)
    return RunPolicy(
        scheduled_time=_instant(text(Env.SCHEDULED_TIME), problems),
        cronjob=text(Env.CRONJOB),
        time_zone=_zone(text(Env.TIME_ZONE), problems),
        trigger=text(Env.TRIGGER),
        jitter_seconds=jitter or 0,
        max_tokens=_whole(text(Env.MAX_TOKENS), Env.MAX_TOKENS, 1, None, problems),
    )


def dated_input(
    text: str, schedule: str, run_id: str, policy: RunPolicy, now: datetime
) -> tuple[str, ScheduledTime]:
    """The input with its placeholders rendered for this run's scheduled time (raises
    PlaceholderError naming a placeholder it cannot render)."""
    when = scheduled_time(policy.scheduled_time, run_id, policy.cronjob, policy.time_zone, now)
    return render(text, RunFacts(when.when, schedule, policy.trigger)), when
