"""Placeholders in ``spec.input`` for the run's own time: one parser, used by the operator
to validate a spec (an invalid one is ``Ready=False``, ``InvalidSpec``) and by the runner
to render the input of each run. Pure, standard library only.

The syntax is a small, strict subset of Go templates::

    {{ .ScheduledTime }}   the run's scheduled time, RFC 3339 in the schedule's time zone
    {{ .Date }}            its date, YYYY-MM-DD in that zone
    {{ .Date "-1d" }}      that date moved by whole days or weeks: "-1d", "+2d", "-1w"
    {{ .Week }}            its ISO week, YYYY-Www
    {{ .Schedule }}        namespace/name of the AssistantSchedule
    {{ .Trigger }}         Scheduled, Manual, OneTime or Backfill

Anything else between ``{{`` and ``}}``, or a ``{{`` never closed, is an error that names
the placeholder. A lone ``}}`` is text (as in Go), so JSON in a prompt stays as it is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta

__all__ = ["PlaceholderError", "RunFacts", "check", "render", "rfc3339_local"]

OPEN, CLOSE = "{{", "}}"
# Bounded so a date never leaves the calendar (about ten years either way).
MAX_OFFSET_DAYS = 3660
KNOWN = (
    '{{ .ScheduledTime }}, {{ .Date }}, {{ .Date "-1d" }}, {{ .Week }}, {{ .Schedule }}, '
    "{{ .Trigger }}"
)

_ACTION = re.compile(r"\s*\.(?P<name>[A-Za-z]+)(?:\s+\"(?P<arg>[^\"]*)\")?\s*", re.ASCII)
_OFFSET = re.compile(r"(?P<sign>[+-])(?P<n>\d{1,4})(?P<unit>[dw])", re.ASCII)
_NAMES = ("ScheduledTime", "Date", "Week", "Schedule", "Trigger")


class PlaceholderError(ValueError):
    """A placeholder the runner cannot render; the message names it."""


@dataclass(frozen=True)
class RunFacts:
    """What a run's placeholders are about."""

    scheduled_time: datetime  # aware, in the schedule's time zone
    schedule: str  # namespace/name
    trigger: str


@dataclass(frozen=True)
class _Placeholder:
    name: str
    days: int = 0  # .Date's offset


Part = str | _Placeholder


def _placeholder(action: str) -> _Placeholder:
    shown = f"{OPEN}{action}{CLOSE}"
    match = _ACTION.fullmatch(action)
    if match is None or match["name"] not in _NAMES:
        raise PlaceholderError(f"placeholder {shown} is not known; use one of {KNOWN}")
    name, arg = match["name"], match["arg"]
    if arg is None:
        return _Placeholder(name)
    offset = _OFFSET.fullmatch(arg)
    if name != "Date" or offset is None:
        raise PlaceholderError(
            f'placeholder {shown} is not known; only .Date takes an offset, like "-1d", '
            '"+2d" or "-1w"'
        )
    days = int(offset["n"]) * (7 if offset["unit"] == "w" else 1)
    if days > MAX_OFFSET_DAYS:
        raise PlaceholderError(
            f"placeholder {shown}: the offset is more than {MAX_OFFSET_DAYS} days"
        )
    return _Placeholder(name, -days if offset["sign"] == "-" else days)


def parse(text: str) -> list[Part]:
    """The text split into literal parts and placeholders; raises PlaceholderError."""
    parts: list[Part] = []
    at = 0
    while (start := text.find(OPEN, at)) >= 0:
        end = text.find(CLOSE, start + len(OPEN))
        if end < 0:
            excerpt = text[start : start + 30]
            raise PlaceholderError(f"placeholder {excerpt!r} has no closing {CLOSE}")
        if start > at:
            parts.append(text[at:start])
        parts.append(_placeholder(text[start + len(OPEN) : end]))
        at = end + len(CLOSE)
    if at < len(text):
        parts.append(text[at:])
    return parts


def check(text: str) -> None:
    """Raises PlaceholderError for the first placeholder that cannot be rendered."""
    parse(text)


def rfc3339_local(when: datetime) -> str:
    """RFC 3339 with the time's own offset, "Z" for a zero offset (as Go writes it)."""
    text = when.replace(microsecond=0).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _value(p: _Placeholder, facts: RunFacts) -> str:
    day: date = facts.scheduled_time.date()
    if p.name == "ScheduledTime":
        return rfc3339_local(facts.scheduled_time)
    if p.name == "Date":
        return (day + timedelta(days=p.days)).isoformat()
    if p.name == "Week":
        year, week, _ = day.isocalendar()
        return f"{year}-W{week:02d}"
    return facts.schedule if p.name == "Schedule" else facts.trigger


def render(text: str, facts: RunFacts) -> str:
    """The text with its placeholders filled in for one run; raises PlaceholderError."""
    return "".join(p if isinstance(p, str) else _value(p, facts) for p in parse(text))
