"""Invalid specs: what the schema cannot catch is reported on the status (and nothing is
created), what it can catch the apiserver refuses with the rule's message."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from schedules import Schedules, body, condition, env_of


def test_invalid_specs_are_reported_and_create_nothing(s: Schedules) -> None:
    cases = {
        # robfig/cron (the CronJob API) allows day-of-week 0-6 only.
        "bad-cron": (body("bad-cron", schedule="0 0 * * 7"), "InvalidSchedule", "0 0 * * 7"),
        "bad-zone": (body("bad-zone", timeZone="Mars/Olympus"), "InvalidTimeZone", "Mars/Olympus"),
        "bad-run-at": (
            body("bad-run-at", runAt="next tuesday at noon"),
            "InvalidSchedule",
            "invalid runAt",
        ),
    }
    for manifest, _, _ in cases.values():
        s.create(manifest)
    s.create(body("fine", assistant=None, workflow="wf-1"))  # a valid neighbour is unaffected

    for name, (_, reason, says) in cases.items():
        status = s.wait_observed(name)
        ready = condition(status, "Ready")
        assert ready, status
        assert (ready["status"], ready["reason"]) == ("False", reason), ready
        assert says in ready["message"], ready
        assert ready["observedGeneration"] == 1
        assert status["phase"] == "Invalid"
        assert "nextRunTime" not in status
        s.wait_event(name, "Warning", "InvalidSpec")
        warnings = [m for t, r, m in s.events(name) if (t, r) == ("Warning", "InvalidSpec")]
        assert says in warnings[0]

    fine = s.wait_ready("fine")
    assert (fine["phase"], fine["target"]) == ("Active", "workflow/wf-1")
    env = env_of(s.cronjob_spec("fine")["jobTemplate"]["spec"]["template"]["spec"])
    assert (env["AISCHED_TARGET_KIND"]["value"], env["AISCHED_TARGET_ID"]["value"]) == (
        "workflow",
        "wf-1",
    )
    assert [c["metadata"]["name"] for c in s.cronjobs()] == ["fine"]
    assert s.jobs() == []


def test_fixing_an_invalid_spec_makes_it_ready(s: Schedules) -> None:
    s.create(body("typo", schedule="61 * * * *"))
    status = s.wait_observed("typo")
    assert status["phase"] == "Invalid"
    assert s.cronjobs() == []
    s.patch_spec("typo", schedule="1 * * * *")
    assert s.wait_ready("typo")["phase"] == "Active"
    assert s.cronjob("typo") is not None


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            {"assistant": {"id": "a"}, "workflow": {"id": "w"}, "schedule": "@daily"},
            "exactly one of spec.assistant or spec.workflow must be set",
        ),
        (
            {"assistant": {"id": "a"}, "schedule": "@daily", "runAt": "2030-01-01T00:00:00Z"},
            "exactly one of spec.schedule or spec.runAt must be set",
        ),
        (
            {
                "assistant": {"id": "a"},
                "schedule": "@daily",
                "runner": {"podLabels": {"app.kubernetes.io/managed-by": "me"}},
            },
            "podLabels cannot set the operator's own labels",
        ),
    ],
    ids=["assistant-and-workflow", "schedule-and-runAt", "own-labels"],
)
def test_schema_rules_refuse_at_the_apiserver(
    api: client.ApiClient, namespace: str, crd_installed: None, spec: dict[str, Any], message: str
) -> None:
    custom = client.CustomObjectsApi(api)
    manifest = {
        "apiVersion": "aischeduler.io/v1alpha1",
        "kind": "AssistantSchedule",
        "metadata": {"name": "refused"},
        "spec": spec,
    }
    with pytest.raises(ApiException) as refused:
        custom.create_namespaced_custom_object(
            "aischeduler.io", "v1alpha1", namespace, "assistantschedules", manifest
        )
    assert refused.value.status == 422
    assert message in refused.value.body
