"""Installing the operator on a real control plane: the chart applies (server-side dry run,
`helm install`, the plain manifests in deploy/), the operator pod is admitted under the
`restricted` Pod Security level, and RBAC does what spec §6 says — checked by
impersonation. Every install gets a unique release name and its cluster-scoped objects
are removed afterwards."""

from __future__ import annotations

import functools
import json
import os
import shutil
import socket
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException

from localcluster.identity import service_account_kubeconfig
from waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "aischeduler"
GROUP, VERSION, PLURAL = "aischeduler.io", "v1alpha1", "assistantschedules"
RESTRICTED = {"pod-security.kubernetes.io/enforce": "restricted"}


@dataclass(frozen=True)
class Release:
    name: str
    namespace: str

    @property
    def service_account(self) -> str:
        return f"system:serviceaccount:{self.namespace}:{self.name}"

    @property
    def selector(self) -> str:
        return f"app.kubernetes.io/instance={self.name}"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:6]}"


@functools.cache
def helm_binary(bin_dir: Path | None) -> str:
    """The pinned helm (tools/build.sh, cached), also for an external test cluster; a helm
    on PATH only when the pinned one cannot be built."""
    if bin_dir is not None and (bin_dir / "helm").exists():
        return str(bin_dir / "helm")
    built = subprocess.run(
        ["bash", str(ROOT / "tools" / "build.sh")], capture_output=True, text=True, check=False
    )
    if built.returncode == 0:
        return str(Path(built.stdout.strip().splitlines()[-1]) / "helm")
    return shutil.which("helm") or "helm"


def helm(cluster: Any, *args: str) -> str:
    proc = subprocess.run(
        [helm_binary(cluster.bin_dir), f"--kubeconfig={cluster.kubeconfig}", *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=300,
    )
    assert proc.returncode == 0, f"helm {' '.join(args)} failed:\n{proc.stdout}{proc.stderr}"
    return proc.stdout


def create_namespace(api: client.ApiClient, name: str, labels: dict[str, str]) -> None:
    client.CoreV1Api(api).create_namespace(
        client.V1Namespace(metadata=client.V1ObjectMeta(name=name, labels=labels))
    )


def delete_namespace(api: client.ApiClient, name: str) -> None:
    try:
        client.CoreV1Api(api).delete_namespace(name, propagation_policy="Background")
    except ApiException as e:
        if e.status != 404:
            raise


def cluster_scoped_leftovers(api: client.ApiClient, selector: str) -> list[str]:
    rbac = client.RbacAuthorizationV1Api(api)
    ext = client.ApiextensionsV1Api(api)
    return [
        *(
            f"ClusterRole/{o.metadata.name}"
            for o in rbac.list_cluster_role(label_selector=selector).items
        ),
        *(
            f"ClusterRoleBinding/{o.metadata.name}"
            for o in rbac.list_cluster_role_binding(label_selector=selector).items
        ),
        *(
            f"CRD/{o.metadata.name}"
            for o in ext.list_custom_resource_definition(label_selector=selector).items
        ),
    ]


def install(cluster: Any, api: client.ApiClient, release: Release, *sets: str) -> None:
    helm(
        cluster,
        "install",
        release.name,
        str(CHART),
        "--namespace",
        release.namespace,
        "--set",
        f"fullnameOverride={release.name}",
        # Unique user-role names, so installs never collide with each other or with a
        # real installation on an external test cluster; the aggregation labels are the
        # same as with the default names.
        "--set",
        f"rbac.userRoles.adminName={release.name}-admin",
        "--set",
        f"rbac.userRoles.viewerName={release.name}-viewer",
        *(arg for s in sets for arg in ("--set", s)),
    )


def uninstall(cluster: Any, api: client.ApiClient, release: Release) -> None:
    """helm uninstall, then prove no cluster-scoped object of the release is left."""
    helm(cluster, "uninstall", release.name, "--namespace", release.namespace, "--wait")
    wait_for(
        lambda: cluster_scoped_leftovers(api, release.selector),
        lambda left: not left,
        timeout=60,
        what=f"cluster-scoped objects of release {release.name} to be gone",
    )


@pytest.fixture(scope="module")
def release(cluster: Any, api: client.ApiClient) -> Iterator[Release]:
    """One default (cluster-wide) install into a namespace enforcing `restricted`."""
    rel = Release(unique("asched"), unique("asched-system"))
    create_namespace(api, rel.namespace, RESTRICTED)
    try:
        install(cluster, api, rel)
        yield rel
        uninstall(cluster, api, rel)
    finally:
        helm_list = helm(cluster, "list", "-q", "--namespace", rel.namespace)
        if rel.name in helm_list.split():  # the test body failed before uninstalling
            helm(cluster, "uninstall", rel.name, "--namespace", rel.namespace)
        delete_namespace(api, rel.namespace)


def can_i(cluster: Any, user: str, verb: str, resource: str, namespace: str | None) -> bool:
    """`kubectl auth can-i` as ``user``; ``resource`` may be ``plural.group/subresource``."""
    where = ["--namespace", namespace] if namespace else ["--all-namespaces"]
    resource, _, subresource = resource.partition("/")
    if subresource:  # kubectl would read "x/status" as the object named "status"
        where.append(f"--subresource={subresource}")
    out = cluster.kubectl("auth", "can-i", verb, resource, f"--as={user}", *where, check=False)
    answer = out.strip().splitlines()[0] if out.strip() else ""
    assert answer in ("yes", "no"), f"unexpected `kubectl auth can-i` output: {out}"
    return answer == "yes"


def impersonating(cluster: Any, user: str) -> client.ApiClient:
    api = config.new_client_from_config(config_file=str(cluster.kubeconfig))
    api.set_default_header("Impersonate-User", user)
    return api


def schedule_body(name: str) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "AssistantSchedule",
        "metadata": {"name": name},
        "spec": {"assistant": {"id": "abc"}, "schedule": "0 9 * * *"},
    }


