"""Schedule maths: when will the Kubernetes CronJob controller fire?

``status.nextRunTime`` must be exactly the instant the CronJob controller
(k8s v1.36.3) creates a Job. The controller parses ``"TZ=<timeZone> <schedule>"`` with
``cron.ParseStandard`` of github.com/robfig/cron/v3 v3.0.1 and asks ``sched.Next(t)``.
This module is a faithful port of that parser (parser.go) and of ``SpecSchedule.Next``
(spec.go), including Go's ``time`` semantics in a location, so DST gaps and overlaps,
the day-of-month/day-of-week OR rule and the 5-year search limit behave exactly as in
the cluster. It deliberately does not use croniter, which differs on all of these.

It also applies the CronJob API validation (``validateScheduleFormat`` and
``validateTimeZone`` in pkg/apis/batch/validation) and the product contract: only
5-field cron or the ``@yearly``-style macros; no ``@every``, no ``TZ=`` prefix.

Everything here is pure: no I/O, the clock is always passed in. Golden vectors produced
by robfig/cron itself (tools/kube/cronvectors) keep the port honest:
tests/unit/golden/cron_vectors.json.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aischeduler_operator.firetimes import FireTimes

__all__ = [
    "MACROS",
    "CronSchedule",
    "ScheduleError",
    "TimeZoneError",
    "load_time_zone",
    "next_time",
    "next_times",
    "parse_run_at",
    "parse_schedule",
]

#: The macros the product contract allows (robfig also knows ``@every <duration>``).
MACROS = ("@yearly", "@annually", "@monthly", "@weekly", "@daily", "@midnight", "@hourly")


class ScheduleError(ValueError):
    """A schedule or ``runAt`` the CronJob API or the product would not accept."""


class TimeZoneError(ValueError):
    """A ``timeZone`` the CronJob API would not accept."""


@dataclass(frozen=True, slots=True)
class CronSchedule:
    """A parsed schedule: the set of allowed values per field, like robfig's bit sets.

    ``dom_star``/``dow_star`` mirror robfig's ``starBit``: set when the field was written
    with ``*`` or ``?`` (and no step above 1). If either is set, a day must match both
    day-of-month and day-of-week; otherwise either one is enough (``dayMatches``).
    """

    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days_of_month: frozenset[int]
    months: frozenset[int]
    days_of_week: frozenset[int]  # 0 = Sunday … 6 = Saturday
    dom_star: bool
    dow_star: bool


# --- parsing (robfig/cron v3.0.1 parser.go, ParseStandard) -----------------------------


@dataclass(frozen=True, slots=True)
class _Bounds:
    min: int
    max: int
    names: dict[str, int] | None = None


_MINUTES = _Bounds(0, 59)
_HOURS = _Bounds(0, 23)
_DOM = _Bounds(1, 31)
_MONTHS = _Bounds(
    1,
    12,
    {
        name: i + 1
        for i, name in enumerate(
            ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
        )
    },
)
_DOW = _Bounds(
    0, 6, {name: i for i, name in enumerate(("sun", "mon", "tue", "wed", "thu", "fri", "sat"))}
)

# Go's unicode.IsSpace, which strings.Fields splits on (Python's str.split() also splits
# on \x1c-\x1f, Go does not).
_GO_SPACE = "\t\n\v\f\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_GO_FIELDS = re.compile(f"[^{_GO_SPACE}]+")

_INT64_MAX = 2**63 - 1
_UINT64_MAX = 2**64 - 1


class _RobfigError(Exception):
    """An error with robfig's own wording; wrapped into ScheduleError for humans."""


@lru_cache(maxsize=4096)  # every decision resolves its spec; the parse is the same each time
def parse_schedule(expr: str) -> CronSchedule:
    """Parse ``spec.schedule`` as the CronJob API and controller would.

    Accepts exactly what ``cron.ParseStandard`` accepts for a 5-field spec or a macro, and
    rejects, with a human message, what the API or the product contract rejects.
    """
    if expr == "":
        raise ScheduleError(
            'invalid schedule "": the schedule is empty; use a 5-field cron expression '
            "(minute hour day-of-month month day-of-week) or one of " + ", ".join(MACROS)
        )
    if "TZ" in expr:
        # The API rejects any "TZ" in the schedule (validateScheduleFormat); say why.
        raise ScheduleError(
            f"invalid schedule {_quote(expr)}: TZ= or CRON_TZ= is not allowed in the "
            "schedule; set spec.timeZone instead"
        )
    if expr.startswith("@every "):
        # robfig and the CronJob API accept "@every <duration>", but the product contract
        # allows only calendar schedules.
        raise ScheduleError(
            f"invalid schedule {_quote(expr)}: @every is not supported; use a 5-field cron "
            "expression or one of " + ", ".join(MACROS)
        )
    try:
        return _parse_standard(expr)
    except _RobfigError as err:
        raise ScheduleError(f"invalid schedule {_quote(expr)}: {err}") from None


