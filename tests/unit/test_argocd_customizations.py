"""The Argo CD customizations (gitops/argocd/argocd-cm.yaml) run in Argo CD's own Lua runtime
(the pinned `argocd-lua`: Argo CD v3.2.12's util/lua and settings parsing) on hand-written
status shapes: those the operator writes that an e2e run cannot easily produce (a reconcile
error, a status racing a spec change) and the policy shapes of spec §7 (Paused, Completed
by a window or run limit). Real objects from the operator: tests/e2e/test_argocd.py."""

from __future__ import annotations

import copy
import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

import argocd_cm
from argocd_lua import ERROR_EXIT, ArgoCD, ArgoCDError


def condition(
    type_: str, status: str, reason: str, generation: int, message: str = ""
) -> dict[str, Any]:
    return {
        "type": type_,
        "status": status,
        "reason": reason,
        "message": message,
        "observedGeneration": generation,
        "lastTransitionTime": "2026-01-05T08:00:00Z",
    }


def schedule(
    generation: int = 2,
    conditions: list[dict[str, Any]] | None = None,
    suspend: bool = False,
    status: bool = True,
    phase: str = "Active",
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    obj: dict[str, Any] = {
        "apiVersion": "aischeduler.io/v1alpha1",
        "kind": "AssistantSchedule",
        "metadata": {"name": "daily", "namespace": "team-a", "generation": generation},
        "spec": {"assistant": {"id": "abc"}, "schedule": "0 9 * * *", "suspend": suspend},
    }
    if annotations is not None:
        obj["metadata"]["annotations"] = annotations
    if status:
        obj["status"] = {"observedGeneration": generation, "phase": phase}
        if conditions is not None:
            obj["status"]["conditions"] = conditions
    return obj


READY = condition("Ready", "True", "Reconciled", 2, "CronJob daily matches the spec")
RUN_OK = condition("LastRunSucceeded", "True", "Succeeded", 2)
RUN_FAILED = condition("LastRunSucceeded", "False", "Failed", 2, "platform returned 500")
TOO_MANY_FAILURES = condition(
    "Paused", "True", "TooManyFailures", 2, "3 failed runs in a row: platform returned 500"
)
BUDGET = condition("Paused", "True", "BudgetExceeded", 2, "12000 of 10000 tokens this Day")

HEALTH_CASES = [
    pytest.param(
        schedule(conditions=[READY, RUN_OK]),
        ("Healthy", "CronJob daily matches the spec"),
        id="ready",
    ),
    pytest.param(
        schedule(conditions=[READY, RUN_FAILED]),
        ("Healthy", "CronJob daily matches the spec; last run: Failed"),
        id="failed-last-run-only",
    ),
    pytest.param(
        schedule(generation=3, conditions=[READY]),
        ("Progressing", "Waiting for the operator to observe generation 3"),
        id="stale-generation",
    ),
    pytest.param(
        schedule(conditions=[READY], suspend=True, phase="Suspended"),
        ("Suspended", "Schedule is suspended"),
        id="suspended",
    ),
    *[
        pytest.param(
            schedule(
                conditions=[condition("Ready", "False", reason, 2, "bad value")], phase="Invalid"
            ),
            ("Degraded", f"{reason}: bad value"),
            id=f"invalid-{reason}",
        )
        for reason in ("InvalidSpec", "InvalidSchedule", "InvalidTimeZone")
    ],
    pytest.param(
        schedule(
            conditions=[condition("Ready", "False", "InvalidTimeZone", 2, "Mars/Olympus")],
            suspend=True,
            phase="Invalid",
        ),
        ("Degraded", "InvalidTimeZone: Mars/Olympus"),
        id="invalid-and-suspended",
    ),
    pytest.param(
        schedule(generation=3, conditions=[condition("Ready", "False", "InvalidSchedule", 2)]),
        ("Progressing", "Waiting for the operator to observe generation 3"),
        id="invalid-but-fixed-spec-not-yet-observed",
    ),
    pytest.param(
        schedule(conditions=[condition("Ready", "False", "ReconcileError", 2, "409 conflict")]),
        ("Progressing", "ReconcileError: 409 conflict"),
        id="reconcile-error-is-transient",
    ),
    pytest.param(
        schedule(status=False),
        ("Progressing", "Waiting for the operator to reconcile the schedule"),
        id="no-status-yet",
    ),
    pytest.param(
        schedule(conditions=[RUN_FAILED]),
        ("Progressing", "Waiting for the operator to reconcile the schedule"),
        id="no-ready-condition",
    ),
    # Spec §7: a paused schedule no longer fires until someone acts (or the period ends).
    pytest.param(
        schedule(conditions=[READY, RUN_FAILED, TOO_MANY_FAILURES], phase="Paused"),
        ("Degraded", "Paused: TooManyFailures: 3 failed runs in a row: platform returned 500"),
        id="paused-too-many-failures",
    ),
    pytest.param(
        schedule(conditions=[READY, RUN_OK, BUDGET], phase="Paused"),
        ("Degraded", "Paused: BudgetExceeded: 12000 of 10000 tokens this Day"),
        id="paused-budget-exceeded",
    ),
    pytest.param(
        schedule(
            conditions=[READY, condition("Paused", "False", "Resumed", 2), RUN_OK],
            phase="Active",
        ),
        ("Healthy", "CronJob daily matches the spec"),
        id="resumed",
    ),
    # Spec §7: endTime passed or maxRuns reached — done, not broken.
    pytest.param(
        schedule(conditions=[READY, RUN_OK], phase="Completed"),
        ("Healthy", "Completed: CronJob daily matches the spec"),
        id="completed-window-or-max-runs",
    ),
    pytest.param(
        schedule(conditions=[READY, RUN_FAILED], phase="Completed"),
        ("Healthy", "Completed: CronJob daily matches the spec; last run: Failed"),
        id="completed-last-run-failed",
    ),
]


@pytest.mark.parametrize(("obj", "expected"), HEALTH_CASES)
def test_health(argocd: ArgoCD, obj: dict[str, Any], expected: tuple[str, str]) -> None:
    health = argocd.health(obj)
    assert (health.status, health.message) == expected


def test_run_now_is_offered_also_while_suspended(argocd: ArgoCD) -> None:
    obj = schedule(conditions=[READY], suspend=True, phase="Suspended")
    assert argocd.actions(obj) == {"run-now": False}


def _now_utc_second() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


@pytest.mark.parametrize(
    "annotations",
    [
        pytest.param(None, id="no-annotations"),
        pytest.param(
            {"team": "payments", "aischeduler.io/run-now": "1700000000"},
            id="keeps-other-annotations",
        ),
    ],
)
def test_run_now_sets_annotation_to_current_utc_time(
    argocd: ArgoCD, annotations: dict[str, str] | None
) -> None:
    obj = schedule(conditions=[READY], annotations=annotations)
    before = _now_utc_second()
    out = argocd.run_action(copy.deepcopy(obj), "run-now")
    after = _now_utc_second()

    value = out["metadata"]["annotations"]["aischeduler.io/run-now"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", value)
    stamp = dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    assert before <= stamp <= after
    # Nothing but that annotation changes.
    out["metadata"]["annotations"].pop("aischeduler.io/run-now")
    obj["metadata"].setdefault("annotations", {}).pop("aischeduler.io/run-now", None)
    assert out == obj


def test_argo_cd_runtime_has_no_global_os(argocd: ArgoCD, tmp_path: Path) -> None:
    """The runtime is Argo CD's, not a lenient Lua: the run-now script as it was before it
    loaded `os` with require fails there with the error Argo CD users saw."""
    old = argocd_cm.TARGET.read_text().replace('local os = require("os")\n', "")
    assert old != argocd_cm.TARGET.read_text()
    (tmp_path / "argocd-cm.yaml").write_text(old)
    with pytest.raises(ArgoCDError) as failed:
        argocd.with_cm(tmp_path / "argocd-cm.yaml").run_action(schedule(), "run-now")
    assert failed.value.returncode == ERROR_EXIT
    assert "attempt to index a non-table object(nil) with key 'date'" in failed.value.stderr


def test_argocd_cm_is_generated_from_the_lua_files() -> None:
    assert argocd_cm.TARGET.read_text() == argocd_cm.render(), (
        "gitops/argocd/argocd-cm.yaml is stale: run `make gitops`"
    )


def test_generated_argocd_cm_embeds_each_script_verbatim(tmp_path: Path) -> None:
    """The generator proper: a changed script shows up in the rendered ConfigMap, whole."""
    for lua in argocd_cm.ARGOCD.glob("*.lua"):
        (tmp_path / lua.name).write_text(lua.read_text())
    (tmp_path / "run-now.lua").write_text("-- changed\nreturn obj\n")
    cm = yaml.safe_load(argocd_cm.render(tmp_path))
    data = cm["data"]
    key = argocd_cm.KEY
    assert data[f"resource.customizations.health.{key}"] == (tmp_path / "health.lua").read_text()
    actions = yaml.safe_load(data[f"resource.customizations.actions.{key}"])
    assert actions["discovery.lua"] == (tmp_path / "discovery.lua").read_text()
    assert actions["definitions"] == [{"name": "run-now", "action.lua": "-- changed\nreturn obj\n"}]