def operator_pods(api: client.ApiClient, rel: Release) -> list[client.V1Pod]:
    pods: list[client.V1Pod] = (
        client.CoreV1Api(api).list_namespaced_pod(rel.namespace, label_selector=rel.selector).items
    )
    return pods


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def http_get(url: str) -> str:
    with urllib.request.urlopen(url, timeout=5) as rsp:
        body: bytes = rsp.read()
        return body.decode()


def failed_creates(api: client.ApiClient, namespace: str) -> list[str]:
    events = client.CoreV1Api(api).list_namespaced_event(namespace).items
    return [f"{e.involved_object.name}: {e.message}" for e in events if e.reason == "FailedCreate"]


# --------------------------------------------------------------------------- tests


def test_rendered_chart_passes_server_side_dry_run(cluster: Any, namespace: str) -> None:
    name = unique("dry")
    manifests = helm(
        cluster,
        "template",
        name,
        str(CHART),
        "--namespace",
        namespace,
        "--include-crds",
        "--set",
        f"fullnameOverride={name}",
        "--set",
        f"rbac.userRoles.adminName={name}-admin",
        "--set",
        f"rbac.userRoles.viewerName={name}-viewer",
    )
    out = cluster.kubectl(
        "apply",
        "--server-side",
        "--force-conflicts",
        "--dry-run=server",
        "-f",
        "-",
        input=manifests,
    )
    applied = [line for line in out.splitlines() if line.strip()]
    kinds = sorted(line.split("/")[0] for line in applied)
    assert kinds == sorted(
        [
            # AssistantSchedule, and kopf's two peering CRDs from the chart's crds/
            "customresourcedefinition.apiextensions.k8s.io",
            "customresourcedefinition.apiextensions.k8s.io",
            "customresourcedefinition.apiextensions.k8s.io",
            "serviceaccount",
            "clusterrole.rbac.authorization.k8s.io",
            "clusterrole.rbac.authorization.k8s.io",
            "clusterrole.rbac.authorization.k8s.io",
            "clusterrolebinding.rbac.authorization.k8s.io",
            "service",
            "deployment.apps",
        ]
    ), out
    assert all(line.endswith("(server dry run)") for line in applied), out


