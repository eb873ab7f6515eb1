"""Pod create → history entry, for real runs: a measurement, printed with -s (the test
asserts only that every run is recorded, never how fast).

Two watches stamp, on this machine's clock, when each run's pod first appears (ADDED) and
when the run's entry first appears in the schedule's status.history; the run-nows go one
after another, so every sample is a run with nothing else of ours on the node."""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from kubernetes import client, watch
from schedules import GROUP, PLURAL, VERSION, Schedules
from test_real_runs import RUN_TIMEOUT, codemie, real_body

from platformdouble import DoubleServer

SAMPLES = 5
JOB_LABEL = "batch.kubernetes.io/job-name"


class Stamps:
    """First-seen times by Job name, filled by a watch in a thread of its own."""

    def __init__(self, stream: Callable[[watch.Watch], Iterator[dict[str, Any]]]) -> None:
        self.first: dict[str, float] = {}
        self._stream = stream
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Stamps:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=15)

    def _run(self) -> None:
        while not self._stop.is_set():
            w = watch.Watch()
            for event in self._stream(w):
                now = time.monotonic()
                for job in jobs_in(event["raw_object"]):
                    self.first.setdefault(job, now)
                if self._stop.is_set():
                    w.stop()


def jobs_in(obj: dict[str, Any]) -> list[str]:
    """The Job a pod belongs to, or the Jobs a schedule's history records."""
    if obj.get("kind") == "AssistantSchedule":
        return [h["job"] for h in (obj.get("status") or {}).get("history") or []]
    job = (obj.get("metadata", {}).get("labels") or {}).get(JOB_LABEL)
    return [job] if job else []


def test_pod_create_to_history_entry_latency(
    rs: Schedules, runner_image: str, double: DoubleServer
) -> None:
    rs.create(real_body("latency", runner_image, "codemie", codemie(double), "codemie-credentials"))
    rs.wait_ready("latency")
    api = rs.core.api_client
    core, custom = client.CoreV1Api(api), client.CustomObjectsApi(api)

    def pods(w: watch.Watch) -> Iterator[dict[str, Any]]:
        return w.stream(
            core.list_namespaced_pod,
            rs.namespace,
            timeout_seconds=5,
        )

    def schedules(w: watch.Watch) -> Iterator[dict[str, Any]]:
        return w.stream(
            custom.list_namespaced_custom_object,
            GROUP,
            VERSION,
            rs.namespace,
            PLURAL,
            timeout_seconds=5,
        )

    with Stamps(pods) as created, Stamps(schedules) as recorded:
        for sample in range(1, SAMPLES + 1):
            rs.run_now("latency", f"sample-{sample}")
            rs.wait_runs("latency", sample, timeout=RUN_TIMEOUT)
    history = rs.get("latency")["status"]["history"]
    assert [h["result"] for h in history] == ["Succeeded"] * SAMPLES, history
    latencies = sorted(recorded.first[h["job"]] - created.first[h["job"]] for h in history)
    print(
        f"\npod create -> history entry over {SAMPLES} real runs: "
        f"min {latencies[0]:.2f}s, median {statistics.median(latencies):.2f}s, "
        f"max {latencies[-1]:.2f}s; samples {', '.join(f'{x:.2f}' for x in latencies)}"
    )
