"""Prometheus metrics (served on /metrics, port AISCHED_METRICS_PORT)."""

from __future__ import annotations

import threading

from prometheus_client import Counter, Gauge, Histogram

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

_phases: dict[tuple[str, str], str] = {}
_lock = threading.Lock()


def set_phase(key: tuple[str, str], phase: str | None) -> None:
    """Tracks each schedule's phase (None: gone) and updates the per-phase gauge."""
    with _lock:
        if phase is None:
            _phases.pop(key, None)
        else:
            _phases[key] = phase
        counts: dict[str, int] = dict.fromkeys(("Active", "Suspended", "Completed", "Invalid"), 0)
        for value in _phases.values():
            counts[value] = counts.get(value, 0) + 1
        for name, count in counts.items():
            SCHEDULES.labels(name).set(count)
