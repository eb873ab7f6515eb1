"""The reconcile decision: ``decide(Observed) → Decision`` (typed actions). Pure — no I/O,
the clock in the snapshot — and made of small steps, each tested on its own: record
finished runs, run-now, the schedule's arrangement (recurring: due and missed times;
one-time: start or miss), the owned objects, and the new status."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Literal

from pydantic import ValidationError

from aischeduler_operator import backfill, drift, due, manifests, names, policy
from aischeduler_operator.actions import (
    Action,
    CreateCronJob,
    CreateJob,
    Decision,
    DeleteCronJob,
    DeleteJob,
    PatchCronJob,
    PatchJob,
    PatchStatus,
    PostEvent,
    Recorded,
)
from aischeduler_operator.models import (
    MAX_INPUT_CHARS,
    ActiveRun,
    AssistantScheduleStatus,
    Backfill,
    Condition,
    HistoryEntry,
    Phase,
    Runs,
)
from aischeduler_operator.observe import CronJobFacts, ErrorFact, Observed, ScheduleFacts
from aischeduler_operator.resolve import Invalid, Resolved, resolve
from aischeduler_operator.runs import JobView, history_entry, vanished_entry, view_job
from aischeduler_operator.times import parse_time, rfc3339
from aischeduler_runner.placeholders import PlaceholderError
from aischeduler_runner.placeholders import check as check_placeholders

NEXT_RUN_TIMES = 5
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
MAX_RETRY_SECONDS = 300.0
Ready = tuple[Literal["True", "False"], str, str]


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


def status_patch(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Merge patch from the stored status to ``new``: absent keys are removed, also inside
    objects (a merge patch keeps the keys a nested object leaves out)."""
    patch: dict[str, Any] = dict.fromkeys(old, None)
    for key, value in new.items():
        before = old.get(key)
        if isinstance(before, dict) and isinstance(value, dict):
            patch[key] = status_patch(before, value)
        else:
            patch[key] = value
    return patch


def retry_delay(failures: int) -> float:
    return min(MAX_RETRY_SECONDS, 2.0**failures)


# --------------------------------------------------------------------------- runs


def job_views(o: Observed) -> tuple[JobView, ...]:
    """Each owned Job with its pods, oldest scheduled first."""
    pods: dict[str, list[Any]] = {}
    for pod in o.pods:
        pods.setdefault(pod.job, []).append(pod)
    views = [view_job(j, pods.get(j.name, [])) for j in o.jobs]
    return tuple(sorted(views, key=lambda v: v.scheduled_time or o.now))


# No finalizer keeps a Job for its record (there was one until 0.1): a finalizer cannot
# protect the runs an outage puts at risk — the CronJob controller creates Jobs from the
# template's labels and annotations only, so the Jobs it makes while the operator is down
# never carry one — and it costs a write per run and leaves Jobs (and namespaces)
# Terminating whenever the operator is down or gone. Instead nothing but the operator
# deletes a finished Job until its run is in status.history: the CronJob keeps
# CRONJOB_JOBS_KEPT of each outcome, operator-made Jobs have no TTL, and the operator
# deletes recorded Jobs beyond jobsHistoryLimit (``prune``). A run whose Job someone
# deletes by hand before it is recorded is still counted, from ``status.active``.


@dataclass(frozen=True)
class RunRecords:
    entries: tuple[HistoryEntry, ...] = ()
    started: tuple[JobView, ...] = ()  # running Jobs not listed active before: RunStarted
    release: tuple[JobView, ...] = ()  # recorded: label them (and drop a 0.1 finalizer)
    delete: tuple[str, ...] = ()  # stuck runs


