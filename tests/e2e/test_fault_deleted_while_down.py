"""Fault: while the operator is down, a running Job is deleted by hand, a schedule with a
running run is deleted, and a whole namespace with running schedules is deleted. No Job
carries a finalizer of ours, so nothing waits for the operator: every deletion completes
while it is down, and once it is back the hand-deleted run (listed in status.active) is
in the history as Failed. (README, "Guarantees".)"""

from __future__ import annotations

import time
import uuid
from typing import Any

import pytest
from faults import figure
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from schedules import RUN_FINALIZER, Schedules, body, sim

from conftest import Cluster, OperatorProcess
from waiting import wait_for

LONG_RUN = sim(duration=600)
IN_OTHER_NAMESPACE = 3


def start_run(s: Schedules, name: str) -> str:
    """A schedule whose run-now Job runs, listed in its status.active; returns the Job."""
    s.create(body(name, pod=LONG_RUN))
    s.wait_ready(name, timeout=60)
    s.run_now(name, "long")
    jobs = wait_for(
        lambda: s.jobs(name),
        lambda jobs: (
            len(jobs) == 1
            and RUN_FINALIZER not in (jobs[0]["metadata"].get("finalizers") or [])
            and bool(jobs[0].get("status", {}).get("active"))
        ),
        timeout=60,
        what=f"{name}: its run active",
    )
    job: str = jobs[0]["metadata"]["name"]
    s.wait(
        name,
        lambda cr: [a["job"] for a in (cr.get("status") or {}).get("active") or []] == [job],
        f"{job} listed in status.active",
        timeout=60,
    )
    return job


def terminating(jobs: list[dict[str, Any]]) -> list[str]:
    return [j["metadata"]["name"] for j in jobs if j["metadata"].get("deletionTimestamp")]


def namespace_phase(core: client.CoreV1Api, name: str) -> str:
    try:
        phase: str = core.read_namespace(name).status.phase
    except ApiException as e:
        if e.status == 404:
            return "gone"
        raise
    return phase


@pytest.mark.simulated
def test_deletions_while_the_operator_is_down_leave_nothing_stuck(
    s: Schedules, cluster: Cluster, restartable: OperatorProcess
) -> None:
    other = Schedules(s.custom.api_client, cluster.kubectl, f"doomed-ns-{uuid.uuid4().hex[:6]}")
    s.core.create_namespace({"metadata": {"name": other.namespace}})
    hand_job = start_run(s, "hand-deleted")
    start_run(s, "schedule-deleted")
    for i in range(IN_OTHER_NAMESPACE):
        start_run(other, f"in-namespace-{i}")

    restartable.stop()
    stopped = time.monotonic()
    s.batch.delete_namespaced_job(hand_job, s.namespace, propagation_policy="Background")
    s.delete("schedule-deleted")
    s.core.delete_namespace(other.namespace)
    wait_for(
        lambda: (s.jobs(), namespace_phase(s.core, other.namespace)),
        lambda seen: seen == ([], "gone"),
        timeout=180,
        what="every deleted Job and the namespace gone while the operator is down",
    )
    gone = time.monotonic() - stopped

    restartable.start()
    entry = s.wait_runs("hand-deleted", 1, timeout=120)["history"][0]
    figure(
        "deleted while the operator was down",
        jobs_held_for_the_operator=0,
        all_gone_while_down_s=gone,
        jobs_left_terminating=len(terminating(s.jobs())),
        namespace=namespace_phase(s.core, other.namespace),
    )
    assert (entry["job"], entry["result"]) == (hand_job, "Failed")
    assert "the Job was deleted" in entry["message"]
    assert (s.jobs("schedule-deleted"), s.cronjob("schedule-deleted")) == ([], None)