def _parse_standard(spec: str) -> CronSchedule:
    if spec.startswith("@"):
        return _parse_descriptor(spec)
    fields = _GO_FIELDS.findall(spec)
    if len(fields) != 5:
        hint = ""
        if len(fields) == 6:
            hint = " (no seconds field: use minute hour day-of-month month day-of-week)"
        raise _RobfigError(
            f"expected exactly 5 fields, found {len(fields)}: [{' '.join(fields)}]{hint}"
        )
    minutes, _ = _get_field(fields[0], _MINUTES)
    hours, _ = _get_field(fields[1], _HOURS)
    dom, dom_star = _get_field(fields[2], _DOM)
    months, _ = _get_field(fields[3], _MONTHS)
    dow, dow_star = _get_field(fields[4], _DOW)
    return CronSchedule(spec, minutes, hours, dom, months, dow, dom_star, dow_star)


def _parse_descriptor(spec: str) -> CronSchedule:
    def every(b: _Bounds) -> frozenset[int]:
        return frozenset(range(b.min, b.max + 1))

    one = frozenset({0})
    first_day, first_month = frozenset({1}), frozenset({1})
    if spec in ("@yearly", "@annually"):
        return CronSchedule(spec, one, one, first_day, first_month, every(_DOW), False, True)
    if spec == "@monthly":
        return CronSchedule(spec, one, one, first_day, every(_MONTHS), every(_DOW), False, True)
    if spec == "@weekly":
        return CronSchedule(spec, one, one, every(_DOM), every(_MONTHS), one, True, False)
    if spec in ("@daily", "@midnight"):
        return CronSchedule(spec, one, one, every(_DOM), every(_MONTHS), every(_DOW), True, True)
    if spec == "@hourly":
        return CronSchedule(
            spec, one, every(_HOURS), every(_DOM), every(_MONTHS), every(_DOW), True, True
        )
    raise _RobfigError(f"unrecognized descriptor: {spec} (allowed: {', '.join(MACROS)})")


def _get_field(field: str, bounds: _Bounds) -> tuple[frozenset[int], bool]:
    """A comma-separated list of ranges; empty list items are skipped, as in Go."""
    values: set[int] = set()
    star = False
    for expr in (part for part in field.split(",") if part):
        bits, bit_star = _get_range(expr, bounds)
        values |= bits
        star = star or bit_star
    return frozenset(values), star


def _get_range(expr: str, r: _Bounds) -> tuple[set[int], bool]:
    """``number | number "-" number [ "/" number ]``, ``*`` or ``?`` (robfig getRange)."""
    range_and_step = expr.split("/")
    low_and_high = range_and_step[0].split("-")
    single_digit = len(low_and_high) == 1
    star = False
    if low_and_high[0] in ("*", "?"):
        # Like robfig, anything after "*-" is ignored.
        start, end, star = r.min, r.max, True
    else:
        start = _parse_int_or_name(low_and_high[0], r.names)
        if len(low_and_high) == 1:
            end = start
        elif len(low_and_high) == 2:
            end = _parse_int_or_name(low_and_high[1], r.names)
        else:
            raise _RobfigError(f"too many hyphens: {expr}")

    if len(range_and_step) == 1:
        step = 1
    elif len(range_and_step) == 2:
        step = _must_parse_int(range_and_step[1])
        if single_digit:  # "N/step" means "N-max/step"
            end = r.max
        if step > 1:
            star = False
    else:
        raise _RobfigError(f"too many slashes: {expr}")

    if start < r.min:
        raise _RobfigError(f"beginning of range ({start}) below minimum ({r.min}): {expr}")
    if end > r.max:
        raise _RobfigError(f"end of range ({end}) above maximum ({r.max}): {expr}")
    if start > end:
        raise _RobfigError(f"beginning of range ({start}) beyond end of range ({end}): {expr}")
    if step == 0:
        raise _RobfigError(f"step of range should be a positive number: {expr}")
    return set(range(start, end + 1, step)), star