def record_runs(
    views: tuple[JobView, ...],
    history: list[HistoryEntry],
    now: datetime,
    active: list[ActiveRun] | None = None,
    schedule: str = "",
) -> RunRecords:
    """New history entries for finished runs not recorded yet (by label or by name), and
    for runs listed active before whose Job is gone unrecorded."""
    in_history = {h.job for h in history}
    listed = {a.job for a in active or ()}
    entries: list[HistoryEntry] = []
    started: list[JobView] = []
    release: list[JobView] = []
    delete: list[str] = []
    for v in views:
        if not v.finished:
            if v.trigger == "Scheduled" and v.name not in listed and v.start_time is not None:
                started.append(v)
            continue
        if not (v.recorded or v.name in in_history):
            entries.append(history_entry(v, now))
            if v.stuck and not v.deleting:
                delete.append(v.name)
        if v.has_finalizer or not v.recorded:
            release.append(v)
    present = {v.name for v in views}
    entries += [
        vanished_entry(run, schedule, now)
        for run in active or ()
        if run.job not in present and run.job not in in_history
    ]
    return RunRecords(tuple(entries), tuple(started), tuple(release), tuple(delete))


def prune(views: tuple[JobView, ...], keep: int) -> tuple[str, ...]:
    """Recorded finished Jobs beyond the newest ``keep``: the operator's to delete (a Job
    is labelled recorded only after its run reached the status)."""
    done = [v for v in views if v.finished and v.recorded and not v.deleting]
    done.sort(key=lambda v: (v.completion_time or v.scheduled_time or _EPOCH, v.name))
    return tuple(v.name for v in done[: max(0, len(done) - keep)])


@dataclass(frozen=True)
class RunNow:
    token: str | None  # the digest of the last run-now value acted on
    job: str | None = None  # the Manual Job to start
    input: str = ""
    warning: str | None = None


def run_now(s: ScheduleFacts, r: Resolved | Invalid, last: str | None) -> RunNow:
    """A new value of the run-now annotation starts exactly one Manual run."""
    value = s.annotation(names.RUN_NOW_ANNOTATION)
    if not value or names.digest(value, 16) == last:
        return RunNow(token=last)
    token = names.digest(value, 16)
    if isinstance(r, Invalid):
        return RunNow(token, warning=f"run-now ignored, the spec is invalid: {r.message}")
    text = s.annotation(names.RUN_NOW_INPUT_ANNOTATION)
    text = r.spec.input if text is None else text
    if len(text) > MAX_INPUT_CHARS:
        return RunNow(
            token,
            warning=f"run-now ignored: {names.RUN_NOW_INPUT_ANNOTATION} is longer than "
            f"{MAX_INPUT_CHARS} characters",
        )
    try:
        check_placeholders(text)
    except PlaceholderError as e:
        return RunNow(token, warning=f"run-now ignored: {names.RUN_NOW_INPUT_ANNOTATION}: {e}")
    return RunNow(token, job=names.manual_job_name(s.name, value), input=text)


# --------------------------------------------------------------------------- arrangement


@dataclass(frozen=True)
class Arrangement:
    """What the schedule's kind (invalid, recurring, one-time) asks for."""

    phase: Phase
    ready: Ready
    times: due.Times
    upcoming: tuple[datetime, ...] = ()
    cronjob: Literal["apply", "delete", "keep"] = "keep"
    start_one_time: str | None = None


def invalid(r: Invalid) -> Arrangement:
    return Arrangement(
        phase="Invalid", ready=("False", str(r.reason), r.message), times=due.Times(None)
    )


def cronjob_record(cronjob: CronJobFacts | None) -> due.CronJobRecord | None:
    if cronjob is None:
        return None
    return due.CronJobRecord(
        last_schedule_time=cronjob.last_schedule_time,
        successful_limit=cronjob.spec.get("successfulJobsHistoryLimit"),
        failed_limit=cronjob.spec.get("failedJobsHistoryLimit"),
    )


