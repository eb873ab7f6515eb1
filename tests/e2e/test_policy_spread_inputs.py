"""Schedule policies on the control plane: H spreads schedules (resolved into the CronJob
and status.effectiveSchedule, nextRunTime exact), dated inputs (placeholders validated by
the operator), and the new fields as kubectl explain shows them."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from schedules import Schedules, body, condition

from aischeduler_operator.hashcron import resolve_hash
from aischeduler_operator.schedule import load_time_zone, next_times, parse_schedule
from waiting import wait_for


def test_h_is_resolved_into_the_cronjob_and_the_status(s: Schedules) -> None:
    cases = {
        "weekday-nine": "H 9 * * 1-5",
        "quarter-hourly": "H/15 * * * *",
        "early-half": "H(0-29) 2 * * *",
    }
    for name, expression in cases.items():
        s.create(body(name, schedule=expression, timeZone="Europe/Berlin"))
    for name, expression in cases.items():
        status = s.wait_ready(name)
        effective = resolve_hash(expression, f"{s.namespace}/{name}")
        assert "H" not in effective
        assert status["effectiveSchedule"] == effective
        cronjob = s.cronjob_spec(name)
        assert (cronjob["schedule"], cronjob["timeZone"]) == (effective, "Europe/Berlin")
        # nextRunTimes are exactly the resolved expression's times (the CronJob's own).
        upcoming = [datetime.fromisoformat(t) for t in status["nextRunTimes"]]
        expected = next_times(
            parse_schedule(effective), load_time_zone("Europe/Berlin"), upcoming[0], 4
        )
        assert upcoming[1:] == expected
    # The same schedule in another namespace (or with another name) gets its own value,
    # and the printer column shows what the CronJob runs.
    table = s.kubectl("get", "asched", "-n", s.namespace, "-o", "wide")
    assert "EFFECTIVE" in table.splitlines()[0]
    for name, expression in cases.items():
        assert resolve_hash(expression, f"{s.namespace}/{name}") in table


def test_invalid_h_and_placeholders_are_reported_and_fixable(s: Schedules) -> None:
    s.create(body("bad-h", schedule="H(50-10) 9 * * *"))
    s.create(body("bad-input", input="Summarise {{ .Yesterday }} please"))
    s.create(
        body("good-input", input='Summarise {{ .Date "-1d" }} ({{ .Week }}) for {{ .Schedule }}')
    )

    for name, reason, says in (
        ("bad-h", "InvalidSchedule", "H(50-10)"),
        ("bad-input", "InvalidSpec", "placeholder {{ .Yesterday }} is not known"),
    ):
        status = s.wait_observed(name)
        ready = condition(status, "Ready")
        assert (ready["status"], ready["reason"]) == ("False", reason), ready
        assert says in ready["message"], ready
        assert status["phase"] == "Invalid"
        assert "effectiveSchedule" not in status
        assert s.cronjob(name) is None
        s.wait_event(name, "Warning", "InvalidSpec")

    good = s.wait_ready("good-input")
    assert good["effectiveSchedule"] == "0 3 1 1 *"  # a schedule without H: itself
    s.patch_spec("bad-input", input="Summarise {{ .Date }} please")
    assert s.wait_ready("bad-input")["phase"] == "Active"
    s.patch_spec("bad-h", schedule="H(10-50) 9 * * *")
    fixed = s.wait_ready("bad-h")
    assert fixed["effectiveSchedule"] == resolve_hash("H(10-50) 9 * * *", f"{s.namespace}/bad-h")


def test_kubectl_explain_shows_the_new_fields(s: Schedules) -> None:
    for path, says in (
        ("assistantschedules.spec.schedule", "H in a field"),
        ("assistantschedules.spec.input", "{{ .ScheduledTime }}"),
        ("assistantschedules.spec.jitterSeconds", "Random delay"),
        ("assistantschedules.spec.maxTokensPerRun", "max_tokens"),
        ("assistantschedules.status.effectiveSchedule", "H resolved"),
    ):
        out = s.kubectl("explain", path)
        assert says in " ".join(out.split()), out


def test_many_daily_at_nine_are_spread_by_their_cronjobs(s: Schedules) -> None:
    """100 "H 9 * * *" schedules on the control plane: each CronJob fires at its own
    minute of the hour (the one hashed from namespace/name), not all at 09:00."""
    names = [f"report-{i:03d}" for i in range(100)]
    for name in names:
        s.create(body(name, schedule="H 9 * * *"))
    cronjobs = wait_for(
        lambda: {c["metadata"]["name"]: c["spec"]["schedule"] for c in s.cronjobs()},
        lambda found: len(found) == len(names),
        timeout=180,
        what="a CronJob for each of the 100 schedules",
    )
    minutes = Counter(int(cronjobs[n].split()[0]) for n in names)
    for name in names:
        assert cronjobs[name] == resolve_hash("H 9 * * *", f"{s.namespace}/{name}")
    print(
        f"\n100 x 'H 9 * * *' in {s.namespace}: {len(minutes)} distinct minutes, at most "
        f"{max(minutes.values())} schedules in one minute: {sorted(minutes.items())}"
    )
    # A uniform spread over 60 minutes gives ~48 distinct minutes for 100 schedules.
    assert len(minutes) >= 35 and max(minutes.values()) <= 10