def _parse_int_or_name(expr: str, names: dict[str, int] | None) -> int:
    if names is not None:
        # Go's strings.ToLower maps U+0130 (İ) to a plain "i"; Python's lower() does not.
        lowered = expr.replace("\u0130", "i").lower()
        if lowered in names:
            return names[lowered]
    return _must_parse_int(expr)


def _must_parse_int(expr: str) -> int:
    try:
        num = _go_atoi(expr)
    except _RobfigError as err:
        raise _RobfigError(f"failed to parse int from {expr}: {err}") from None
    if num < 0:
        raise _RobfigError(f"negative number ({num}) not allowed: {expr}")
    return num


def _go_atoi(s: str) -> int:
    """Go's ``strconv.Atoi`` on a 64-bit platform: ASCII digits with an optional sign."""

    def syntax() -> _RobfigError:
        return _RobfigError(f"strconv.Atoi: parsing {_quote(s)}: invalid syntax")

    digits = s[1:] if s[:1] in ("+", "-") else s
    if not digits:
        raise syntax()
    n = 0
    for ch in digits:
        if not "0" <= ch <= "9":
            raise syntax()
        n = n * 10 + ord(ch) - ord("0")
        if n > _UINT64_MAX:  # ParseUint stops at the first overflow
            raise _RobfigError(f"strconv.Atoi: parsing {_quote(s)}: value out of range")
    if s[0] == "-":
        n = -n
    if not -_INT64_MAX - 1 <= n <= _INT64_MAX:
        raise _RobfigError(f"strconv.Atoi: parsing {_quote(s)}: value out of range")
    return n


def _quote(s: str) -> str:
    """A double-quoted string as Go's ``strconv.Quote`` writes it (for robfig's wording)."""
    out = ['"']
    for ch in s:
        code = ord(ch)
        if ch in ('"', "\\"):
            out.append("\\" + ch)
        elif ch in _GO_ESCAPES:
            out.append(_GO_ESCAPES[ch])
        elif ch == " " or ch.isprintable():
            out.append(ch)
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


_GO_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
}


# --- time zones (CronJob API validateTimeZone) ------------------------------------------

_VALID_TIME_ZONE_PART = re.compile(r"[A-Za-z.\-_0-9+]{1,14}")


def load_time_zone(name: str) -> ZoneInfo:
    """Load ``spec.timeZone``, accepting what the CronJob API accepts.

    Uses the system tz database, falling back to the ``tzdata`` package.
    """
    if name == "":
        raise TimeZoneError('invalid time zone "": must be an IANA name such as "Europe/Berlin"')
    for part in name.split("/"):
        if part in (".", "..") or part.startswith("-") or not _VALID_TIME_ZONE_PART.fullmatch(part):
            raise TimeZoneError(f"invalid time zone {_quote(name)}: unknown time zone {name}")
    if name.lower() == "local":
        raise TimeZoneError(
            f"invalid time zone {_quote(name)}: must be an explicit time zone as defined in "
            "https://www.iana.org/time-zones, not the operator's local zone"
        )
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise TimeZoneError(f"invalid time zone {_quote(name)}: unknown time zone {name}") from None


# --- Go time semantics in a location ----------------------------------------------------
# A Go time.Time in a location is an absolute instant (here: Unix seconds; robfig's Next
# works in whole seconds) read through the zone. Field reads are local; Add and Truncate
# act on the instant; Date resolves a local wall time deterministically.

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class _Civil:
    year: int
    month: int
    day: int
    hour: int
    minute: int
    second: int
    weekday: int  # Go's: 0 = Sunday


def _civil(unix: int, tz: ZoneInfo) -> _Civil:
    local = datetime.fromtimestamp(unix, tz)
    return _Civil(
        local.year,
        local.month,
        local.day,
        local.hour,
        local.minute,
        local.second,
        local.isoweekday() % 7,
    )


def _offset_at(unix: int, tz: ZoneInfo) -> int:
    """The zone's UTC offset, in seconds, at a UTC instant (Go's loc.lookup)."""
    offset = datetime.fromtimestamp(unix, tz).utcoffset()
    assert offset is not None  # noqa: S101 - ZoneInfo always has one
    return offset.days * 86400 + offset.seconds


