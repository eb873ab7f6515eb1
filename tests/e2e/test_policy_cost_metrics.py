"""Per-schedule metrics on the control plane, as the operator serves them: tokens summed
from recorded runs (aischeduler_tokens_total{namespace,schedule}), runs by result,
consecutive failures and phase — the series the chart's alerts read — and all of them
gone with the schedule."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families
from schedules import Schedules, body, runner_result, sim

from conftest import OperatorProcess
from waiting import wait_for

pytestmark = pytest.mark.simulated


def series(operator: OperatorProcess, namespace: str) -> dict[tuple[str, str], float]:
    """(sample name, extra labels) → value, for the series of one namespace."""
    found: dict[tuple[str, str], float] = {}
    for family in text_string_to_metric_families(operator.metrics()):
        for s in family.samples:
            if s.labels.get("namespace") != namespace:
                continue
            rest = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()) if k != "namespace")
            found[(s.name, rest)] = s.value
    return found


def test_tokens_and_outcomes_per_schedule(s: Schedules, operator: OperatorProcess) -> None:
    ok = runner_result(message="answered", tokensUsed=1200)
    s.create(body("costly", suspend=True, pod=sim(message=ok)))
    s.wait_ready("costly")
    s.run_now("costly", "first")
    s.wait_runs("costly", 1)
    s.run_now("costly", "second")
    s.wait_runs("costly", 2)
    # a failed run that still used tokens
    failed = runner_result("Failed", "platform said no", tokensUsed=30)
    s.patch("costly", {"spec": {"runner": {"podAnnotations": sim(exit_code=1, message=failed)}}})
    s.wait_ready("costly")
    s.run_now("costly", "third")
    status = s.wait_runs("costly", 3)
    assert [h["tokensUsed"] for h in status["history"]] == [30, 1200, 1200]

    want = {
        ("aischeduler_tokens_total", "schedule=costly"): 2430.0,
        ("aischeduler_schedule_runs_total", "result=Succeeded,schedule=costly"): 2.0,
        ("aischeduler_schedule_runs_total", "result=Failed,schedule=costly"): 1.0,
        ("aischeduler_schedule_runs_total", "result=Missed,schedule=costly"): 0.0,
        ("aischeduler_schedule_consecutive_failures", "schedule=costly"): 1.0,
        ("aischeduler_schedule_phase", "phase=Suspended,schedule=costly"): 1.0,
    }
    seen = wait_for(
        lambda: series(operator, s.namespace),
        lambda got: got.items() >= want.items(),
        timeout=30,
        what="the per-schedule series of costly",
    )
    assert not any(name == "aischeduler_schedule_phase" and v == 0 for (name, _), v in seen.items())

    s.delete("costly")
    wait_for(
        lambda: series(operator, s.namespace),
        lambda got: got == {},
        timeout=30,
        what="the series of costly to go with it",
    )
