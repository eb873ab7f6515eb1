"""Schedule policies (spec §7) on the control plane: the active window, maxRuns,
pauseAfterFailures with the resume annotation, the token budget, and backfill (bounded,
at the parallelism, exactly once across an operator restart). Each test prints one line
of what it showed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from schedules import (
    TRIGGER_LABEL,
    Schedules,
    body,
    condition,
    parse,
    runner_result,
    sim,
)
from test_kubectl_asched import in_ns

from conftest import Cluster, OperatorProcess
from waiting import wait_for

pytestmark = pytest.mark.simulated

RESUME = "aischeduler.io/resume"
BACKFILL = "aischeduler.io/backfill"
SCHEDULED_TIME = "aischeduler.io/scheduled-time"
DAILY = "0 3 * * *"  # 03:00 UTC: never while a test runs, and a time every day to backfill


def rfc3339(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def suspended(s: Schedules, name: str) -> bool:
    return bool(s.cronjob_spec(name).get("suspend"))


def annotate(s: Schedules, name: str, key: str, value: str) -> None:
    s.patch(name, {"metadata": {"annotations": {key: value}}})


def phase_is(phase: str) -> Any:
    return lambda cr: (cr.get("status") or {}).get("phase") == phase


def get_row(s: Schedules, name: str) -> str:
    """`kubectl get asched NAME` as a user sees it (header and row)."""
    return s.kubectl("get", "asched", name, "-n", s.namespace)


# --------------------------------------------------------------------------- window


def test_window_before_start_and_after_end(s: Schedules) -> None:
    start = (datetime.now(UTC) + timedelta(days=3)).replace(hour=0, minute=0, second=0)
    s.create(body("later", schedule=DAILY, startTime=start.strftime("%Y-%m-%dT%H:%M:%S")))
    status = s.wait_ready("later")
    first = start.replace(hour=3)
    assert status["phase"] == "Active"
    assert status["nextRunTime"] == rfc3339(first)
    assert suspended(s, "later"), "no scheduled run before startTime"

    # endTime a few seconds ahead: the operator closes the window on its own timer.
    end = (datetime.now(UTC) + timedelta(seconds=8)).replace(microsecond=0)
    s.create(body("ending", schedule=DAILY, endTime=rfc3339(end)))
    assert s.wait_ready("ending")["phase"] == "Active"
    assert not suspended(s, "ending")
    status = s.wait("ending", phase_is("Completed"), "phase Completed after endTime", 60)
    closed_after = (datetime.now(UTC) - end).total_seconds()
    assert "nextRunTime" not in status
    assert suspended(s, "ending")
    s.wait_event("ending", "Normal", "Completed")
    row = get_row(s, "ending")
    assert "PHASE" in row and "Completed" in row
    print(
        f"\nwindow: before startTime the CronJob is suspended and nextRunTime is "
        f"{status_next(s, 'later')} (first time inside); endTime passed -> Completed "
        f"{closed_after:.1f}s later, CronJob suspended, no nextRunTime"
    )


def test_window_opens_on_its_own_and_nothing_before_it_runs(s: Schedules) -> None:
    """The real CronJob controller: every minute, startTime 30 s after the next minute. The
    CronJob opens once that minute is past its 20 s deadline (so it can never start late),
    the first run is the minute after, and maxRuns 1 ends it there."""
    boundary = (datetime.now(UTC) + timedelta(minutes=1)).replace(second=0, microsecond=0)
    start, first = boundary + timedelta(seconds=30), boundary + timedelta(minutes=1)
    s.create(
        body(
            "opening",
            schedule="* * * * *",
            startingDeadlineSeconds=20,
            startTime=rfc3339(start),
            maxRuns=1,
            pod=sim(message=runner_result()),
        )
    )
    status = s.wait_ready("opening")
    assert status["nextRunTime"] == rfc3339(first)
    assert suspended(s, "opening")
    wait_for(lambda: suspended(s, "opening"), lambda v: v is False, timeout=120, what="the window")
    opened = datetime.now(UTC)
    status = s.wait("opening", phase_is("Completed"), "one run, then Completed", 180)
    (entry,) = status["history"]
    assert (entry["trigger"], entry["scheduledTime"]) == ("Scheduled", rfc3339(first))
    assert status["runs"]["missed"] == 0
    print(
        f"\nwindow opening: startTime {rfc3339(start)}; CronJob unsuspended at "
        f"{opened:%H:%M:%S} (minute {boundary:%H:%M} + deadline 20 s + 5 s); the only run was "
        f"{entry['scheduledTime']}, nothing before startTime ran or was Missed"
    )


def status_next(s: Schedules, name: str) -> str:
    return str(s.status(name).get("nextRunTime"))


def test_invalid_window_is_reported(s: Schedules) -> None:
    s.create(body("backwards", startTime="2030-01-02T00:00:00Z", endTime="2030-01-01T00:00:00Z"))
    status = s.wait_observed("backwards")
    ready = condition(status, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "InvalidSpec")
    assert "endTime" in ready["message"]
    print(f"\ninvalid window: Ready=False InvalidSpec: {ready['message']}")


# --------------------------------------------------------------------------- maxRuns


def test_max_runs_completes_the_schedule(s: Schedules, cluster: Cluster) -> None:
    s.create(body("twice", maxRuns=2, pod=sim(message=runner_result())))
    s.wait_ready("twice")
    s.run_now("twice", "1")
    s.wait_runs("twice", 1)
    assert s.status("twice")["phase"] == "Active" and not suspended(s, "twice")
    s.run_now("twice", "2")
    status = s.wait("twice", phase_is("Completed"), "phase Completed after 2 runs", 60)
    assert status["runs"]["total"] == 2
    assert "nextRunTime" not in status
    assert suspended(s, "twice")
    s.wait_event("twice", "Normal", "Completed")
    assert "completed" in in_ns(cluster, s.namespace, "list").out
    print(f"\nmaxRuns 2: after 2 started runs phase {status['phase']}, CronJob suspended")


# --------------------------------------------------------------------------- pause


def test_pause_after_failures_and_resume(s: Schedules, cluster: Cluster) -> None:
    failure = runner_result("Failed", "platform answered 500")
    s.create(
        body("fragile", retries=0, pauseAfterFailures=2, pod=sim(exit_code=1, message=failure))
    )
    s.wait_ready("fragile")
    s.run_now("fragile", "1")
    status = s.wait_runs("fragile", 1)
    assert status["phase"] == "Active" and condition(status, "Paused")["status"] == "False"
    s.run_now("fragile", "2")
    status = s.wait("fragile", phase_is("Paused"), "phase Paused after 2 failures", 60)
    paused = condition(status, "Paused")
    assert (paused["status"], paused["reason"]) == ("True", "TooManyFailures")
    assert "platform answered 500" in paused["message"]
    assert suspended(s, "fragile")
    assert "nextRunTime" not in status
    s.wait_event("fragile", "Warning", "Paused")
    assert "Paused" in get_row(s, "fragile")

    listed = in_ns(cluster, s.namespace, "list")
    assert "paused: TooManyFailures" in listed.out
    shown = in_ns(cluster, s.namespace, "show", "fragile")
    assert "pause after 2 failures (2 in a row)" in shown.out
    assert "none while paused: TooManyFailures" in shown.out

    # It stays paused while runs keep ending (a run-now still runs): never by itself.
    s.run_now("fragile", "3")
    assert s.wait_runs("fragile", 3)["phase"] == "Paused"

    # `kubectl asched resume` sets a new aischeduler.io/resume value.
    assert in_ns(cluster, s.namespace, "resume", "fragile").code == 0
    assert RESUME in s.get("fragile")["metadata"]["annotations"]
    status = s.wait("fragile", phase_is("Active"), "phase Active after resume", 30)
    resumed = condition(status, "Paused")
    assert (resumed["status"], resumed["reason"]) == ("False", "Resumed")
    wait_for(lambda: suspended(s, "fragile"), lambda v: v is False, what="CronJob resumed")
    s.wait_event("fragile", "Normal", "Resumed")
    # Failures count from zero again: one more is not yet a pause.
    s.run_now("fragile", "4")
    status = s.wait_runs("fragile", 4)
    assert status["phase"] == "Active"
    print(
        f"\npauseAfterFailures 2: Paused=True TooManyFailures ({paused['message']}), CronJob "
        "suspended, Warning Paused; stayed paused through a third failed run; `kubectl asched "
        "resume` (the resume annotation) -> Active, one more failure did not pause again"
    )


# --------------------------------------------------------------------------- token budget


def test_token_budget_pauses_the_schedule(s: Schedules) -> None:
    result = runner_result(message="answered", tokensUsed=150)
    s.create(
        body(
            "thrifty",
            timeZone="Europe/Berlin",
            tokenBudget={"tokens": 100, "per": "Day"},
            pod=sim(message=result),
        )
    )
    s.wait_ready("thrifty")
    s.run_now("thrifty", "1")
    status = s.wait("thrifty", phase_is("Paused"), "phase Paused over budget", 60)
    paused = condition(status, "Paused")
    assert (paused["status"], paused["reason"]) == ("True", "BudgetExceeded")
    today = datetime.now(UTC).astimezone(ZoneInfo("Europe/Berlin"))
    assert status["tokens"] == {"period": today.date().isoformat(), "used": 150}
    assert suspended(s, "thrifty")
    wide = s.kubectl("get", "asched", "thrifty", "-n", s.namespace, "-o", "wide")
    assert "TOKENS" in wide and "150" in wide
    print(f"\ntokenBudget 100/Day: a 150-token run -> Paused BudgetExceeded: {paused['message']}")


# --------------------------------------------------------------------------- backfill


def days_back(count: int) -> tuple[str, list[str]]:
    """A backfill value over the last ``count`` 03:00 UTC times, and those times."""
    now = datetime.now(UTC)
    newest = now.replace(hour=3, minute=0, second=0, microsecond=0)
    if newest > now:
        newest -= timedelta(days=1)
    times = [newest - timedelta(days=i) for i in reversed(range(count))]
    value = f"{rfc3339(times[0] - timedelta(hours=1))}/{rfc3339(newest + timedelta(hours=1))}"
    return value, [rfc3339(t) for t in times]


def backfill_jobs(s: Schedules, name: str) -> list[dict[str, Any]]:
    return [j for j in s.jobs(name) if j["metadata"]["labels"].get(TRIGGER_LABEL) == "Backfill"]


def most_at_once(entries: list[dict[str, Any]]) -> int:
    """The most runs going at one instant, from the history's start and completion times
    (the CronJob controller's history limit also prunes our finished Jobs: it matches them
    by owner name, so the record is the place to look)."""
    spans = [(parse(h["startTime"]), parse(h["completionTime"])) for h in entries]
    return max(sum(1 for a, b in spans if a <= start < b) for start, _ in spans)


def backfilled(status: dict[str, Any]) -> list[dict[str, Any]]:
    return [h for h in status["history"] if h["trigger"] == "Backfill"]


def test_backfill_runs_each_time_at_the_parallelism(s: Schedules, cluster: Cluster) -> None:
    value, times = days_back(5)
    s.create(
        body(
            "catchup",
            schedule=DAILY,
            backfillParallelism=2,
            pod=sim(duration=3, message=runner_result()),
        )
    )
    s.wait_ready("catchup")
    start, end = value.split("/")
    assert in_ns(cluster, s.namespace, "backfill", "catchup", start, end).code == 0
    assert s.get("catchup")["metadata"]["annotations"][BACKFILL] == value
    status = s.wait(
        "catchup",
        lambda cr: (cr.get("status") or {}).get("backfill", {}).get("succeeded") == 5,
        "5 backfill runs succeeded",
        120,
    )
    entries = backfilled(status)
    assert sorted(h["scheduledTime"] for h in entries) == times
    names = {h["job"] for h in entries}
    assert len(names) == 5
    for job in backfill_jobs(s, "catchup"):  # each Job carries its own scheduled time
        assert job["metadata"]["name"] in names
        assert job["metadata"]["annotations"][SCHEDULED_TIME] in times
    assert status["backfill"]["total"] == 5 and status["backfill"]["started"] == 5
    at_once = most_at_once(entries)
    assert at_once <= 2
    s.wait_event("catchup", "Normal", "BackfillCompleted")
    shown = in_ns(cluster, s.namespace, "show", "catchup")
    assert f"Backfill:    {value}: 5 of 5 started, 5 succeeded, 0 failed" in shown.out
    history = in_ns(cluster, s.namespace, "history", "catchup")
    assert history.out.count("Backfill") == 5
    # The same value again starts nothing.
    status = s.sync("catchup")
    assert status["backfill"]["started"] == 5 and len(backfilled(status)) == 5
    assert {j["metadata"]["name"] for j in backfill_jobs(s, "catchup")} <= names
    print(
        f"\nbackfill of {value}: 5 runs, one per scheduled time ({times[0]} .. {times[-1]}), "
        f"trigger Backfill, at most {at_once} at once (backfillParallelism 2)"
    )


def test_backfill_is_exactly_once_across_an_operator_restart(
    s: Schedules, operator: OperatorProcess
) -> None:
    value, times = days_back(4)
    s.create(body("resilient", schedule=DAILY, pod=sim(duration=4, message=runner_result())))
    s.wait_ready("resilient")
    annotate(s, "resilient", BACKFILL, value)
    try:
        s.wait(
            "resilient",
            lambda cr: (cr.get("status") or {}).get("backfill", {}).get("started", 0) >= 2,
            "the second backfill run to start",
            60,
        )
        operator.restart()
        status = s.wait(
            "resilient",
            lambda cr: (cr.get("status") or {}).get("backfill", {}).get("succeeded") == 4,
            "4 backfill runs succeeded",
            120,
        )
    finally:
        if operator.process is None or operator.process.poll() is not None:
            operator.start()
    entries = backfilled(status)
    assert len({h["job"] for h in entries}) == len(entries) == 4
    assert sorted(h["scheduledTime"] for h in entries) == times
    assert status["runs"]["backfill"] == 4 and status["runs"]["total"] == 4
    assert {j["metadata"]["name"] for j in backfill_jobs(s, "resilient")} <= {
        h["job"] for h in entries
    }
    assert most_at_once(entries) == 1
    print(
        "\nbackfill across an operator restart (after 2 of 4 started): 4 runs recorded, "
        "one per scheduled time, no duplicate, one at a time"
    )


def test_backfill_over_100_times_is_refused(s: Schedules) -> None:
    s.create(body("greedy", schedule="*/5 * * * *", suspend=True))
    s.wait_ready("greedy")
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    value = f"{rfc3339(now - timedelta(days=1))}/{rfc3339(now - timedelta(hours=1))}"
    annotate(s, "greedy", BACKFILL, value)
    s.wait_event("greedy", "Warning", "BackfillRejected")
    status = s.wait(
        "greedy",
        lambda cr: (cr.get("status") or {}).get("backfill", {}).get("value") == value,
        "status.backfill to record the refusal",
    )
    assert status["backfill"]["message"].startswith("refused")
    assert backfill_jobs(s, "greedy") == []
    message = next(m for _, r, m in s.events("greedy") if r == "BackfillRejected")
    assert "holds 276 scheduled times" in message
    print(f"\nbackfill over 23 hours of */5: refused ({message}); no Job created")


# --------------------------------------------------------------------------- explain


def test_kubectl_explain_documents_the_policies(cluster: Cluster, crd_installed: None) -> None:
    fields = {
        "spec.startTime": "window",
        "spec.endTime": "Completed",
        "spec.maxRuns": "Backfill",
        "spec.pauseAfterFailures": "aischeduler.io/resume",
        "spec.backfillParallelism": "aischeduler.io/backfill",
        "spec.tokenBudget": "BudgetExceeded",
        "spec.tokenBudget.per": "Week",
        "status.tokens": "budget",
        "status.backfill": "backfill",
    }
    for field, fragment in fields.items():
        text = wait_for(
            explainer(cluster, field),
            lambda out, want=fragment: want in out,  # type: ignore[misc]
            timeout=60,
            what=f"kubectl explain {field}",
        )
        assert fragment in text
    print(f"\nkubectl explain: {', '.join(fields)} documented")


def explainer(cluster: Cluster, field: str) -> Any:
    return lambda: cluster.kubectl("explain", f"assistantschedules.{field}")
