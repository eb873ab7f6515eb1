"""An AssistantSchedule's life with the operator: create → CronJob and status, spec edits,
suspend/resume, long names, a name clash with someone else's CronJob."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from kubernetes.client.exceptions import ApiException
from schedules import (
    MANAGED_BY,
    SCHEDULE_LABEL,
    Schedules,
    body,
    condition,
    env_of,
    parse,
    runner_result,
    sim,
)

from conftest import Cluster

CREDENTIAL_VARIABLES = {
    "AISCHED_TOKEN",
    "AISCHED_AUTH_SERVER_URL",
    "AISCHED_AUTH_REALM",
    "AISCHED_CLIENT_ID",
    "AISCHED_CLIENT_SECRET",
    "AISCHED_USERNAME",
    "AISCHED_PASSWORD",
    "AISCHED_API_KEY",
    "AISCHED_SIGNING_SECRET",
}


def assert_daily_at(times: list[str], zone: str, hour: int, minute: int) -> None:
    """Five consecutive days at hour:minute local time, the first within a day from now."""
    local = [parse(t).astimezone(ZoneInfo(zone)) for t in times]
    assert len(local) == 5, times
    assert all((t.hour, t.minute, t.second) == (hour, minute, 0) for t in local), local
    assert all((b.date() - a.date()).days == 1 for a, b in pairwise(local))
    now = datetime.now(UTC)
    assert now < parse(times[0]) <= now + timedelta(days=1), times


def test_create_makes_cronjob_and_ready_status(s: Schedules, cluster: Cluster) -> None:
    s.create(
        body(
            "daily-report",
            schedule="30 4 * * *",
            timeZone="Europe/Berlin",
            concurrencyPolicy="Replace",
            startingDeadlineSeconds=120,
            timeoutSeconds=900,
            retries=2,
        )
    )
    status = s.wait_ready("daily-report")
    cr = s.get("daily-report")

    cronjob = s.cronjob("daily-report")
    assert cronjob is not None, "no CronJob named after the schedule"
    spec = cronjob["spec"]
    assert spec["schedule"] == "30 4 * * *"
    assert spec["timeZone"] == "Europe/Berlin"
    assert spec["concurrencyPolicy"] == "Replace"
    assert spec["startingDeadlineSeconds"] == 120
    assert spec["suspend"] is False
    (owner,) = cronjob["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == (
        "AssistantSchedule",
        "daily-report",
        cr["metadata"]["uid"],
    )
    assert owner["controller"] is True
    assert cronjob["metadata"]["labels"][MANAGED_BY] == "aischeduler"
    assert cronjob["metadata"]["labels"][SCHEDULE_LABEL] == "daily-report"

    job_spec = spec["jobTemplate"]["spec"]
    assert job_spec["backoffLimit"] == 2
    assert job_spec["activeDeadlineSeconds"] == 900
    assert job_spec["podFailurePolicy"]["rules"] == [
        {
            "action": "FailJob",
            "onExitCodes": {"containerName": "runner", "operator": "In", "values": [2]},
        }
    ]
    template = job_spec["template"]
    assert template["metadata"]["labels"][MANAGED_BY] == "aischeduler"
    assert template["metadata"]["labels"][SCHEDULE_LABEL] == "daily-report"
    pod = template["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    (container,) = pod["containers"]
    security = container["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]

    env = env_of(pod)
    assert env["AISCHED_TARGET_KIND"]["value"] == "assistant"
    assert env["AISCHED_TARGET_ID"]["value"] == "asst-e2e"
    assert env["AISCHED_SCHEDULE"]["value"] == f"{s.namespace}/daily-report"
    assert set(env) >= CREDENTIAL_VARIABLES
    for variable in CREDENTIAL_VARIABLES:
        assert "value" not in env[variable], f"{variable} carries a literal value"
        ref = env[variable]["valueFrom"]["secretKeyRef"]
        assert ref["name"] == "codemie-credentials"
        assert ref["optional"] is True
    literal = [e for e in env.values() if "secretKeyRef" not in e.get("valueFrom", {})]
    assert not {e["name"] for e in literal} & CREDENTIAL_VARIABLES

    ready = condition(status, "Ready")
    assert ready, status
    assert ready["observedGeneration"] == cr["metadata"]["generation"]
    assert status["observedGeneration"] == cr["metadata"]["generation"]
    assert status["phase"] == "Active"
    assert status["nextRunTime"] == status["nextRunTimes"][0]
    assert_daily_at(status["nextRunTimes"], "Europe/Berlin", 4, 30)
    assert condition(status, "LastRunSucceeded") == {}  # no run yet
    s.wait_event("daily-report", "Normal", "Scheduled")

    table = cluster.kubectl("get", "asched", "-n", s.namespace)
    header, row = table.splitlines()
    for column in (
        "TARGET",
        "SCHEDULE",
        "TIMEZONE",
        "SUSPEND",
        "LAST RESULT",
        "LAST RUN",
        "NEXT RUN",
        "AGE",
    ):
        assert column in header, table
    assert row.split()[:5] == [
        "daily-report",
        "assistant/asst-e2e",
        "30",
        "4",
        "*",
    ], table
    assert "Europe/Berlin" in row
    assert "false" in row
    out = cluster.kubectl(
        "wait", "--for=condition=Ready", "--timeout=30s", "-n", s.namespace, "asched/daily-report"
    )
    assert "condition met" in out


def test_spec_edit_updates_cronjob_in_place(s: Schedules) -> None:
    s.create(body("edit-me", schedule="30 4 * * *", timeZone="UTC"))
    s.wait_ready("edit-me")
    before = s.cronjob("edit-me")
    assert before is not None

    generation = s.patch_spec("edit-me", schedule="15 6 * * *")
    assert generation == 2
    status = s.wait_ready("edit-me")

    after = s.cronjob("edit-me")
    assert after is not None
    assert after["metadata"]["uid"] == before["metadata"]["uid"], "CronJob was recreated"
    assert after["spec"]["schedule"] == "15 6 * * *"
    assert status["observedGeneration"] == 2
    assert condition(status, "Ready")["observedGeneration"] == 2
    assert_daily_at(status["nextRunTimes"], "UTC", 6, 15)


def test_suspend_and_resume(s: Schedules) -> None:
    s.create(body("pausable", schedule="*/5 * * * *"))
    s.wait_ready("pausable")

    s.patch_spec("pausable", suspend=True)
    status = s.wait_ready("pausable")
    assert s.cronjob_spec("pausable")["suspend"] is True
    assert status["phase"] == "Suspended"
    assert "nextRunTime" not in status
    assert not status.get("nextRunTimes")

    s.patch_spec("pausable", suspend=False)
    status = s.wait_ready("pausable")
    assert s.cronjob_spec("pausable")["suspend"] is False
    assert status["phase"] == "Active"
    assert len(status["nextRunTimes"]) == 5
    assert all(parse(t).minute % 5 == 0 for t in status["nextRunTimes"])


@pytest.mark.simulated
def test_63_character_name_works_and_64_is_rejected(s: Schedules) -> None:
    name = "n" * 40 + "-" + "x" * 22
    assert len(name) == 63
    s.create(body(name, pod=sim(message=runner_result(output="long name ok"))))
    s.wait_ready(name)
    (cronjob,) = s.cronjobs()
    assert len(cronjob["metadata"]["name"]) <= 52
    assert cronjob["metadata"]["name"].startswith("n" * 40)
    assert cronjob["metadata"]["labels"][SCHEDULE_LABEL] == name

    s.run_now(name, "1")
    status = s.wait_runs(name, 1)
    (entry,) = status["history"]
    assert (entry["trigger"], entry["result"], entry["output"]) == (
        "Manual",
        "Succeeded",
        "long name ok",
    )
    assert len(entry["job"]) <= 63

    with pytest.raises(ApiException) as rejected:
        s.create(body(name + "y"))
    assert rejected.value.status == 422
    assert "metadata.name must be at most 63 characters" in rejected.value.body


def foreign_cronjob(name: str) -> dict[str, Any]:
    """A CronJob someone else made, not by the operator."""
    pod = {
        "restartPolicy": "Never",
        "containers": [{"name": "backup", "image": "example.invalid/backup:1"}],
    }
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {"name": name, "labels": {"team": "storage"}},
        "spec": {"schedule": "0 1 * * *", "jobTemplate": {"spec": {"template": {"spec": pod}}}},
    }


def test_a_foreign_cronjob_of_the_same_name_is_left_alone(s: Schedules) -> None:
    for name in ("backup", "nightly"):
        s.batch.create_namespaced_cron_job(s.namespace, foreign_cronjob(name))
    s.create(body("backup", schedule="30 4 * * *"))
    # A one-time schedule has no CronJob: it must not delete one that merely shares its name.
    s.create(body("nightly", runAt="2020-01-01T00:00:00Z"))

    status = s.wait(
        "backup",
        lambda cr: condition(cr.get("status") or {}, "Ready").get("status") == "False",
        "Ready=False",
    )
    ready = condition(status, "Ready")
    assert ready["reason"] == "ReconcileError", ready
    assert "CronJob backup exists and is not managed by this schedule" in ready["message"]
    assert s.wait_runs("nightly", 1)["phase"] == "Completed"
    for name in ("backup", "nightly"):
        cronjob = s.cronjob(name)
        assert cronjob is not None, f"CronJob {name} was deleted"
        assert cronjob["spec"]["schedule"] == "0 1 * * *"
        assert cronjob["metadata"]["labels"] == {"team": "storage"}
        assert not cronjob["metadata"].get("ownerReferences")

    # Once the name is free the schedule gets its own CronJob.
    s.batch.delete_namespaced_cron_job("backup", s.namespace)
    s.wait_ready("backup", timeout=60)
    assert s.cronjob_spec("backup")["schedule"] == "30 4 * * *"
