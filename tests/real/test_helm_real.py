"""`helm install` of the chart runs the operator as a real pod on the real node (the
operator image built here by tools/realnode/images.sh: uid 65532, read-only root), which
records a real run of an example schedule against the platform double; `helm uninstall`
and the CRD removal the README documents leave nothing of ours behind."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import yaml
from kubernetes import client
from test_install import (
    CHART,
    RESTRICTED,
    Release,
    delete_namespace,
    helm,
    install,
    uninstall,
    unique,
)

from conftest import ROOT, Cluster
from localcluster.realnode import REAL_NAMESPACE
from platformdouble import TOKEN, DoubleServer
from waiting import wait_for

EXAMPLE = ROOT / "examples" / "assistant-daily.yaml"
GROUP, VERSION, PLURAL = "aischeduler.io", "v1alpha1", "assistantschedules"
CRD_NAMES = ("assistantschedules.aischeduler.io", "kopfpeerings.kopf.dev")
# The operator pod's start on the node, kopf's start-up, then a real run.
OPERATOR_START_TIMEOUT = 120
RUN_TIMEOUT = 120


def real_namespace(api: client.ApiClient, name: str) -> None:
    meta = client.V1ObjectMeta(name=name, labels=RESTRICTED, annotations=REAL_NAMESPACE)
    client.CoreV1Api(api).create_namespace(client.V1Namespace(metadata=meta))


def split_ref(ref: str) -> tuple[str, str]:
    repository, tag = ref.rsplit(":", 1)
    return repository, tag


def example_schedule(double: DoubleServer) -> tuple[str, str]:
    """The README's first example, pointed at the platform double."""
    body = yaml.safe_load(EXAMPLE.read_text())
    body["spec"]["platform"]["url"] = f"{double.url}/codemie"
    return body["metadata"]["name"], yaml.safe_dump(body)


def leftovers(api: client.ApiClient, namespaces: list[str], release: str) -> list[str]:
    """What of ours is still there: every namespaced kind the chart or the operator
    creates, and webhooks and cluster roles that name the release."""
    core, batch = client.CoreV1Api(api), client.BatchV1Api(api)
    rbac, apps = client.RbacAuthorizationV1Api(api), client.AppsV1Api(api)
    coordination = client.CoordinationV1Api(api)
    found: list[str] = []
    for ns in namespaces:
        listings: dict[str, Callable[[str], Any]] = {
            "Pod": core.list_namespaced_pod,
            "Job": batch.list_namespaced_job,
            "CronJob": batch.list_namespaced_cron_job,
            "Deployment": apps.list_namespaced_deployment,
            "Service": core.list_namespaced_service,
            "Role": rbac.list_namespaced_role,
            "RoleBinding": rbac.list_namespaced_role_binding,
            "Lease": coordination.list_namespaced_lease,
            "ServiceAccount": core.list_namespaced_service_account,
        }
        for kind, listing in listings.items():
            names = [o.metadata.name for o in listing(ns).items]
            found += [
                f"{kind} {ns}/{n}" for n in names if (kind, n) != ("ServiceAccount", "default")
            ]
    admission = client.AdmissionregistrationV1Api(api)
    cluster_wide = {
        "ValidatingWebhookConfiguration": admission.list_validating_webhook_configuration,
        "MutatingWebhookConfiguration": admission.list_mutating_webhook_configuration,
        "ClusterRole": rbac.list_cluster_role,
        "ClusterRoleBinding": rbac.list_cluster_role_binding,
    }
    for kind, listing in cluster_wide.items():
        found += [
            f"{kind} {o.metadata.name}" for o in listing().items if release in o.metadata.name
        ]
    return found


def crds_present(api: client.ApiClient) -> list[str]:
    ext = client.ApiextensionsV1Api(api)
    return [
        n
        for n in (o.metadata.name for o in ext.list_custom_resource_definition().items)
        if n in CRD_NAMES
    ]


@pytest.fixture
def release(cluster: Cluster, api: client.ApiClient) -> Iterator[Release]:
    rel = Release(unique("asched-real"), unique("asched-real-system"))
    real_namespace(api, rel.namespace)
    try:
        yield rel
    finally:
        if rel.name in helm(cluster, "list", "-q", "--namespace", rel.namespace).split():
            helm(cluster, "uninstall", rel.name, "--namespace", rel.namespace)
        delete_namespace(api, rel.namespace)
        # The session's other tests use the AssistantSchedule CRD this test removed.
        cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds"))
        cluster.kubectl(
            "wait", "--for=condition=Established", "--timeout=60s", f"crd/{CRD_NAMES[0]}"
        )


