"""A schedule's scheduled times over a long span (days to years), counted exactly without
a cron search per time: after a long outage the operator must say how many times passed
unaccounted, and ``schedule.next_times`` costs a search each (a year of ``*/5`` is
105,120 of them). Pure.

Day by local day: on a day without a zone transition the CronJob controller (robfig's
``Next``) fires at exactly the allowed hour x minute grid of a matching day, so a whole
day counts as ``len(hours) * len(minutes)`` with no list built; a day with a transition
is walked with robfig's own search (``schedule._spec_next``), which gets gaps and
overlaps right. A property test checks this against ``next_times`` itself."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from aischeduler_operator.schedule import (
    CronSchedule,
    _can_ever_match,
    _Civil,
    _day_matches,
    _go_date,
    _offset_at,
    _spec_next,
    _unix_floor,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Unseen:
    """The scheduled times in ``(after, until]`` that are not in ``seen``."""

    count: int
    listed: tuple[datetime, ...]  # the first ones, at most the limit asked for
    last: datetime | None  # the newest of them
    last_any: datetime | None  # the newest scheduled time in the span, seen or not


def _civil_from_days(days: int) -> tuple[int, int, int]:
    """(year, month, day) of days since 1970-01-01 (proleptic Gregorian)."""
    z = days + 719468
    era = z // 146097
    doe = z - era * 146097
    yoe = (doe - doe // 1460 + doe // 36524 - doe // 146096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (month <= 2), month, day


def _local_day(unix: int, tz: ZoneInfo) -> int:
    return (unix + _offset_at(unix, tz)) // 86400


@dataclass(frozen=True)
class _Day:
    start: int  # first instant of the local day
    end: int  # first instant of the next one
    grid: tuple[int, ...]  # when it fires, in seconds after ``start``, ascending


def _days(s: CronSchedule, tz: ZoneInfo, first: int, last: int) -> Iterator[_Day]:
    """The local days ``first..last`` (day numbers) on which the schedule may fire."""
    hours, minutes = sorted(s.hours), sorted(s.minutes)
    for number in range(first, last + 1):
        year, month, day = _civil_from_days(number)
        start = _go_date(year, month, day, 0, 0, 0, tz)
        end = _go_date(year, month, day + 1, 0, 0, 0, tz)
        regular = end - start == 86400 and _offset_at(start, tz) == _offset_at(end - 1, tz)
        if regular:
            civil = _Civil(year, month, day, 0, 0, 0, (number + 4) % 7)
            if month not in s.months or not _day_matches(s, civil):
                continue
            yield _Day(start, end, tuple(h * 3600 + m * 60 for h in hours for m in minutes))
        else:
            found = tuple(t - start for t in _walk(s, tz, start, end))
            if found:
                yield _Day(start, end, found)


def _walk(s: CronSchedule, tz: ZoneInfo, start: int, end: int) -> Iterator[int]:
    """robfig's own activations in ``[start, end)``."""
    t: int | None = start - 1
    while t is not None:
        t = _spec_next(s, tz, t)
        if t is None or t >= end:
            return
        yield t


def unseen(
    s: CronSchedule,
    tz: ZoneInfo,
    after: datetime,
    until: datetime,
    seen: Iterable[datetime],
    limit: int,
) -> Unseen:
    """Counts the scheduled times in ``(after, until]`` not in ``seen``, listing the first
    ``limit`` of them."""
    low, high = _unix_floor(after), _unix_floor(until)
    if high <= low or not _can_ever_match(s):
        return Unseen(0, (), None, None)
    skip = sorted({_unix_floor(t) for t in seen if low < _unix_floor(t) <= high})
    count, listed = 0, list[int]()
    last: int | None = None
    last_any: int | None = None
    for day in _days(s, tz, _local_day(low + 1, tz), _local_day(high, tz)):
        inside = low < day.start and day.end - 1 <= high
        skipped = bisect_left(skip, day.end) - bisect_left(skip, day.start)
        if inside and not skipped and len(listed) >= limit:
            count += len(day.grid)
            last = last_any = day.start + day.grid[-1]
            continue
        times = [day.start + g for g in day.grid if low < day.start + g <= high]
        if times:
            last_any = times[-1]
        fresh = [t for t in times if not _has(skip, t)]
        count += len(fresh)
        listed += fresh[: max(0, limit - len(listed))]
        if fresh:
            last = fresh[-1]
    return Unseen(
        count,
        tuple(_time(t) for t in listed),
        _time(last) if last is not None else None,
        _time(last_any) if last_any is not None else None,
    )


def _has(ordered: list[int], value: int) -> bool:
    i = bisect_left(ordered, value)
    return i < len(ordered) and ordered[i] == value


def _time(unix: int) -> datetime:
    return _EPOCH + timedelta(seconds=unix)
