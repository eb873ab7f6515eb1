"""Smoke tests proving the test control plane is real: the CronJob controller fires,
kwok plays pods by annotation, the garbage collector cascades, RBAC and Pod Security
admission are enforced, CRDs validate with CEL rules."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from waiting import wait_for


def _pod_template(annotations: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "metadata": {"annotations": annotations or {}},
        "spec": {
            "restartPolicy": "Never",
            "containers": [{"name": "main", "image": "example.invalid/runner:test"}],
        },
    }


@pytest.mark.simulated
def test_cronjob_controller_fires_and_job_completes(api: client.ApiClient, namespace: str) -> None:
    batch = client.BatchV1Api(api)
    batch.create_namespaced_cron_job(
        namespace,
        {
            "apiVersion": "batch/v1",
            "kind": "CronJob",
            "metadata": {"name": "every-minute"},
            "spec": {
                "schedule": "* * * * *",
                "timeZone": "UTC",
                "jobTemplate": {"spec": {"backoffLimit": 0, "template": _pod_template()}},
            },
        },
    )
    jobs = wait_for(
        lambda: batch.list_namespaced_job(namespace).items,
        timeout=90,
        what="a Job created by the CronJob controller",
    )
    assert jobs[0].metadata.owner_references[0].kind == "CronJob"
    done = wait_for(
        lambda: batch.read_namespaced_job(jobs[0].metadata.name, namespace).status,
        lambda s: bool(s.succeeded),
        timeout=60,
        what="the Job to succeed",
    )
    assert done.succeeded == 1


@pytest.mark.simulated
def test_pod_annotations_steer_exit_code_and_message(api: client.ApiClient, namespace: str) -> None:
    batch, core = client.BatchV1Api(api), client.CoreV1Api(api)
    message = '{"result": "Failed", "message": "simulated \\"quote\\" ü"}'
    batch.create_namespaced_job(
        namespace,
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "fails"},
            "spec": {
                "backoffLimit": 0,
                "template": _pod_template(
                    {"sim.aischeduler.io/exit-code": "3", "sim.aischeduler.io/message": message}
                ),
            },
        },
    )
    pod = wait_for(
        lambda: core.list_namespaced_pod(namespace, label_selector="job-name=fails").items[0],
        lambda p: p.status.phase == "Failed",
        timeout=60,
        what="the pod to fail",
    )
    terminated = pod.status.container_statuses[0].state.terminated
    assert terminated.exit_code == 3
    assert terminated.message == message
    wait_for(
        lambda: batch.read_namespaced_job("fails", namespace).status,
        lambda s: bool(s.failed),
        what="the Job to record the failure",
    )


@pytest.mark.simulated
def test_waiting_reason_keeps_pod_pending(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    body = {"apiVersion": "v1", "kind": "Pod"}
    body.update(_pod_template({"sim.aischeduler.io/waiting-reason": "ImagePullBackOff"}))
    body["metadata"]["name"] = "stuck"
    core.create_namespaced_pod(namespace, body)
    pod = wait_for(
        lambda: core.read_namespaced_pod("stuck", namespace),
        lambda p: bool(p.status.container_statuses),
        what="the pod to report a waiting container",
    )
    assert pod.status.phase == "Pending"
    assert pod.status.container_statuses[0].state.waiting.reason == "ImagePullBackOff"


def test_garbage_collector_cascades_to_dependents(api: client.ApiClient, namespace: str) -> None:
    core = client.CoreV1Api(api)
    owner = core.create_namespaced_config_map(
        namespace, {"metadata": {"name": "owner"}, "data": {"a": "b"}}
    )
    ref = {"apiVersion": "v1", "kind": "ConfigMap", "name": "owner", "uid": owner.metadata.uid}
    core.create_namespaced_config_map(
        namespace, {"metadata": {"name": "dependent", "ownerReferences": [ref]}}
    )
    core.delete_namespaced_config_map("owner", namespace)

    def dependent_exists() -> bool:
        try:
            core.read_namespaced_config_map("dependent", namespace)
        except ApiException as e:
            if e.status == 404:
                return False
            raise
        return True

    wait_for(dependent_exists, lambda exists: not exists, what="the dependent to be collected")


def test_rbac_is_enforced_and_builtin_roles_exist(cluster: Any, namespace: str) -> None:
    for role in ("admin", "edit", "view"):
        assert role in cluster.kubectl("get", "clusterrole", role, "-o", "name")
    out = cluster.kubectl("get", "pods", "-n", namespace, "--as=nobody@example.com", check=False)
    assert "forbidden" in out.lower()
    answer = cluster.kubectl(
        "auth",
        "can-i",
        "create",
        "pods",
        "-n",
        namespace,
        "--as=nobody@example.com",
        check=False,
    )
    assert answer.strip().startswith("no")


def test_crd_status_subresource_and_cel_validation(api: client.ApiClient, namespace: str) -> None:
    ext = client.ApiextensionsV1Api(api)
    group = f"smoke{uuid.uuid4().hex[:6]}.example.com"
    ext.create_custom_resource_definition(
        {
            "apiVersion": "apiextensions.k8s.io/v1",
            "kind": "CustomResourceDefinition",
            "metadata": {"name": f"widgets.{group}"},
            "spec": {
                "group": group,
                "scope": "Namespaced",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                "versions": [
                    {
                        "name": "v1",
                        "served": True,
                        "storage": True,
                        "subresources": {"status": {}},
                        "schema": {
                            "openAPIV3Schema": {
                                "type": "object",
                                "properties": {
                                    "spec": {
                                        "type": "object",
                                        "properties": {
                                            "a": {"type": "string"},
                                            "b": {"type": "string"},
                                        },
                                        "x-kubernetes-validations": [
                                            {
                                                "rule": "has(self.a) != has(self.b)",
                                                "message": "exactly one of a or b",
                                            }
                                        ],
                                    },
                                    "status": {
                                        "type": "object",
                                        "x-kubernetes-preserve-unknown-fields": True,
                                    },
                                },
                            }
                        },
                    }
                ],
            },
        }
    )
    try:
        custom = client.CustomObjectsApi(api)

        def create(spec: dict[str, str]) -> Any:
            return custom.create_namespaced_custom_object(
                group,
                "v1",
                namespace,
                "widgets",
                {
                    "apiVersion": f"{group}/v1",
                    "kind": "Widget",
                    "metadata": {"name": f"w{uuid.uuid4().hex[:6]}"},
                    "spec": spec,
                },
            )

        good = wait_for(lambda: create({"a": "x"}), what="the CRD to be served")
        with pytest.raises(ApiException) as bad:
            create({"a": "x", "b": "y"})
        assert bad.value.status == 422
        assert "exactly one of a or b" in bad.value.body
        # The status subresource ignores spec changes and main-resource writes ignore status.
        name = good["metadata"]["name"]
        custom.patch_namespaced_custom_object_status(
            group, "v1", namespace, "widgets", name, {"status": {"phase": "Done"}}
        )
        assert custom.get_namespaced_custom_object(group, "v1", namespace, "widgets", name)[
            "status"
        ] == {"phase": "Done"}
    finally:
        ext.delete_custom_resource_definition(f"widgets.{group}")


def test_pod_security_admission_rejects_privileged_pod(api: client.ApiClient) -> None:
    core = client.CoreV1Api(api)
    name = f"restricted-{uuid.uuid4().hex[:6]}"
    core.create_namespace(
        {"metadata": {"name": name, "labels": {"pod-security.kubernetes.io/enforce": "restricted"}}}
    )
    try:
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "privileged"},
            "spec": {
                "containers": [
                    {"name": "c", "image": "busybox", "securityContext": {"privileged": True}}
                ]
            },
        }
        with pytest.raises(ApiException) as denied:
            core.create_namespaced_pod(name, pod)
        assert denied.value.status == 403
        assert 'violates PodSecurity "restricted' in json.loads(denied.value.body)["message"]
    finally:
        core.delete_namespace(name)
