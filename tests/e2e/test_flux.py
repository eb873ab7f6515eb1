"""gitops/flux/kustomization.yaml in a running Flux: source-controller and
kustomize-controller v1.9.6 (built from the Go module proxy, tools/flux-*) as local
processes on the control plane, both Git repositories served over HTTP from this machine,
and the example applied with only its two URLs changed.

How the operator runs: Flux applies deploy/ — the CRD, RBAC and the operator Deployment —
and waits for it (`wait: true`); the local control plane has no container runtime, so
kwok plays the Deployment's pod, and the real operator runs as a local subprocess (the
session's `operator` fixture, as in the other e2e tests), reconciling the schedules Flux
then applies. The schedules' Kustomization is Ready only through its healthCheckExprs:
stock kstatus would call an invalid schedule Current (its observedGeneration is current),
the CEL `failed` expression makes Flux fail it."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from flux import NAMESPACE, FluxControllers, crd_files
from gitserver import GitServer
from kubernetes import client
from schedules import GROUP, PLURAL, VERSION, condition, is_ready

from conftest import Cluster, OperatorProcess
from waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "gitops" / "flux" / "kustomization.yaml"
SCHEDULES_NAMESPACE = "ai-team"  # the example's targetNamespace
URLS = {
    "assistant-scheduler": "https://git.example.com/platform/assistant-scheduler.git",
    "cluster-config": "https://git.example.com/platform/cluster-config.git",
}
KUSTOMIZE = ("kustomize.toolkit.fluxcd.io", "v1", "kustomizations")
SOURCE = ("source.toolkit.fluxcd.io", "v1", "gitrepositories")


@pytest.fixture(scope="module")
def flux(
    cluster: Cluster, api: client.ApiClient, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[FluxControllers]:
    if cluster.bin_dir is None:
        pytest.skip("runs Flux controllers from the pinned builds: local control plane only")
    for crd in crd_files():
        cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(crd))
    cluster.kubectl("wait", "--for=condition=Established", "--timeout=60s", "crd", "--all")
    core = client.CoreV1Api(api)
    # deploy/ creates aischeduler-system: an earlier install test may still be deleting it.
    wait_for(
        lambda: [n.metadata.name for n in core.list_namespace().items],
        lambda names: "aischeduler-system" not in names,
        timeout=120,
        what="no aischeduler-system namespace left by an earlier test",
    )
    for ns in (NAMESPACE, SCHEDULES_NAMESPACE):
        core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=ns)))
    controllers = FluxControllers(
        cluster.bin_dir, cluster.kubeconfig, tmp_path_factory.mktemp("flux")
    )
    controllers.start()
    try:
        yield controllers
    finally:
        print(controllers.logs())  # pytest shows it when a test failed
        uninstall(cluster, api)
        controllers.stop()


def uninstall(cluster: Cluster, api: client.ApiClient) -> None:
    """Leaves the cluster as it was, except the CRDs: the Kustomizations are suspended
    first, so deleting them does not prune what they applied (the AssistantSchedule CRD
    is shared with the other tests); then the operator install goes, as in test_install."""
    custom = client.CustomObjectsApi(api)
    kustomizations = custom.list_namespaced_custom_object(*KUSTOMIZE[:2], NAMESPACE, KUSTOMIZE[2])
    for k in kustomizations["items"]:
        name = k["metadata"]["name"]
        custom.patch_namespaced_custom_object(
            *KUSTOMIZE[:2], NAMESPACE, KUSTOMIZE[2], name, {"spec": {"suspend": True}}
        )
        custom.delete_namespaced_custom_object(*KUSTOMIZE[:2], NAMESPACE, KUSTOMIZE[2], name)
    docs = (ROOT / "deploy" / "install.yaml").read_text()
    without_crd = "\n---\n".join(
        d for d in docs.split("\n---\n") if "kind: CustomResourceDefinition" not in d
    )
    cluster.kubectl("delete", "--ignore-not-found", "--wait=false", "-f", "-", input=without_crd)
    core = client.CoreV1Api(api)
    for ns in (SCHEDULES_NAMESPACE, NAMESPACE):
        core.delete_namespace(ns, propagation_policy="Background")

    def namespaces_left() -> list[str]:
        names = {n.metadata.name for n in core.list_namespace().items}
        return sorted(names & {SCHEDULES_NAMESPACE, NAMESPACE, "aischeduler-system"})

    wait_for(namespaces_left, lambda left: not left, timeout=120, what="namespaces deleted")


def kubectl_json(cluster: Cluster, *args: str) -> Any:
    return json.loads(cluster.kubectl(*args, "-o", "json"))


def flux_ready(cluster: Cluster, resource: str, name: str) -> dict[str, Any]:
    obj = kubectl_json(cluster, "get", "-n", NAMESPACE, resource, name)
    return condition(obj.get("status") or {}, "Ready")


def request_reconcile(cluster: Cluster, resource: str, name: str) -> None:
    """What `flux reconcile` does: a new reconcile.fluxcd.io/requestedAt value."""
    now = dt.datetime.now(dt.UTC).isoformat()
    cluster.kubectl(
        "annotate",
        "-n",
        NAMESPACE,
        resource,
        name,
        f"reconcile.fluxcd.io/requestedAt={now}",
        "--overwrite",
    )


def schedule_files(extra: dict[str, str] | None = None) -> dict[str, Path | str]:
    files: dict[str, Path | str] = {
        f"ai-schedules/{p.name}": p for p in sorted((ROOT / "examples").glob("*.yaml"))
    }
    return files | (extra or {})


BROKEN = """\
apiVersion: aischeduler.io/v1alpha1
kind: AssistantSchedule
metadata:
  name: broken
