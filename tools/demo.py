"""``make demo``: the operator's main job end to end.

Starts the embedded local control plane (or uses $KUBECONFIG with ``--kubeconfig``),
installs the CRD, starts the operator, applies the schedules from examples/, triggers a
run-now and prints ``kubectl get asched`` with results and one history entry.

On the local control plane runner pods are simulated by kwok: the demo gives each
example schedule a simulated runner result through ``runner.podAnnotations``. On a real
cluster nothing is simulated and the runner image really calls the platform."""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

from localcluster import LocalCluster
from localcluster.cluster import free_port

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


def example_documents(simulate: bool) -> list[dict[str, Any]]:
    docs: list[dict[str, Any]] = []
    for path in sorted((ROOT / "examples").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if not doc:
                continue
            if simulate and doc.get("kind") == "AssistantSchedule":
                runner = doc["spec"].setdefault("runner", {})
                runner.setdefault("podAnnotations", {})["sim.aischeduler.io/message"] = json.dumps(
                    SIMULATED_RESULT
                )
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


def run_demo(kubectl: Kubectl, kubeconfig: Path, simulate: bool, workdir: Path) -> None:
    say("installing the AssistantSchedule CRD")
    kubectl("apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds"))
    kubectl("wait", "--for=condition=Established", "crd/assistantschedules.aischeduler.io")
    kubectl(
        "apply",
        "-f",
        "-",
        stdin=yaml.safe_dump(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": NAMESPACE}}
        ),
    )

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
        docs = example_documents(simulate)
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
        entry = wait_for_history(kubectl, target)
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
        if simulate:
            say(
                "runner pods were simulated by kwok on the embedded control plane; "
                "run `make demo-real` with KUBECONFIG pointing at a real cluster for real calls"
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
            "scheduler, kwok)"
        )
        cluster = LocalCluster(args.bin, workdir / "cluster").start()
        try:
            run_demo(
                Kubectl(str(args.bin / "kubectl"), cluster.kubeconfig),
                cluster.kubeconfig,
                True,
                workdir,
            )
        finally:
            say("stopping the control plane")
            cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
