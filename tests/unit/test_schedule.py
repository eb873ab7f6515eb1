"""Schedule maths against golden vectors produced by robfig/cron itself.

tests/unit/golden/cron_vectors.json is the output of tools/kube/cronvectors (the parser
and ``Next`` the CronJob controller uses, plus the CronJob API validation) over
cron_cases.json; regenerate it with tests/unit/golden/regen.sh.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from aischeduler_operator.schedule import (
    MACROS,
    CronSchedule,
    ScheduleError,
    TimeZoneError,
    load_time_zone,
    next_time,
    next_times,
    parse_run_at,
    parse_schedule,
)

GOLDEN = Path(__file__).parent / "golden"
CASES_FILE = GOLDEN / "cron_cases.json"
VECTORS_FILE = GOLDEN / "cron_vectors.json"
TOOLS_KUBE = Path(__file__).parents[2] / "tools" / "kube"

VECTORS: list[dict[str, Any]] = json.loads(VECTORS_FILE.read_text())

# Accepted by robfig/cron and by the CronJob API, rejected by the product on purpose:
# the contract (spec.schedule) allows only 5-field cron and the calendar macros.
PRODUCT_REJECTS = {
    "@every 5m": "@every is an interval, not a calendar schedule; not in the contract",
    "@every 1h30m": "@every is an interval, not a calendar schedule; not in the contract",
}

# API messages that we word differently on purpose; every other schedule message from
# robfig must appear verbatim in ours.
EMPTY_MESSAGE = "spec.schedule: Required value"
TZ_MESSAGE = "spec.schedule: cannot use TZ or CRON_TZ in schedule, use timeZone field instead"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def vector_id(vector: dict[str, Any]) -> str:
    return f"{vector['schedule']!r}@{vector['timeZone'] or '-'}@{vector['after']}"


def zone_for(vector: dict[str, Any]) -> ZoneInfo:
    # No timeZone means robfig uses the location of the time given to Next: UTC here, as
    # our product's default.
    return load_time_zone(vector["timeZone"] or "UTC")


@pytest.mark.parametrize("vector", VECTORS, ids=[vector_id(v) for v in VECTORS])
def test_golden_vector(vector: dict[str, Any]) -> None:
    schedule, tz_name = vector["schedule"], vector["timeZone"]
    api_errors: list[str] = vector.get("apiErrors", [])
    schedule_errors = [e for e in api_errors if e.startswith("spec.schedule: ")]
    zone_errors = [e for e in api_errors if e.startswith("spec.timeZone: ")]

    if schedule in PRODUCT_REJECTS:
        assert not api_errors, "the case no longer shows that Go accepts it"
        assert "error" not in vector, "the case no longer shows that Go accepts it"
        with pytest.raises(ScheduleError, match="@every is not supported"):
            parse_schedule(schedule)
        return

    if schedule_errors:
        with pytest.raises(ScheduleError) as caught:
            parse_schedule(schedule)
        message = str(caught.value)
        if TZ_MESSAGE in schedule_errors:
            # Any "TZ" gets our own hint only, even where robfig also fails to parse.
            assert "set spec.timeZone instead" in message
        elif EMPTY_MESSAGE in schedule_errors:
            assert "schedule is empty" in message
        else:
            for error in schedule_errors:
                assert error.removeprefix("spec.schedule: ") in message
    else:
        parsed = parse_schedule(schedule)

    if zone_errors:
        with pytest.raises(TimeZoneError):
            load_time_zone(tz_name)
    elif tz_name:
        load_time_zone(tz_name)

    if api_errors:
        return
    # The API accepts it: the controller must be able to parse it and say when it fires.
    assert "error" not in vector, f"API accepts but the controller does not: {vector['error']}"
    got = next_times(parsed, zone_for(vector), utc(vector["after"]), vector["count"])
    assert [t.strftime("%Y-%m-%dT%H:%M:%SZ") for t in got] == vector.get("next", [])
    if "hang" in vector:
        # robfig's Next never returns (the controller never fires); we say "no next time".
        assert len(got) < vector["count"]


def test_vectors_cover_the_tricky_cases() -> None:
    """The committed vectors really show the behaviour the port exists for."""

    def nexts(schedule: str, tz: str, after: str) -> list[str]:
        for v in VECTORS:
            if (v["schedule"], v["timeZone"], v["after"]) == (schedule, tz, after):
                return list(v.get("next", []))
        raise AssertionError(f"no vector {schedule!r} {tz} {after}")

    # Spring forward, Berlin 2026-03-29 02:00 -> 03:00: 02:30 does not exist that day
    # and robfig skips the run (croniter fires at 03:30 instead).
    assert nexts("30 2 * * *", "Europe/Berlin", "2026-03-27T12:00:00Z")[:3] == [
        "2026-03-28T01:30:00Z",
        "2026-03-30T00:30:00Z",
        "2026-03-31T00:30:00Z",
    ]
    # Fall back, New York 2026-11-01 02:00 EDT -> 01:00 EST: 01:30 happens twice and
    # robfig fires at both.
    assert nexts("30 1 * * *", "America/New_York", "2026-10-30T12:00:00Z")[1:4] == [
        "2026-11-01T05:30:00Z",
        "2026-11-01T06:30:00Z",
        "2026-11-02T06:30:00Z",
    ]
    # A leap day more than five years away: robfig gives up (2100 is no leap year).
    assert nexts("0 0 29 2 *", "UTC", "2096-03-01T00:00:00Z") == []


def find_cronvectors(tmp_path: Path) -> Path:
    configured = os.environ.get("AISCHED_CRONVECTORS")
    if configured:
        return Path(configured)
    go = shutil.which("go")
    if go is None:
        pytest.fail(
            "cannot check that cron_vectors.json came from robfig/cron: set "
            "AISCHED_CRONVECTORS to a cronvectors binary (tools/build.sh builds one) or put "
            "Go on PATH so the test can build tools/kube/cronvectors"
        )
    binary = tmp_path / "cronvectors"
    env = {**os.environ, "GOTOOLCHAIN": "local", "CGO_ENABLED": "0", "GOFLAGS": "-mod=readonly"}
    built = subprocess.run(
        [go, "build", "-o", str(binary), "./cronvectors"],
        cwd=TOOLS_KUBE,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if built.returncode != 0:
        pytest.fail(f"building tools/kube/cronvectors failed:\n{built.stderr}")
    return binary


def test_golden_vectors_are_current(tmp_path: Path) -> None:
    """The committed vectors are exactly what robfig/cron computes for the cases."""
    binary = find_cronvectors(tmp_path)
    ran = subprocess.run(
        [str(binary)],
        input=CASES_FILE.read_text(),
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout) == VECTORS, (
        "cron_vectors.json is stale: run tests/unit/golden/regen.sh and commit the result"
    )


# --- parse_schedule -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("", "schedule is empty"),
        ("0 0 * * 7", 'invalid schedule "0 0 * * 7": end of range (7) above maximum (6): 7'),
        ("61 * * * *", "end of range (61) above maximum (59): 61"),
        ("* * *", "expected exactly 5 fields, found 3: [* * *]"),
        ("0 0 0 * * *", "no seconds field"),
        ("0 0 0 * *", "beginning of range (0) below minimum (1): 0"),
        ("@every 5m", "@every is not supported"),
        ("@every", "unrecognized descriptor: @every (allowed: @yearly"),
        ("TZ=UTC 0 0 * * *", "set spec.timeZone instead"),
        ("CRON_TZ=Europe/Berlin 0 0 * * *", "set spec.timeZone instead"),
        ("0 0 L * *", 'failed to parse int from L: strconv.Atoi: parsing "L": invalid syntax'),
        ("0 0 * * 1#2", "failed to parse int from 1#2"),
        ("@reboot", "unrecognized descriptor: @reboot"),
        (" @daily", "expected exactly 5 fields, found 1: [@daily]"),
        ("*/0 * * * *", "step of range should be a positive number: */0"),
        ("0 0 * * *\x1c", r'parsing "*\x1c": invalid syntax'),
    ],
)
def test_parse_schedule_rejects(expr: str, message: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse_schedule(expr)
    assert message in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_parse_schedule_fields() -> None:
    s = parse_schedule("5-59/20 8-18/2 * JAN,jul sun")
    assert s == CronSchedule(
        expression="5-59/20 8-18/2 * JAN,jul sun",
        minutes=frozenset({5, 25, 45}),
        hours=frozenset({8, 10, 12, 14, 16, 18}),
        days_of_month=frozenset(range(1, 32)),
        months=frozenset({1, 7}),
        days_of_week=frozenset({0}),
        dom_star=True,
        dow_star=False,
    )
    assert parse_schedule("0 0 */1 * MON").dom_star  # a step of 1 keeps the star
    assert not parse_schedule("0 0 */2 * MON").dom_star
    assert parse_schedule("0 0 ? * ?").dom_star


@pytest.mark.parametrize("macro", MACROS)
def test_every_macro_parses(macro: str) -> None:
    assert parse_schedule(macro).expression == macro


def test_schedule_is_frozen() -> None:
    s = parse_schedule("@daily")
    with pytest.raises(AttributeError):
        s.minutes = frozenset()  # type: ignore[misc]


# --- time zones ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["", "Local", "LOCAL", "Mars/Olympus_Mons", "../etc/passwd", "Europe//Berlin", "-x"]
)
def test_load_time_zone_rejects(name: str) -> None:
    with pytest.raises(TimeZoneError, match="invalid time zone"):
        load_time_zone(name)


@pytest.mark.parametrize("name", ["UTC", "Europe/Berlin", "Etc/GMT+5", "America/Port-au-Prince"])
def test_load_time_zone_accepts(name: str) -> None:
    assert load_time_zone(name).key == name


# --- next_times ---------------------------------------------------------------------------


def test_next_times_are_utc_and_strictly_increasing() -> None:
    berlin = load_time_zone("Europe/Berlin")
    times = next_times(parse_schedule("*/15 * * * *"), berlin, utc("2026-10-25T00:20:00Z"), 8)
    assert all(t.tzinfo is UTC for t in times)
    assert times == sorted(set(times))
    assert times[0] == utc("2026-10-25T00:30:00Z")


def test_next_time_from_a_non_utc_instant() -> None:
    after = datetime(2026, 3, 29, 3, 30, tzinfo=ZoneInfo("Europe/Berlin"))
    schedule = parse_schedule("30 2 * * *")
    assert next_time(schedule, load_time_zone("Europe/Berlin"), after) == utc(
        "2026-03-30T00:30:00Z"
    )


def test_next_time_none_when_robfig_finds_nothing() -> None:
    assert (
        next_time(parse_schedule("0 0 30 2 *"), ZoneInfo("UTC"), utc("2026-01-01T00:00:00Z"))
        is None
    )


def test_next_time_terminates_where_robfig_loops_forever() -> None:
    # Pacific/Apia skipped 2011-12-30; robfig's day loop never leaves Dec 29 (the golden
    # vector records the Go side hanging). The controller would never fire: None.
    apia = load_time_zone("Pacific/Apia")
    assert next_time(parse_schedule("0 12 30 12 *"), apia, utc("2011-12-01T00:00:00Z")) is None


def test_next_times_needs_an_aware_after() -> None:
    with pytest.raises(ValueError, match="aware"):
        next_times(parse_schedule("@daily"), ZoneInfo("UTC"), datetime(2026, 1, 1), 1)


# --- parse_run_at -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "zone", "expected"),
    [
        ("2026-03-29T09:00:00Z", "Europe/Berlin", "2026-03-29T09:00:00+00:00"),
        ("2026-03-29t09:00:00z", "Europe/Berlin", "2026-03-29T09:00:00+00:00"),
        ("2026-03-29T09:00:00+05:45", "UTC", "2026-03-29T03:15:00+00:00"),
        ("2026-03-29T09:00:00.25-03:00", "UTC", "2026-03-29T12:00:00.250000+00:00"),
        ("2026-06-01T09:00:00", "Europe/Berlin", "2026-06-01T07:00:00+00:00"),
        ("2026-06-01 09:00:00", "Asia/Kathmandu", "2026-06-01T03:15:00+00:00"),
        # Wall times in a DST gap or overlap resolve as Go's time.Date does (checked with
        # Go 1.26): the offset in force at "wall time read as UTC" decides, so the answer
        # depends on the side of UTC. Berlin gap 02:30 -> 03:30 CEST; overlap -> CET (later).
        ("2026-03-29T02:30:00", "Europe/Berlin", "2026-03-29T01:30:00+00:00"),
        ("2026-10-25T02:30:00", "Europe/Berlin", "2026-10-25T01:30:00+00:00"),
        # New York gap 02:30 -> 01:30 EST; overlap 01:30 -> EDT (earlier).
        ("2026-03-08T02:30:00", "America/New_York", "2026-03-08T06:30:00+00:00"),
        ("2026-11-01T01:30:00", "America/New_York", "2026-11-01T05:30:00+00:00"),
        # Lord Howe, 30-minute DST: gap 02:15 -> 02:45 +11; overlap 01:45 -> +10:30 (later).
        ("2026-10-04T02:15:00", "Australia/Lord_Howe", "2026-10-03T15:45:00+00:00"),
        ("2026-04-05T01:45:00", "Australia/Lord_Howe", "2026-04-04T15:15:00+00:00"),
    ],
)
def test_parse_run_at(value: str, zone: str, expected: str) -> None:
    got = parse_run_at(value, load_time_zone(zone))
    assert got == datetime.fromisoformat(expected)
    assert got.tzinfo is UTC


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "expected an RFC 3339 date-time"),
        ("tomorrow", "expected an RFC 3339 date-time"),
        ("2026-03-29", "expected an RFC 3339 date-time"),
        ("2026-03-29T09:00Z", "expected an RFC 3339 date-time"),
        ("2026-02-30T09:00:00Z", "day is out of range"),
        ("2026-03-29T24:00:00Z", "hour must be in 0..23"),
        ("2026-03-29T09:00:60Z", "second must be in 0..59"),
        ("2026-03-29T09:00:00+24:00", "offset +24:00 out of range"),
    ],
)
def test_parse_run_at_rejects(value: str, message: str) -> None:
    with pytest.raises(ScheduleError, match="invalid runAt") as caught:
        parse_run_at(value, ZoneInfo("UTC"))
    assert message in str(caught.value)
