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

# Per schedule (one series per AssistantSchedule, removed with it): what the alerts in the
# chart's PrometheusRule read, so an alert names the schedule.
SCHEDULE_PHASE = Gauge(
    "aischeduler_schedule_phase",
    "1 for the phase each AssistantSchedule is in.",
    ["namespace", "schedule", "phase"],
)
CONSECUTIVE_FAILURES = Gauge(
    "aischeduler_schedule_consecutive_failures",
    "status.runs.consecutiveFailures: Failed or Missed runs since the last success.",
    ["namespace", "schedule"],
)
SCHEDULE_RUNS = Counter(
    "aischeduler_schedule_runs_total",
    "Runs recorded in status.history, by schedule and result.",
    ["namespace", "schedule", "result"],
)
TOKENS = Counter(
    "aischeduler_tokens_total",
    "Tokens the AI platform reported for recorded runs (history tokensUsed).",
    ["namespace", "schedule"],
)
RESULTS = ("Succeeded", "Failed", "Missed")

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
            SCHEDULE_PHASE.labels(*key, phase).set(1)
            if old is None:
                _start(key)
        if old is not None:
            SCHEDULES.labels(old).dec()
            SCHEDULE_PHASE.remove(*key, old)
        if phase is None:
            _forget(key)


def _start(key: tuple[str, str]) -> None:
    """A schedule's counters start at 0, so Prometheus' increase() sees its first run."""
    TOKENS.labels(*key)
    for result in RESULTS:
        SCHEDULE_RUNS.labels(*key, result)


def _forget(key: tuple[str, str]) -> None:
    """The schedule is gone: its own series go too (no unbounded label sets)."""
    CONSECUTIVE_FAILURES.remove(*key)
    TOKENS.remove(*key)
    for result in RESULTS:
        SCHEDULE_RUNS.remove(*key, result)


def set_consecutive_failures(key: tuple[str, str], count: int) -> None:
    CONSECUTIVE_FAILURES.labels(*key).set(count)


def observe_run(key: tuple[str, str], result: str, tokens: int | None, runs: int = 1) -> None:
    """``runs`` > 1: one history entry that stands for several (a summary of Missed times)."""
    SCHEDULE_RUNS.labels(*key, result).inc(runs)
    if tokens:
        TOKENS.labels(*key).inc(tokens)


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