def _days_from_civil(year: int, month: int, day: int) -> int:
    """Days since 1970-01-01 of a proleptic Gregorian date (month 1..12, day any int)."""
    y = year - (month <= 2)
    era = y // 400
    yoe = y - era * 400
    mp = (month + 9) % 12
    doy = (153 * mp + 2) // 5 + day - 1
    doe = yoe * 365 + yoe // 4 - yoe // 100 + doy
    return era * 146097 + doe - 719468


def _go_date(
    year: int, month: int, day: int, hour: int, minute: int, sec: int, tz: ZoneInfo
) -> int:
    """Go's ``time.Date``: overflowing fields normalise; a wall time in a gap or overlap
    resolves as ``L - offset(L - offset(L))``."""
    year += (month - 1) // 12
    month = (month - 1) % 12 + 1
    wall = (_days_from_civil(year, month, 1) + day - 1) * 86400 + hour * 3600 + minute * 60 + sec
    return wall - _offset_at(wall - _offset_at(wall, tz), tz)


def _go_add_date(unix: int, tz: ZoneInfo, months: int, days: int) -> int:
    c = _civil(unix, tz)
    return _go_date(c.year, c.month + months, c.day + days, c.hour, c.minute, c.second, tz)


def _day_matches(s: CronSchedule, c: _Civil) -> bool:
    dom_match = c.day in s.days_of_month
    dow_match = c.weekday in s.days_of_week
    if s.dom_star or s.dow_star:
        return dom_match and dow_match
    return dom_match or dow_match


def _can_ever_match(s: CronSchedule) -> bool:
    """False when a field allows nothing (e.g. a lone ","), where robfig searches five
    years and then gives up; skipping that search gives the same answer, faster."""
    if not (s.minutes and s.hours and s.months):
        return False
    if s.dom_star or s.dow_star:
        return bool(s.days_of_month and s.days_of_week)
    return bool(s.days_of_month or s.days_of_week)


_MAX_STEPS = 1_000_000


def _spec_next(s: CronSchedule, tz: ZoneInfo, after: int) -> int | None:
    """robfig ``SpecSchedule.Next`` (spec.go), on whole Unix seconds.

    ``after`` is the floor of the given instant; returns the next activation strictly
    after it, or None where robfig returns the zero time (nothing within five years) or
    never returns at all. The latter happens where a whole local day is skipped (e.g.
    Pacific/Apia, 2011-12-30): ``AddDate(0, 0, 1)`` gives back the same instant and
    robfig's day loop spins forever, so the CronJob controller never fires.
    """
    if not _can_ever_match(s):
        return None
    # Start at the earliest possible time (the upcoming second).
    t = after + 1
    added = False
    year_limit = _civil(t, tz).year + 5
    # A normal search takes at most a few thousand steps; a cycle robfig would never leave
    # (longer than the no-progress case caught below) is cut off here.
    steps = 0

    while True:  # WRAP
        steps += 1
        if steps > _MAX_STEPS:
            return None
        c = _civil(t, tz)
        if c.year > year_limit:
            return None

        wrapped = False
        while c.month not in s.months:
            if not added:
                added = True
                t = _go_date(c.year, c.month, 1, 0, 0, 0, tz)
            before, t = t, _go_add_date(t, tz, 1, 0)
            if t == before:
                return None  # robfig would loop forever
            c = _civil(t, tz)
            if c.month == 1:
                wrapped = True
                break
        if wrapped:
            continue

        while not _day_matches(s, c):
            steps += 1
            if steps > _MAX_STEPS:
                return None
            if not added:
                added = True
                t = _go_date(c.year, c.month, c.day, 0, 0, 0, tz)
            before, t = t, _go_add_date(t, tz, 0, 1)
            c = _civil(t, tz)
            # Where midnight does not exist (e.g. Sao Paulo's old DST), Date lands on 23:00
            # the day before or 01:00; robfig nudges back to the intended day.
            if c.hour != 0:
                t += (24 - c.hour) * 3600 if c.hour > 12 else -c.hour * 3600
                c = _civil(t, tz)
            if t == before:
                return None  # robfig would loop forever
            if c.day == 1:
                wrapped = True
                break
        if wrapped:
            continue

        while c.hour not in s.hours:
            if not added:
                added = True
                t = _go_date(c.year, c.month, c.day, c.hour, 0, 0, tz)
            t += 3600
            c = _civil(t, tz)
            if c.hour == 0:
                wrapped = True
                break
        if wrapped:
            continue

        while c.minute not in s.minutes:
            if not added:
                added = True
                t -= t % 60  # Truncate(time.Minute): on the instant, not the wall clock
            t += 60
            c = _civil(t, tz)
            if c.minute == 0:
                wrapped = True
                break
        if wrapped:
            continue

        while c.second != 0:  # the standard parser's seconds field is always "0"
            if not added:
                added = True  # Truncate(time.Second) is a no-op on whole seconds
            t += 1
            c = _civil(t, tz)
            if c.second == 0:
                wrapped = True
                break
        if wrapped:
            continue

        return t


