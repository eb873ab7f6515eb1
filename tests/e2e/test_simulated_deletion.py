"""Deleting a running simulated pod behaves as on a kubelet: the pod ends terminal first,
so a Job with a podFailurePolicy (as runner Jobs have) lets go of it and a namespace with
an active run is deleted completely (shared/notes/kwok-pod-deletion.md)."""

from __future__ import annotations

import uuid

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from waiting import wait_for

pytestmark = pytest.mark.simulated


def what_is_left(core: client.CoreV1Api, name: str) -> str:
    """ "gone", or the namespace's phase and its pods' phases and finalizers."""
    try:
        ns = core.read_namespace(name)
    except ApiException as e:
        if e.status == 404:
            return "gone"
        raise
    pods = [
        (p.metadata.name, p.status.phase, p.metadata.finalizers)
        for p in core.list_namespaced_pod(name).items
    ]
    return f"namespace {ns.status.phase}, pods {pods}"


def test_namespace_with_a_running_job_is_deleted_completely(api: client.ApiClient) -> None:
    core, batch = client.CoreV1Api(api), client.BatchV1Api(api)
    name = f"deletion-{uuid.uuid4().hex[:6]}"
    core.create_namespace({"metadata": {"name": name}})
    job = {
        "metadata": {"name": "running"},
        "spec": {
            "backoffLimit": 0,
            "podFailurePolicy": {
                "rules": [
                    {
                        "action": "FailJob",
                        "onExitCodes": {"containerName": "runner", "operator": "In", "values": [2]},
                    }
                ]
            },
            "template": {
                "metadata": {"annotations": {"sim.aischeduler.io/duration": "300"}},
                "spec": {
                    "restartPolicy": "Never",
                    "containers": [{"name": "runner", "image": "runner:test"}],
                },
            },
        },
    }
    batch.create_namespaced_job(name, job)
    wait_for(
        lambda: core.list_namespaced_pod(name).items,
        lambda pods: bool(pods) and pods[0].status.phase == "Running",
        what="the simulated pod to run",
    )
    core.delete_namespace(name)
    wait_for(
        lambda: what_is_left(core, name),
        lambda left: left == "gone",
        timeout=60,
        what=f"namespace {name} to be deleted",
    )