def test_helm_install_runs_the_operator_on_the_real_node(
    cluster: Cluster,
    api: client.ApiClient,
    real_node: dict[str, Any],
    double: DoubleServer,
    release: Release,
) -> None:
    team = unique("team-real")
    real_namespace(api, team)
    core = client.CoreV1Api(api)
    core.create_namespaced_secret(
        team, {"metadata": {"name": "codemie-credentials"}, "stringData": {"token": TOKEN}}
    )
    operator_repo, operator_tag = split_ref(real_node["images"]["operator"]["ref"])
    runner_repo, runner_tag = split_ref(real_node["images"]["runner"]["ref"])
    try:
        install(
            cluster,
            api,
            release,
            f"image.repository={operator_repo}",
            f"image.tag={operator_tag}",
            "image.pullPolicy=Never",
            f"runner.image.repository={runner_repo}",
            f"runner.image.tag={runner_tag}",
            f"watchNamespaces={{{team}}}",
        )
        pod = wait_for(
            lambda: (
                core.list_namespaced_pod(release.namespace, label_selector=release.selector).items
            ),
            lambda pods: len(pods) == 1 and pods[0].status.phase == "Running",
            timeout=OPERATOR_START_TIMEOUT,
            what="the operator pod to run",
        )[0]
        assert pod.spec.node_name == real_node["name"]
        name = pod.metadata.name
        # The kubelet runs it as the image's user, on a read-only root filesystem.
        uid = cluster.kubectl("exec", "-n", release.namespace, name, "--", "id", "-u")
        assert uid.strip() == "65532"
        touch = cluster.kubectl(
            "exec", "-n", release.namespace, name, "--", "touch", "/probe", check=False
        )
        assert "Read-only file system" in touch

        schedule, manifest = example_schedule(double)
        cluster.kubectl("apply", "-n", team, "-f", "-", input=manifest)
        custom = client.CustomObjectsApi(api)

        def status() -> dict[str, Any]:
            obj = custom.get_namespaced_custom_object(GROUP, VERSION, team, PLURAL, schedule)
            found: dict[str, Any] = obj.get("status") or {}
            return found

        wait_for(
            status,
            lambda st: any(
                c["type"] == "Ready" and c["status"] == "True" for c in st.get("conditions", [])
            ),
            timeout=OPERATOR_START_TIMEOUT,
            what="Ready=True from the operator pod",
        )
        cluster.kubectl(
            "annotate",
            "-n",
            team,
            f"assistantschedule/{schedule}",
            f"aischeduler.io/run-now=helm-{time.time()}",
        )
        recorded = wait_for(
            status, lambda st: st.get("history"), timeout=RUN_TIMEOUT, what="a recorded run"
        )
        entry = recorded["history"][0]
        assert entry["result"] == "Succeeded", entry
        assert entry["trigger"] == "Manual"
        assert entry["output"].startswith("Answer from the platform double")
        assert entry["attempts"] == 1
        (run_pod,) = core.list_namespaced_pod(
            team, label_selector=f"batch.kubernetes.io/job-name={entry['job']}"
        ).items
        assert run_pod.spec.node_name == real_node["name"]
        assert run_pod.spec.containers[0].image == real_node["images"]["runner"]["ref"]

        # Uninstall as the README says: the schedules, the release, then the CRDs.
        # Foreground: the schedules go only once the garbage collector has deleted their
        # CronJobs, Jobs and pods, which it cannot do once the CRD (their owner's kind) is gone.
        cluster.kubectl(
            "delete", "assistantschedules", "--all", "-n", team, "--cascade=foreground", "--wait"
        )
        uninstall(cluster, api, release)
        cluster.kubectl("delete", "-f", str(CHART / "crds"), "--wait")
        assert crds_present(api) == []
        wait_for(
            lambda: leftovers(api, [release.namespace, team], release.name),
            lambda left: not left,
            timeout=60,
            what="nothing of the release to be left",
        )
    finally:
        delete_namespace(api, team)
