"""``make demo``: the operator's main job end to end.

Starts the embedded local control plane (or uses $KUBECONFIG with ``--kubeconfig``),
installs the CRD, starts the operator, applies the schedules from examples/, triggers a
run-now and prints ``kubectl get asched`` with results and one history entry.

On the local control plane the runs are real when the host allows the real node: the
runner image built here runs in real pods on it and calls the platform doubles
(tools/platformdouble) served on the node's address; the example Secrets get the doubles'
credentials. Otherwise runner pods are simulated by kwok: the demo gives each example
schedule a simulated runner result through ``runner.podAnnotations``. With
``--kubeconfig`` nothing is simulated and the runner image really calls the platform."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from localcluster import LocalCluster, realnode
from localcluster.cluster import free_port
from platformdouble import API_KEY, SIGNING_SECRET, TOKEN, DoubleServer

ROOT = Path(__file__).resolve().parents[1]
NAMESPACE = "aischeduler-demo"
SIMULATED_RESULT = {
    "result": "Succeeded",
    "message": "answered in 1 attempt",
    "output": "Yesterday: 7 PRs merged, 1 incident (resolved). (simulated by kwok)",
    "conversationId": "demo-conversation",
    "tokensUsed": 512,
    "durationSeconds": 2.0,
    "attempts": 1,
}


def say(text: str) -> None:
    print(f"==> {text}", flush=True)


class Kubectl:
    def __init__(self, binary: str, kubeconfig: Path) -> None:
        self.base = [binary, f"--kubeconfig={kubeconfig}"]

    def __call__(self, *args: str, stdin: str | None = None) -> str:
        out = subprocess.run(
            [*self.base, *args], input=stdin, capture_output=True, text=True, check=False
        )
        if out.returncode != 0:
            raise SystemExit(f"kubectl {' '.join(args)} failed:\n{out.stderr}")
        return out.stdout


@dataclass(frozen=True)
class RealMode:
    """Where real runner pods find their image and the platform doubles."""

    runner_image: str
    double_url: str

    def platform_url(self, kind: str, name: str) -> str:
        return {
            "codemie": f"{self.double_url}/codemie",
            "openai": f"{self.double_url}/openai",
            "webhook": f"{self.double_url}/webhook/{name}",
        }[kind]

    def secret_data(self, name: str) -> dict[str, str]:
        """The doubles' credentials in place of the examples' placeholders."""
        return {
            "codemie-credentials": {"token": TOKEN},
            "codemie-keycloak-credentials": {
                "auth-server-url": f"{self.double_url}/keycloak",
                "realm": "codemie",
                "client-id": "aischeduler-demo",
                "client-secret": "demo-client-secret",
            },
            "openai-credentials": {"api-key": API_KEY},
            "webhook-credentials": {"signing-secret": SIGNING_SECRET},
        }[name]


def example_documents(real: RealMode | None) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc:
                continue
            name = doc["metadata"]["name"]
            if doc.get("kind") == "AssistantSchedule":
                spec = doc["spec"]
                runner = spec.setdefault("runner", {})
                if real is None:
                    runner.setdefault("podAnnotations", {})["sim.aischeduler.io/message"] = (
                        json.dumps(SIMULATED_RESULT)
                    )
                else:
                    runner["image"] = real.runner_image
                    platform = spec["platform"]
                    platform["url"] = real.platform_url(platform["type"], name)
            elif doc.get("kind") == "Secret" and real is not None:
                doc["stringData"] = real.secret_data(name)
            doc.setdefault("metadata", {})["namespace"] = NAMESPACE
            docs.append(doc)
    return docs


def wait_for_history(kubectl: Kubectl, name: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    last: dict[str, Any] = {}
    while time.monotonic() < deadline:
        last = json.loads(kubectl("get", "asched", name, "-n", NAMESPACE, "-o", "json"))
        history = last.get("status", {}).get("history") or []
        if history:
            entry: dict[str, Any] = history[0]
            return entry
        time.sleep(0.5)
    raise SystemExit(f"no run recorded for {name} in {timeout:.0f}s; status: {last.get('status')}")


def namespace(real: RealMode | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": NAMESPACE}
    if real is not None:
        # Its pods go to the real node, and the kubelet gets restricted pods only.
        meta["annotations"] = realnode.REAL_NAMESPACE
        meta["labels"] = {"pod-security.kubernetes.io/enforce": "restricted"}
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def run_demo(
    kubectl: Kubectl, kubeconfig: Path, simulate: bool, workdir: Path, real: RealMode | None = None
) -> None:
    say("installing the AssistantSchedule CRD")
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds"))
    kubectl("wait", "--for=condition=Established", "crd/assistantschedules.aischeduler.io")
    kubectl("apply", "-f", "-", stdin=yaml.safe_dump(namespace(real)))

    say("starting the operator (logs: %s)" % (workdir / "operator.log"))
    env = {
        **os.environ,
        "KUBECONFIG": str(kubeconfig),
        "AISCHED_LOG_FORMAT": "text",
        "AISCHED_METRICS_PORT": str(free_port()),
        "AISCHED_HEALTH_PORT": str(free_port()),
    }
    with (workdir / "operator.log").open("wb") as log:
        operator = subprocess.Popen(
            [str(ROOT / ".venv" / "bin" / "aischeduler-operator")],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        say(f"applying examples/ into namespace {NAMESPACE}")
        docs = example_documents(real)
        kubectl("apply", "-f", "-", stdin=yaml.safe_dump_all(docs))
        schedules = [d["metadata"]["name"] for d in docs if d["kind"] == "AssistantSchedule"]
        for name in schedules:
            kubectl(
                "wait", "--for=condition=Ready", "--timeout=60s", "-n", NAMESPACE, f"asched/{name}"
            )
        target = "daily-standup-summary" if "daily-standup-summary" in schedules else schedules[0]
        say(f"run now: kubectl annotate asched {target} aischeduler.io/run-now=<timestamp>")
        kubectl(
            "annotate",
            "asched",
            target,
            "-n",
            NAMESPACE,
            "--overwrite",
            f"aischeduler.io/run-now={int(time.time())}",
        )
        started = time.monotonic()
        entry = wait_for_history(kubectl, target)
        recorded = time.monotonic() - started
        print()
        say(f"kubectl get asched -n {NAMESPACE}")
        print(kubectl("get", "asched", "-n", NAMESPACE))
        say(f"newest history entry of {target}")
        print(json.dumps(entry, indent=2))
        print()
        say("events")
        print(
            kubectl(
                "get",
                "events",
                "-n",
                NAMESPACE,
                "--field-selector",
                f"involvedObject.name={target}",
                "--sort-by=.lastTimestamp",
            )
        )
        if real is not None:
            say(f"kubectl logs job/{entry['job']} (the real runner's JSON log lines)")
            print(kubectl("logs", "-n", NAMESPACE, f"job/{entry['job']}"))
            say(
                f"REAL mode: the runner image {real.runner_image} ran in a real pod on "
                f"{realnode.NAME} (kubelet + containerd) and called the platform double at "
                f"{real.double_url}; run-now -> history entry in {recorded:.1f}s"
            )
        elif simulate:
            say(
                "SIMULATED mode: runner pods were played by kwok on the embedded control plane "
                "(no real node: see why above); `make demo-real` with KUBECONFIG pointing at a "
                "real cluster makes real calls"
            )
    finally:
        operator.terminate()
        operator.wait(timeout=30)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bin", type=Path, help="control plane binaries (tools/build.sh)")
    parser.add_argument("--kubeconfig", type=Path, help="use this cluster instead (runs for real)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="aischeduler-demo-") as tmp:
        workdir = Path(tmp)
        if args.kubeconfig:
            run_demo(Kubectl("kubectl", args.kubeconfig), args.kubeconfig, False, workdir)
            return 0
        if args.bin is None:
            parser.error("--bin is required for the local control plane")
        say(
            "starting the embedded control plane (etcd, kube-apiserver, controller-manager, "
            "scheduler, kwok, and a real kubelet + containerd where the host allows)"
        )
        cluster = LocalCluster(args.bin, workdir / "cluster", python=sys.executable).start()
        double: DoubleServer | None = None
        try:
            real = None
            if cluster.real is not None:
                double = DoubleServer((cluster.real.ip, 0)).start()
                real = RealMode(cluster.real.images["runner"].ref, double.url)
                say(f"real node {realnode.NAME} is Ready; platform doubles at {double.url}")
            else:
                say(f"no real node ({cluster.real_node_skipped}): kwok simulates the runs")
            run_demo(
                Kubectl(str(args.bin / "kubectl"), cluster.kubeconfig),
                cluster.kubeconfig,
                real is None,
                workdir,
                real,
            )
        finally:
            say("stopping the control plane (and restoring the host)")
            if double is not None:
                double.stop()
            cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
