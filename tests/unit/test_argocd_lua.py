"""The Argo CD customizations in gitops/argocd run in a real Lua 5.1 interpreter (Argo CD
embeds gopher-lua, a Lua 5.1), with the globals trimmed to what Argo CD's sandbox offers,
against AssistantSchedule objects as the operator writes them."""

from __future__ import annotations

import copy
import datetime as dt
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from lupa import lua51

ARGOCD = Path(__file__).resolve().parents[2] / "gitops" / "argocd"
HEALTH = (ARGOCD / "health.lua").read_text()
DISCOVERY = (ARGOCD / "discovery.lua").read_text()
RUN_NOW = (ARGOCD / "run-now.lua").read_text()

# Argo CD opens base, table, string, math and a "safe" os with only time functions.
SANDBOX = """
io = nil
dofile = nil
loadfile = nil
require = nil
os = {date = os.date, time = os.time, clock = os.clock, difftime = os.difftime}
"""


def to_python(value: Any) -> Any:
    if lua51.lua_type(value) != "table":
        return value
    items = {k: to_python(v) for k, v in value.items()}
    if (
        items
        and all(isinstance(k, int) for k in items)
        and set(items) == set(range(1, len(items) + 1))
    ):
        return [items[i] for i in range(1, len(items) + 1)]
    return items


def run(script: str, obj: dict[str, Any] | None = None) -> Any:
    lua = lua51.LuaRuntime(unpack_returned_tuples=True)
    lua.execute(SANDBOX)
    if obj is not None:
        lua.globals().obj = lua.table_from(obj, recursive=True)
    return to_python(lua.execute(script))


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
        obj["status"] = {"observedGeneration": generation, "phase": "Active"}
        if conditions is not None:
            obj["status"]["conditions"] = conditions
    return obj


READY = condition("Ready", "True", "Reconciled", 2, "CronJob daily is up to date")
RUN_OK = condition("LastRunSucceeded", "True", "Succeeded", 2)
RUN_FAILED = condition("LastRunSucceeded", "False", "Failed", 2, "platform returned 500")

HEALTH_CASES = [
    pytest.param(schedule(conditions=[READY, RUN_OK]), "Healthy", "up to date", id="healthy"),
    pytest.param(
        schedule(conditions=[READY, RUN_FAILED]),
        "Healthy",
        "last run: Failed",
        id="failed-last-run-only",
    ),
    pytest.param(
        schedule(generation=3, conditions=[READY]),
        "Progressing",
        "generation 3",
        id="stale-generation",
    ),
    pytest.param(
        schedule(conditions=[READY], suspend=True), "Suspended", "suspended", id="suspended"
    ),
    pytest.param(
        schedule(generation=3, conditions=[READY], suspend=True),
        "Progressing",
        "generation 3",
        id="suspended-not-yet-observed",
    ),
    *[
        pytest.param(
            schedule(conditions=[condition("Ready", "False", reason, 2, "bad value")]),
            "Degraded",
            f"{reason}: bad value",
            id=f"invalid-{reason}",
        )
        for reason in ("InvalidSpec", "InvalidSchedule", "InvalidTimeZone")
    ],
    pytest.param(
        schedule(
            conditions=[condition("Ready", "False", "InvalidTimeZone", 2, "Mars/Olympus")],
            suspend=True,
        ),
        "Degraded",
        "InvalidTimeZone",
        id="invalid-and-suspended",
    ),
    pytest.param(
        schedule(generation=3, conditions=[condition("Ready", "False", "InvalidSchedule", 2)]),
        "Progressing",
        "generation 3",
        id="invalid-but-fixed-spec-not-yet-observed",
    ),
    pytest.param(
        schedule(conditions=[condition("Ready", "False", "ReconcileError", 2, "409 conflict")]),
        "Progressing",
        "ReconcileError: 409 conflict",
        id="reconcile-error-is-transient",
    ),
    pytest.param(schedule(status=False), "Progressing", "Waiting", id="no-status-yet"),
    pytest.param(schedule(conditions=None), "Progressing", "Waiting", id="status-no-conditions"),
    pytest.param(
        schedule(conditions=[RUN_FAILED]), "Progressing", "Waiting", id="no-ready-condition"
    ),
]


@pytest.mark.parametrize(("obj", "status", "message"), HEALTH_CASES)
def test_health(obj: dict[str, Any], status: str, message: str) -> None:
    hs = run(HEALTH, obj)
    assert hs["status"] == status
    assert message in hs["message"]


def test_discovery_offers_run_now_enabled() -> None:
    actions = run(DISCOVERY, schedule(conditions=[READY], suspend=True))
    assert actions == {"run-now": {"disabled": False}}


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
def test_run_now_sets_annotation_to_current_utc_time(annotations: dict[str, str] | None) -> None:
    obj = schedule(conditions=[READY], annotations=annotations)
    before = _now_utc_second()
    out = run(RUN_NOW, copy.deepcopy(obj))
    after = _now_utc_second()

    value = out["metadata"]["annotations"]["aischeduler.io/run-now"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", value)
    stamp = dt.datetime.strptime(value, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    # Lua's os.date reads C time(), a coarse clock that may trail Python's by a few ms.
    assert before - dt.timedelta(seconds=1) <= stamp <= after
    if annotations:
        assert out["metadata"]["annotations"]["team"] == "payments"
        assert value != annotations["aischeduler.io/run-now"]
    # Nothing but the annotation changes.
    out["metadata"]["annotations"].pop("aischeduler.io/run-now")
    obj["metadata"].setdefault("annotations", {}).pop("aischeduler.io/run-now", None)
    assert out == obj


def test_argocd_cm_embeds_the_scripts_verbatim() -> None:
    cm = yaml.safe_load((ARGOCD / "argocd-cm.yaml").read_text())
    assert cm["kind"] == "ConfigMap"
    assert cm["metadata"]["name"] == "argocd-cm"
    data = cm["data"]
    assert data["resource.customizations.health.aischeduler.io_AssistantSchedule"] == HEALTH
    actions = yaml.safe_load(
        data["resource.customizations.actions.aischeduler.io_AssistantSchedule"]
    )
    assert actions["discovery.lua"] == DISCOVERY
    assert actions["definitions"] == [{"name": "run-now", "action.lua": RUN_NOW}]