def recurring(
    r: Resolved,
    s: ScheduleFacts,
    old: AssistantScheduleStatus,
    views: tuple[JobView, ...],
    now: datetime,
    recorded: tuple[HistoryEntry, ...],
    cronjob: CronJobFacts | None,
    p: policy.Policy,
) -> Arrangement:
    """``r`` is the schedule as held by its policies (suspended while they hold it)."""
    assert r.cron is not None  # noqa: S101
    spec_changed = old.observed_generation is not None and old.observed_generation != s.generation
    times = due.recurring(
        r,
        name=s.name,
        views=views,
        history=[*recorded, *old.history],
        watermark=old.schedule_watermark,
        created=s.created,
        spec_changed=spec_changed or p.reopened,
        now=now,
        cronjob=cronjob_record(cronjob),
    )
    wakes = [t for t in (times.wake_at, p.wake_at) if t is not None]
    return Arrangement(
        phase=p.phase,
        ready=("True", "Reconciled", f"CronJob {names.cronjob_name(s.name)} matches the spec"),
        times=replace(times, wake_at=min(wakes, default=None)),
        upcoming=p.upcoming,
        cronjob="apply",
    )


def one_time(
    r: Resolved,
    s: ScheduleFacts,
    old: AssistantScheduleStatus,
    views: tuple[JobView, ...],
    now: datetime,
) -> Arrangement:
    assert r.run_at is not None  # noqa: S101
    step = due.one_time(r, name=s.name, views=views, watermark=old.schedule_watermark, now=now)
    running = step.start is not None or any(
        v.trigger == "OneTime" and not v.finished for v in views
    )
    phase: Phase = "Active"
    upcoming: tuple[datetime, ...] = () if step.accounted else (r.run_at,)
    if step.accounted and not running:
        phase, upcoming = "Completed", ()
    elif r.spec.suspend and not step.accounted:
        phase, upcoming = "Suspended", ()
    return Arrangement(
        phase=phase,
        ready=("True", "Reconciled", f"one-time run at {rfc3339(r.run_at)}"),
        times=step.times,
        upcoming=upcoming,
        cronjob="delete",
        start_one_time=step.start,
    )


# --------------------------------------------------------------------------- objects


def _run_event(entry: HistoryEntry) -> PostEvent:
    text = f"job {entry.job}: {entry.message}" if entry.message else f"job {entry.job}"
    if entry.result == "Succeeded":
        return PostEvent("Normal", "RunSucceeded", text)
    return PostEvent("Warning", "RunFailed" if entry.result == "Failed" else "RunMissed", text)


# A decision posts at most this many Events; beyond it, those of one reason become one
# saying how many (after an outage one decision records many runs at once).
MAX_EVENTS = 5
_MANY = {
    "RunSucceeded": "runs succeeded",
    "RunFailed": "runs failed",
    "RunMissed": "runs were missed",
    "RunStarted": "runs started",
}


def bounded(events: list[PostEvent]) -> list[PostEvent]:
    """The events, or with more than MAX_EVENTS, one per reason ("12 runs failed (see
    status.history); the newest: ...")."""
    if len(events) <= MAX_EVENTS:
        return events
    by_reason: dict[str, list[PostEvent]] = {}
    for event in events:
        by_reason.setdefault(event.reason, []).append(event)
    return [
        group[0]
        if len(group) == 1
        else PostEvent(
            group[-1].type,
            reason,
            f"{len(group)} {_MANY.get(reason, reason + ' events')} (see status.history); "
            f"the newest: {group[-1].message}",
        )
        for reason, group in by_reason.items()
    ]


def run_events(entries: tuple[HistoryEntry, ...], times: due.Times) -> list[PostEvent]:
    """An event per recorded run (a summary of many Missed times says it all itself), and
    the notice of scheduled times without a record."""
    events = [
        _run_event(e) if times.count_of(e) == 1 else PostEvent("Warning", "RunMissed", e.message)
        for e in entries
    ]
    if times.unrecorded is not None:
        events.append(PostEvent("Warning", "RunsNotRecorded", times.unrecorded))
    return events


def _started(trigger: str, job: str) -> PostEvent:
    return PostEvent("Normal", "RunStarted", f"{trigger.lower()} run started: job {job}")


def _set_finalizers(current: tuple[str, ...] | None, wanted: list[str]) -> list[dict[str, Any]]:
    """JSON patch setting the finalizers; its ``test`` op makes it fail (and the reconcile
    retry) if another controller changed them meanwhile, or our cache was behind."""
    if current is None:
        return [{"op": "add", "path": "/metadata/finalizers", "value": wanted}]
    return [
        {"op": "test", "path": "/metadata/finalizers", "value": list(current)},
        {"op": "replace", "path": "/metadata/finalizers", "value": wanted},
    ]