def test_operator_pod_admitted_under_restricted_pod_security(
    cluster: Any, api: client.ApiClient, release: Release
) -> None:
    core = client.CoreV1Api(api)
    labels = core.read_namespace(release.namespace).metadata.labels
    assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
    # The namespace really enforces `restricted`: a plain pod is refused ...
    with pytest.raises(ApiException) as refused:
        core.create_namespaced_pod(
            release.namespace,
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": "plain"},
                "spec": {"containers": [{"name": "c", "image": "example.invalid/x:1"}]},
            },
            dry_run="All",
        )
    assert refused.value.status == 403
    assert "violates PodSecurity" in refused.value.body

    # ... while the operator's pod is created by its ReplicaSet.
    pods = wait_for(
        lambda: operator_pods(api, release),
        timeout=60,
        what=f"the operator pod (failed creates: {failed_creates(api, release.namespace)})",
    )
    assert failed_creates(api, release.namespace) == []
    pod = pods[0]
    assert pod.spec.service_account_name == release.name
    assert pod.spec.security_context.run_as_non_root is True
    assert pod.spec.security_context.seccomp_profile.type == "RuntimeDefault"
    sc = pod.spec.containers[0].security_context
    assert sc.read_only_root_filesystem is True
    assert sc.allow_privilege_escalation is False
    assert sc.capabilities.drop == ["ALL"]
    deployment = client.AppsV1Api(api).read_namespaced_deployment(release.name, release.namespace)
    assert deployment.spec.replicas == 1
    wait_for(
        lambda: (
            client.AppsV1Api(api)
            .read_namespaced_deployment(release.name, release.namespace)
            .status.available_replicas
        ),
        lambda n: n == 1,
        timeout=60,
        what="the operator Deployment to be available",
    )


def test_only_admins_manage_schedules(
    cluster: Any, api: client.ApiClient, release: Release, namespace: str
) -> None:
    users = {"alice": "admin", "bob": "edit", "carol": "view"}
    rbac = client.RbacAuthorizationV1Api(api)
    for user, role in users.items():
        rbac.create_namespaced_role_binding(
            namespace,
            {
                "metadata": {"name": f"{user}-{role}"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": role,
                },
                "subjects": [
                    {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": user}
                ],
            },
        )

    # The clusterrole-aggregation controller copies the rules into admin/edit/view.
    wait_for(
        lambda: {
            user: can_i(cluster, user, "list", "assistantschedules.aischeduler.io", namespace)
            for user in users
        },
        lambda seen: all(seen.values()),
        timeout=60,
        what="aggregated rules to reach admin, edit and view",
    )
    resource = "assistantschedules.aischeduler.io"
    for verb in ("get", "list", "watch", "create", "update", "patch", "delete"):
        assert can_i(cluster, "alice", verb, resource, namespace), f"admin cannot {verb}"
    for user in ("bob", "carol"):
        for verb in ("get", "list", "watch"):
            assert can_i(cluster, user, verb, resource, namespace), f"{user} cannot {verb}"
        for verb in ("create", "update", "patch", "delete", "deletecollection"):
            assert not can_i(cluster, user, verb, resource, namespace), f"{user} can {verb}"
    assert can_i(cluster, "alice", "get", f"{resource}/status", namespace)
    assert not can_i(cluster, "alice", "update", f"{resource}/status", namespace)

    # Real requests: the admin creates and deletes; the editor is refused with 403.
    admin = client.CustomObjectsApi(impersonating(cluster, "alice"))
    admin.create_namespaced_custom_object(
        GROUP, VERSION, namespace, PLURAL, schedule_body("by-admin")
    )
    editor = client.CustomObjectsApi(impersonating(cluster, "bob"))
    with pytest.raises(ApiException) as refused:
        editor.create_namespaced_custom_object(
            GROUP, VERSION, namespace, PLURAL, schedule_body("by-editor")
        )
    assert refused.value.status == 403
    status = json.loads(refused.value.body)
    assert status["reason"] == "Forbidden"
    assert 'User "bob" cannot create resource "assistantschedules"' in status["message"]
    with pytest.raises(ApiException) as refused:
        editor.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "by-admin")
    assert refused.value.status == 403
    viewer = client.CustomObjectsApi(impersonating(cluster, "carol"))
    listed = viewer.list_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL)
    assert [o["metadata"]["name"] for o in listed["items"]] == ["by-admin"]
    admin.delete_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, "by-admin")


