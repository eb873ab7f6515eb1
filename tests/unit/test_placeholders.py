"""Placeholders in spec.input: one parser for the operator's validation and the runner's
rendering (aischeduler_runner.placeholders), table-driven."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from aischeduler_operator.resolve import Invalid, Resolved, resolve
from aischeduler_operator.settings import Settings
from aischeduler_runner.placeholders import PlaceholderError, RunFacts, check, render

BERLIN = ZoneInfo("Europe/Berlin")
# 2026-01-01 00:30 in Berlin is still 2025-12-31 in UTC: the zone decides the day.
NEW_YEAR = RunFacts(datetime(2026, 1, 1, 0, 30, tzinfo=BERLIN), "team-a/digest", "Scheduled")


@pytest.mark.parametrize(
    ("text", "rendered"),
    [
        ("no placeholders", "no placeholders"),
        ("{{ .ScheduledTime }}", "2026-01-01T00:30:00+01:00"),
        ("{{.ScheduledTime}}", "2026-01-01T00:30:00+01:00"),
        ("day {{ .Date }}", "day 2026-01-01"),
        ('{{ .Date "-1d" }}', "2025-12-31"),
        ('{{ .Date "+2d" }}', "2026-01-03"),
        ('{{ .Date "-1w" }}', "2025-12-25"),
        ('{{.Date "-0d"}}', "2026-01-01"),
        ("{{ .Week }}", "2026-W01"),
        ("{{ .Schedule }} / {{ .Trigger }}", "team-a/digest / Scheduled"),
        ('JSON stays: {"a": {"b": 1}}', 'JSON stays: {"a": {"b": 1}}'),
        (
            'Summarise {{ .Date "-1d" }} (week {{ .Week }}) for {{ .Schedule }}.',
            "Summarise 2025-12-31 (week 2026-W01) for team-a/digest.",
        ),
    ],
)
def test_render_table(text: str, rendered: str) -> None:
    check(text)
    assert render(text, NEW_YEAR) == rendered


@pytest.mark.parametrize(
    ("when", "date", "week", "stamp"),
    [
        # ISO week years differ from calendar years at the edges.
        (datetime(2027, 1, 1, 9, tzinfo=UTC), "2027-01-01", "2026-W53", "2027-01-01T09:00:00Z"),
        (datetime(2024, 12, 30, 9, tzinfo=UTC), "2024-12-30", "2025-W01", "2024-12-30T09:00:00Z"),
        # a zone at offset zero writes Z, as Go's RFC 3339 does
        (
            datetime(2026, 1, 5, 9, tzinfo=ZoneInfo("Europe/London")),
            "2026-01-05",
            "2026-W02",
            "2026-01-05T09:00:00Z",
        ),
    ],
)
def test_dates_and_weeks(when: datetime, date: str, week: str, stamp: str) -> None:
    facts = RunFacts(when, "ns/s", "Manual")
    assert render("{{ .Date }} {{ .Week }} {{ .ScheduledTime }}", facts) == f"{date} {week} {stamp}"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("{{ .Tomorrow }}", "{{ .Tomorrow }}"),
        ("{{ .date }}", "{{ .date }}"),
        ("{{ Date }}", "{{ Date }}"),
        ('{{ .Week "-1w" }}', '{{ .Week "-1w" }}'),
        ('{{ .Date "yesterday" }}', '{{ .Date "yesterday" }}'),
        ('{{ .Date "1d" }}', '{{ .Date "1d" }}'),
        ('{{ .Date "-1m" }}', '{{ .Date "-1m" }}'),
        ('{{ .Date "-9999w" }}', "more than 3660 days"),
        ("{{- .Date }}", "{{- .Date }}"),
        ("{{}}", "{{}}"),
        ("ok {{ .Date }} then {{ .Date", "'{{ .Date' has no closing }}"),
    ],
)
def test_invalid_placeholders_are_named(text: str, named: str) -> None:
    with pytest.raises(PlaceholderError) as err:
        check(text)
    assert named in str(err.value)


SETTINGS = Settings(platform_url="https://p.example", credentials_secret="c")


def test_operator_reports_an_invalid_placeholder_as_invalid_spec() -> None:
    spec = {"assistant": {"id": "a"}, "schedule": "0 9 * * *", "input": "{{ .Yesterday }}"}
    got = resolve(spec, SETTINGS, "ns/s")
    assert isinstance(got, Invalid)
    assert got.reason == "InvalidSpec"
    assert got.message.startswith("spec.input: placeholder {{ .Yesterday }} is not known")


def test_operator_accepts_valid_placeholders() -> None:
    spec = {"assistant": {"id": "a"}, "schedule": "H 9 * * *", "input": '{{ .Date "-1d" }}'}
    got = resolve(spec, SETTINGS, "ns/s")
    assert isinstance(got, Resolved)
    assert got.effective_schedule is not None and "H" not in got.effective_schedule