def release(view: JobView) -> PatchJob:
    """Marks the Job recorded (and drops the finalizer an operator 0.1 put there)."""
    ops: list[dict[str, Any]] = []
    if view.finalizers and names.RUN_FINALIZER in view.finalizers:
        kept = [f for f in view.finalizers if f != names.RUN_FINALIZER]
        ops = _set_finalizers(view.finalizers, kept)
    labels_path = "/metadata/labels/" + names.RECORDED_LABEL.replace("/", "~1")
    ops.append({"op": "add", "path": labels_path, "value": "true"})
    return PatchJob(view.name, tuple(ops), "release")


def cronjob_actions(
    wanted: Literal["apply", "delete", "keep"],
    desired: dict[str, Any] | None,
    cached: CronJobFacts | None,
    s: ScheduleFacts,
) -> tuple[tuple[Action, ...], str | None]:
    """Create, repair or delete our CronJob; or the reason it is someone else's (a user's
    own CronJob that has our name is never changed or deleted)."""
    name = names.cronjob_name(s.name)
    foreign = drift.foreign_owner(cached.body(), s.meta) if cached is not None else None
    if wanted == "delete":
        return ((DeleteCronJob(name),) if cached is not None and foreign is None else ()), None
    if wanted == "keep" or desired is None:
        return (), None
    if cached is None:
        return (CreateCronJob(desired),), None
    if foreign is not None:
        return (), conflict_message(name, foreign)
    patch = drift.cronjob_patch(cached.body(), desired)
    return ((PatchCronJob(name, patch),) if patch is not None else ()), None


def own_cronjob_echo(settled: Observed | None, o: Observed, created: dict[str, Any] | None) -> bool:
    """``o`` is what our last decision led to (``settled``) plus the CronJob it created
    (``created``), as the API stored it and not yet run: deciding again would find it ours
    and in place, and change nothing. Saves a decision per new schedule."""
    if settled is None or created is None or settled.cronjob is not None or o.cronjob is None:
        return False
    if o.cronjob.last_schedule_time is not None or replace(o, cronjob=None) != settled:
        return False
    return drift.cronjob_patch(o.cronjob.body(), created) is None


def conflict_message(cronjob: str, foreign: str) -> str:
    return (
        f"CronJob {cronjob} exists and is not managed by this schedule ({foreign}); "
        "delete or rename it, or rename the schedule"
    )


# --------------------------------------------------------------------------- status


def _conditions(
    old: AssistantScheduleStatus,
    ready: Ready,
    newest: HistoryEntry | None,
    paused: Ready | None,
    generation: int,
    now: datetime,
) -> list[Condition]:
    conditions = [condition(old.conditions, "Ready", *ready, generation, now)]
    if paused is not None:
        conditions.append(condition(old.conditions, "Paused", *paused, generation, now))
    if newest is not None:
        ok = newest.result == "Succeeded"
        conditions.append(
            condition(
                old.conditions,
                "LastRunSucceeded",
                "True" if ok else "False",
                newest.result,
                newest.message,
                generation,
                now,
            )
        )
    return conditions


def count(runs: Runs, entry: HistoryEntry, times: int = 1) -> Runs:
    """The counters after ``entry``, which stands for ``times`` runs (a summary of many
    Missed times is one entry)."""
    failed = entry.result == "Failed"
    ran = entry.result != "Missed"
    return Runs(
        total=runs.total + times,
        succeeded=runs.succeeded + times * (entry.result == "Succeeded"),
        failed=runs.failed + times * failed,
        missed=runs.missed + times * (entry.result == "Missed"),
        consecutive_failures=0
        if entry.result == "Succeeded"
        else runs.consecutive_failures + times * (failed or entry.result == "Missed"),
        failed_in_a_row=(
            None if entry.result == "Succeeded" else (runs.failed_in_a_row or 0) + times * failed
        )
        or None,
        backfill=(runs.backfill or 0) + times * (ran and entry.trigger == "Backfill") or None,
    )