OPERATOR_NEEDS = [
    *(
        (verb, "assistantschedules.aischeduler.io")
        for verb in ("get", "list", "watch", "patch", "update")
    ),
    *((verb, "assistantschedules.aischeduler.io/status") for verb in ("get", "patch", "update")),
    *(
        (verb, resource)
        for resource in ("cronjobs.batch", "jobs.batch")
        for verb in ("get", "list", "watch", "create", "update", "patch", "delete")
    ),
    *((verb, "pods") for verb in ("get", "list", "watch")),
    *(
        (verb, resource)
        for resource in ("events", "events.events.k8s.io")
        for verb in ("create", "patch")
    ),
]
OPERATOR_MUST_NOT = [
    ("get", "secrets"),
    ("list", "secrets"),
    ("watch", "secrets"),
    ("create", "assistantschedules.aischeduler.io"),
    ("delete", "assistantschedules.aischeduler.io"),
    ("create", "pods"),
    ("delete", "pods"),
    ("get", "configmaps"),
    ("create", "rolebindings.rbac.authorization.k8s.io"),
]


def test_operator_service_account_has_least_privilege(
    cluster: Any, release: Release, namespace: str
) -> None:
    sa = release.service_account
    missing = [(v, r) for v, r in OPERATOR_NEEDS if not can_i(cluster, sa, v, r, namespace)]
    assert missing == []
    # Cluster-wide mode: the same everywhere, and kopf can follow namespaces.
    assert can_i(cluster, sa, "list", "cronjobs.batch", None)
    assert can_i(cluster, sa, "watch", "namespaces", None)
    granted = [(v, r) for v, r in OPERATOR_MUST_NOT if can_i(cluster, sa, v, r, namespace)]
    assert granted == []
    assert not can_i(cluster, sa, "list", "secrets", None)
    assert not can_i(cluster, sa, "get", "secrets", release.namespace)


def test_watch_namespaces_install_grants_only_those_namespaces(
    cluster: Any, api: client.ApiClient
) -> None:
    rel = Release(unique("asched-ns"), unique("asched-ns-system"))
    watched, other = unique("watched"), unique("other")
    for ns in (rel.namespace, watched, other):
        create_namespace(api, ns, RESTRICTED)
    try:
        install(cluster, api, rel, f"watchNamespaces={{{watched}}}", "rbac.userRoles.create=false")
        roles = client.RbacAuthorizationV1Api(api).list_namespaced_role(
            watched, label_selector=rel.selector
        )
        assert [r.metadata.name for r in roles.items] == [rel.name]
        sa = rel.service_account
        assert can_i(cluster, sa, "create", "cronjobs.batch", watched)
        assert can_i(cluster, sa, "patch", "assistantschedules.aischeduler.io/status", watched)
        assert not can_i(cluster, sa, "create", "cronjobs.batch", other)
        assert not can_i(cluster, sa, "list", "assistantschedules.aischeduler.io", other)
        assert not can_i(cluster, sa, "list", "jobs.batch", None)
        assert not can_i(cluster, sa, "get", "secrets", watched)
        assert can_i(cluster, sa, "list", "namespaces", None)
        wait_for(
            lambda: operator_pods(api, rel), timeout=60, what="the operator pod (namespaced mode)"
        )
        env = {
            e.name: e.value for e in operator_pods(api, rel)[0].spec.containers[0].env if e.value
        }
        assert env["AISCHED_WATCH_NAMESPACES"] == watched
        uninstall(cluster, api, rel)
        assert (
            client.RbacAuthorizationV1Api(api)
            .list_namespaced_role(watched, label_selector=rel.selector)
            .items
            == []
        )
    finally:
        if rel.name in helm(cluster, "list", "-q", "--namespace", rel.namespace).split():
            helm(cluster, "uninstall", rel.name, "--namespace", rel.namespace)
        for ns in (rel.namespace, watched, other):
            delete_namespace(api, ns)


