"""Spec → CronJob / Job manifests (plain dicts, built only here). Pure.

Every pod runs the runner with restricted pod security, credentials only through
``secretKeyRef`` (optional keys, so a missing Secret never blocks the pod: the runner
then exits 2 naming it), and a pod failure policy that fails the Job at once on exit
code 2 (configuration errors are never retried)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from aischeduler_operator import names
from aischeduler_operator.models import GROUP, KIND, VERSION, Trigger
from aischeduler_operator.resolve import Resolved
from aischeduler_operator.settings import Settings
from aischeduler_operator.times import rfc3339
from aischeduler_runner.contract import CREDENTIAL_VARIABLES, EXIT_CONFIG, RUNNER_UID, Env

# The CronJob controller deletes finished Jobs beyond its history limits whether or not
# the operator has recorded them, also while the operator is down. So its limits are set
# far above jobsHistoryLimit: the operator deletes recorded Jobs itself (plan.prune), and
# these limits only bound how many Jobs pile up while no operator is running. An outage
# longer than this many runs of one outcome loses the oldest of them (the operator then
# says so instead of calling them Missed: see due.py).
CRONJOB_JOBS_KEPT = 100


def runner_timeout(job_deadline: int) -> int:
    """The runner's own deadline: a little under the Job's activeDeadlineSeconds (which also
    counts pod start-up), so the runner reports "deadline reached" before it is killed."""
    margin = min(30, max(1, job_deadline // 10))
    return max(1, job_deadline - margin)


def owner_reference(cr_meta: dict[str, Any]) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "name": cr_meta["name"],
        "uid": cr_meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def policy_env(
    r: Resolved, name: str, trigger: Trigger, scheduled_time: datetime | None
) -> list[dict[str, Any]]:
    """What the runner needs for the schedule policies: the scheduled time (given, or for a
    CronJob run the CronJob's name, which prefixes its Jobs' names), the zone and trigger the
    input's placeholders are rendered with, jitter (scheduled runs only) and a token limit."""
    env: list[dict[str, Any]] = [
        {"name": Env.TIME_ZONE, "value": r.time_zone_name},
        {"name": Env.TRIGGER, "value": trigger},
    ]
    if scheduled_time is None:
        env.append({"name": Env.CRONJOB, "value": names.cronjob_name(name)})
        if r.spec.jitter_seconds:
            env.append({"name": Env.JITTER_SECONDS, "value": str(r.spec.jitter_seconds)})
    else:
        env.append({"name": Env.SCHEDULED_TIME, "value": rfc3339(scheduled_time)})
    if r.spec.max_tokens_per_run is not None:
        env.append({"name": Env.MAX_TOKENS, "value": str(r.spec.max_tokens_per_run)})
    return env


def runner_env(
    r: Resolved,
    namespace: str,
    name: str,
    input_text: str,
    trigger: Trigger = "Scheduled",
    scheduled_time: datetime | None = None,
) -> list[dict[str, Any]]:
    """The runner's environment; ``scheduled_time`` None means a CronJob's run."""
    env: list[dict[str, Any]] = [
        {"name": Env.TARGET_KIND, "value": r.target_kind},
        {"name": Env.TARGET_ID, "value": r.target_id},
        {"name": Env.INPUT, "value": input_text},
        {"name": Env.PLATFORM_TYPE, "value": r.platform_type},
        {"name": Env.PLATFORM_URL, "value": r.platform_url},
        {"name": Env.TIMEOUT_SECONDS, "value": str(runner_timeout(r.spec.timeout_seconds))},
        # One id per run (shared by its retries): the Job's name.
        {
            "name": Env.RUN_ID,
            "valueFrom": {
                "fieldRef": {"fieldPath": "metadata.labels['batch.kubernetes.io/job-name']"}
            },
        },
        {"name": Env.SCHEDULE, "value": f"{namespace}/{name}"},
        *policy_env(r, name, trigger, scheduled_time),
    ]
    if r.credentials_secret:
        env.append({"name": Env.CREDENTIALS_SECRET, "value": r.credentials_secret})
        env.extend(
            {
                "name": variable,
                "valueFrom": {
                    "secretKeyRef": {"name": r.credentials_secret, "key": key, "optional": True}
                },
            }
            for key, variable in CREDENTIAL_VARIABLES.items()
        )
    return env


