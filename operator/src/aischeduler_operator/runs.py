"""What one owned Job (and its pods) says about its run. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from aischeduler_operator import names
from aischeduler_operator.models import HistoryEntry, Trigger
from aischeduler_operator.results import RunnerReport, parse_termination_message
from aischeduler_operator.times import parse_time, rfc3339

# Container waiting reasons that will not resolve by waiting (spec §6).
STUCK_REASONS = frozenset(
    {
        "ImagePullBackOff",
        "ErrImagePull",
        "InvalidImageName",
        "CreateContainerConfigError",
        "CreateContainerError",
    }
)

JobState = Literal["Active", "Succeeded", "Failed"]


@dataclass(frozen=True)
class JobView:
    name: str
    trigger: Trigger
    scheduled_time: datetime | None
    start_time: datetime | None
    state: JobState
    completion_time: datetime | None
    message: str  # why it ended (or is stuck)
    stuck: bool  # still running, but its pod can never start: the run is failed
    recorded: bool  # label set after the run reached status.history
    has_finalizer: bool
    deleting: bool
    report: RunnerReport | None

    @property
    def finished(self) -> bool:
        return self.state != "Active" or self.stuck or self.deleting

    @property
    def outcome(self) -> Literal["Succeeded", "Failed"]:
        return "Succeeded" if self.state == "Succeeded" else "Failed"


def _condition(obj: dict[str, Any], kind: str) -> dict[str, Any] | None:
    for c in obj.get("status", {}).get("conditions") or []:
        if c.get("type") == kind and c.get("status") == "True":
            found: dict[str, Any] = c
            return found
    return None


def _trigger(job: dict[str, Any]) -> Trigger:
    value = job["metadata"].get("labels", {}).get(names.TRIGGER_LABEL)
    if value in ("Manual", "OneTime"):
        return value  # type: ignore[no-any-return]
    return "Scheduled"


def _scheduled_time(job: dict[str, Any]) -> datetime | None:
    annotations = job["metadata"].get("annotations") or {}
    for key in (names.CRONJOB_SCHEDULED_ANNOTATION, names.SCHEDULED_TIME_ANNOTATION):
        when = parse_time(annotations.get(key))
        if when is not None:
            return when
    return parse_time(job["metadata"].get("creationTimestamp"))


def _runner_state(pod: dict[str, Any], state: str) -> dict[str, Any] | None:
    for status in pod.get("status", {}).get("containerStatuses") or []:
        if status.get("name") == names.RUNNER_CONTAINER:
            found: dict[str, Any] | None = (status.get("state") or {}).get(state)
            return found
    return None


def _newest(pods: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(pods, key=lambda p: p["metadata"].get("creationTimestamp", ""), reverse=True)


def stuck_reason(pods: list[dict[str, Any]]) -> str | None:
    """Why the newest pod of an unfinished Job can never run, or None."""
    for pod in _newest(pods)[:1]:
        name = pod["metadata"]["name"]
        waiting = _runner_state(pod, "waiting")
        if waiting and waiting.get("reason") in STUCK_REASONS:
            detail = waiting.get("message") or ""
            return f"runner pod {name} cannot start: {waiting['reason']}" + (
                f": {detail}" if detail else ""
            )
        for c in pod.get("status", {}).get("conditions") or []:
            if c.get("type") == "PodScheduled" and c.get("reason") == "Unschedulable":
                return (
                    f"runner pod {name} cannot be scheduled: {c.get('message') or 'Unschedulable'}"
                )
    return None


def _report(pods: list[dict[str, Any]]) -> RunnerReport | None:
    for pod in _newest(pods):
        terminated = _runner_state(pod, "terminated")
        if terminated is not None:
            return parse_termination_message(terminated.get("message"))
    return None


def _killed(pods: list[dict[str, Any]]) -> str | None:
    """Why the kernel or the kubelet ended the runner (OOMKilled, ...), which the runner
    itself could not report; None for an exit of its own (Completed, Error)."""
    for pod in _newest(pods)[:1]:
        terminated = _runner_state(pod, "terminated") or {}
        reason = terminated.get("reason")
        if reason not in (None, "Completed", "Error"):
            return f"runner {reason} (exit code {terminated.get('exitCode')})"
    return None


def _failure_message(
    job: dict[str, Any],
    failed: dict[str, Any],
    report: RunnerReport | None,
    killed: str | None = None,
) -> str:
    reason = failed.get("reason", "")
    spec = job.get("spec", {})
    if reason == "DeadlineExceeded":
        head = f"run exceeded timeoutSeconds ({spec.get('activeDeadlineSeconds')}s)"
    elif reason == "PodFailurePolicy":
        head = "configuration error (runner exit code 2), not retried"
    elif reason == "BackoffLimitExceeded":
        attempts = int(job.get("status", {}).get("failed") or 0)
        head = f"failed after {attempts} attempt(s)"
    else:
        head = failed.get("message") or reason or "the Job failed"
    if killed is not None:
        head = f"{head}: {killed}"
    if report is not None and report.message:
        return f"{head}: {report.message}"
    return head


def view_job(job: dict[str, Any], pods: list[dict[str, Any]]) -> JobView:
    meta = job["metadata"]
    status = job.get("status", {})
    report = _report(pods)
    complete, failed = _condition(job, "Complete"), _condition(job, "Failed")
    state: JobState = "Succeeded" if complete else "Failed" if failed else "Active"
    completion = parse_time(status.get("completionTime"))
    if failed is not None:
        completion = completion or parse_time(failed.get("lastTransitionTime"))
        message = _failure_message(job, failed, report, _killed(pods))
    elif complete is not None:
        message = report.message if report and report.message else "succeeded"
    else:
        message = ""
    stuck = stuck_reason(pods) if state == "Active" else None
    deleting = bool(meta.get("deletionTimestamp"))
    if stuck:
        message = stuck
    elif state == "Active" and deleting:
        message = "stopped before it finished: the Job was deleted"
    return JobView(
        name=meta["name"],
        trigger=_trigger(job),
        scheduled_time=_scheduled_time(job),
        start_time=parse_time(status.get("startTime")),
        state=state,
        completion_time=completion,
        message=message,
        stuck=stuck is not None,
        recorded=meta.get("labels", {}).get(names.RECORDED_LABEL) == "true",
        has_finalizer=names.RUN_FINALIZER in (meta.get("finalizers") or []),
        deleting=deleting,
        report=report,
    )


def history_entry(view: JobView, now: datetime) -> HistoryEntry:
    """The record of a finished run."""
    completion = view.completion_time or now
    report = view.report
    duration = report.duration_seconds if report else None
    if duration is None and view.start_time is not None:
        duration = max(0.0, (completion - view.start_time).total_seconds())
    return HistoryEntry(
        job=view.name,
        trigger=view.trigger,
        result=view.outcome,
        scheduled_time=rfc3339(view.scheduled_time) if view.scheduled_time else None,
        start_time=rfc3339(view.start_time) if view.start_time else None,
        completion_time=rfc3339(completion),
        duration_seconds=duration,
        message=view.message,
        output=report.output if report else "",
        execution_id=report.execution_id if report else None,
        conversation_id=report.conversation_id if report else None,
        tokens_used=report.tokens_used if report else None,
    )
