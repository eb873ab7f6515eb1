"""The Argo CD customizations on real AssistantSchedules: objects the running operator wrote
status on are fed, as the API returns them, to Argo CD's own Lua runtime (`argocd-lua`,
Argo CD v3.2.12's util/lua), and the run-now action's result is patched back the way the
Argo CD server applies an action (a JSON merge patch from the old to the new object)."""

from __future__ import annotations

import copy
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from schedules import RUN_NOW, Schedules, body, runner_result, sim

from aischeduler_operator.plan import error_status, load_status
from argocd_lua import ArgoCD


def merge_patch(old: Any, new: Any) -> Any:
    """RFC 7386 merge patch turning ``old`` into ``new`` (what Argo CD sends for an action)."""
    if not (isinstance(old, dict) and isinstance(new, dict)):
        return new
    patch = {k: None for k in old if k not in new}
    for key, value in new.items():
        if key not in old:
            patch[key] = value
        elif old[key] != value:
            patch[key] = merge_patch(old[key], value)
    return patch


def test_health_of_every_status_shape_the_operator_writes(s: Schedules, argocd: ArgoCD) -> None:
    long_ago = (datetime.now(UTC) - timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    manifests = {
        "active": body("active"),
        "suspended": body("suspended", suspend=True),
        "bad-cron": body("bad-cron", schedule="0 0 * * 7"),
        "bad-zone": body("bad-zone", timeZone="Mars/Olympus"),
        "bad-run-at": body("bad-run-at", runAt="next tuesday at noon"),
        "openai-workflow": body(
            "openai-workflow", assistant=None, workflow="wf-1", platform={"type": "openai"}
        ),
        # A one-time run the operator was not there for: Missed, phase Completed.
        "one-time-done": body("one-time-done", runAt=long_ago),
    }
    # As returned by the create: no status yet.
    seen = {"active (just created)": s.create(manifests["active"])}
    for name, manifest in manifests.items():
        if name != "active":
            s.create(manifest)
    for name in manifests:
        s.wait_observed(name)
    s.wait("one-time-done", lambda cr: cr.get("status", {}).get("phase") == "Completed", "done")
    seen |= {name: s.get(name) for name in manifests}
    # As returned by a spec change: the status still describes the previous generation.
    seen["active (spec just changed)"] = s.patch("active", {"spec": {"input": "new prompt"}})
    ready = s.get("active")
    # The operator's own code for a failed reconcile (an API error cannot be forced here).
    patch = error_status(
        load_status(ready["status"]),
        ready["metadata"]["generation"],
        "409 conflict writing CronJob active",
        datetime.now(UTC),
    )
    assert patch is not None
    seen["active (reconcile error)"] = {**ready, "status": {**ready["status"], **patch}}

    verdicts = {name: argocd.health(obj) for name, obj in seen.items()}
    table = "\n".join(f"{n:28} {h.status:12} {h.message}" for n, h in verdicts.items())
    print(f"\nArgo CD health (v3.2.12 util/lua) of real objects:\n{table}")
    expected = {
        "active (just created)": ("Progressing", "Waiting for the operator to reconcile"),
        "active": ("Healthy", "CronJob active matches the spec"),
        "suspended": ("Suspended", "Schedule is suspended"),
        "bad-cron": ("Degraded", "InvalidSchedule: "),
        "bad-zone": ("Degraded", "InvalidTimeZone: "),
        "bad-run-at": ("Degraded", "InvalidSchedule: invalid runAt"),
        "openai-workflow": ("Degraded", "InvalidSpec: workflows cannot run on the openai"),
        "one-time-done": ("Healthy", "Completed: one-time run at "),
        "active (spec just changed)": ("Progressing", "observe generation 2"),
        "active (reconcile error)": ("Progressing", "ReconcileError: 409 conflict"),
    }
    assert set(verdicts) == set(expected)
    for name, (status, says) in expected.items():
        assert verdicts[name].status == status, table
        assert says in verdicts[name].message, table
    assert "0 0 * * 7" in verdicts["bad-cron"].message
    assert verdicts["one-time-done"].message.endswith("; last run: Missed"), table


@pytest.mark.simulated
def test_run_now_action_starts_a_run_and_a_failed_run_stays_healthy(
    s: Schedules, argocd: ArgoCD
) -> None:
    failure = runner_result("Failed", "platform answered 500 three times")
    s.create(body("clicked", retries=0, pod=sim(exit_code=1, message=failure)))
    s.wait_ready("clicked")
    obj = s.get("clicked")
    assert argocd.actions(obj) == {"run-now": False}

    changed = argocd.run_action(copy.deepcopy(obj), "run-now")
    patch = merge_patch(obj, changed)
    value = changed["metadata"]["annotations"][RUN_NOW]
    print(f"\nrun-now action → merge patch {patch}")
    assert patch == {"metadata": {"annotations": {RUN_NOW: value}}}
    s.patch("clicked", patch)

    status = s.wait_runs("clicked", 1)
    (entry,) = status["history"]
    assert (entry["trigger"], entry["result"]) == ("Manual", "Failed")
    health = argocd.health(s.get("clicked"))
    assert (health.status, health.message) == (
        "Healthy",
        "CronJob clicked matches the spec; last run: Failed",
    )
