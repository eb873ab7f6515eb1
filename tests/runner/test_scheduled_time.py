"""The run's scheduled time (for placeholders) and the jitter delay: pure, table-driven."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from aischeduler_runner.runtime import from_job_name, jitter_delay, scheduled_time

BERLIN = ZoneInfo("Europe/Berlin")
NOW = datetime(2026, 3, 29, 12, 0, 7, tzinfo=UTC)
# 2026-03-29T07:00:00Z is Unix minute 29579460 (09:00 CEST, the day DST starts).
MINUTE = 29579460


@pytest.mark.parametrize(
    ("job", "cronjob", "expected"),
    [
        (f"digest-{MINUTE}", "digest", datetime(2026, 3, 29, 7, 0, tzinfo=UTC)),
        (f"a-b-c-{MINUTE}", "a-b-c", datetime(2026, 3, 29, 7, 0, tzinfo=UTC)),
        (f"digest-{MINUTE}", "dig", None),  # not exactly <cronjob>-<digits>
        (f"digest-now-{MINUTE}", "digest", None),
        ("digest-now-1a2b3c4d", "digest", None),
        ("digest-manual-x7k2p", "digest", None),  # kubectl create job --from=cronjob/digest
        (f"digest-{MINUTE}", "", None),
        ("digest-", "digest", None),
        ("digest-+12", "digest", None),
    ],
)
def test_from_job_name(job: str, cronjob: str, expected: datetime | None) -> None:
    assert from_job_name(job, cronjob) == expected


def test_scheduled_time_prefers_what_the_operator_gave() -> None:
    given = datetime(2026, 3, 28, 23, 30, tzinfo=UTC)
    got = scheduled_time(given, f"digest-{MINUTE}", "digest", BERLIN, NOW)
    assert (got.when.isoformat(), got.source) == ("2026-03-29T00:30:00+01:00", "given")


def test_scheduled_time_from_the_cronjob_job_name_in_the_zone() -> None:
    got = scheduled_time(None, f"digest-{MINUTE}", "digest", BERLIN, NOW)
    assert (got.when.isoformat(), got.source) == ("2026-03-29T09:00:00+02:00", "job-name")


def test_scheduled_time_falls_back_to_the_start() -> None:
    got = scheduled_time(None, "digest-manual-x7k2p", "digest", BERLIN, NOW)
    assert (got.when.isoformat(), got.source) == ("2026-03-29T14:00:07+02:00", "start")


@pytest.mark.parametrize(
    ("jitter", "timeout", "draw", "delay"),
    [
        (0, 600, 0.9, 0.0),
        (30, 600, 0.0, 0.0),
        (30, 600, 0.5, 15.0),
        (30, 600, 0.999, 29.97),
        (3600, 600, 0.5, 150.0),  # at most half the deadline
        (3600, 600, 0.999, 299.7),
    ],
)
def test_jitter_delay(jitter: float, timeout: float, draw: float, delay: float) -> None:
    assert jitter_delay(jitter, timeout, draw) == pytest.approx(delay)