def count_all(runs: Runs, entries: tuple[HistoryEntry, ...]) -> Runs:
    for entry in entries:
        runs = count(runs, entry)
    return runs


def new_status(
    r: Resolved | Invalid,
    s: ScheduleFacts,
    old: AssistantScheduleStatus,
    views: tuple[JobView, ...],
    entries: tuple[HistoryEntry, ...],
    a: Arrangement,
    last_run_now: str | None,
    now: datetime,
    p: policy.Policy | None = None,
    backfilled: Backfill | None = None,
) -> AssistantScheduleStatus:
    """The whole new status from the old one, the runs recorded now, the arrangement and
    the policies (kept as they were while the spec is invalid)."""
    runs, history = old.runs, list(old.history)
    for entry in entries:
        runs = count(runs, entry, a.times.count_of(entry))
        history.insert(0, entry)
    if p is not None and p.reset_streak:
        runs = runs.model_copy(update={"failed_in_a_row": None})
    paused = p.paused if p is not None else _kept(old, "Paused")
    limit = r.spec.history_limit if isinstance(r, Resolved) else max(len(history), 1)
    newest = entries[-1] if entries else (old.history[0] if old.history else None)
    # A run counts here, in active and for RunStarted (record_runs) once the Job controller
    # has started its Job (it sets startTime when it first syncs it): a Job seen before
    # that would change the status twice, a write more per run (make bench's burst).
    started = [v for v in views if v.start_time is not None]
    scheduled = [v.scheduled_time for v in started if v.scheduled_time]
    scheduled += [t for t in (parse_time(old.last_schedule_time),) if t]
    succeeded = [parse_time(e.completion_time) for e in entries if e.result == "Succeeded"]
    successful = [t for t in [*succeeded, parse_time(old.last_successful_time)] if t]
    return AssistantScheduleStatus(
        observed_generation=s.generation,
        conditions=_conditions(old, a.ready, newest, paused, s.generation, now),
        phase=a.phase,
        target=r.target if isinstance(r, Resolved) else old.target,
        time_zone=r.time_zone_name if isinstance(r, Resolved) else old.time_zone,
        effective_schedule=r.effective_schedule if isinstance(r, Resolved) else None,
        next_run_time=rfc3339(a.upcoming[0]) if a.upcoming else None,
        next_run_times=[rfc3339(t) for t in a.upcoming],
        last_schedule_time=rfc3339(max(scheduled)) if scheduled else None,
        last_successful_time=rfc3339(max(successful)) if successful else None,
        last_result=newest.result if newest else None,
        active=[
            ActiveRun(job=v.name, start_time=rfc3339(v.start_time))
            for v in started
            if v.start_time is not None and not v.finished
        ],
        runs=runs,
        history=history[:limit],
        tokens=p.tokens if p is not None else old.tokens,
        backfill=backfilled if p is not None else old.backfill,
        schedule_watermark=a.times.watermark,
        last_run_now=last_run_now,
        last_resume=p.last_resume if p is not None else old.last_resume,
    )


def _kept(old: AssistantScheduleStatus, kind: str) -> Ready | None:
    found = next((c for c in old.conditions if c.type == kind), None)
    return (found.status, found.reason, found.message) if found is not None else None  # type: ignore[return-value]


def error_status(
    old: AssistantScheduleStatus, generation: int, message: str, now: datetime
) -> dict[str, Any] | None:
    """Status patch setting Ready=False/ReconcileError, or None when it says that already."""
    ready = condition(old.conditions, "Ready", "False", "ReconcileError", message, generation, now)
    conditions = [ready, *(c for c in old.conditions if c.type != "Ready")]
    if conditions == old.conditions:
        return None
    return {"conditions": [c.model_dump(by_alias=True, exclude_none=True) for c in conditions]}


# --------------------------------------------------------------------------- decide


