"""Spec → CronJob / Job manifests and derived names."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from objects import schedule

from aischeduler_operator import manifests, names
from aischeduler_operator.resolve import Resolved, resolve
from aischeduler_operator.settings import Settings
from aischeduler_runner.contract import CREDENTIAL_VARIABLES

SETTINGS = Settings(
    platform_url="https://codemie.example.com/api",
    credentials_secret="creds",
    runner_image="registry.example.com/runner:1.2.3",
    jobs_history_limit=4,
)


def resolved(spec: dict[str, Any] | None = None) -> Resolved:
    r = resolve(schedule(spec)["spec"], SETTINGS)
    assert isinstance(r, Resolved), r
    return r


def cronjob(spec: dict[str, Any] | None = None, name: str = "daily") -> dict[str, Any]:
    return manifests.cronjob(resolved(spec), schedule(spec, name=name)["metadata"], SETTINGS)


def container(manifest: dict[str, Any]) -> dict[str, Any]:
    pod = manifest["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    (c,) = pod["containers"]
    return c


def test_cronjob_carries_schedule_settings_owner_and_labels() -> None:
    cj = cronjob(
        {
            "schedule": "*/15 * * * *",
            "timeZone": "Asia/Kathmandu",
            "suspend": True,
            "concurrencyPolicy": "Replace",
            "startingDeadlineSeconds": 60,
        }
    )
    spec = cj["spec"]
    assert (spec["schedule"], spec["timeZone"], spec["suspend"]) == (
        "*/15 * * * *",
        "Asia/Kathmandu",
        True,
    )
    assert (spec["concurrencyPolicy"], spec["startingDeadlineSeconds"]) == ("Replace", 60)
    # Generous: the operator, not the CronJob controller, deletes Jobs (once recorded) down
    # to jobsHistoryLimit; these limits only bound the Jobs an operator outage leaves.
    kept = manifests.CRONJOB_JOBS_KEPT
    assert spec["successfulJobsHistoryLimit"] == spec["failedJobsHistoryLimit"] == kept
    assert cj["metadata"]["labels"] == {
        "app.kubernetes.io/managed-by": "aischeduler",
        "aischeduler.io/schedule": "daily",
    }
    (owner,) = cj["metadata"]["ownerReferences"]
    assert owner["kind"] == "AssistantSchedule" and owner["controller"] is True
    assert owner["blockOwnerDeletion"] is True
    assert spec["jobTemplate"]["metadata"]["labels"][names.TRIGGER_LABEL] == "Scheduled"


def test_runner_pod_is_restricted_and_never_retries_configuration_errors() -> None:
    job_spec = cronjob({"retries": 3, "timeoutSeconds": 600})["spec"]["jobTemplate"]["spec"]
    pod = job_spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    ctx = pod["containers"][0]["securityContext"]
    assert ctx == {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "runAsNonRoot": True,
        "capabilities": {"drop": ["ALL"]},
    }
    assert job_spec["backoffLimit"] == 3
    assert job_spec["activeDeadlineSeconds"] == 600
    (rule,) = job_spec["podFailurePolicy"]["rules"]
    assert rule == {
        "action": "FailJob",
        "onExitCodes": {"containerName": "runner", "operator": "In", "values": [2]},
    }


def test_runner_env_follows_the_contract_and_credentials_come_only_from_the_secret() -> None:
    c = container(cronjob({"input": "Summarise", "workflow": {"id": "wf-1"}, "assistant": None}))
    env = {e["name"]: e for e in c["env"]}
    values = {k: e.get("value") for k, e in env.items() if "value" in e}
    assert values["AISCHED_TARGET_KIND"] == "workflow"
    assert values["AISCHED_TARGET_ID"] == "wf-1"
    assert values["AISCHED_INPUT"] == "Summarise"
    assert values["AISCHED_PLATFORM_TYPE"] == "codemie"
    assert values["AISCHED_PLATFORM_URL"] == "https://codemie.example.com/api"
    assert values["AISCHED_SCHEDULE"] == "team-a/daily"
    assert values["AISCHED_CREDENTIALS_SECRET"] == "creds"
    assert int(values["AISCHED_TIMEOUT_SECONDS"]) < 3600  # leaves the Job deadline a margin
    for key, variable in CREDENTIAL_VARIABLES.items():
        ref = env[variable]["valueFrom"]["secretKeyRef"]
        assert ref == {"name": "creds", "key": key, "optional": True}
        assert "value" not in env[variable]
    assert c["image"] == "registry.example.com/runner:1.2.3"


def test_runner_overrides_apply_but_cannot_replace_operator_labels() -> None:
    cj = cronjob(
        {
            "runner": {
                "image": "mine:1",
                "serviceAccountName": "runner-sa",
                "resources": {"requests": {"cpu": 1}},
                "podAnnotations": {"sidecar.istio.io/inject": "false"},
                "podLabels": {"cost-center": "ai", "aischeduler.io/schedule": "other"},
            }
        }
    )
    template = cj["spec"]["jobTemplate"]["spec"]["template"]
    assert template["metadata"]["annotations"] == {"sidecar.istio.io/inject": "false"}
    assert template["metadata"]["labels"]["cost-center"] == "ai"
    assert template["metadata"]["labels"]["aischeduler.io/schedule"] == "daily"
    assert template["spec"]["serviceAccountName"] == "runner-sa"
    assert template["spec"]["containers"][0]["image"] == "mine:1"
    assert template["spec"]["containers"][0]["resources"] == {"requests": {"cpu": 1}}


def test_manual_job_has_trigger_and_scheduled_time_and_no_finalizer_or_ttl() -> None:
    when = datetime(2026, 3, 10, 12, 0, 5, tzinfo=UTC)
    job = manifests.job(
        resolved(),
        schedule()["metadata"],
        name="daily-now-1",
        trigger="Manual",
        scheduled_time=when,
        input_text="override",
    )
    # Only the operator deletes it, after its run is recorded.
    assert "finalizers" not in job["metadata"]
    assert "ttlSecondsAfterFinished" not in job["spec"]
    assert job["metadata"]["labels"][names.TRIGGER_LABEL] == "Manual"
    assert job["metadata"]["annotations"][names.SCHEDULED_TIME_ANNOTATION] == "2026-03-10T12:00:05Z"
    env = job["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "AISCHED_INPUT", "value": "override"} in env


@pytest.mark.parametrize("length", [1, 40, 52, 53, 63])
def test_derived_names_fit_kubernetes_limits_and_are_stable(length: int) -> None:
    name = ("a" * (length - 1)) + "z"
    cj = names.cronjob_name(name)
    assert len(cj) <= 52
    assert cj == names.cronjob_name(name)
    assert (cj == name) == (length <= 52)
    assert len(names.scheduled_job_name(name, 1_800_000_000)) <= 63
    assert len(names.manual_job_name(name, "any value")) <= 63
    assert len(names.one_time_job_name(name, "2026-01-01T00:00:00Z")) <= 63
    assert names.manual_job_name(name, "a") != names.manual_job_name(name, "b")


def test_long_names_that_share_a_prefix_do_not_collide() -> None:
    a, b = "x" * 60 + "aaa", "x" * 60 + "bbb"
    assert names.cronjob_name(a) != names.cronjob_name(b)


@pytest.mark.parametrize(("deadline", "runner"), [(1, 1), (10, 9), (600, 570), (3600, 3570)])
def test_runner_timeout_leaves_a_margin(deadline: int, runner: int) -> None:
    assert manifests.runner_timeout(deadline) == runner
