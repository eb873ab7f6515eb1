"""Prometheus metrics (served on /metrics, port AISCHED_METRICS_PORT)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

from prometheus_client import REGISTRY, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from aischeduler_operator.observe import Key

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
EVENTS_DROPPED = Counter(
    "aischeduler_events_dropped_total",
    "Events not posted: refused by the API, or too many waiting (recorder.py).",
)

RESULTS = ("Succeeded", "Failed", "Missed")

PHASES = ("Active", "Suspended", "Paused", "Completed", "Invalid")
for _phase in PHASES:
    SCHEDULES.labels(_phase).set(0)

PER_SCHEDULE_LABELS = ["namespace", "schedule"]


@dataclass(slots=True)
class _Series:
    """One schedule's own series, as plain numbers read at scrape time: ~200 bytes, where
    a prometheus_client child per series took ~4.6 KiB per schedule (tracemalloc, six
    children each with its locks)."""

    created: float  # the counters' _created, as prometheus_client reports it
    phase: str | None = None
    failures: int | None = None
    tokens: float = 0.0
    runs: list[float] = field(default_factory=lambda: [0.0] * len(RESULTS))


_series: dict[Key, _Series] = {}
_lock = threading.Lock()


def _get(key: Key) -> _Series:
    """The schedule's series, created at 0 (so Prometheus' increase() sees its first run)."""
    series = _series.get(key)
    if series is None:
        series = _series[key] = _Series(created=time.time())
    return series


def set_phase(key: Key, phase: str | None) -> None:
    """Tracks each schedule's phase (None: gone, and its series go with it: no unbounded
    label sets) and moves it between the gauge's labels: O(1), however many schedules."""
    with _lock:
        old = _series[key].phase if key in _series else None
        if phase is None:
            _series.pop(key, None)
        else:
            _get(key).phase = phase
        if old == phase:
            return
        if phase is not None:
            SCHEDULES.labels(phase).inc()
        if old is not None:
            SCHEDULES.labels(old).dec()


def set_consecutive_failures(key: Key, count: int) -> None:
    with _lock:
        _get(key).failures = count


def observe_run(key: Key, result: str, tokens: int | None, runs: int = 1) -> None:
    """``runs`` > 1: one history entry that stands for several (a summary of Missed times)."""
    with _lock:
        series = _get(key)
        series.runs[RESULTS.index(result)] += runs
        series.tokens += tokens or 0


def tracked_series() -> int:
    with _lock:
        return len(_series)


class PerSchedule(Collector):
    """The per-schedule families (one series per AssistantSchedule, removed with it): what
    the alerts in the chart's PrometheusRule read, so an alert names the schedule."""

    def collect(self) -> Iterator[Metric]:
        phase = GaugeMetricFamily(
            "aischeduler_schedule_phase",
            "1 for the phase each AssistantSchedule is in.",
            labels=[*PER_SCHEDULE_LABELS, "phase"],
        )
        failures = GaugeMetricFamily(
            "aischeduler_schedule_consecutive_failures",
            "status.runs.consecutiveFailures: Failed or Missed runs since the last success.",
            labels=PER_SCHEDULE_LABELS,
        )
        runs = CounterMetricFamily(
            "aischeduler_schedule_runs",
            "Runs recorded in status.history, by schedule and result.",
            labels=[*PER_SCHEDULE_LABELS, "result"],
        )
        tokens = CounterMetricFamily(
            "aischeduler_tokens",
            "Tokens the AI platform reported for recorded runs (history tokensUsed).",
            labels=PER_SCHEDULE_LABELS,
        )
        with _lock:
            copied = [(key, replace(s, runs=list(s.runs))) for key, s in _series.items()]
        for (namespace, name), s in copied:
            if s.phase is not None:
                phase.add_metric([namespace, name, s.phase], 1)
            if s.failures is not None:
                failures.add_metric([namespace, name], s.failures)
            for result, count in zip(RESULTS, s.runs, strict=True):
                runs.add_metric([namespace, name, result], count, created=s.created)
            tokens.add_metric([namespace, name], s.tokens, created=s.created)
        yield from (phase, failures, runs, tokens)


PER_SCHEDULE = PerSchedule()
REGISTRY.register(PER_SCHEDULE)


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