# Activations already found, per (schedule, zone): the same answers, searched once.
_FIRE_TIMES = FireTimes()


def _unix_floor(when: datetime) -> int:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"need an aware datetime, got naive {when.isoformat()}")
    delta = when - _EPOCH
    return delta.days * 86400 + delta.seconds


def next_times(schedule: CronSchedule, tz: ZoneInfo, after: datetime, count: int) -> list[datetime]:
    """The next ``count`` activations strictly after ``after``, as aware UTC datetimes.

    Fewer are returned when the CronJob controller would find none (robfig gives up
    after five years, e.g. ``0 0 30 2 *``).
    """
    if count < 0:
        raise ValueError(f"count must not be negative, got {count}")
    # Keyed by the expression (a CronSchedule is what parse_schedule makes of it): cheaper
    # to hash and compare than the parsed sets.
    found = _FIRE_TIMES.after(
        (schedule.expression, tz),
        _unix_floor(after),
        count,
        lambda t: _spec_next(schedule, tz, t),
    )
    return [_EPOCH + timedelta(seconds=t) for t in found]


def next_time(schedule: CronSchedule, tz: ZoneInfo, after: datetime) -> datetime | None:
    """The next activation strictly after ``after`` (aware UTC), or None if there is none."""
    found = next_times(schedule, tz, after, 1)
    return found[0] if found else None


# --- runAt --------------------------------------------------------------------------------

_RFC3339 = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<h>\d{2}):(?P<m>\d{2}):(?P<s>\d{2})"
    r"(?:\.(?P<frac>\d+))?(?P<tz>[Zz]|[+-]\d{2}:\d{2})?",
    re.ASCII,
)


def parse_run_at(value: str, tz: ZoneInfo) -> datetime:
    """Parse ``spec.runAt`` (RFC 3339) to an aware UTC datetime.

    Without an offset the wall time is read in ``tz``; one in a DST gap or overlap
    resolves as Go's ``time.Date`` does (the same rule the CronJob controller lives by).
    Fractions below a microsecond are dropped.
    """
    match = _RFC3339.fullmatch(value)
    if match is None:
        raise ScheduleError(
            f"invalid runAt {_quote(value)}: expected an RFC 3339 date-time such as "
            '"2026-03-29T09:00:00Z", "2026-03-29T09:00:00+02:00" or, read in spec.timeZone, '
            '"2026-03-29T09:00:00"'
        )
    frac = (match["frac"] or "")[:6].ljust(6, "0")
    try:
        wall = datetime.fromisoformat(
            f"{match['date']}T{match['h']}:{match['m']}:{match['s']}.{frac}"
        )
        offset = match["tz"]
        if offset is not None:
            if offset in ("Z", "z"):
                return wall.replace(tzinfo=UTC)
            sign = 1 if offset[0] == "+" else -1
            hours, minutes = int(offset[1:3]), int(offset[4:6])
            if hours > 23 or minutes > 59:
                raise ValueError(f"offset {offset} out of range")
            zone = timezone(sign * timedelta(hours=hours, minutes=minutes))
            return wall.replace(tzinfo=zone).astimezone(UTC)
    except ValueError as err:
        raise ScheduleError(f"invalid runAt {_quote(value)}: {err}") from None
    unix = _go_date(wall.year, wall.month, wall.day, wall.hour, wall.minute, wall.second, tz)
    return _EPOCH + timedelta(seconds=unix, microseconds=wall.microsecond)
