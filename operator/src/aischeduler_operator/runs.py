"""What one owned Job (and its pods) says about its run. Pure; reads the projections the
watch caches keep (``observe.py``)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from aischeduler_operator import names
from aischeduler_operator.models import ActiveRun, HistoryEntry, Trigger
from aischeduler_operator.observe import JobCondition, JobFacts, PodFacts
from aischeduler_operator.results import parse_termination_message
from aischeduler_operator.times import parse_time, rfc3339
from aischeduler_runner.contract import RunResult

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
    report: RunResult | None
    finalizers: tuple[str, ...] | None = None

    @property
    def finished(self) -> bool:
        return self.state != "Active" or self.stuck or self.deleting

    @property
    def outcome(self) -> Literal["Succeeded", "Failed"]:
        return "Succeeded" if self.state == "Succeeded" else "Failed"


def _condition(job: JobFacts, kind: str) -> JobCondition | None:
    return next((c for c in job.conditions if c.type == kind), None)


def _trigger(job: JobFacts) -> Trigger:
    if job.trigger in ("Manual", "OneTime"):
        return job.trigger  # type: ignore[return-value]
    return "Scheduled"


def _newest(pods: list[PodFacts]) -> list[PodFacts]:
    return sorted(pods, key=lambda p: p.created, reverse=True)


def stuck_reason(pods: list[PodFacts]) -> str | None:
    """Why the newest pod of an unfinished Job can never run, or None."""
    for pod in _newest(pods)[:1]:
        if pod.waiting_reason in STUCK_REASONS:
            detail = pod.waiting_message
            return f"runner pod {pod.name} cannot start: {pod.waiting_reason}" + (
                f": {detail}" if detail else ""
            )
        if pod.unschedulable is not None:
            return f"runner pod {pod.name} cannot be scheduled: {pod.unschedulable}"
    return None


def _report(pods: list[PodFacts]) -> RunResult | None:
    for pod in _newest(pods):
        if pod.terminated:
            return parse_termination_message(pod.termination_message)
    return None


def _failure_message(
    job: JobFacts, failed: JobCondition, report: RunResult | None, killed: str | None
) -> str:
    reason = failed.reason
    if reason == "DeadlineExceeded":
        head = f"run exceeded timeoutSeconds ({job.active_deadline_seconds}s)"
    elif reason == "PodFailurePolicy":
        head = "configuration error (runner exit code 2), not retried"
    elif reason == "BackoffLimitExceeded":
        head = f"failed after {job.failed_pods} attempt(s)"
    else:
        head = failed.message or reason or "the Job failed"
    if killed is not None:
        head = f"{head}: {killed}"
    if report is not None and report.message:
        return f"{head}: {report.message}"
    return head


def _state(job: JobFacts) -> JobState:
    if _condition(job, "Complete"):
        return "Succeeded"
    return "Failed" if _condition(job, "Failed") else "Active"


def _message(job: JobFacts, state: JobState, report: RunResult | None, pods: list[PodFacts]) -> str:
    failed = _condition(job, "Failed")
    if failed is not None:
        newest = _newest(pods)[:1]
        return _failure_message(job, failed, report, newest[0].killed if newest else None)
    if state == "Succeeded":
        return report.message if report and report.message else "succeeded"
    return ""


def view_job(job: JobFacts, pods: list[PodFacts]) -> JobView:
    report = _report(pods)
    state = _state(job)
    failed = _condition(job, "Failed")
    completion = job.completion_time
    if failed is not None:
        completion = completion or parse_time(failed.last_transition_time)
    message = _message(job, state, report, pods)
    stuck = stuck_reason(pods) if state == "Active" else None
    if stuck:
        message = stuck
    elif state == "Active" and job.deleting:
        message = "stopped before it finished: the Job was deleted"
    return JobView(
        name=job.name,
        trigger=_trigger(job),
        scheduled_time=job.scheduled_time,
        start_time=job.start_time,
        state=state,
        completion_time=completion,
        message=message,
        stuck=stuck is not None,
        recorded=job.recorded,
        has_finalizer=names.RUN_FINALIZER in (job.finalizers or ()),
        deleting=job.deleting,
        report=report,
        finalizers=job.finalizers,
    )


def history_entry(view: JobView, now: datetime) -> HistoryEntry:
    """The record of a finished run: the runner's report, with the Job's message and times."""
    completion = view.completion_time or now
    reported = view.report or RunResult()
    duration = reported.duration_seconds
    if duration is None and view.start_time is not None:
        duration = max(0.0, (completion - view.start_time).total_seconds())
    return HistoryEntry(
        # What only the Job knows (outcome, message, times) replaces what the runner said.
        **reported.model_dump(exclude={"result", "message", "duration_seconds"}),
        job=view.name,
        trigger=view.trigger,
        result=view.outcome,
        scheduled_time=rfc3339(view.scheduled_time) if view.scheduled_time else None,
        start_time=rfc3339(view.start_time) if view.start_time else None,
        completion_time=rfc3339(completion),
        duration_seconds=duration,
        message=view.message,
    )


def vanished_entry(run: ActiveRun, schedule: str, now: datetime) -> HistoryEntry:
    """The record of a run listed active whose Job was deleted before it was recorded
    (by hand, or its namespace's cleanup): its result is lost, so it counts as failed."""
    scheduled = _scheduled_time_of(run.job, schedule)
    return HistoryEntry(
        job=run.job,
        trigger=_trigger_of(run.job, schedule),
        result="Failed",
        scheduled_time=rfc3339(scheduled) if scheduled else None,
        start_time=run.start_time,
        completion_time=rfc3339(now),
        message="stopped before it finished: the Job was deleted before its result was recorded",
    )


def _scheduled_time_of(job: str, schedule: str) -> datetime | None:
    """A CronJob-made Job's scheduled time, from its name (``<cronjob>-<unix minutes>``)."""
    prefix = names.cronjob_name(schedule) + "-"
    minutes = job.removeprefix(prefix)
    if job.startswith(prefix) and minutes.isdigit():
        return datetime.fromtimestamp(int(minutes) * 60, UTC)
    return None


def _trigger_of(job: str, schedule: str) -> Trigger:
    if _scheduled_time_of(job, schedule) is not None:
        return "Scheduled"
    return "Manual" if "-now-" in job else "OneTime"
