"""Builders for the Kubernetes objects the pure core reads (as the API returns them)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from aischeduler_operator import names
from aischeduler_operator.times import rfc3339

NOW = datetime.fromisoformat("2026-03-10T12:00:30+00:00")


def schedule(
    spec: dict[str, Any] | None = None,
    *,
    name: str = "daily",
    generation: int = 1,
    status: dict[str, Any] | None = None,
    annotations: dict[str, str] | None = None,
    created: datetime = NOW - timedelta(seconds=30),
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "aischeduler.io/v1alpha1",
        "kind": "AssistantSchedule",
        "metadata": {
            "name": name,
            "namespace": "team-a",
            "uid": "11111111-2222-3333-4444-555555555555",
            "generation": generation,
            "creationTimestamp": rfc3339(created),
            "annotations": annotations or {},
        },
        "spec": {"assistant": {"id": "abc"}, "schedule": "0 * * * *", **(spec or {})},
    }
    if status is not None:
        body["status"] = status
    return body


def job(
    name: str,
    *,
    schedule_name: str = "daily",
    trigger: str = "Scheduled",
    scheduled: datetime | None = None,
    state: str = "Active",
    reason: str = "",
    finalizer: bool = False,  # the run finalizer of operator 0.1
    recorded: bool = False,
    deleting: bool = False,
    started: datetime | None = None,
    completed: datetime | None = None,
) -> dict[str, Any]:
    labels = {**names.owned_labels(schedule_name), names.TRIGGER_LABEL: trigger}
    if recorded:
        labels[names.RECORDED_LABEL] = "true"
    meta: dict[str, Any] = {
        "name": name,
        "namespace": "team-a",
        "labels": labels,
        "annotations": {},
        "creationTimestamp": rfc3339(scheduled or NOW),
    }
    if scheduled is not None:
        key = (
            names.CRONJOB_SCHEDULED_ANNOTATION
            if trigger == "Scheduled"
            else names.SCHEDULED_TIME_ANNOTATION
        )
        meta["annotations"][key] = rfc3339(scheduled)
    if finalizer:
        meta["finalizers"] = [names.RUN_FINALIZER]
    if deleting:
        meta["deletionTimestamp"] = rfc3339(NOW)
    status: dict[str, Any] = {"startTime": rfc3339(started or scheduled or NOW)}
    if state == "Succeeded":
        status["conditions"] = [{"type": "Complete", "status": "True"}]
        status["completionTime"] = rfc3339(completed or NOW)
        status["succeeded"] = 1
    elif state == "Failed":
        status["conditions"] = [
            {
                "type": "Failed",
                "status": "True",
                "reason": reason,
                "lastTransitionTime": rfc3339(completed or NOW),
            }
        ]
        status["failed"] = 1
    return {"metadata": meta, "spec": {"activeDeadlineSeconds": 3600}, "status": status}


def pod(
    job_name: str,
    *,
    message: dict[str, Any] | str | None = None,
    exit_code: int = 0,
    waiting: str | None = None,
    unschedulable: bool = False,
    created: datetime = NOW,
) -> dict[str, Any]:
    state: dict[str, Any]
    if waiting is not None:
        state = {"waiting": {"reason": waiting, "message": "back-off pulling image"}}
    elif message is not None:
        text = message if isinstance(message, str) else json.dumps(message)
        state = {"terminated": {"exitCode": exit_code, "message": text}}
    else:
        state = {"running": {}}
    conditions = (
        [
            {
                "type": "PodScheduled",
                "status": "False",
                "reason": "Unschedulable",
                "message": "0/2 nodes are available: 2 Insufficient cpu.",
            }
        ]
        if unschedulable
        else []
    )
    return {
        "metadata": {
            "name": f"{job_name}-x1",
            "labels": {"batch.kubernetes.io/job-name": job_name, "job-name": job_name},
            "creationTimestamp": rfc3339(created),
        },
        "status": {
            "conditions": conditions,
            "containerStatuses": [] if unschedulable else [{"name": "runner", "state": state}],
        },
    }


def result(**fields: Any) -> dict[str, Any]:
    base = {
        "result": "Succeeded",
        "message": "ok",
        "output": "answer",
        "durationSeconds": 2.5,
        "attempts": 1,
    }
    return {**base, **fields}
