"""The reconcile decision: (AssistantSchedule, owned Jobs and Pods, settings, now) →
what to apply and the new status. Pure — no I/O, the clock passed in — so every path
is unit-tested without a cluster; ``reconcile.py`` carries the plan out."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Literal

from pydantic import ValidationError

from aischeduler_operator import manifests, names
from aischeduler_operator.models import (
    MAX_INPUT_CHARS,
    ActiveRun,
    AssistantScheduleStatus,
    Condition,
    HistoryEntry,
    Phase,
    Runs,
)
from aischeduler_operator.resolve import Invalid, Resolved, resolve
from aischeduler_operator.runs import history_entry, view_job
from aischeduler_operator.schedule import next_times
from aischeduler_operator.settings import Settings
from aischeduler_operator.times import parse_time, rfc3339

# How long after a scheduled time's deadline we wait before calling it Missed: covers the
# CronJob controller's and our own watch latency.
MISSED_SLACK = timedelta(seconds=15)
# Scheduled times examined per reconcile (a schedule unwatched for years stays bounded).
MAX_MISSED_SCAN = 1000
# startingDeadlineSeconds has no upper bound in the API; beyond this it changes nothing.
MAX_DEADLINE = timedelta(days=3650)
NEXT_RUN_TIMES = 5


@dataclass(frozen=True)
class Event:
    type: Literal["Normal", "Warning"]
    reason: str
    message: str


@dataclass
class Plan:
    status: dict[str, Any]
    cronjob: Literal["apply", "delete", "keep"] = "keep"
    cronjob_manifest: dict[str, Any] | None = None
    create_jobs: list[dict[str, Any]] = field(default_factory=list)
    adopt_jobs: list[str] = field(default_factory=list)  # add the run finalizer
    finalize_jobs: list[str] = field(default_factory=list)  # recorded: drop finalizer, label
    delete_jobs: list[str] = field(default_factory=list)  # stuck runs
    events: list[Event] = field(default_factory=list)
    recorded: list[HistoryEntry] = field(default_factory=list)
    wake_at: datetime | None = None


def load_status(raw: dict[str, Any] | None) -> AssistantScheduleStatus:
    try:
        return AssistantScheduleStatus.model_validate(raw or {})
    except ValidationError:
        # A hand-edited or older status must not wedge the schedule: start afresh.
        return AssistantScheduleStatus()


def condition(
    old: list[Condition],
    kind: str,
    status: Literal["True", "False"],
    reason: str,
    message: str,
    generation: int,
    now: datetime,
) -> Condition:
    """A condition whose lastTransitionTime moves only when its status changes."""
    previous = next((c for c in old if c.type == kind), None)
    since = (
        previous.last_transition_time
        if previous is not None and previous.status == status
        else rfc3339(now)
    )
    return Condition(
        type=kind,
        status=status,
        reason=reason,
        message=message,
        last_transition_time=since,
        observed_generation=generation,
    )


def _pods_by_job(pods: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    grouped: dict[str, list[dict[str, Any]]] = {}
    for pod in pods:
        labels = pod["metadata"].get("labels", {})
        job = labels.get("batch.kubernetes.io/job-name") or labels.get("job-name")
        if job:
            grouped.setdefault(job, []).append(pod)
    return grouped


def _count(runs: Runs, entry: HistoryEntry) -> Runs:
    failed = entry.result == "Failed"
    return Runs(
        total=runs.total + 1,
        succeeded=runs.succeeded + (entry.result == "Succeeded"),
        failed=runs.failed + failed,
        missed=runs.missed + (entry.result == "Missed"),
        consecutive_failures=0
        if entry.result == "Succeeded"
        else runs.consecutive_failures + (failed or entry.result == "Missed"),
    )


def _missed(
    job: str, trigger: Literal["Scheduled", "OneTime"], when: datetime, why: str
) -> HistoryEntry:
    return HistoryEntry(
        job=job, trigger=trigger, result="Missed", scheduled_time=rfc3339(when), message=why
    )


def _times_until(r: Resolved, start: datetime, horizon: datetime) -> list[datetime]:
    """Scheduled times after ``start`` up to ``horizon`` (bounded by MAX_MISSED_SCAN)."""
    assert r.cron is not None  # noqa: S101
    due: list[datetime] = []
    t = start
    while len(due) < MAX_MISSED_SCAN:
        found = next_times(r.cron, r.time_zone, t, 1)
        if not found or found[0] > horizon:
            break
        due.append(found[0])
        t = found[0]
    return due


class _Planner:
    def __init__(
        self,
        cr: dict[str, Any],
        jobs: list[dict[str, Any]],
        pods: list[dict[str, Any]],
        settings: Settings,
        now: datetime,
    ) -> None:
        self.meta = cr["metadata"]
        self.name: str = self.meta["name"]
        self.generation: int = self.meta.get("generation", 1)
        self.old = load_status(cr.get("status"))
        self.settings = settings
        self.now = now
        self.resolved = resolve(cr.get("spec") or {}, settings)
        by_job = _pods_by_job(pods)
        self.views = [view_job(j, by_job.get(j["metadata"]["name"], [])) for j in jobs]
        self.views.sort(key=lambda v: v.scheduled_time or now)
        self.plan = Plan(status={})
        self.new_entries: list[HistoryEntry] = []
        self.watermark = self.old.schedule_watermark
        self.last_run_now = self.old.last_run_now

    # ---------------------------------------------------------------- runs
    def record_finished_runs(self) -> None:
        in_history = {h.job for h in self.old.history}
        for v in self.views:
            if not v.finished:
                if not v.has_finalizer:
                    self.plan.adopt_jobs.append(v.name)
                    self.plan.events.append(
                        Event(
                            "Normal", "RunStarted", f"{v.trigger.lower()} run started: job {v.name}"
                        )
                    )
                continue
            if not (v.recorded or v.name in in_history):
                self.new_entries.append(history_entry(v, self.now))
                if v.stuck and not v.deleting:
                    self.plan.delete_jobs.append(v.name)
            if v.has_finalizer or not v.recorded:
                self.plan.finalize_jobs.append(v.name)

    def run_now(self, r: Resolved | Invalid) -> None:
        annotations = self.meta.get("annotations") or {}
        value = annotations.get(names.RUN_NOW_ANNOTATION)
        if not value:
            return
        token = names.digest(value, 16)
        if token == self.last_run_now:
            return
        self.last_run_now = token
        if isinstance(r, Invalid):
            self.plan.events.append(
                Event(
                    "Warning", "InvalidSpec", f"run-now ignored, the spec is invalid: {r.message}"
                )
            )
            return
        text = annotations.get(names.RUN_NOW_INPUT_ANNOTATION, r.spec.input)
        if len(text) > MAX_INPUT_CHARS:
            self.plan.events.append(
                Event(
                    "Warning",
                    "InvalidSpec",
                    f"run-now ignored: {names.RUN_NOW_INPUT_ANNOTATION} is longer than "
                    f"{MAX_INPUT_CHARS} characters",
                )
            )
            return
        job = names.manual_job_name(self.name, value)
        self._start(r, job, "Manual", self.now, text)

    def _start(
        self,
        r: Resolved,
        job: str,
        trigger: Literal["Manual", "OneTime"],
        scheduled: datetime,
        text: str,
    ) -> None:
        if any(v.name == job for v in self.views):
            return  # created before a restart; never twice
        self.plan.create_jobs.append(
            manifests.job(
                r, self.meta, name=job, trigger=trigger, scheduled_time=scheduled, input_text=text
            )
        )
        self.plan.events.append(
            Event("Normal", "RunStarted", f"{trigger.lower()} run started: job {job}")
        )

    # ---------------------------------------------------------------- schedules
    def one_time(self, r: Resolved) -> bool:
        """Handles a runAt schedule; returns whether its run is accounted for."""
        assert r.run_at is not None and r.spec.run_at is not None  # noqa: S101
        key = rfc3339(r.run_at)
        job = names.one_time_job_name(self.name, r.spec.run_at)
        exists = any(v.name == job for v in self.views)
        if self.watermark == key or exists:
            self.watermark = key
            return True
        if r.spec.suspend:
            return False
        deadline = r.run_at + min(timedelta(seconds=r.spec.starting_deadline_seconds), MAX_DEADLINE)
        if self.now < r.run_at:
            self.plan.wake_at = r.run_at
            return False
        self.watermark = key
        if self.now <= deadline:
            self._start(r, job, "OneTime", r.run_at, r.spec.input)
        else:
            late = int((self.now - r.run_at).total_seconds())
            self.new_entries.append(
                _missed(
                    job,
                    "OneTime",
                    r.run_at,
                    f"runAt {key} passed {late}s ago, beyond startingDeadlineSeconds "
                    f"({r.spec.starting_deadline_seconds}s): the operator was not running then",
                )
            )
        return True

    def recurring_missed(self, r: Resolved) -> None:
        """Records scheduled times that passed their deadline with no run started."""
        assert r.cron is not None  # noqa: S101
        spec_changed = (
            self.old.observed_generation is not None
            and self.old.observed_generation != self.generation
        )
        if r.spec.suspend or spec_changed:
            self.watermark = rfc3339(self.now)
            return
        start = (
            parse_time(self.watermark) or parse_time(self.meta.get("creationTimestamp")) or self.now
        )
        self.watermark = rfc3339(start)
        deadline = min(timedelta(seconds=r.spec.starting_deadline_seconds), MAX_DEADLINE)
        # Once the CronJob controller has started a later time it never starts an earlier
        # one: times before the newest scheduled run are settled, deadline or not.
        started = [
            v.scheduled_time for v in self.views if v.trigger == "Scheduled" and v.scheduled_time
        ]
        horizon = max([self.now - deadline - MISSED_SLACK, *started])
        seen = {v.scheduled_time for v in self.views} | {
            parse_time(h.scheduled_time) for h in self.old.history
        }
        due = _times_until(r, start, horizon)
        for t in due:
            if t not in seen:
                job = names.scheduled_job_name(self.name, int(t.timestamp()))
                self.new_entries.append(_missed(job, "Scheduled", t, self._why_missed(r, t)))
        if due:
            self.watermark = rfc3339(due[-1])
        # A run that never starts (CronJob controller down, deadline passed, skipped under
        # Forbid) makes no event of its own: look again once the first time not accounted
        # for yet is past its deadline (to record it Missed), and shortly after the next
        # time (so nextRunTime does not stay in the past), whatever else happens meanwhile.
        pending = next_times(r.cron, r.time_zone, horizon, 1)
        for _ in range(MAX_MISSED_SCAN):
            if not pending or pending[0] not in seen:
                break
            pending = next_times(r.cron, r.time_zone, pending[0], 1)
        wake = [t + deadline + MISSED_SLACK for t in pending]
        wake += [t + MISSED_SLACK for t in next_times(r.cron, r.time_zone, self.now, 1)]
        self.plan.wake_at = min(wake, default=None)

    def _why_missed(self, r: Resolved, t: datetime) -> str:
        deadline = r.spec.starting_deadline_seconds
        if r.spec.concurrency_policy == "Forbid":
            for v in self.views:
                begun = v.start_time or v.scheduled_time
                ended = v.completion_time
                if begun is not None and begun <= t and (ended is None or ended >= t):
                    return (
                        f"skipped: concurrencyPolicy is Forbid and run {v.name} was still "
                        f"active at {rfc3339(t)}"
                    )
        return (
            f"no run started within startingDeadlineSeconds ({deadline}s) of {rfc3339(t)}: "
            "the CronJob controller or the operator was not running, or the cluster could "
            "not start the Job in time"
        )

    # ---------------------------------------------------------------- status
    def build(self) -> Plan:
        r = self.resolved
        self.record_finished_runs()
        self.run_now(r)
        phase: Phase
        ready: tuple[Literal["True", "False"], str, str]
        next_times_: list[datetime] = []
        if isinstance(r, Invalid):
            phase = "Invalid"
            ready = ("False", str(r.reason), r.message)
            old_ready = next((c for c in self.old.conditions if c.type == "Ready"), None)
            if old_ready is None or (old_ready.reason, old_ready.message) != (r.reason, r.message):
                self.plan.events.append(Event("Warning", "InvalidSpec", r.message))
        elif r.cron is not None:
            self.plan.cronjob = "apply"
            self.plan.cronjob_manifest = manifests.cronjob(r, self.meta, self.settings)
            self.recurring_missed(r)
            phase = "Suspended" if r.spec.suspend else "Active"
            if not r.spec.suspend:
                next_times_ = next_times(r.cron, r.time_zone, self.now, NEXT_RUN_TIMES)
            cj = names.cronjob_name(self.name)
            ready = ("True", "Reconciled", f"CronJob {cj} matches the spec")
        else:
            self.plan.cronjob = "delete"
            phase, next_times_ = self._one_time_phase(r)
            assert r.run_at is not None  # noqa: S101
            ready = ("True", "Reconciled", f"one-time run at {rfc3339(r.run_at)}")

        if not isinstance(r, Invalid) and self.old.observed_generation != self.generation:
            when = rfc3339(next_times_[0]) if next_times_ else "none (suspended or done)"
            self.plan.events.append(Event("Normal", "Scheduled", f"next run: {when}"))

        self._finish_status(r, phase, ready, next_times_)
        return self.plan

    def _one_time_phase(self, r: Resolved) -> tuple[Phase, list[datetime]]:
        """Phase and upcoming time of a runAt schedule (starting or missing its run)."""
        assert r.run_at is not None  # noqa: S101
        accounted = self.one_time(r)
        running = any(v.trigger == "OneTime" and not v.finished for v in self.views) or any(
            j["metadata"]["labels"].get(names.TRIGGER_LABEL) == "OneTime"
            for j in self.plan.create_jobs
        )
        if accounted and not running:
            return "Completed", []
        if r.spec.suspend and not accounted:
            return "Suspended", []
        return "Active", [] if accounted else [r.run_at]

    def _finish_status(
        self,
        r: Resolved | Invalid,
        phase: Phase,
        ready: tuple[Literal["True", "False"], str, str],
        upcoming: list[datetime],
    ) -> None:
        old = self.old
        entries = sorted(
            self.new_entries,
            key=lambda e: e.completion_time or e.scheduled_time or "",
        )
        runs = old.runs
        history = list(old.history)
        for entry in entries:
            runs = _count(runs, entry)
            history.insert(0, entry)
            self.plan.events.append(self._run_event(entry))
        limit = r.spec.history_limit if isinstance(r, Resolved) else max(len(history), 1)
        history = history[:limit]
        self.plan.recorded = entries

        conditions = [
            condition(
                old.conditions, "Ready", ready[0], ready[1], ready[2], self.generation, self.now
            )
        ]
        newest = entries[-1] if entries else (old.history[0] if old.history else None)
        if newest is not None:
            ok = newest.result == "Succeeded"
            conditions.append(
                condition(
                    old.conditions,
                    "LastRunSucceeded",
                    "True" if ok else "False",
                    newest.result,
                    newest.message,
                    self.generation,
                    self.now,
                )
            )

        scheduled = [v.scheduled_time for v in self.views if v.scheduled_time] + [
            t for t in (parse_time(old.last_schedule_time),) if t
        ]
        succeeded = [parse_time(e.completion_time) for e in entries if e.result == "Succeeded"]
        successful = [t for t in [*succeeded, parse_time(old.last_successful_time)] if t]
        status = AssistantScheduleStatus(
            observed_generation=self.generation,
            conditions=conditions,
            phase=phase,
            target=r.target if isinstance(r, Resolved) else old.target,
            time_zone=r.time_zone_name if isinstance(r, Resolved) else old.time_zone,
            next_run_time=rfc3339(upcoming[0]) if upcoming else None,
            next_run_times=[rfc3339(t) for t in upcoming],
            last_schedule_time=rfc3339(max(scheduled)) if scheduled else None,
            last_successful_time=rfc3339(max(successful)) if successful else None,
            last_result=newest.result if newest else None,
            active=[
                ActiveRun(job=v.name, start_time=rfc3339(v.start_time) if v.start_time else None)
                for v in self.views
                if not v.finished
            ],
            runs=runs,
            history=history,
            schedule_watermark=self.watermark,
            last_run_now=self.last_run_now,
        )
        self.plan.status = status.to_dict()

    @staticmethod
    def _run_event(entry: HistoryEntry) -> Event:
        text = f"job {entry.job}: {entry.message}" if entry.message else f"job {entry.job}"
        if entry.result == "Succeeded":
            return Event("Normal", "RunSucceeded", text)
        return Event("Warning", "RunFailed" if entry.result == "Failed" else "RunMissed", text)


def decide(
    cr: dict[str, Any],
    jobs: list[dict[str, Any]],
    pods: list[dict[str, Any]],
    settings: Settings,
    now: datetime,
) -> Plan:
    """The whole reconcile decision for one AssistantSchedule."""
    return _Planner(cr, jobs, pods, settings, now).build()
