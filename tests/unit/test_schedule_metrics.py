"""Per-schedule metrics: created with the schedule (counters at 0, so Prometheus' increase()
sees the first run), moved with its phase, summed tokens, and gone with the schedule."""

from __future__ import annotations

from aischeduler_operator import metrics

KEY = ("team-a", "digest")


def samples(name: str) -> dict[tuple[tuple[str, str], ...], float]:
    """The series of one metric family for KEY: labels (sorted) → value."""
    found: dict[tuple[tuple[str, str], ...], float] = {}
    for metric in (
        metrics.SCHEDULE_PHASE,
        metrics.CONSECUTIVE_FAILURES,
        metrics.SCHEDULE_RUNS,
        metrics.TOKENS,
    ):
        for family in metric.collect():
            for s in family.samples:
                if s.name == name and (s.labels["namespace"], s.labels["schedule"]) == KEY:
                    labels = {
                        k: v for k, v in s.labels.items() if k not in ("namespace", "schedule")
                    }
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
