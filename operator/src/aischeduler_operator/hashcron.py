"""Jenkins-style ``H`` ("hash") in ``spec.schedule``, resolved to a plain cron expression.

500 schedules that all say "daily at nine" should not call the AI platform in the same
second. Written with ``H``, a field takes a value that is fixed for one schedule but spread
over the field's range across schedules, derived from the schedule's ``namespace/name``:

- ``H``          one value in the field's range (``H 9 * * *`` → e.g. ``37 9 * * *``);
- ``H(a-b)``     one value in ``a..b`` (``H(0-29) 2 * * *`` → e.g. ``12 2 * * *``);
- ``H/n``        every ``n``, from an offset below ``n`` (``H/15 * * * *`` → ``7-59/15 …``);
- ``H(a-b)/n``   every ``n`` inside ``a..b``, from an offset below ``n``.

As in Jenkins, a bare ``H`` in day-of-month ranges over 1-28 (a day every month has) and
in day-of-week over 0-6. ``H`` terms may sit in comma lists next to ordinary ones.

The value is ``sha256("<namespace>/<name>|<field>|<term>")`` (first 8 bytes, big-endian)
modulo the range's size — the same in every process, on every machine and in every
Python version (unlike ``hash()``), so the CronJob's schedule, ``status.effectiveSchedule``
and ``nextRunTime`` never move while the schedule keeps its name. The CronJob API never
sees ``H``: ``resolve_hash`` runs before the robfig parser (``schedule.parse_schedule``).
Pure."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from aischeduler_operator.schedule import ScheduleError

__all__ = ["FIELD_NAMES", "has_hash", "resolve_hash"]

FIELD_NAMES = ("minute", "hour", "day-of-month", "month", "day-of-week")


@dataclass(frozen=True, slots=True)
class _Field:
    low: int  # the field's bounds, for H(a-b)
    high: int
    hash_high: int  # the upper bound a bare H or H/n uses


_FIELDS = (
    _Field(0, 59, 59),
    _Field(0, 23, 23),
    _Field(1, 31, 28),  # Jenkins: 1-28, a day every month has
    _Field(1, 12, 12),
    _Field(0, 6, 6),  # 0-6 only: 7 would be Sunday twice
)

_TERM = re.compile(r"H(?:\((?P<a>\d{1,2})-(?P<b>\d{1,2})\))?(?:/(?P<step>\d{1,2}))?", re.ASCII)
# Go's unicode.IsSpace, as schedule.py splits fields.
_SPACE = re.compile("[\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+")
_FORMS = "H, H(a-b), H/n or H(a-b)/n"


def has_hash(expression: str) -> bool:
    """Whether a schedule uses ``H`` (macros such as ``@hourly`` never do)."""
    return not expression.startswith("@") and any(
        term.startswith("H") for field in _SPACE.split(expression) for term in field.split(",")
    )


def _pick(identity: str, field: int, term: int, size: int) -> int:
    """A stable value in ``0..size-1`` for one ``H`` term of one schedule."""
    digest = hashlib.sha256(f"{identity}|{field}|{term}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % size


def _term(text: str, f: _Field, field: int, index: int, identity: str) -> str:
    match = _TERM.fullmatch(text)
    where = f"{FIELD_NAMES[field]} field {text!r}"
    if match is None:
        raise ValueError(f"{where}: write H as {_FORMS}")
    low, high = f.low, f.hash_high
    if match["a"] is not None:
        low, high = int(match["a"]), int(match["b"])
        if not f.low <= low <= high <= f.high:
            raise ValueError(
                f"{where}: the range must lie within {f.low}-{f.high} and not be empty"
            )
    if match["step"] is None:
        return str(low + _pick(identity, field, index, high - low + 1))
    step = int(match["step"])
    if not 1 <= step <= high - low + 1:
        raise ValueError(f"{where}: the step must be between 1 and {high - low + 1}")
    start = low + _pick(identity, field, index, step)
    return f"{start}-{high}/{step}" if step > 1 else f"{low}-{high}"


def resolve_hash(expression: str, identity: str) -> str:
    """``expression`` with each ``H`` term replaced by its value for ``identity``
    (``namespace/name``); returned unchanged when it has none. Raises ScheduleError."""
    if not has_hash(expression):
        return expression
    fields = [f for f in _SPACE.split(expression.strip()) if f]
    if len(fields) != len(_FIELDS):
        raise ScheduleError(
            f"invalid schedule {expression!r}: expected exactly 5 fields, found {len(fields)}"
        )
    out: list[str] = []
    for number, (text, bounds) in enumerate(zip(fields, _FIELDS, strict=True)):
        terms = text.split(",")
        try:
            out.append(
                ",".join(
                    _term(term, bounds, number, i, identity) if term.startswith("H") else term
                    for i, term in enumerate(terms)
                )
            )
        except ValueError as err:
            raise ScheduleError(f"invalid schedule {expression!r}: {err}") from None
    return " ".join(out)
