"""Per-schedule metrics: created with the schedule (counters at 0, so Prometheus' increase()
sees the first run), moved with its phase, summed tokens, and gone with the schedule."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest

from aischeduler_operator import metrics

KEY = ("team-a", "digest")


def samples(name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The series of one metric family for KEY: labels (sorted) → value."""
    found: dict[tuple[tuple[str, str], ...], float] = {}
    for family in metrics.PER_SCHEDULE.collect():
        for s in family.samples:
            if s.name == name and (s.labels["namespace"], s.labels["schedule"]) == KEY:
                labels = {k: v for k, v in s.labels.items() if k not in ("namespace", "schedule")}
                found[tuple(sorted(labels.items()))] = s.value
    return found


def test_series_follow_the_schedule() -> None:
    metrics.set_phase(KEY, "Active")
    assert samples("aischeduler_schedule_phase") == {(("phase", "Active"),): 1.0}
    assert samples("aischeduler_schedule_runs_total") == {
        (("result", r),): 0.0 for r in ("Succeeded", "Failed", "Missed")
    }
    assert samples("aischeduler_tokens_total") == {(): 0.0}

    metrics.observe_run(KEY, "Succeeded", 1200)
    metrics.observe_run(KEY, "Failed", None)
    metrics.observe_run(KEY, "Failed", 30)
    metrics.set_consecutive_failures(KEY, 2)
    metrics.set_phase(KEY, "Paused")
    assert samples("aischeduler_tokens_total") == {(): 1230.0}
    assert samples("aischeduler_schedule_runs_total")[(("result", "Failed"),)] == 2.0
    assert samples("aischeduler_schedule_consecutive_failures") == {(): 2.0}
    assert samples("aischeduler_schedule_phase") == {(("phase", "Paused"),): 1.0}

    metrics.set_phase(KEY, None)
    for name in (
        "aischeduler_schedule_phase",
        "aischeduler_schedule_runs_total",
        "aischeduler_tokens_total",
        "aischeduler_schedule_consecutive_failures",
    ):
        assert samples(name) == {}, name


def test_exposition_is_what_prometheus_client_children_give() -> None:
    """The same numbers through prometheus_client's own Gauge and Counter children (what
    the per-schedule families were before) render the same text, _created times aside."""
    key = ("team-b", "report")
    metrics.set_phase(key, "Active")
    metrics.observe_run(key, "Missed", None, runs=3)
    metrics.observe_run(key, "Succeeded", 70)
    metrics.set_consecutive_failures(key, 0)

    reference = CollectorRegistry()
    labels = ["namespace", "schedule"]
    phase = Gauge("aischeduler_schedule_phase", "x", [*labels, "phase"], registry=reference)
    failures = Gauge("aischeduler_schedule_consecutive_failures", "x", labels, registry=reference)
    runs = Counter("aischeduler_schedule_runs_total", "x", [*labels, "result"], registry=reference)
    tokens = Counter("aischeduler_tokens_total", "x", labels, registry=reference)
    phase.labels(*key, "Active").set(1)
    failures.labels(*key).set(0)
    for result, count in (("Succeeded", 1), ("Failed", 0), ("Missed", 3)):
        runs.labels(*key, result).inc(count)
    tokens.labels(*key).inc(70)

    ours = CollectorRegistry()
    ours.register(metrics.PER_SCHEDULE)
    try:
        assert exposed(ours, key) == exposed(reference, key)
    finally:
        metrics.set_phase(key, None)


def exposed(registry: CollectorRegistry, key: tuple[str, str]) -> list[str]:
    """The sample lines of ``key``'s series, sorted, with the _created times cut off."""
    mine = f'namespace="{key[0]}"'
    lines = generate_latest(registry).decode().splitlines()
    return sorted(
        line.rsplit(" ", 1)[0] if "_created{" in line else line for line in lines if mine in line
    )