def test_replicas_install_kopf_peering(cluster: Any, api: client.ApiClient) -> None:
    rel = Release(unique("asched-ha"), unique("asched-ha-system"))
    create_namespace(api, rel.namespace, RESTRICTED)
    peering = unique("peers")
    custom = client.CustomObjectsApi(api)
    try:
        install(
            cluster,
            api,
            rel,
            "replicaCount=2",
            f"peering.name={peering}",
            "rbac.userRoles.create=false",
        )
        # kopf only writes keep-alives into an existing peering object: the chart made it.
        obj = custom.get_cluster_custom_object("kopf.dev", "v1", "clusterkopfpeerings", peering)
        assert obj["metadata"]["name"] == peering
        sa = rel.service_account
        for verb in ("get", "list", "watch", "patch"):
            assert can_i(cluster, sa, verb, "clusterkopfpeerings.kopf.dev", None)
        # What kopf does: patch its keep-alive into .status (no status subresource).
        custom.patch_cluster_custom_object(
            "kopf.dev",
            "v1",
            "clusterkopfpeerings",
            peering,
            {"status": {"pod-a": {"priority": 0, "lifetime": 60, "lastseen": "2026-01-01"}}},
        )
        patched = custom.get_cluster_custom_object("kopf.dev", "v1", "clusterkopfpeerings", peering)
        assert patched["status"]["pod-a"]["lifetime"] == 60
        pods = wait_for(
            lambda: operator_pods(api, rel),
            lambda p: len(p) == 2,
            timeout=60,
            what="two operator pods",
        )
        env = {e.name: e.value for e in pods[0].spec.containers[0].env if e.value}
        assert env["AISCHED_PEERING"] == peering
        uninstall(cluster, api, rel)
        gone = [
            o["metadata"]["name"]
            for o in custom.list_cluster_custom_object("kopf.dev", "v1", "clusterkopfpeerings")[
                "items"
            ]
        ]
        assert peering not in gone
    finally:
        if rel.name in helm(cluster, "list", "-q", "--namespace", rel.namespace).split():
            helm(cluster, "uninstall", rel.name, "--namespace", rel.namespace)
        delete_namespace(api, rel.namespace)


def test_plain_manifests_install(cluster: Any, api: client.ApiClient) -> None:
    """`kubectl apply --server-side -f deploy/install.yaml`, as the README says."""
    core = client.CoreV1Api(api)
    names = {n.metadata.name for n in core.list_namespace().items}
    if "aischeduler-system" in names:
        pytest.skip("aischeduler-system exists on this cluster: not touching a real install")
    install_yaml = ROOT / "deploy" / "install.yaml"
    docs = [d for d in yaml.safe_load_all(install_yaml.read_text()) if d]
    # The CRD stays: other tests (and schedules) on this cluster use it.
    without_crd = yaml.safe_dump_all([d for d in docs if d["kind"] != "CustomResourceDefinition"])
    try:
        cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(install_yaml))
        pods = wait_for(
            lambda: (
                core.list_namespaced_pod(
                    "aischeduler-system", label_selector="app.kubernetes.io/instance=aischeduler"
                ).items
            ),
            timeout=60,
            what=f"the operator pod (failed creates: {failed_creates(api, 'aischeduler-system')})",
        )
        assert pods[0].spec.service_account_name == "aischeduler"
        assert failed_creates(api, "aischeduler-system") == []
        rbac = client.RbacAuthorizationV1Api(api)
        assert {"aischeduler", "aischeduler-admin", "aischeduler-viewer"} <= {
            r.metadata.name for r in rbac.list_cluster_role().items
        }
        assert can_i(
            cluster,
            "system:serviceaccount:aischeduler-system:aischeduler",
            "create",
            "cronjobs.batch",
            "default",
        )
    finally:
        cluster.kubectl(
            "delete", "--ignore-not-found", "--wait=false", "-f", "-", input=without_crd
        )
    wait_for(
        lambda: cluster_scoped_leftovers(api, "app.kubernetes.io/instance=aischeduler"),
        lambda left: not left,
        timeout=60,
        what="the plain install's ClusterRoles and ClusterRoleBinding to be gone",
    )