def _gone(o: Observed) -> Decision:
    """The schedule is gone: its Jobs are being collected; let them go."""
    views = job_views(o)
    return Decision(
        actions=tuple(release(v) for v in views if v.has_finalizer), phase=None, gone=True
    )


def _failing(o: Observed, s: ScheduleFacts, error: ErrorFact) -> Decision:
    """Within the back-off after a failed attempt: say so on the status, retry later."""
    old = load_status(s.status)
    patch = error_status(old, s.generation, error.message, o.now)
    actions: tuple[Action, ...] = ()
    if patch is not None:
        actions = (PatchStatus(patch, s.resource_version, {**s.status, **patch}),)
    retry = error.at + timedelta(seconds=retry_delay(error.failures))
    return Decision(
        actions=actions, phase=old.phase, status=s.status, requeue_at=retry, backing_off=True
    )


def _arrange(
    r: Resolved | Invalid,
    s: ScheduleFacts,
    old: AssistantScheduleStatus,
    views: tuple[JobView, ...],
    now: datetime,
    recorded: tuple[HistoryEntry, ...],
    cronjob: CronJobFacts | None,
    p: policy.Policy | None,
) -> Arrangement:
    if isinstance(r, Invalid) or p is None:
        assert isinstance(r, Invalid)  # noqa: S101 - a valid spec has its policies
        return invalid(r)
    if r.cron is not None:
        return recurring(policy.held(r, p), s, old, views, now, recorded, cronjob, p)
    return one_time(r, s, old, views, now)


def by_time(entries: tuple[HistoryEntry, ...]) -> tuple[HistoryEntry, ...]:
    """Runs in the order they ended (the order they are counted and listed in)."""
    return tuple(sorted(entries, key=lambda e: e.completion_time or e.scheduled_time or ""))


def policies(
    r: Resolved | Invalid,
    s: ScheduleFacts,
    old: AssistantScheduleStatus,
    views: tuple[JobView, ...],
    finished: tuple[HistoryEntry, ...],
    o: Observed,
) -> policy.Policy | None:
    """What the schedule policies say (None for an invalid spec: its record is kept)."""
    if isinstance(r, Invalid):
        return None
    if r.cron is None:
        return policy.one_time(r, old, finished, o.now)
    runs = count_all(old.runs, finished)
    return policy.evaluate(r, s, old, views, runs, finished, o.cronjob, o.now, NEXT_RUN_TIMES)


def backfill_step(
    r: Resolved | Invalid,
    s: ScheduleFacts,
    old: AssistantScheduleStatus,
    finished: tuple[HistoryEntry, ...],
    p: policy.Policy | None,
    now: datetime,
) -> backfill.Step:
    if isinstance(r, Invalid) or p is None:
        return backfill.Step(old.backfill)
    value = s.annotation(names.BACKFILL_ANNOTATION)
    return backfill.step(r, s.name, value, old.backfill, finished, p.is_paused, now)


def backfill_jobs(r: Resolved | Invalid, s: ScheduleFacts, step: backfill.Step) -> list[CreateJob]:
    if isinstance(r, Invalid):
        return []
    return [
        CreateJob(
            manifests.job(
                r, s.meta, name=name, trigger="Backfill", scheduled_time=t, input_text=r.spec.input
            )
        )
        for name, t in step.start
    ]


def _events(
    r: Resolved | Invalid,
    old: AssistantScheduleStatus,
    s: ScheduleFacts,
    records: RunRecords,
    now_run: RunNow,
    a: Arrangement,
    created: list[CreateJob],
) -> list[PostEvent]:
    events = [_started(v.trigger, v.name) for v in records.started]
    starts = {job.manifest["metadata"]["name"] for job in created}
    if now_run.job is not None and now_run.job in starts:
        events.append(_started("Manual", now_run.job))
    if now_run.warning is not None:
        events.append(PostEvent("Warning", "InvalidSpec", now_run.warning))
    if isinstance(r, Invalid):
        old_ready = next((c for c in old.conditions if c.type == "Ready"), None)
        if old_ready is None or (old_ready.reason, old_ready.message) != (r.reason, r.message):
            events.append(PostEvent("Warning", "InvalidSpec", r.message))
        return events
    if a.start_one_time is not None and a.start_one_time in starts:
        events.append(_started("OneTime", a.start_one_time))
    if old.observed_generation != s.generation:
        when = rfc3339(a.upcoming[0]) if a.upcoming else "none (suspended or done)"
        events.append(PostEvent("Normal", "Scheduled", f"next run: {when}"))
    return events


