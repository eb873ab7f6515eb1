"""The Helm chart, rendered with the pinned helm from tools/build.sh: lint, what it renders
for the documented values, that the operator's own settings parser accepts the
environment it sets, and that deploy/install.yaml is not stale."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from aischeduler_operator.settings import ENV, load_settings

ROOT = Path(__file__).resolve().parents[2]
CHART = ROOT / "charts" / "aischeduler"


@pytest.fixture(scope="module")
def helm() -> str:
    out = subprocess.run(
        ["bash", str(ROOT / "tools" / "build.sh")], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, f"tools/build.sh failed:\n{out.stderr[-4000:]}"
    return str(Path(out.stdout.strip().splitlines()[-1]) / "helm")


def template(
    helm: str, tmp_path: Path, values: dict[str, Any] | None = None, *extra: str
) -> subprocess.CompletedProcess[str]:
    values_file = tmp_path / "values.yaml"
    values_file.write_text(yaml.safe_dump(values or {}))
    return subprocess.run(
        [helm, "template", "rel", str(CHART), "--namespace", "ops", "-f", str(values_file), *extra],
        capture_output=True,
        text=True,
        check=False,
    )


def render(helm: str, tmp_path: Path, values: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    out = template(helm, tmp_path, values)
    assert out.returncode == 0, out.stderr
    return [d for d in yaml.safe_load_all(out.stdout) if d]


def find(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> list[dict[str, Any]]:
    return [
        d for d in docs if d["kind"] == kind and (name is None or d["metadata"]["name"] == name)
    ]


def one(docs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    found = find(docs, kind, name)
    assert len(found) == 1, f"expected one {kind} {name or ''}, got {len(found)}"
    return found[0]


def container(docs: list[dict[str, Any]]) -> dict[str, Any]:
    containers = one(docs, "Deployment")["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    c: dict[str, Any] = containers[0]
    return c


def env_of(docs: list[dict[str, Any]]) -> dict[str, str]:
    return {e["name"]: e.get("value", "") for e in container(docs)["env"] if "value" in e}


def rules(role: dict[str, Any]) -> set[tuple[str, str, str]]:
    """Flattened (apiGroup, resource, verb) triples."""
    return {
        (group, resource, verb)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }


def triples(group: str, resources: list[str], verbs: list[str]) -> set[tuple[str, str, str]]:
    return {(group, r, v) for r in resources for v in verbs}


WORKLOAD_RULES = (
    triples("aischeduler.io", ["assistantschedules"], ["get", "list", "watch", "patch", "update"])
    | triples("aischeduler.io", ["assistantschedules/status"], ["get", "patch", "update"])
    | triples("aischeduler.io", ["assistantschedules/finalizers"], ["update"])
    | triples(
        "batch",
        ["cronjobs", "jobs"],
        ["get", "list", "watch", "create", "update", "patch", "delete"],
    )
    | triples("", ["pods"], ["get", "list", "watch"])
    | triples("", ["events"], ["create", "patch"])
    | triples("events.k8s.io", ["events"], ["create", "patch"])
)
CLUSTER_RULES = triples("", ["namespaces"], ["get", "list", "watch"]) | triples(
    "apiextensions.k8s.io", ["customresourcedefinitions"], ["get", "list", "watch"]
)

LINT_VARIANTS = [
    pytest.param({}, id="defaults"),
    pytest.param({"watchNamespaces": ["team-a", "team-b"]}, id="watch-namespaces"),
    pytest.param({"replicaCount": 2}, id="peering"),
    pytest.param({"metrics": {"serviceMonitor": {"enabled": True}}}, id="service-monitor"),
    pytest.param({"metrics": {"prometheusRule": {"enabled": True}}}, id="prometheus-rule"),
]


@pytest.mark.parametrize("values", LINT_VARIANTS)
@pytest.mark.parametrize("strict", [False, True], ids=["lint", "lint-strict"])
def test_helm_lint(helm: str, tmp_path: Path, values: dict[str, Any], strict: bool) -> None:
    values_file = tmp_path / "values.yaml"
    values_file.write_text(yaml.safe_dump(values))
    args = [helm, "lint", str(CHART), "-f", str(values_file)] + (["--strict"] if strict else [])
    out = subprocess.run(args, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 chart(s) linted, 0 chart(s) failed" in out.stdout
    assert "[WARNING]" not in out.stdout and "[ERROR]" not in out.stdout


def test_install_yaml_is_current(helm: str) -> None:
    out = subprocess.run(
        ["bash", str(ROOT / "deploy" / "render.sh"), helm],
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    current = (ROOT / "deploy" / "install.yaml").read_text()
    assert out.stdout == current, "deploy/install.yaml is stale: run `make manifests`"


def test_install_yaml_contents() -> None:
    docs = [d for d in yaml.safe_load_all((ROOT / "deploy" / "install.yaml").read_text()) if d]
    namespace = one(docs, "Namespace")
    assert namespace["metadata"]["name"] == "aischeduler-system"
    assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    crd_file = ROOT / "crds" / "aischeduler.io_assistantschedules.yaml"
    assert one(docs, "CustomResourceDefinition") == yaml.safe_load(crd_file.read_text())
    cluster_scoped = {"Namespace", "CustomResourceDefinition", "ClusterRole", "ClusterRoleBinding"}
    for doc in docs:
        if doc["kind"] not in cluster_scoped:
            assert doc["metadata"]["namespace"] == "aischeduler-system", doc["kind"]


def test_default_render(helm: str, tmp_path: Path) -> None:
    docs = render(helm, tmp_path)
    assert sorted((d["kind"], d["metadata"]["name"]) for d in docs) == sorted(
        [
            ("ServiceAccount", "rel-aischeduler"),
            ("ClusterRole", "rel-aischeduler"),
            ("ClusterRoleBinding", "rel-aischeduler"),
            ("ClusterRole", "aischeduler-admin"),
            ("ClusterRole", "aischeduler-viewer"),
            ("Service", "rel-aischeduler-metrics"),
            ("Deployment", "rel-aischeduler"),
        ]
    )
    deployment = one(docs, "Deployment")
    assert deployment["spec"]["replicas"] == 1
    # A standalone kopf operator must never run twice during a rollout.
    assert deployment["spec"]["strategy"] == {"type": "Recreate"}
    assert container(docs)["image"] == "ghcr.io/aischeduler/operator:0.1.0"
    assert env_of(docs)["AISCHED_RUNNER_IMAGE"] == "ghcr.io/aischeduler/runner:0.1.0"
    assert "AISCHED_PEERING" not in env_of(docs)

    binding = one(docs, "ClusterRoleBinding")
    assert binding["roleRef"]["name"] == "rel-aischeduler"
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": "rel-aischeduler", "namespace": "ops"}
    ]
    service = one(docs, "Service")
    assert service["spec"]["ports"] == [
        {"name": "metrics", "port": 8080, "targetPort": "metrics", "protocol": "TCP"}
    ]
    assert service["spec"]["selector"].items() <= (
        deployment["spec"]["template"]["metadata"]["labels"].items()
    )


def test_operator_pod_meets_restricted_pod_security(helm: str, tmp_path: Path) -> None:
    docs = render(helm, tmp_path)
    pod = one(docs, "Deployment")["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["runAsUser"] == 65532
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    c = container(docs)
    assert c["securityContext"] == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert c["resources"]["requests"] and c["resources"]["limits"]["memory"]
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"metrics": 8080, "health": 8081}
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"]  # noqa: S108
    pod_id = next(e for e in c["env"] if e["name"] == "POD_ID")
    assert pod_id["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"


def test_operator_rbac_is_least_privilege(helm: str, tmp_path: Path) -> None:
    role = one(render(helm, tmp_path), "ClusterRole", "rel-aischeduler")
    assert rules(role) == WORKLOAD_RULES | CLUSTER_RULES
    assert not any(resource == "secrets" for _, resource, _ in rules(role))
    assert not any("*" in triple for triple in rules(role))


def test_user_roles_aggregate_into_builtin_roles(helm: str, tmp_path: Path) -> None:
    docs = render(helm, tmp_path)
    admin = one(docs, "ClusterRole", "aischeduler-admin")
    viewer = one(docs, "ClusterRole", "aischeduler-viewer")
    aggregate = "rbac.authorization.k8s.io/aggregate-to-"
    assert {k for k in admin["metadata"]["labels"] if k.startswith(aggregate)} == {
        aggregate + "admin"
    }
    assert {k for k in viewer["metadata"]["labels"] if k.startswith(aggregate)} == {
        aggregate + "edit",
        aggregate + "view",
    }
    assert triples(
        "aischeduler.io",
        ["assistantschedules"],
        ["get", "list", "watch", "create", "update", "patch", "delete"],
    ) <= rules(admin)
    assert ("aischeduler.io", "assistantschedules/status", "get") in rules(admin)
    assert rules(viewer) == triples(
        "aischeduler.io",
        ["assistantschedules", "assistantschedules/status"],
        ["get", "list", "watch"],
    )


def test_values_become_operator_settings(helm: str, tmp_path: Path) -> None:
    values = {
        "defaults": {
            "platform": {
                "type": "openai",
                "url": "https://llm.example.com",
                "credentialsSecret": "llm-key",
            },
            "timeZone": "Europe/Berlin",
        },
        "runner": {
            "image": {"repository": "registry.example.com/runner", "tag": "1.2.3"},
            "resources": {"requests": {"cpu": "10m"}, "limits": {"memory": "128Mi"}},
            "serviceAccountName": "runner",
        },
        "jobsHistoryLimit": 5,
        "watchNamespaces": ["team-a", "team-b"],
        "scheduleSelector": "aischeduler.io/shard=a",
        "logLevel": "DEBUG",
        "logFormat": "text",
        "metrics": {"port": 9090},
        "health": {"port": 9091},
        "peering": {"enabled": True, "name": "sched-peers"},
        "extraEnv": [{"name": "HTTPS_PROXY", "value": "http://proxy:3128"}],
    }
    docs = render(helm, tmp_path, values)
    env = env_of(docs)
    assert env == {
        "AISCHED_DEFAULT_PLATFORM_TYPE": "openai",
        "AISCHED_DEFAULT_PLATFORM_URL": "https://llm.example.com",
        "AISCHED_DEFAULT_CREDENTIALS_SECRET": "llm-key",
        "AISCHED_DEFAULT_TIME_ZONE": "Europe/Berlin",
        "AISCHED_RUNNER_IMAGE": "registry.example.com/runner:1.2.3",
        "AISCHED_RUNNER_RESOURCES": env["AISCHED_RUNNER_RESOURCES"],
        "AISCHED_RUNNER_SERVICE_ACCOUNT": "runner",
        "AISCHED_JOBS_HISTORY_LIMIT": "5",
        "AISCHED_WATCH_NAMESPACES": "team-a,team-b",
        "AISCHED_SCHEDULE_SELECTOR": "aischeduler.io/shard=a",
        "AISCHED_METRICS_PORT": "9090",
        "AISCHED_HEALTH_PORT": "9091",
        "AISCHED_LOG_LEVEL": "DEBUG",
        "AISCHED_LOG_FORMAT": "text",
        "AISCHED_PEERING": "sched-peers",
        "HTTPS_PROXY": "http://proxy:3128",
    }
    # Every operator setting is reachable from the chart's values ...
    assert set(ENV) <= set(env)
    # ... and the operator's own parser accepts what the chart sets.
    settings = load_settings(env)
    assert settings.platform_type == "openai"
    assert settings.watch_namespaces == ("team-a", "team-b")
    # Helm merges maps with the defaults (a key set to null drops a default).
    assert json.loads(env["AISCHED_RUNNER_RESOURCES"]) == {
        "requests": {"cpu": "10m", "memory": "64Mi"},
        "limits": {"memory": "128Mi"},
    }
    assert settings.runner_resources == json.loads(env["AISCHED_RUNNER_RESOURCES"])
    assert settings.health_port == 9091
    c = container(docs)
    assert {p["name"]: p["containerPort"] for p in c["ports"]} == {"metrics": 9090, "health": 9091}


def test_default_env_is_valid_operator_settings(helm: str, tmp_path: Path) -> None:
    env = env_of(render(helm, tmp_path))
    assert set(env) <= set(ENV) | {"POD_ID"}
    settings = load_settings(env)
    assert settings.time_zone == "UTC"
    assert settings.watch_namespaces == ()
    assert settings.runner_image == "ghcr.io/aischeduler/runner:0.1.0"
    assert settings.metrics_port == 8080 and settings.health_port == 8081


def test_watch_namespaces_use_namespaced_roles(helm: str, tmp_path: Path) -> None:
    docs = render(helm, tmp_path, {"watchNamespaces": ["team-a", "team-b"]})
    roles = find(docs, "Role")
    assert sorted(r["metadata"]["namespace"] for r in roles) == ["team-a", "team-b"]
    for role in roles:
        assert rules(role) == WORKLOAD_RULES
    bindings = find(docs, "RoleBinding")
    assert sorted(b["metadata"]["namespace"] for b in bindings) == ["team-a", "team-b"]
    for binding in bindings:
        assert binding["roleRef"] == {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "Role",
            "name": "rel-aischeduler",
        }
        assert binding["subjects"][0]["namespace"] == "ops"
    # Cluster-wide only the reads kopf makes; no workload access outside the namespaces.
    assert rules(one(docs, "ClusterRole", "rel-aischeduler")) == CLUSTER_RULES


def test_more_than_one_replica_turns_on_kopf_peering(helm: str, tmp_path: Path) -> None:
    docs = render(helm, tmp_path, {"replicaCount": 3})
    assert env_of(docs)["AISCHED_PEERING"] == "aischeduler"
    assert "strategy" not in one(docs, "Deployment")["spec"]
    peering_crds = CHART / "crds" / "kopf.dev_peerings.yaml"
    crds = {d["metadata"]["name"]: d for d in yaml.safe_load_all(peering_crds.read_text()) if d}
    assert set(crds) == {"clusterkopfpeerings.kopf.dev", "kopfpeerings.kopf.dev"}
    assert crds["clusterkopfpeerings.kopf.dev"]["spec"]["scope"] == "Cluster"
    for crd in crds.values():
        status = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["status"]
        assert status["x-kubernetes-preserve-unknown-fields"] is True
    peering = one(docs, "ClusterKopfPeering", "aischeduler")
    # An ordinary object: Helm installs crds/ (and waits for them) before mapping templates.
    assert "helm.sh/hook" not in (peering["metadata"].get("annotations") or {})
    assert triples("kopf.dev", ["clusterkopfpeerings"], ["get", "list", "watch", "patch"]) <= rules(
        one(docs, "ClusterRole", "rel-aischeduler")
    )


def test_namespaced_peering(helm: str, tmp_path: Path) -> None:
    docs = render(
        helm,
        tmp_path,
        {"replicaCount": 2, "watchNamespaces": ["team-a"]},
    )
    assert not find(docs, "CustomResourceDefinition")
    assert not find(docs, "ClusterKopfPeering")
    assert one(docs, "KopfPeering")["metadata"]["namespace"] == "team-a"
    assert ("kopf.dev", "kopfpeerings", "patch") in rules(one(docs, "Role"))


def test_service_monitor_is_optional(helm: str, tmp_path: Path) -> None:
    assert not find(render(helm, tmp_path), "ServiceMonitor")
    docs = render(
        helm,
        tmp_path,
        {"metrics": {"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}}},
    )
    monitor = one(docs, "ServiceMonitor")
    assert monitor["metadata"]["labels"]["release"] == "prom"
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    assert monitor["spec"]["selector"]["matchLabels"].items() <= (
        one(docs, "Service")["metadata"]["labels"].items()
    )


@pytest.mark.parametrize(
    ("values", "error"),
    [
        ({"logFormat": "xml"}, "/logFormat"),
        ({"logLevel": "TRACE"}, "/logLevel"),
        ({"defaults": {"platform": {"type": "bedrock"}}}, "/defaults/platform/type"),
        ({"defaults": {"platform": {"url": "ftp://x"}}}, "/defaults/platform/url"),
        ({"watchNamespaces": ["Team_A"]}, "/watchNamespaces/0"),
        ({"metrics": {"port": 0}}, "/metrics/port"),
        ({"replicaCount": "two"}, "/replicaCount"),
        ({"jobsHistoryLimit": 0}, "/jobsHistoryLimit"),
        ({"unknownKey": True}, "unknownKey"),
    ],
)
def test_schema_rejects_bad_values(
    helm: str, tmp_path: Path, values: dict[str, Any], error: str
) -> None:
    out = template(helm, tmp_path, values)
    assert out.returncode != 0
    assert error in out.stderr


def test_every_value_is_documented() -> None:
    """Each key in values.yaml has a comment line right above it."""
    lines = (CHART / "values.yaml").read_text().splitlines()
    undocumented = []
    for i, line in enumerate(lines):
        if re.match(r"^\s*[A-Za-z][\w.-]*:", line):
            above = lines[i - 1].strip() if i else ""
            if not above.startswith("#"):
                undocumented.append(line.strip())
    assert undocumented == []


def test_readme_documents_every_setting() -> None:
    readme = (ROOT / "README.md").read_text()
    assert [var for var in ENV if f"`{var}`" not in readme] == []