@pytest.mark.parametrize("mode", ["cluster-wide", "watch-namespaces"])
def test_operator_works_with_only_the_charts_permissions(
    cluster: Any, api: client.ApiClient, release: Release, tmp_path: Path, mode: str
) -> None:
    """Runs the real operator with the env of the Deployment the chart installed,
    authenticated as the chart's ServiceAccount (a TokenRequest token, not impersonation,
    which the Python client ignores): it must reconcile a schedule, post its event and
    never be refused by RBAC."""
    team = unique("team")
    create_namespace(api, team, RESTRICTED)
    rel = release
    if mode == "watch-namespaces":
        rel = Release(unique("asched-w"), unique("asched-w-system"))
        create_namespace(api, rel.namespace, RESTRICTED)
        install(cluster, api, rel, f"watchNamespaces={{{team}}}", "rbac.userRoles.create=false")
    kubeconfig = service_account_kubeconfig(
        api, Path(cluster.kubeconfig), rel.name, rel.namespace, tmp_path / "kubeconfig"
    )
    deployment = client.AppsV1Api(api).read_namespaced_deployment(rel.name, rel.namespace)
    env = {e.name: e.value for e in deployment.spec.template.spec.containers[0].env if e.value}
    metrics, health = free_port(), free_port()
    env |= {
        "AISCHED_METRICS_PORT": str(metrics),
        "AISCHED_HEALTH_PORT": str(health),
        "AISCHED_LOG_FORMAT": "text",
        "POD_ID": f"test-{rel.name}",
        "KUBECONFIG": str(kubeconfig),
    }
    log = tmp_path / "operator.log"
    operator = Path(sys.executable).with_name("aischeduler-operator")
    with log.open("w") as out:
        proc = subprocess.Popen(
            [str(operator)], env={**os.environ, **env}, stdout=out, stderr=subprocess.STDOUT
        )
    custom = client.CustomObjectsApi(api)
    try:
        body = schedule_body("daily")
        body["spec"]["platform"] = {
            "url": "https://codemie.example.com",
            "credentialsSecretRef": {"name": "codemie-credentials"},
        }
        custom.create_namespaced_custom_object(GROUP, VERSION, team, PLURAL, body)
        status = wait_for(
            lambda: custom.get_namespaced_custom_object(GROUP, VERSION, team, PLURAL, "daily")[
                "status"
            ],
            lambda st: any(
                c["type"] == "Ready" and c["status"] == "True" for c in st.get("conditions", [])
            ),
            timeout=60,
            what=f"Ready=True from the operator (log: {log})",
        )
        assert status["phase"] == "Active"
        cronjobs = client.BatchV1Api(api).list_namespaced_cron_job(team).items
        assert [c.spec.schedule for c in cronjobs] == ["0 9 * * *"]
        # kopf's liveness endpoint answers 200 with its probes' results as JSON.
        healthz = wait_for(
            lambda: http_get(f"http://127.0.0.1:{health}/healthz"),
            lambda body: body is not None,
            timeout=30,
            what="/healthz to answer 200",
        )
        assert isinstance(json.loads(healthz), dict)
        events = wait_for(
            lambda: [
                e.reason
                for e in client.CoreV1Api(api).list_namespaced_event(team).items
                if e.involved_object.name == "daily"
            ],
            lambda reasons: "Scheduled" in reasons,
            timeout=30,
            what="the operator's Scheduled event",
        )
        assert "InvalidSpec" not in events
        exposition = http_get(f"http://127.0.0.1:{metrics}/metrics")
        assert 'aischeduler_schedules{phase="Active"}' in exposition
        assert "aischeduler_reconcile_errors_total 0.0" in exposition
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        if rel is not release:
            uninstall(cluster, api, rel)
            delete_namespace(api, rel.namespace)
        delete_namespace(api, team)
    text = log.read_text()
    # The reconciler logs refusals as "API error 403"; kopf warns when it cannot watch.
    assert "403" not in text, text[-3000:]
    assert "Forbidden" not in text, text[-3000:]
    assert "Not enough permissions" not in text, text[-3000:]
