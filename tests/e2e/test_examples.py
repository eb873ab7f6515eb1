"""Every manifest in examples/ is accepted by a real API server with the CRD installed
(server-side dry run, then a real create in a fresh namespace), and the CRD's CEL rules
reject the documented mistakes with their message."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from aischeduler_operator.names import SCHEDULE_LABEL, owned_labels

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
CRD_NAME = "assistantschedules.aischeduler.io"


@pytest.fixture(scope="session")
def crd(cluster: Any) -> str:
    """The AssistantSchedule CRD from crds/, applied idempotently (server-side apply)."""
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds"))
    cluster.kubectl("wait", "--for=condition=Established", f"crd/{CRD_NAME}", "--timeout=60s")
    return CRD_NAME


def documents(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_examples_cover_the_documented_cases() -> None:
    names = {p.name for p in EXAMPLES}
    assert {
        "assistant-daily.yaml",
        "workflow-weekly.yaml",
        "one-time.yaml",
        "webhook.yaml",
        "openai.yaml",
        "suspended.yaml",
    } <= names
    assert any(n.startswith("secrets-") for n in names)
    # Every Secret a schedule names is shipped as a secrets-*.yaml example.
    shipped = {
        d["metadata"]["name"]
        for p in EXAMPLES
        if p.name.startswith("secrets-")
        for d in documents(p)
        if d["kind"] == "Secret"
    }
    for path in EXAMPLES:
        for doc in documents(path):
            if doc["kind"] == "AssistantSchedule":
                ref = doc["spec"]["platform"]["credentialsSecretRef"]["name"]
                assert ref in shipped, f"{path.name} names Secret {ref}, not in examples/"
    # ... and the README points at each of them.
    readme = (ROOT / "README.md").read_text()
    missing = [n for n in sorted(names) if f"examples/{n}" not in readme]
    assert missing == []


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_example_is_accepted(cluster: Any, crd: str, namespace: str, path: Path) -> None:
    dry = cluster.kubectl(
        "apply", "--server-side", "--dry-run=server", "-n", namespace, "-f", str(path)
    )
    assert "(server dry run)" in dry

    cluster.kubectl("create", "-n", namespace, "-f", str(path))
    for doc in documents(path):
        kind, name = doc["kind"], doc["metadata"]["name"]
        resource = CRD_NAME if kind == "AssistantSchedule" else kind.lower()
        stored = json.loads(cluster.kubectl("get", "-n", namespace, resource, name, "-o", "json"))
        assert stored["metadata"]["name"] == name
        if kind == "AssistantSchedule":
            spec = stored["spec"]
            # What the user wrote is kept, and the schema's defaults are filled in.
            assert spec.items() >= doc["spec"].items()
            assert spec["concurrencyPolicy"] in ("Allow", "Forbid", "Replace")
            assert "historyLimit" in spec and "suspend" in spec
    # The short name works for the documented commands.
    listed = cluster.kubectl("get", "asched", "-n", namespace, "-o", "name")
    schedules = [d for d in documents(path) if d["kind"] == "AssistantSchedule"]
    assert len(listed.split()) == len(schedules)


BAD = {
    "assistant-and-workflow": (
        {"assistant": {"id": "a"}, "workflow": {"id": "w"}, "schedule": "@daily"},
        "exactly one of spec.assistant or spec.workflow must be set",
    ),
    "neither-schedule-nor-run-at": (
        {"assistant": {"id": "a"}},
        "exactly one of spec.schedule or spec.runAt must be set",
    ),
}


@pytest.mark.parametrize("case", list(BAD))
def test_bad_schedule_is_rejected_with_the_cel_message(
    cluster: Any, crd: str, namespace: str, case: str
) -> None:
    spec, message = BAD[case]
    manifest = yaml.safe_dump(
        {
            "apiVersion": "aischeduler.io/v1alpha1",
            "kind": "AssistantSchedule",
            "metadata": {"name": case},
            "spec": spec,
        }
    )
    for args in (("apply", "--server-side", "--dry-run=server"), ("create",)):
        out = cluster.kubectl(*args, "-n", namespace, "-f", "-", input=manifest, check=False)
        assert "is invalid" in out, out
        assert message in out, out
    assert cluster.kubectl("get", "asched", "-n", namespace, "-o", "name").strip() == ""


def test_runner_egress_policy_selects_runner_pods_only(cluster: Any, namespace: str) -> None:
    """The NetworkPolicy example is valid (server-side dry run) and selects pods by the
    operator's own label, which every runner pod carries and podLabels cannot override."""
    path = ROOT / "examples" / "networkpolicy-runner-egress.yaml"
    dry = cluster.kubectl(
        "create", "--dry-run=server", "-n", namespace, "-f", str(path), "-o", "json"
    )
    policy = json.loads(dry)
    selector = policy["spec"]["podSelector"]["matchLabels"]
    assert selector.items() <= owned_labels("any-schedule").items()
    assert SCHEDULE_LABEL not in selector  # all schedules, not one
    assert set(policy["spec"]["policyTypes"]) == {"Ingress", "Egress"}
    assert "ingress" not in policy["spec"]  # nothing may connect to a runner
    ports = {(p["protocol"], p["port"]) for rule in policy["spec"]["egress"] for p in rule["ports"]}
    assert ports == {("UDP", 53), ("TCP", 53), ("TCP", 443)}
