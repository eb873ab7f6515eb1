"""The operator converges from whatever it finds: after a restart in the middle of a run
(counted exactly once), when the schedule is deleted (also while the operator is down:
nothing waits for it, no Job carries a finalizer of ours), and when someone deletes or
edits its CronJob."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from schedules import (
    RECORDED_LABEL,
    RUN_FINALIZER,
    Schedules,
    body,
    condition,
    runner_result,
    sim,
)

from conftest import Cluster, OperatorProcess
from waiting import wait_for


def job_finished(job: dict[str, Any] | None) -> bool:
    conditions = (job or {}).get("status", {}).get("conditions") or []
    return any(c["type"] in ("Complete", "Failed") and c["status"] == "True" for c in conditions)


@pytest.mark.simulated
def test_run_finishing_while_operator_is_down_is_counted_once(
    s: Schedules, restartable: OperatorProcess
) -> None:
    s.create(body("survivor", pod=sim(duration=15, message=runner_result(output="made it"))))
    s.wait_ready("survivor")
    s.run_now("survivor", "once")
    status = s.wait(
        "survivor",
        lambda cr: bool(cr.get("status", {}).get("active")),
        "the run to be listed as active",
    )
    (active,) = status["active"]
    job_name = active["job"]

    restartable.stop()
    job = wait_for(
        lambda: s.job(job_name),
        job_finished,
        timeout=60,
        what="the Job to finish while the operator is down",
    )
    assert job is not None  # nobody but the operator deletes it, once recorded
    assert s.status("survivor")["runs"]["total"] == 0

    restartable.start()
    status = s.wait_runs("survivor", 1, timeout=60)
    (entry,) = status["history"]
    assert (entry["job"], entry["result"], entry["output"]) == (job_name, "Succeeded", "made it")
    assert not status.get("active")
    released = wait_for(
        lambda: s.job(job_name),
        lambda j: j is not None and j["metadata"]["labels"].get(RECORDED_LABEL) == "true",
        what="the Job to be released and marked recorded",
    )
    assert RUN_FINALIZER not in (released or {})["metadata"].get("finalizers", [])

    # Again: a restart re-reads everything (the run-now value included) and adds nothing.
    restartable.restart()
    status = s.sync("survivor")
    assert len(status["history"]) == 1
    assert status["runs"]["total"] == 1
    assert status["runs"]["succeeded"] == 1
    assert [j["metadata"]["name"] for j in s.jobs("survivor")] == [job_name]

    # And with the Job gone, a restart does not take the run-now value for a new one.
    s.batch.delete_namespaced_job(job_name, s.namespace)
    s.wait_job_gone(job_name)
    restartable.restart()
    status = s.sync("survivor")
    assert s.jobs("survivor") == []
    assert status["runs"]["total"] == 1


@pytest.mark.simulated
def test_deleting_a_running_job_records_the_run_as_stopped(s: Schedules) -> None:
    s.create(body("interrupted", pod=sim(duration=300)))
    s.wait_ready("interrupted")
    s.run_now("interrupted", "1")
    status = s.wait(
        "interrupted",
        lambda cr: bool(cr.get("status", {}).get("active")),
        "the run to be listed as active",
    )
    job_name = status["active"][0]["job"]

    s.batch.delete_namespaced_job(job_name, s.namespace, propagation_policy="Background")
    status = s.wait_runs("interrupted", 1)
    (entry,) = status["history"]
    assert entry["result"] == "Failed"
    assert "the Job was deleted" in entry["message"]
    assert not status.get("active")
    s.wait_job_gone(job_name)


@pytest.mark.simulated
def test_deleting_the_schedule_removes_cronjob_and_jobs(s: Schedules) -> None:
    # A run still going must not hold up deletion.
    s.create(body("doomed", pod=sim(duration=120)))
    s.wait_ready("doomed")
    s.run_now("doomed", "go")
    job = wait_for(
        lambda: s.jobs("doomed"),
        lambda jobs: len(jobs) == 1 and bool(jobs[0].get("status", {}).get("active")),
        what="the manual run to be active",
    )[0]
    assert RUN_FINALIZER not in job["metadata"].get("finalizers", [])
    assert s.cronjob("doomed") is not None

    s.delete("doomed")
    wait_for(
        lambda: (s.cronjobs(), s.jobs()),
        lambda seen: seen == ([], []),
        what="the CronJob and Jobs to be garbage-collected",
    )


@pytest.mark.simulated
def test_schedule_deleted_while_operator_is_down_leaves_nothing_behind(
    s: Schedules, restartable: OperatorProcess
) -> None:
    s.create(body("orphaned", pod=sim(duration=300)))
    s.wait_ready("orphaned")
    s.run_now("orphaned", "1")
    wait_for(
        lambda: s.jobs("orphaned"),
        lambda jobs: len(jobs) == 1 and bool(jobs[0].get("status", {}).get("active")),
        what="the run's Job to be active",
    )

    # No finalizer of ours: the garbage collector removes everything without the operator.
    restartable.stop()
    s.delete("orphaned")
    wait_for(
        lambda: (s.jobs(), s.cronjobs()),
        lambda seen: seen == ([], []),
        what="the CronJob and the running Job to be collected while the operator is down",
    )
    restartable.start()


def test_cronjob_drift_is_reverted(s: Schedules, cluster: Cluster) -> None:
    s.create(body("steady", schedule="30 4 * * *"))
    s.wait_ready("steady")
    original = s.cronjob("steady")
    assert original is not None

    s.batch.delete_namespaced_cron_job("steady", s.namespace)
    recreated = wait_for(
        lambda: s.cronjob("steady"),
        lambda cj: cj is not None and cj["metadata"]["uid"] != original["metadata"]["uid"],
        what="the deleted CronJob to be recreated",
    )
    assert recreated is not None
    assert recreated["spec"]["schedule"] == "30 4 * * *"
    assert recreated["metadata"]["ownerReferences"][0]["controller"] is True

    cluster.kubectl(
        "patch",
        "cronjob",
        "steady",
        "-n",
        s.namespace,
        "--type=merge",
        "-p",
        '{"spec": {"schedule": "* * * * *", "suspend": true}}',
    )
    reverted = wait_for(
        lambda: s.cronjob("steady"),
        lambda cj: (
            cj is not None
            and cj["spec"]["schedule"] == "30 4 * * *"
            and cj["spec"]["suspend"] is False
        ),
        what="the hand-edited CronJob to be reverted",
    )
    assert reverted is not None
    assert reverted["metadata"]["uid"] == recreated["metadata"]["uid"]
    assert s.status("steady")["phase"] == "Active"

    # Our labels edited away take the CronJob out of the operator's (label-selected)
    # watch; the next reconcile finds it by name and restores them.
    cluster.kubectl(
        "label", "cronjob", "steady", "-n", s.namespace, "app.kubernetes.io/managed-by-"
    )
    s.patch_spec("steady", schedule="45 4 * * *")
    relabelled = wait_for(
        lambda: s.cronjob("steady"),
        lambda cj: (
            cj is not None
            and cj["metadata"]["labels"].get("app.kubernetes.io/managed-by") == "aischeduler"
            and cj["spec"]["schedule"] == "45 4 * * *"
        ),
        what="the unlabelled CronJob to get its labels and new schedule back",
    )
    assert relabelled["metadata"]["uid"] == recreated["metadata"]["uid"]


@contextmanager
def events_refused_in(api: client.ApiClient, namespace: str) -> Iterator[None]:
    """A ValidatingAdmissionPolicy that refuses every Event written in ``namespace`` (as an
    admin's policy, an admission webhook or the EventRateLimit plugin would), from when
    the apiserver enforces it until the block ends."""
    name = f"no-events-{namespace}"
    admission = client.AdmissionregistrationV1Api(api)
    admission.create_validating_admission_policy(
        {
            "metadata": {"name": name},
            "spec": {
                "failurePolicy": "Fail",
                "matchConstraints": {
                    "resourceRules": [
                        {
                            "apiGroups": [""],
                            "apiVersions": ["v1"],
                            "operations": ["CREATE", "UPDATE"],
                            "resources": ["events"],
                        }
                    ]
                },
                "validations": [
                    {"expression": "false", "message": "no Events here", "reason": "Forbidden"}
                ],
            },
        }
    )
    selector = {"matchLabels": {"kubernetes.io/metadata.name": namespace}}
    admission.create_validating_admission_policy_binding(
        {
            "metadata": {"name": name},
            "spec": {
                "policyName": name,
                "validationActions": ["Deny"],
                "matchResources": {"namespaceSelector": selector},
            },
        }
    )
    try:
        wait_until_events_refused(api, namespace)
        yield
    finally:
        admission.delete_validating_admission_policy_binding(name)
        admission.delete_validating_admission_policy(name)


def wait_until_events_refused(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    probe = {
        "metadata": {"generateName": "probe."},
        "involvedObject": {"kind": "ConfigMap", "name": "probe", "namespace": namespace},
        "reason": "Probe",
        "message": "is the policy enforced yet?",
    }

    def refused() -> bool:
        try:
            core.create_namespaced_event(namespace, probe)
        except ApiException as e:
            return e.status == 403
        return False

    wait_for(refused, bool, timeout=30, what="the apiserver to enforce the policy")


@pytest.mark.simulated
def test_events_the_api_refuses_neither_fail_nor_repeat_reconciles(
    s: Schedules, api: client.ApiClient, operator: OperatorProcess
) -> None:
    """Every Event the operator posts in the namespace is refused (403). The schedule is
    still reconciled and its run recorded, with no reconcile failing (so none retried);
    the refused Events are logged in one line each and counted as dropped."""
    with events_refused_in(api, s.namespace):
        dropped = operator.metric("aischeduler_events_dropped_total")
        s.create(body("quiet", pod=sim(message=runner_result())))
        ready = condition(s.wait_ready("quiet"), "Ready")
        assert ready["reason"] == "Reconciled", ready
        s.run_now("quiet", "1")
        (entry,) = s.wait_runs("quiet", 1)["history"]
        assert entry["result"] == "Succeeded", entry
        # Scheduled, RunStarted, RunSucceeded: each refused and counted.
        wait_for(
            lambda: operator.metric("aischeduler_events_dropped_total") - dropped,
            lambda n: n >= 3,
            timeout=30,
            what="the refused Events to be counted",
        )
    assert s.events("quiet") == []
    log = operator.log_text()
    assert f"reconcile of {s.namespace}/quiet failed" not in log
    refusals = [
        line
        for line in log.splitlines()
        if f"for {s.namespace}/quiet not posted: API error 403: " in line
    ]
    assert len(refusals) >= 3 and all("no Events here" in line for line in refusals), refusals
