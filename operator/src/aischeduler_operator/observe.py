"""What the operator keeps of each watched object, and the snapshot ``decide`` reads.

The watch caches (kopf indexes, see ``handlers.py``) hold these compact projections, not
whole bodies: only the fields a decision reads. Two projections that compare equal mean
the change made no difference to any decision. Pure."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from aischeduler_operator import names
from aischeduler_operator.settings import Settings
from aischeduler_operator.times import parse_time

Key = tuple[str, str]  # (namespace, schedule name)

# Job conditions a run's outcome is read from.
_JOB_CONDITIONS = ("Complete", "Failed")


@dataclass(frozen=True)
class ScheduleFacts:
    """The AssistantSchedule: identity, spec, stored status and the annotations we read."""

    namespace: str
    name: str
    uid: str
    generation: int
    created: str | None
    deleting: bool
    annotations: tuple[tuple[str, str], ...]
    shard: str | None
    spec: dict[str, Any]
    status: dict[str, Any]
    # The version a status write is conditional on; not an input of any decision.
    resource_version: str = field(default="", compare=False)
    seen: float = field(default=0.0, compare=False)  # when the cache last heard (relist.py)

    @property
    def meta(self) -> dict[str, Any]:
        """The metadata the manifests and events need (owner references, names)."""
        meta: dict[str, Any] = {
            "name": self.name,
            "namespace": self.namespace,
            "uid": self.uid,
            "resourceVersion": self.resource_version,
        }
        if self.shard is not None:
            meta["labels"] = {names.SHARD_LABEL: self.shard}
        return meta

    def annotation(self, key: str) -> str | None:
        return dict(self.annotations).get(key)


@dataclass(frozen=True)
class CronJobFacts:
    """Our CronJob as stored: what a drift check compares with the desired manifest."""

    name: str
    labels: dict[str, str]
    owner_references: tuple[dict[str, Any], ...]
    # The spec as canonical JSON, read back when a decision compares it: one string of a
    # few KB instead of ~20 KB of dicts per CronJob held in the cache (tracemalloc), the
    # largest part of the memory per schedule. Equal specs give equal strings.
    spec_json: str
    # status.lastScheduleTime: the newest time the CronJob controller made a Job for.
    last_schedule_time: datetime | None = None
    uid: str = field(default="", compare=False)
    seen: float = field(default=0.0, compare=False)

    @property
    def spec(self) -> dict[str, Any]:
        spec: dict[str, Any] = json.loads(self.spec_json)
        return spec

    @property
    def metadata(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "labels": self.labels,
            "ownerReferences": list(self.owner_references),
        }

    def body(self) -> dict[str, Any]:
        """As the drift check reads a stored object."""
        return {"metadata": self.metadata, "spec": self.spec}


@dataclass(frozen=True)
class JobCondition:
    type: str
    reason: str
    message: str
    last_transition_time: str | None


@dataclass(frozen=True)
class JobFacts:
    name: str
    trigger: str | None
    recorded: bool
    finalizers: tuple[str, ...] | None  # None: the field is absent (a JSON patch cares)
    deleting: bool
    scheduled_time: datetime | None
    start_time: datetime | None
    completion_time: datetime | None
    conditions: tuple[JobCondition, ...]
    failed_pods: int
    active_deadline_seconds: int | None
    uid: str = field(default="", compare=False)
    seen: float = field(default=0.0, compare=False)


@dataclass(frozen=True)
class PodFacts:
    name: str
    job: str
    created: str
    waiting_reason: str | None
    waiting_message: str
    terminated: bool
    termination_message: str | None
    unschedulable: str | None  # the scheduler's message when it cannot place the pod
    # Why the kernel or the kubelet ended the runner (OOMKilled, ...), which the runner
    # itself could not report; None for an exit of its own (Completed, Error).
    killed: str | None = None
    uid: str = field(default="", compare=False)
    seen: float = field(default=0.0, compare=False)


@dataclass(frozen=True)
class ErrorFact:
    """The last failed attempt to carry out a decision (kept in memory, per schedule)."""

    message: str
    failures: int
    at: datetime


@dataclass(frozen=True)
class Observed:
    """Everything one decision about one schedule reads, from the caches and the clock."""

    key: Key
    schedule: ScheduleFacts | None
    cronjob: CronJobFacts | None
    jobs: tuple[JobFacts, ...]
    pods: tuple[PodFacts, ...]
    settings: Settings
    error: ErrorFact | None = None
    now: datetime = field(default_factory=lambda: datetime.min, compare=False)


# --------------------------------------------------------------------------- projections


def _meta(body: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = body.get("metadata") or {}
    return meta


def schedule_of(body: dict[str, Any]) -> str | None:
    """The schedule an owned object belongs to (its label), or None."""
    value = (_meta(body).get("labels") or {}).get(names.SCHEDULE_LABEL)
    return value if isinstance(value, str) and value else None


_READ_ANNOTATIONS = (names.RUN_NOW_ANNOTATION, names.RUN_NOW_INPUT_ANNOTATION)


def project_schedule(body: dict[str, Any]) -> ScheduleFacts:
    meta = _meta(body)
    annotations = meta.get("annotations") or {}
    return ScheduleFacts(
        namespace=meta["namespace"],
        name=meta["name"],
        uid=meta.get("uid", ""),
        generation=int(meta.get("generation") or 1),
        created=meta.get("creationTimestamp"),
        deleting=bool(meta.get("deletionTimestamp")),
        annotations=tuple((k, annotations[k]) for k in _READ_ANNOTATIONS if k in annotations),
        shard=(meta.get("labels") or {}).get(names.SHARD_LABEL),
        spec=dict(body.get("spec") or {}),
        status=dict(body.get("status") or {}),
        resource_version=meta.get("resourceVersion", ""),
    )


def project_cronjob(body: dict[str, Any]) -> CronJobFacts:
    meta = _meta(body)
    return CronJobFacts(
        name=meta["name"],
        labels=dict(meta.get("labels") or {}),
        owner_references=tuple(meta.get("ownerReferences") or ()),
        spec_json=json.dumps(body.get("spec") or {}, sort_keys=True, separators=(",", ":")),
        last_schedule_time=parse_time((body.get("status") or {}).get("lastScheduleTime")),
        uid=meta.get("uid", ""),
    )


def _scheduled_time(meta: dict[str, Any]) -> datetime | None:
    annotations = meta.get("annotations") or {}
    for key in (names.CRONJOB_SCHEDULED_ANNOTATION, names.SCHEDULED_TIME_ANNOTATION):
        when = parse_time(annotations.get(key))
        if when is not None:
            return when
    return parse_time(meta.get("creationTimestamp"))


def project_job(body: dict[str, Any]) -> JobFacts:
    meta = _meta(body)
    status = body.get("status") or {}
    finalizers = meta.get("finalizers")
    return JobFacts(
        name=meta["name"],
        trigger=(meta.get("labels") or {}).get(names.TRIGGER_LABEL),
        recorded=(meta.get("labels") or {}).get(names.RECORDED_LABEL) == "true",
        finalizers=tuple(finalizers) if finalizers is not None else None,
        deleting=bool(meta.get("deletionTimestamp")),
        scheduled_time=_scheduled_time(meta),
        start_time=parse_time(status.get("startTime")),
        completion_time=parse_time(status.get("completionTime")),
        conditions=tuple(
            JobCondition(
                type=c["type"],
                reason=c.get("reason") or "",
                message=c.get("message") or "",
                last_transition_time=c.get("lastTransitionTime"),
            )
            for c in status.get("conditions") or []
            if c.get("type") in _JOB_CONDITIONS and c.get("status") == "True"
        ),
        failed_pods=int(status.get("failed") or 0),
        active_deadline_seconds=(body.get("spec") or {}).get("activeDeadlineSeconds"),
        uid=meta.get("uid", ""),
    )


def _runner_state(status: dict[str, Any]) -> dict[str, Any]:
    for container in status.get("containerStatuses") or []:
        if container.get("name") == names.RUNNER_CONTAINER:
            state: dict[str, Any] = container.get("state") or {}
            return state
    return {}


def job_of_pod(body: dict[str, Any]) -> str | None:
    labels = _meta(body).get("labels") or {}
    job = labels.get("batch.kubernetes.io/job-name") or labels.get("job-name")
    return job if isinstance(job, str) and job else None


def project_pod(body: dict[str, Any]) -> PodFacts:
    meta = _meta(body)
    status = body.get("status") or {}
    state = _runner_state(status)
    waiting = state.get("waiting") or {}
    terminated = state.get("terminated")
    unschedulable = next(
        (
            c.get("message") or "Unschedulable"
            for c in status.get("conditions") or []
            if c.get("type") == "PodScheduled" and c.get("reason") == "Unschedulable"
        ),
        None,
    )
    return PodFacts(
        name=meta["name"],
        job=job_of_pod(body) or "",
        created=meta.get("creationTimestamp") or "",
        waiting_reason=waiting.get("reason"),
        waiting_message=waiting.get("message") or "",
        terminated=terminated is not None,
        termination_message=(terminated or {}).get("message"),
        unschedulable=unschedulable,
        killed=_killed(terminated or {}),
        uid=meta.get("uid", ""),
    )


def _killed(terminated: dict[str, Any]) -> str | None:
    reason = terminated.get("reason")
    if reason in (None, "Completed", "Error"):
        return None
    return f"runner {reason} (exit code {terminated.get('exitCode')})"


def observe(
    schedule: dict[str, Any] | None,
    cronjob: dict[str, Any] | None,
    jobs: list[dict[str, Any]],
    pods: list[dict[str, Any]],
    settings: Settings,
    now: datetime,
    key: Key | None = None,
    error: ErrorFact | None = None,
) -> Observed:
    """A snapshot from whole bodies (tests and tools; the operator reads its caches)."""
    facts = project_schedule(schedule) if schedule is not None else None
    if key is None:
        assert facts is not None  # noqa: S101 - a key or a schedule names the snapshot
        key = (facts.namespace, facts.name)
    return snapshot(
        key,
        facts,
        project_cronjob(cronjob) if cronjob is not None else None,
        [project_job(j) for j in jobs],
        [project_pod(p) for p in pods],
        settings,
        now,
        error,
    )


def snapshot(
    key: Key,
    schedule: ScheduleFacts | None,
    cronjob: CronJobFacts | None,
    jobs: list[JobFacts],
    pods: list[PodFacts],
    settings: Settings,
    now: datetime,
    error: ErrorFact | None = None,
) -> Observed:
    """Owned objects in name order, so equal caches give equal snapshots."""
    return Observed(
        key=key,
        schedule=schedule,
        cronjob=cronjob,
        jobs=tuple(sorted(jobs, key=lambda j: j.name)),
        pods=tuple(sorted(pods, key=lambda p: p.name)),
        settings=settings,
        error=error,
        now=now,
    )