spec:
  assistant:
    id: asst-broken
  schedule: "0 0 * * 7"
  platform:
    url: https://codemie.example.com/code-assistant-api
    credentialsSecretRef:
      name: codemie-credentials
"""


def test_flux_installs_the_operator_then_the_schedules_and_reads_ready(
    cluster: Cluster,
    api: client.ApiClient,
    operator: OperatorProcess,
    flux: FluxControllers,
    tmp_path: Path,
) -> None:
    with GitServer(tmp_path) as git:
        deploy = {f"deploy/{p.name}": p for p in (ROOT / "deploy").iterdir() if p.is_file()}
        git.publish("assistant-scheduler", deploy, "the operator, rendered from the chart")
        revision = git.publish("cluster-config", schedule_files(), "the examples")

        manifest = EXAMPLE.read_text()
        for repo, url in URLS.items():
            assert manifest.count(url) == 1, f"{url} not in {EXAMPLE}"
            manifest = manifest.replace(url, git.url(repo))
        cluster.kubectl("apply", "-f", "-", input=manifest)

        def wait_ready(name: str) -> dict[str, Any]:
            return wait_for(
                lambda: flux_ready(cluster, "kustomization", name),
                lambda c: flux.alive() and c.get("status") == "True",
                timeout=240,
                what=f"Kustomization {name} Ready (controller logs in {flux.workdir})",
            )

        print(f"\naischeduler-operator: {wait_ready('aischeduler-operator')}")
        schedules_ready = wait_ready("ai-schedules")
        print(f"ai-schedules (good): {schedules_ready}")
        assert schedules_ready["reason"] == "ReconciliationSucceeded", schedules_ready
        assert revision in schedules_ready["message"], schedules_ready
        custom = client.CustomObjectsApi(api)
        applied = custom.list_namespaced_custom_object(GROUP, VERSION, SCHEDULES_NAMESPACE, PLURAL)[
            "items"
        ]
        example_names = {
            doc["metadata"]["name"]
            for p in (ROOT / "examples").glob("*.yaml")
            for doc in yaml.safe_load_all(p.read_text())
            if doc and doc["kind"] == "AssistantSchedule"
        }
        assert {s["metadata"]["name"] for s in applied} == example_names
        assert all(is_ready(s) for s in applied), [s.get("status") for s in applied]
        assert any(r.startswith('"GET /cluster-config.git/info/refs') for r in git.requests)

        # A schedule the operator rejects keeps the Kustomization from becoming Ready.
        broken_revision = git.publish(
            "cluster-config",
            schedule_files({"ai-schedules/broken.yaml": BROKEN}),
            "a schedule with a bad cron",
        )
        request_reconcile(cluster, "gitrepository", "platform-config")
        request_reconcile(cluster, "kustomization", "ai-schedules")

        def attempted(k: dict[str, Any]) -> tuple[str, dict[str, Any]]:
            status = k.get("status") or {}
            return status.get("lastAttemptedRevision", ""), condition(status, "Ready")

        _, failed = wait_for(
            lambda: attempted(
                kubectl_json(cluster, "get", "-n", NAMESPACE, "kustomization", "ai-schedules")
            ),
            lambda seen: (
                flux.alive()
                and seen[0].endswith(broken_revision)
                and seen[1].get("status") == "False"
                # Not an in-between verdict such as DependencyNotReady while the operator's
                # Kustomization is briefly re-reconciled.
                and seen[1].get("reason") == "HealthCheckFailed"
            ),
            timeout=240,
            what=f"ai-schedules failing at the broken revision (logs in {flux.workdir})",
        )
        print(f"ai-schedules (broken): {failed}")
        assert (
            f"AssistantSchedule/{SCHEDULES_NAMESPACE}/broken status: 'Failed'" in failed["message"]
        ), failed
        broken = custom.get_namespaced_custom_object(
            GROUP, VERSION, SCHEDULES_NAMESPACE, PLURAL, "broken"
        )
        reason = condition(broken["status"], "Ready")
        print(f"broken schedule Ready: {reason}")
        assert (reason["status"], reason["reason"]) == ("False", "InvalidSchedule"), reason
        assert '"0 0 * * 7"' in reason["message"], reason
