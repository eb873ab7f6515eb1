"""Fault: while the operator is down, a running Job is deleted by hand, a schedule with a
running run is deleted, and a whole namespace with running schedules is deleted. Each
Job carries the operator's run finalizer, so each waits (Terminating) for the operator;
once it is back nothing is left stuck: no Job and no namespace stays Terminating, and
the hand-deleted run is in the history. (README, "Guarantees": when something is stuck
and how to release it.)"""

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
    """A schedule whose run-now Job runs (held by the run finalizer); returns the Job."""
    s.create(body(name, pod=LONG_RUN))
    s.wait_ready(name, timeout=60)
    s.run_now(name, "long")
    jobs = wait_for(
        lambda: s.jobs(name),
        lambda jobs: (
            len(jobs) == 1
            and RUN_FINALIZER in (jobs[0]["metadata"].get("finalizers") or [])
            and bool(jobs[0].get("status", {}).get("active"))
        ),
        timeout=60,
        what=f"{name}: its run active and held by the run finalizer",
    )
    job: str = jobs[0]["metadata"]["name"]
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
    s.batch.delete_namespaced_job(hand_job, s.namespace, propagation_policy="Background")
    s.delete("schedule-deleted")
    s.core.delete_namespace(other.namespace)
    held = wait_for(
        lambda: (terminating(s.jobs()), terminating(other.jobs())),
        lambda seen: len(seen[0]) == 2 and len(seen[1]) == IN_OTHER_NAMESPACE,
        timeout=120,
        what="every deleted run's Job Terminating, held for the operator",
    )
    assert namespace_phase(s.core, other.namespace) == "Terminating"

    restarted = time.monotonic()
    restartable.start()
    wait_for(
        lambda: (terminating(s.jobs()), namespace_phase(s.core, other.namespace)),
        lambda seen: seen == ([], "gone"),
        timeout=180,
        what="no Job Terminating and the deleted namespace gone",
    )
    released = time.monotonic() - restarted
    entry = s.wait_runs("hand-deleted", 1)["history"][0]
    figure(
        "deleted while the operator was down",
        held_jobs=len(held[0]) + len(held[1]),
        released_after_restart_s=released,
        jobs_left_terminating=0,
        namespace=namespace_phase(s.core, other.namespace),
    )
    assert (entry["job"], entry["result"]) == (hand_job, "Failed")
    assert "the Job was deleted" in entry["message"]
    wait_for(
        lambda: (s.jobs("schedule-deleted"), s.cronjob("schedule-deleted")),
        lambda seen: seen == ([], None),
        what="the deleted schedule's Job and CronJob gone",
    )
