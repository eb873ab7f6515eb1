"""``plan.decide`` on whole bodies, and its actions sorted by kind for assertions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from aischeduler_operator.actions import (
    CreateCronJob,
    CreateJob,
    Decision,
    DeleteCronJob,
    DeleteJob,
    PatchCronJob,
    PatchJob,
    PatchStatus,
    PostEvent,
)
from aischeduler_operator.observe import ErrorFact, observe
from aischeduler_operator.plan import decide
from aischeduler_operator.settings import Settings

Objects = Sequence[dict[str, Any]]


@dataclass
class Plan:
    """A decision's actions by kind (the shape the table tests read)."""

    decision: Decision
    status: dict[str, Any]
    cronjob: Literal["apply", "delete", "keep"] = "keep"
    cronjob_manifest: dict[str, Any] | None = None
    create_jobs: list[dict[str, Any]] = field(default_factory=list)
    adopt_jobs: list[str] = field(default_factory=list)
    finalize_jobs: list[str] = field(default_factory=list)
    delete_jobs: list[str] = field(default_factory=list)
    events: list[PostEvent] = field(default_factory=list)
    status_patch: PatchStatus | None = None
    wake_at: datetime | None = None


def sort_actions(d: Decision) -> Plan:
    plan = Plan(decision=d, status=d.status, wake_at=d.requeue_at)
    for a in d.actions:
        match a:
            case CreateCronJob(manifest):
                plan.cronjob, plan.cronjob_manifest = "apply", manifest
            case PatchCronJob():
                plan.cronjob = "apply"
            case DeleteCronJob():
                plan.cronjob = "delete"
            case CreateJob(manifest):
                plan.create_jobs.append(manifest)
            case PatchJob(name, _, "adopt"):
                plan.adopt_jobs.append(name)
            case PatchJob(name, _, "release"):
                plan.finalize_jobs.append(name)
            case DeleteJob(name):
                plan.delete_jobs.append(name)
            case PatchStatus():
                plan.status_patch = a
            case PostEvent():
                plan.events.append(a)
    return plan


def decide_on(
    cr: dict[str, Any] | None,
    jobs: Objects = (),
    pods: Objects = (),
    *,
    settings: Settings,
    now: datetime,
    cronjob: dict[str, Any] | None = None,
    error: ErrorFact | None = None,
) -> Plan:
    key = None if cr is not None else ("team-a", "daily")
    o = observe(cr, cronjob, list(jobs), list(pods), settings, now, key=key, error=error)
    return sort_actions(decide(o))