def _new_jobs(
    r: Resolved | Invalid,
    s: ScheduleFacts,
    views: tuple[JobView, ...],
    now_run: RunNow,
    a: Arrangement,
    now: datetime,
) -> list[CreateJob]:
    """Manual and one-time Jobs to create: never one that exists (e.g. before a restart)."""
    if not isinstance(r, Resolved):
        return []
    existing = {v.name for v in views}
    jobs: list[CreateJob] = []
    if now_run.job is not None and now_run.job not in existing:
        manifest = manifests.job(
            r,
            s.meta,
            name=now_run.job,
            trigger="Manual",
            scheduled_time=now,
            input_text=now_run.input,
        )
        jobs.append(CreateJob(manifest))
    if a.start_one_time is not None and a.start_one_time not in existing:
        assert r.run_at is not None  # noqa: S101
        manifest = manifests.job(
            r,
            s.meta,
            name=a.start_one_time,
            trigger="OneTime",
            scheduled_time=r.run_at,
            input_text=r.spec.input,
        )
        jobs.append(CreateJob(manifest))
    return jobs


def decide(o: Observed) -> Decision:
    """The whole reconcile decision for one AssistantSchedule."""
    s = o.schedule
    if s is None or s.deleting:
        return _gone(o)
    if o.error is not None and o.now < o.error.at + timedelta(
        seconds=retry_delay(o.error.failures)
    ):
        return _failing(o, s, o.error)
    old = load_status(s.status)
    r = resolve(s.spec, o.settings, f"{s.namespace}/{s.name}")
    views = job_views(o)
    records = record_runs(views, old.history, o.now, old.active, s.name)
    finished = by_time(records.entries)
    now_run = run_now(s, r, old.last_run_now)
    p = policies(r, s, old, views, finished, o)
    a = _arrange(r, s, old, views, o.now, records.entries, o.cronjob, p)
    desired = (
        manifests.cronjob(policy.held(r, p), s.meta, o.settings)
        if a.cronjob == "apply" and isinstance(r, Resolved) and p is not None
        else None
    )
    filled = backfill_step(r, s, old, finished, p, o.now)
    cronjob, conflict = cronjob_actions(a.cronjob, desired, o.cronjob, s)
    if conflict is not None:
        return Decision(phase=old.phase, status=s.status, failed=conflict)
    entries = by_time((*records.entries, *a.times.missed))
    status = new_status(
        r, s, old, views, entries, a, now_run.token, o.now, p, filled.status
    ).to_dict()
    backfills = backfill_jobs(r, s, filled)
    created = [*_new_jobs(r, s, views, now_run, a, o.now), *backfills]
    actions: list[Action] = [
        *cronjob,
        *created,
        *(DeleteJob(name) for name in records.delete),
    ]
    if status != old.to_dict():  # old is frozen: the status as stored, parsed once
        actions.append(PatchStatus(status_patch(s.status, status), s.resource_version, status))
    if entries:
        actions.append(Recorded(entries, a.times.counts))
    actions += [release(v) for v in records.release]
    actions += [DeleteJob(name) for name in prune(views, o.settings.jobs_history_limit)]
    actions += bounded(
        [
            *_events(r, old, s, records, now_run, a, created),
            *(p.events if p is not None else ()),
            *filled.events,
            *(_started("Backfill", job.manifest["metadata"]["name"]) for job in backfills),
            *run_events(entries, a.times),
        ]
    )
    return Decision(
        actions=tuple(actions), phase=a.phase, status=status, requeue_at=a.times.wake_at
    )
