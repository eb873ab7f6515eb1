"""``make bench``: numbers, not pass/fail. Measures the pure core (decisions and schedule
maths per second) and, on the embedded control plane, the operator: time for N new
schedules to become Ready, API writes per new schedule and per idle resync, run-now
latency (annotation → history entry) and the operator's memory."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import timeit
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from kubernetes import client, config
from objects import NOW, job, pod, result, schedule  # tests/unit/objects.py: the test builders

from aischeduler_operator.plan import decide
from aischeduler_operator.schedule import load_time_zone, next_times, parse_schedule
from aischeduler_operator.settings import Settings
from localcluster import LocalCluster
from localcluster.cluster import free_port

ROOT = Path(__file__).resolve().parents[1]

GROUP, VERSION, PLURAL = "aischeduler.io", "v1alpha1", "assistantschedules"
SIM_RESULT = json.dumps(
    {
        "result": "Succeeded",
        "message": "ok",
        "output": "bench",
        "durationSeconds": 0.5,
        "attempts": 1,
    }
)


def core_numbers() -> dict[str, float]:
    settings = Settings(platform_url="https://x.example.com", credentials_secret="c")  # noqa: S106
    history = [
        {"job": f"h-{i}", "trigger": "Scheduled", "result": "Succeeded", "message": "ok"}
        for i in range(10)
    ]
    cr = schedule(
        status={
            "observedGeneration": 1,
            "history": history,
            "scheduleWatermark": "2026-03-10T11:00:00Z",
        }
    )
    jobs = [job(f"daily-{i}", state="Succeeded", recorded=True, finalizer=False) for i in range(3)]
    pods = [pod(f"daily-{i}", message=result()) for i in range(3)]
    n = 2000
    decide_s = timeit.timeit(lambda: decide(cr, jobs, pods, settings, NOW), number=n) / n
    tz = load_time_zone("Europe/Berlin")
    cron = parse_schedule("*/15 8-18 * * 1-5")
    start = datetime(2026, 3, 27, tzinfo=UTC)
    next_s = timeit.timeit(lambda: next_times(cron, tz, start, 5), number=n) / n
    return {"decide_per_second": 1 / decide_s, "next_5_times_per_second": 1 / next_s}


class Bench:
    def __init__(self, kubeconfig: Path, workdir: Path) -> None:
        self.api = config.new_client_from_config(config_file=str(kubeconfig))
        self.custom = client.CustomObjectsApi(self.api)
        self.kubeconfig = kubeconfig
        self.metrics_port = free_port()
        self.log = workdir / "operator.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start_operator(self) -> None:
        env = {
            **os.environ,
            "KUBECONFIG": str(self.kubeconfig),
            "AISCHED_DEFAULT_PLATFORM_URL": "https://codemie.example.com/api",
            "AISCHED_DEFAULT_CREDENTIALS_SECRET": "codemie-credentials",
            "AISCHED_METRICS_PORT": str(self.metrics_port),
            "AISCHED_HEALTH_PORT": "0",
            "AISCHED_LOG_FORMAT": "text",
        }
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                [str(ROOT / ".venv" / "bin" / "aischeduler-operator")],
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        self.wait(lambda: self.writes() >= 0, 60, "operator metrics")

    def stop_operator(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=30)

    def writes_by_kind(self) -> dict[str, float]:
        try:
            with urllib.request.urlopen(
                f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5
            ) as resp:
                text = resp.read().decode()
        except OSError:
            return {}
        return {
            line.rsplit(" ", 1)[0][len("aischeduler_api_writes_total") :]: float(
                line.rsplit(" ", 1)[1]
            )
            for line in text.splitlines()
            if line.startswith("aischeduler_api_writes_total{")
        }

    def writes(self) -> float:
        by_kind = self.writes_by_kind()
        return sum(by_kind.values()) if by_kind or self.proc else -1

    def rss_mib(self) -> float:
        if self.proc is None:
            return 0.0
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        return 0.0

    @staticmethod
    def wait(check: Any, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if check():
                return
            time.sleep(0.1)
        raise SystemExit(f"bench: timed out waiting for {what}")

    def schedules(self, ns: str) -> list[dict[str, Any]]:
        listed = self.custom.list_namespaced_custom_object(GROUP, VERSION, ns, PLURAL)
        items: list[dict[str, Any]] = listed["items"]  # type: ignore[index]
        return items

    def ready(self, ns: str, n: int) -> bool:
        done = [
            s
            for s in self.schedules(ns)
            if any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in s.get("status", {}).get("conditions", [])
            )
        ]
        return len(done) >= n

    def run(self, count: int, runs: int) -> dict[str, float]:
        ns = "bench"
        client.CoreV1Api(self.api).create_namespace({"metadata": {"name": ns}})
        self.start_operator()
        out: dict[str, float] = {}
        before = self.writes()
        t0 = time.monotonic()
        for i in range(count):
            self.custom.create_namespaced_custom_object(
                GROUP,
                VERSION,
                ns,
                PLURAL,
                {
                    "apiVersion": f"{GROUP}/{VERSION}",
                    "kind": "AssistantSchedule",
                    "metadata": {"name": f"s-{i:03d}"},
                    "spec": {
                        "assistant": {"id": "a"},
                        "schedule": f"{i % 60} 3 * * *",
                        "timeZone": "Europe/Berlin",
                        "runner": {
                            "podAnnotations": {
                                "sim.aischeduler.io/message": SIM_RESULT,
                                "sim.aischeduler.io/duration": "0s",
                            }
                        },
                    },
                },
            )
        self.wait(lambda: self.ready(ns, count), 300, f"{count} schedules Ready")
        out["schedules_created"] = count
        out["seconds_until_all_ready"] = time.monotonic() - t0
        quiet = time.monotonic() + 3
        self.wait(lambda: time.monotonic() > quiet, 10, "settling")
        out["api_writes_per_new_schedule"] = (self.writes() - before) / count
        print("writes after create:", self.writes_by_kind(), file=sys.stderr)
        out["operator_rss_mib_after_create"] = self.rss_mib()

        self.stop_operator()
        self.start_operator()
        settle = time.monotonic() + 5  # the re-list is done within a second or two
        self.wait(lambda: time.monotonic() > settle, 10, "resync")
        out["api_writes_idle_resync_all_schedules"] = self.writes()
        print("writes at resync:", self.writes_by_kind(), file=sys.stderr)

        latencies = []
        for i in range(runs):
            name = f"s-{i % count:03d}"
            before_count = self.history_len(ns, name)
            start = time.monotonic()
            self.custom.patch_namespaced_custom_object(
                GROUP,
                VERSION,
                ns,
                PLURAL,
                name,
                {"metadata": {"annotations": {"aischeduler.io/run-now": f"bench-{i}"}}},
            )
            self.wait(
                lambda n=name, b=before_count: self.history_len(ns, n) > b, 120, f"run-now {i}"
            )
            latencies.append(time.monotonic() - start)
        out["run_now_to_history_p50_seconds"] = statistics.median(latencies)
        out["run_now_to_history_max_seconds"] = max(latencies)
        out["operator_rss_mib_after_runs"] = self.rss_mib()
        self.stop_operator()
        return out

    def history_len(self, ns: str, name: str) -> int:
        obj = self.custom.get_namespaced_custom_object(GROUP, VERSION, ns, PLURAL, name)
        return len(obj.get("status", {}).get("history", []))  # type: ignore[union-attr]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bin", type=Path, required=True)
    parser.add_argument("--schedules", type=int, default=50)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    numbers: dict[str, float] = core_numbers()
    with tempfile.TemporaryDirectory(prefix="aischeduler-bench-") as tmp:
        # Operator numbers on simulated nodes only: no real node, no image builds.
        cluster = LocalCluster(args.bin, Path(tmp) / "cluster", real_node=False).start()
        bench = Bench(cluster.kubeconfig, Path(tmp))
        try:
            subprocess.run(
                [
                    str(args.bin / "kubectl"),
                    f"--kubeconfig={cluster.kubeconfig}",
                    "apply",
                    "--server-side",
                    "-f",
                    str(ROOT / "crds"),
                ],
                check=True,
                capture_output=True,
            )
            subprocess.run(
                [
                    str(args.bin / "kubectl"),
                    f"--kubeconfig={cluster.kubeconfig}",
                    "wait",
                    "--for=condition=Established",
                    "crd/assistantschedules.aischeduler.io",
                ],
                check=True,
                capture_output=True,
            )
            numbers.update(bench.run(args.schedules, args.runs))
        finally:
            bench.stop_operator()
            cluster.stop()
    print(f"{'metric':<42} value")
    for key, value in numbers.items():
        print(f"{key:<42} {value:,.3f}")
    print(json.dumps({"bench": numbers, "at": datetime.now(UTC).isoformat()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
