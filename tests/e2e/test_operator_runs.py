"""Runs and their records: run-now, one-time runAt, failures, stuck pods, history limits,
and one real firing of the CronJob controller."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from schedules import (
    RECORDED_LABEL,
    RUN_FINALIZER,
    SCHEDULE_LABEL,
    TRIGGER_LABEL,
    Schedules,
    body,
    condition,
    env_of,
    parse,
    runner_result,
    sim,
)

from conftest import Cluster, OperatorProcess
from waiting import wait_for

# Runner outcomes are played by kwok through the pods' sim.aischeduler.io annotations.
pytestmark = pytest.mark.simulated


def rfc3339(when: datetime) -> str:
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def runs_metric(operator: OperatorProcess, result: str) -> float:
    """aischeduler_runs_total{result} as the operator reports it now."""
    for line in operator.metrics().splitlines():
        if line.startswith(f'aischeduler_runs_total{{result="{result}"}}'):
            return float(line.split()[-1])
    return 0.0


def test_run_now_records_a_manual_run_while_suspended(
    s: Schedules, cluster: Cluster, operator: OperatorProcess
) -> None:
    result = runner_result(
        message="answered",
        output="All good",
        durationSeconds=1.5,
        attempts=1,
        tokensUsed=42,
        conversationId="conv-1",
    )
    # An admin "tests first": the schedule is suspended, run-now still runs it.
    s.create(body("manual", suspend=True, pod=sim(message=result)))
    assert s.wait_ready("manual")["phase"] == "Suspended"

    succeeded_before = runs_metric(operator, "Succeeded")
    s.run_now("manual", "2024-05-01T10:00:00Z")
    (job,) = wait_for(lambda: s.jobs("manual"), what="the run-now Job", timeout=15)
    assert job["metadata"]["labels"][TRIGGER_LABEL] == "Manual"
    assert job["metadata"]["labels"][SCHEDULE_LABEL] == "manual"
    assert job["metadata"]["ownerReferences"][0]["kind"] == "AssistantSchedule"

    status = s.wait_runs("manual", 1)
    (entry,) = status["history"]
    assert entry["job"] == job["metadata"]["name"]
    assert entry["trigger"] == "Manual"
    assert entry["result"] == "Succeeded"
    assert entry["message"] == "answered"
    assert entry["output"] == "All good"
    assert entry["tokensUsed"] == 42
    assert entry["conversationId"] == "conv-1"
    assert entry["durationSeconds"] == 1.5
    assert entry["startTime"] and entry["completionTime"]
    assert status["lastResult"] == "Succeeded"
    assert status["runs"] == {
        "total": 1,
        "succeeded": 1,
        "failed": 0,
        "missed": 0,
        "consecutiveFailures": 0,
    }
    assert status["lastSuccessfulTime"] == entry["completionTime"]
    assert condition(status, "LastRunSucceeded")["status"] == "True"
    assert status["phase"] == "Suspended"
    # The metric counts the run after the status patch and the events: wait for it too.
    wait_for(
        lambda: runs_metric(operator, "Succeeded"),
        lambda value: value >= succeeded_before + 1,
        what="aischeduler_runs_total{result=Succeeded} to count the run",
    )
    recorded = wait_for(
        lambda: s.job(job["metadata"]["name"]),
        lambda j: j is not None and j["metadata"]["labels"].get(RECORDED_LABEL) == "true",
        what="the Job to be marked recorded",
    )
    assert RUN_FINALIZER not in (recorded or {})["metadata"].get("finalizers", [])
    s.wait_event("manual", "Normal", "RunStarted")
    s.wait_event("manual", "Normal", "RunSucceeded")

    # The same value again (re-applied, plus another annotation touched) never runs twice,
    # not even once the first run's Job is gone.
    s.batch.delete_namespaced_job(job["metadata"]["name"], s.namespace)
    s.wait_job_gone(job["metadata"]["name"])
    cluster.kubectl(
        "annotate",
        "--overwrite",
        "-n",
        s.namespace,
        "asched/manual",
        "aischeduler.io/run-now=2024-05-01T10:00:00Z",
        "example.com/touched=yes",
    )
    status = s.sync("manual")
    assert s.jobs("manual") == []
    assert status["runs"]["total"] == 1
    assert len(status["history"]) == 1


def test_run_now_input_overrides_input_for_that_run(s: Schedules) -> None:
    s.create(body("override", input="the usual prompt"))
    s.wait_ready("override")
    s.run_now("override", "a", run_input="a one-off prompt")
    (job,) = wait_for(lambda: s.jobs("override"), what="the run-now Job", timeout=15)
    env = env_of(job["spec"]["template"]["spec"])
    assert env["AISCHED_INPUT"]["value"] == "a one-off prompt"
    # The recurring runs keep the spec's input.
    template = s.cronjob_spec("override")["jobTemplate"]["spec"]["template"]
    assert env_of(template["spec"])["AISCHED_INPUT"]["value"] == "the usual prompt"
    assert s.wait_runs("override", 1)["history"][0]["trigger"] == "Manual"


def test_one_time_run_starts_at_run_at(s: Schedules) -> None:
    run_at = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=8)
    s.create(body("once", runAt=rfc3339(run_at), pod=sim(message=runner_result(output="done"))))
    status = s.wait_runs("once", 1, timeout=60)

    (job,) = s.jobs("once")
    created = parse(job["metadata"]["creationTimestamp"])
    assert created >= run_at, f"Job created at {created}, before runAt {run_at}"
    assert job["metadata"]["labels"][TRIGGER_LABEL] == "OneTime"
    (entry,) = status["history"]
    assert (entry["trigger"], entry["result"], entry["output"]) == ("OneTime", "Succeeded", "done")
    assert entry["scheduledTime"] == rfc3339(run_at)
    status = s.wait(
        "once", lambda cr: cr.get("status", {}).get("phase") == "Completed", "phase Completed"
    )
    assert "nextRunTime" not in status
    assert condition(status, "Ready")["status"] == "True"
    assert s.cronjobs() == []


def test_one_time_run_just_past_still_starts_within_deadline(s: Schedules) -> None:
    # As when the operator was down at runAt and came back inside startingDeadlineSeconds.
    run_at = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=30)
    s.create(body("late", runAt=rfc3339(run_at), startingDeadlineSeconds=300))
    status = s.wait_runs("late", 1)
    (entry,) = status["history"]
    assert (entry["trigger"], entry["result"]) == ("OneTime", "Succeeded")
    assert entry["scheduledTime"] == rfc3339(run_at)
    assert len(s.jobs("late")) == 1


def test_one_time_run_long_past_is_missed(s: Schedules) -> None:
    yesterday = datetime.now(UTC).replace(microsecond=0) - timedelta(days=1)
    s.create(body("too-late", runAt=rfc3339(yesterday)))
    status = s.wait_runs("too-late", 1)
    (entry,) = status["history"]
    assert (entry["trigger"], entry["result"]) == ("OneTime", "Missed")
    assert entry["scheduledTime"] == rfc3339(yesterday)
    assert "startingDeadlineSeconds" in entry["message"]
    assert status["lastResult"] == "Missed"
    assert status["phase"] == "Completed"
    assert status["runs"]["missed"] == 1
    missed = condition(status, "LastRunSucceeded")
    assert (missed["status"], missed["reason"]) == ("False", "Missed")
    assert condition(status, "Ready")["status"] == "True"
    assert s.jobs() == []
    assert s.cronjobs() == []
    s.wait_event("too-late", "Warning", "RunMissed")


def test_failed_run_sets_last_run_condition_not_ready(s: Schedules) -> None:
    failure = runner_result("Failed", "platform answered 500 three times")
    s.create(body("flaky", retries=0, pod=sim(exit_code=1, message=failure)))
    s.wait_ready("flaky")
    s.run_now("flaky", "1")
    status = s.wait_runs("flaky", 1)

    (entry,) = status["history"]
    assert entry["result"] == "Failed"
    assert "platform answered 500 three times" in entry["message"]
    last = condition(status, "LastRunSucceeded")
    assert (last["status"], last["reason"]) == ("False", "Failed")
    assert condition(status, "Ready")["status"] == "True"
    assert status["lastResult"] == "Failed"
    assert status["runs"]["failed"] == 1
    assert status["runs"]["consecutiveFailures"] == 1
    s.wait_event("flaky", "Warning", "RunFailed")


def test_configuration_error_is_not_retried(s: Schedules) -> None:
    config_error = runner_result("Failed", "HTTP 401 from the platform: check Secret creds")
    s.create(body("misconfigured", retries=3, pod=sim(exit_code=2, message=config_error)))
    s.wait_ready("misconfigured")
    s.run_now("misconfigured", "1")
    status = s.wait_runs("misconfigured", 1)

    (entry,) = status["history"]
    assert entry["result"] == "Failed"
    assert "configuration error" in entry["message"]
    assert "HTTP 401" in entry["message"]
    job = s.job(entry["job"])
    assert job is not None
    assert job["status"]["failed"] == 1, job["status"]
    assert len(s.pods(entry["job"])) == 1


@pytest.mark.parametrize(
    ("override", "says"),
    [
        ({"pod": sim(waiting_reason="ImagePullBackOff")}, "cannot start: ImagePullBackOff"),
        (
            {"pod": sim(waiting_reason="CreateContainerConfigError")},
            "cannot start: CreateContainerConfigError",
        ),
        ({"runner": {"resources": {"requests": {"cpu": "100"}}}}, "cannot be scheduled"),
    ],
    ids=["image-pull", "container-config", "unschedulable"],
)
def test_stuck_pod_fails_the_run_quickly(s: Schedules, override: dict[str, Any], says: str) -> None:
    # The run's own deadline is an hour; the reason must show long before that.
    s.create(body("stuck", timeoutSeconds=3600, **override))
    s.wait_ready("stuck")
    s.run_now("stuck", "1")
    status = s.wait_runs("stuck", 1, timeout=60)

    (entry,) = status["history"]
    assert entry["result"] == "Failed"
    assert says in entry["message"]
    assert condition(status, "LastRunSucceeded")["reason"] == "Failed"
    assert status.get("active", []) == []
    s.wait_job_gone(entry["job"])


def test_history_is_capped_and_outlives_jobs(s: Schedules) -> None:
    s.create(body("capped", historyLimit=2))
    s.wait_ready("capped")
    for n in (1, 2, 3):
        s.run_now("capped", str(n))
        s.wait_runs("capped", n)
    status = s.status("capped")
    assert len(status["history"]) == 2
    newest, older = status["history"]
    jobs = [j["metadata"]["name"] for j in s.jobs("capped")]
    assert len(jobs) == 3
    assert [newest["job"], older["job"]] == [jobs[2], jobs[1]], "history is not newest first"
    assert status["runs"]["total"] == 3
    assert status["runs"]["succeeded"] == 3

    for name in jobs:
        s.batch.delete_namespaced_job(name, s.namespace, propagation_policy="Background")
    wait_for(lambda: s.jobs("capped"), lambda j: j == [], what="the Jobs to be deleted")
    after = s.sync("capped")
    assert after["history"] == status["history"]
    assert after["runs"] == status["runs"]


def test_cronjob_firing_is_recorded_and_a_run_that_never_starts_is_missed(s: Schedules) -> None:
    s.create(body("every-minute", schedule="* * * * *", pod=sim(message=runner_result())))
    # With no starting slack at all the CronJob controller never starts a run (it is always
    # a little late) and says nothing: only the operator can notice the time went by.
    s.create(body("never-starts", schedule="* * * * *", startingDeadlineSeconds=0))
    upcoming = s.wait_ready("every-minute")["nextRunTimes"]
    s.wait_ready("never-starts")
    # The next minute boundary is at most 60 s away; the CronJob controller adds a little.
    status = s.wait_runs("every-minute", 1, timeout=100)

    entry = status["history"][-1]
    assert entry["trigger"] == "Scheduled"
    assert entry["result"] == "Succeeded"
    scheduled = parse(entry["scheduledTime"])
    assert entry["scheduledTime"] in upcoming, "the CronJob fired at a time not announced"
    assert entry["job"] == f"every-minute-{int(scheduled.timestamp()) // 60}"
    assert status["lastScheduleTime"] >= entry["scheduledTime"]
    # The Job is released (labelled recorded, finalizer dropped) by a write of its own
    # right after the status patch that recorded it.
    job = wait_for(
        lambda: s.job(entry["job"]),
        lambda j: j is not None and j["metadata"]["labels"].get(RECORDED_LABEL) == "true",
        timeout=30,
        what=f"job {entry['job']} to be labelled recorded",
    )
    assert job is not None
    assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
    assert job["metadata"]["labels"][TRIGGER_LABEL] == "Scheduled"
    assert RUN_FINALIZER not in job["metadata"].get("finalizers", [])

    # Recorded Missed soon after its (zero) deadline, though nothing else happens to it.
    missed = s.wait_runs("never-starts", 1, timeout=60)
    first = missed["history"][-1]
    assert (first["trigger"], first["result"]) == ("Scheduled", "Missed")
    assert "startingDeadlineSeconds (0s)" in first["message"]
    assert first["scheduledTime"] in upcoming
    assert missed["runs"]["missed"] == missed["runs"]["total"]
    assert missed["lastResult"] == "Missed"
    assert missed["nextRunTime"] > first["scheduledTime"]
    assert s.jobs("never-starts") == []
    s.wait_event("never-starts", "Warning", "RunMissed")
