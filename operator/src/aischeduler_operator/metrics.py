"""Prometheus metrics (served on /metrics, port AISCHED_METRICS_PORT)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

RUNS = Counter("aischeduler_runs_total", "Runs recorded in status.history, by result.", ["result"])
RUN_DURATION = Histogram(
    "aischeduler_run_duration_seconds",
    "Duration of finished runs.",
    buckets=(1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600, 86400),
)
SCHEDULES = Gauge("aischeduler_schedules", "AssistantSchedules by phase.", ["phase"])
RECONCILE_ERRORS = Counter(
    "aischeduler_reconcile_errors_total", "Reconciles that failed (retried with backoff)."
)
HISTORY_LAG = Histogram(
    "aischeduler_history_lag_seconds",
    "Time from a Job finishing to its history entry being written.",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 3600),
)
API_WRITES = Counter(
    "aischeduler_api_writes_total", "Writes the operator sent to the API.", ["verb", "resource"]
)

PHASES = ("Active", "Suspended", "Paused", "Completed", "Invalid")
for _phase in PHASES:
    SCHEDULES.labels(_phase).set(0)

_phases: dict[tuple[str, str], str] = {}
_lock = threading.Lock()


def set_phase(key: tuple[str, str], phase: str | None) -> None:
    """Tracks each schedule's phase (None: gone) and moves it between the gauge's labels:
    O(1), however many schedules there are."""
    with _lock:
        old = _phases.pop(key, None) if phase is None else _phases.get(key)
        if old == phase:
            return
        if phase is not None:
            _phases[key] = phase
            SCHEDULES.labels(phase).inc()
        if old is not None:
            SCHEDULES.labels(old).dec()


def tracked_phases() -> int:
    with _lock:
        return len(_phases)


class TrackedState(Collector):
    """``aischeduler_tracked_entries{state}``: how many entries the operator keeps per
    kind of per-schedule state (work queue, caches, bookkeeping), read at scrape time.
    Each is bounded by the live schedules and their objects; churn must not grow it."""

    def __init__(self) -> None:
        self.read: Callable[[], dict[str, int]] | None = None

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily(
            "aischeduler_tracked_entries",
            "Entries of per-schedule state the operator keeps, by kind of state.",
            labels=["state"],
        )
        for state, size in sorted((self.read() if self.read else {}).items()):
            family.add_metric([state], size)
        yield family


TRACKED = TrackedState()
REGISTRY.register(TRACKED)