def owned_labels(cr_meta: dict[str, Any]) -> dict[str, str]:
    """Our labels, plus the schedule's shard label: an operator serving one shard selects
    the Jobs and Pods of its schedules by it (server-side) as it selects the schedules."""
    labels = names.owned_labels(cr_meta["name"])
    shard = (cr_meta.get("labels") or {}).get(names.SHARD_LABEL)
    if shard is not None:
        labels[names.SHARD_LABEL] = shard
    return labels


def pod_template(
    r: Resolved,
    cr_meta: dict[str, Any],
    trigger: Trigger,
    input_text: str,
    scheduled_time: datetime | None = None,
) -> dict[str, Any]:
    schedule = cr_meta["name"]
    labels = {
        **(r.spec.runner.pod_labels or {}),
        **owned_labels(cr_meta),
        names.TRIGGER_LABEL: trigger,
    }
    spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "enableServiceLinks": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUNNER_UID,
            "runAsGroup": RUNNER_UID,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [
            {
                "name": names.RUNNER_CONTAINER,
                "image": r.image,
                "env": runner_env(
                    r, cr_meta["namespace"], schedule, input_text, trigger, scheduled_time
                ),
                "resources": r.resources,
                "terminationMessagePolicy": "File",
                "securityContext": {
                    "allowPrivilegeEscalation": False,
                    "readOnlyRootFilesystem": True,
                    "runAsNonRoot": True,
                    "capabilities": {"drop": ["ALL"]},
                },
            }
        ],
    }
    if r.service_account:
        spec["serviceAccountName"] = r.service_account
    metadata: dict[str, Any] = {"labels": labels}
    if r.spec.runner.pod_annotations:
        metadata["annotations"] = dict(r.spec.runner.pod_annotations)
    return {"metadata": metadata, "spec": spec}


def job_spec(
    r: Resolved,
    cr_meta: dict[str, Any],
    trigger: Trigger,
    input_text: str,
    scheduled_time: datetime | None = None,
) -> dict[str, Any]:
    return {
        "backoffLimit": r.spec.retries,
        "activeDeadlineSeconds": r.spec.timeout_seconds,
        "podFailurePolicy": {
            "rules": [
                {
                    "action": "FailJob",
                    "onExitCodes": {
                        "containerName": names.RUNNER_CONTAINER,
                        "operator": "In",
                        "values": [EXIT_CONFIG],
                    },
                }
            ]
        },
        "template": pod_template(r, cr_meta, trigger, input_text, scheduled_time),
    }


def cronjob(r: Resolved, cr_meta: dict[str, Any], settings: Settings) -> dict[str, Any]:
    schedule = cr_meta["name"]
    if r.effective_schedule is None:
        raise ValueError("cronjob() needs a recurring schedule")
    labels = {**owned_labels(cr_meta), names.TRIGGER_LABEL: "Scheduled"}
    return {
        "apiVersion": "batch/v1",
        "kind": "CronJob",
        "metadata": {
            "name": names.cronjob_name(schedule),
            "namespace": cr_meta["namespace"],
            "labels": owned_labels(cr_meta),
            "ownerReferences": [owner_reference(cr_meta)],
        },
        "spec": {
            "schedule": r.effective_schedule,
            "timeZone": r.time_zone_name,
            "suspend": r.spec.suspend,
            "concurrencyPolicy": r.spec.concurrency_policy,
            "startingDeadlineSeconds": r.spec.starting_deadline_seconds,
            "successfulJobsHistoryLimit": CRONJOB_JOBS_KEPT,
            "failedJobsHistoryLimit": CRONJOB_JOBS_KEPT,
            "jobTemplate": {
                "metadata": {"labels": labels},
                "spec": job_spec(r, cr_meta, "Scheduled", r.spec.input),
            },
        },
    }


def job(
    r: Resolved,
    cr_meta: dict[str, Any],
    *,
    name: str,
    trigger: Trigger,
    scheduled_time: datetime,
    input_text: str,
) -> dict[str, Any]:
    """A Job the operator starts itself (run-now or one-time). No TTL and no finalizer:
    only the operator deletes it, once its run is recorded (see plan.prune)."""
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": name,
            "namespace": cr_meta["namespace"],
            "labels": {**owned_labels(cr_meta), names.TRIGGER_LABEL: trigger},
            "annotations": {names.SCHEDULED_TIME_ANNOTATION: rfc3339(scheduled_time)},
            "ownerReferences": [owner_reference(cr_meta)],
        },
        "spec": job_spec(r, cr_meta, trigger, input_text, scheduled_time),
    }
