"""The controller loop: a queued schedule key → one snapshot from the watch caches →
``plan.decide`` → carry out its actions. The executor here decides nothing; it only
turns API answers into facts for the next decision (a failure, a stale cache).

Reads come from the caches, never from the API, with one exception a cache cannot
answer: creating our CronJob fails with "already exists" for a CronJob we cannot see
(the watches only carry objects with our labels), so we read it once to tell a user's
own CronJob from ours not yet seen. Writes are safe on a stale cache: names are
deterministic (409 on create = already there), status patches are conditional on the
resourceVersion the decision read, and a Job patch dropping a finalizer carries a
JSON-patch ``test``; a rejected write requeues the key, and the watch brings the newer
object."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol, TypeVar

from kubernetes.client.exceptions import ApiException

from aischeduler_operator import drift, metrics, names
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
from aischeduler_operator.kube import Kube
from aischeduler_operator.models import HistoryEntry
from aischeduler_operator.observe import (
    CronJobFacts,
    ErrorFact,
    JobFacts,
    Key,
    Observed,
    PodFacts,
    ScheduleFacts,
    snapshot,
)
from aischeduler_operator.plan import conflict_message, decide, own_cronjob_echo, retry_delay
from aischeduler_operator.recorder import EventRecorder, Note
from aischeduler_operator.settings import Settings
from aischeduler_operator.times import parse_time

log = logging.getLogger("aischeduler.reconcile")
T = TypeVar("T")
TIMER_SLACK = 0.05  # fire just after the time asked for, never just before
# Reconciles at once. A worker mostly waits on the API (a reconcile is 1-3 writes in a
# row), so more of them mean more writes in flight: in a burst of 100 run-now on a loaded
# control plane, 8 workers left the last Job waiting ~10 s for one, 32 about 4 s.
WORKERS = 32


class NameConflictError(Exception):
    """An object of the name we need exists and belongs to someone else."""


class StaleCacheError(Exception):
    """A conditional write was refused: the object changed since our cache saw it."""


class Caches(Protocol):
    """The watch caches, read by schedule key (see ``handlers.py``)."""

    def schedule(self, key: Key) -> ScheduleFacts | None: ...
    def cronjob(self, key: Key) -> CronJobFacts | None: ...
    def jobs(self, key: Key) -> list[JobFacts]: ...
    def pods(self, key: Key) -> list[PodFacts]: ...


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True)
class Outcome:
    """What the API said to the actions: the status as stored after our patch, if any."""

    status_written: PatchStatus | None = None
    new_version: str = ""


class Executor:
    """Carries out a decision's actions in order; raises on the first refusal. Events go
    to ``record``, which posts them later (``recorder.py``)."""

    def __init__(self, kube: Kube, record: Callable[[Note], None]) -> None:
        self.kube = kube
        self.record = record

    def run(self, o: Observed, d: Decision) -> Outcome:
        outcome = Outcome()
        for action in d.actions:
            outcome = self._one(o, action) or outcome
        return outcome

    def _one(self, o: Observed, action: Action) -> Outcome | None:
        namespace, name = o.key
        match action:
            case CreateCronJob(manifest):
                if not self.kube.create_cronjob(manifest):
                    self._already_there(o, manifest)
            case PatchCronJob(cronjob, patch):
                self.kube.patch_cronjob(namespace, cronjob, patch)
            case DeleteCronJob(cronjob):
                self.kube.delete_cronjob(namespace, cronjob)
            case CreateJob(manifest):
                self.kube.create_job(manifest)  # 409: created before, never twice
            case PatchJob(job, operations, _):
                self._conditional(lambda: self.kube.patch_job(namespace, job, list(operations)))
            case DeleteJob(job):
                self.kube.delete_job(namespace, job)
            case PatchStatus(patch, version, _):
                stored = self._conditional(
                    lambda: self.kube.patch_status(namespace, name, patch, version)
                )
                new_version = (stored or {}).get("metadata", {}).get("resourceVersion", "")
                return Outcome(status_written=action, new_version=new_version)
            case PostEvent():
                assert o.schedule is not None  # noqa: S101 - events are about a schedule
                self.record(Note(o.schedule.meta, action))
            case Recorded(entries, counts):
                observe_runs(o.key, entries, o.now, dict(counts))
        return None

    def _already_there(self, o: Observed, manifest: dict[str, Any]) -> None:
        """Our create met a CronJob of that name that the cache does not show: a user's
        own (a conflict), ours not seen yet, or ours with our labels edited away (out of
        the watch's selector: restore them, which brings it back into view)."""
        assert o.schedule is not None  # noqa: S101
        cronjob = names.cronjob_name(o.schedule.name)
        existing = self.kube.get_cronjob(o.key[0], cronjob)
        if existing is None:
            return  # gone again meanwhile: its watch event queues the schedule
        foreign = drift.foreign_owner(existing, o.schedule.meta)
        if foreign is not None:
            raise NameConflictError(conflict_message(cronjob, foreign))
        patch = drift.cronjob_patch(existing, manifest)
        if patch is not None:
            self.kube.patch_cronjob(o.key[0], cronjob, patch)

    @staticmethod
    def _conditional(write: Callable[[], T]) -> T:
        try:
            return write()
        except ApiException as e:
            # 409: resourceVersion precondition; 422: a JSON-patch test op did not hold.
            if e.status in (409, 422):
                raise StaleCacheError(f"API said {e.status}: {e.reason}") from e
            raise


def observe_runs(
    key: Key,
    entries: tuple[HistoryEntry, ...],
    now: datetime,
    counts: dict[str, int] | None = None,
) -> None:
    for entry in entries:
        runs = (counts or {}).get(entry.job, 1)
        metrics.RUNS.labels(entry.result).inc(runs)
        metrics.observe_run(key, entry.result, entry.tokens_used, runs)
        if entry.duration_seconds is not None:
            metrics.RUN_DURATION.observe(entry.duration_seconds)
        finished = parse_time(entry.completion_time)
        if entry.result != "Missed" and finished is not None:
            metrics.HISTORY_LAG.observe(max(0.0, (now - finished).total_seconds()))


class Controller:
    """Per-schedule state lives here and only here; all of it goes with the schedule."""

    def __init__(
        self,
        kube: Kube,
        settings: Settings,
        caches: Caches,
        *,
        workers: int = WORKERS,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        from aischeduler_operator.workqueue import WorkQueue  # noqa: PLC0415 - asyncio-bound

        self.settings = settings
        self.caches = caches
        self.clock = clock
        self.events = EventRecorder(kube.post_event)
        self.executor = Executor(kube, self.events.record)
        self.queue: WorkQueue[Key] = WorkQueue(self._handle, workers)
        self._threads = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="reconcile")
        self._errors: dict[Key, ErrorFact] = {}
        self._conflicts: dict[Key, int] = {}
        # The snapshot our last decision leads to once its writes come back through the
        # watches: an event that leaves the snapshot equal to it changes no decision.
        self._settled: dict[Key, Observed] = {}
        # The resourceVersion our last status patch replaced: while the cache still shows
        # it, the cache is behind our own write (its echo will queue the key again).
        self._written_over: dict[Key, str] = {}
        # The CronJob our last decision created, until its echo comes (own_cronjob_echo).
        self._created: dict[Key, dict[str, Any]] = {}
        self._timer_owed: set[Key] = set()
        # Called when a write is answered 404: what the caches show is gone (handlers.py
        # sweeps the caches then, see relist.py).
        self.on_not_found: Callable[[], None] | None = None

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> None:
        self.events.start()
        self.queue.start()

    async def stop(self) -> None:
        await self.queue.stop()
        self._threads.shutdown(wait=False, cancel_futures=True)
        await asyncio.to_thread(self.events.stop)

    def idle(self) -> bool:
        """Nothing queued, being reconciled, or waiting to be posted."""
        return self.queue.idle() and self.events.idle()

    def trigger(self, key: Key) -> None:
        self.queue.add(key)

    # ---------------------------------------------------------------- one key
    def observe(self, key: Key) -> Observed:
        return snapshot(
            key,
            self.caches.schedule(key),
            self.caches.cronjob(key),
            self.caches.jobs(key),
            self.caches.pods(key),
            self.settings,
            self.clock(),
            self._errors.get(key),
        )

    async def _handle(self, key: Key, timer: bool) -> None:
        o = self.observe(key)
        timer = timer or key in self._timer_owed
        if o.schedule is not None and self._written_over.get(key) == o.schedule.resource_version:
            if timer:
                self._timer_owed.add(key)
            return
        self._written_over.pop(key, None)
        self._timer_owed.discard(key)
        settled = self._settled.get(key)
        if not timer and settled == o:
            return
        if not timer and own_cronjob_echo(settled, o, self._created.get(key)):
            self._settled[key] = o
            self._created.pop(key, None)
            return
        loop = asyncio.get_running_loop()
        d, result = await loop.run_in_executor(self._threads, self._decide_and_run, o)
        if isinstance(result, StaleCacheError):
            self._stale(key, str(result))
        elif isinstance(result, Exception):
            self._failed(o, d, result)
        else:
            assert d is not None  # noqa: S101 - an outcome comes from a decision
            self._done(o, d, result)

    def _decide_and_run(self, o: Observed) -> tuple[Decision | None, Outcome | Exception]:
        d: Decision | None = None
        try:
            d = decide(o)
            outcome = self.executor.run(o, d)
        except Exception as e:  # never let one schedule take the operator down
            return d, e
        if d.failed is not None:
            return d, NameConflictError(d.failed)
        return d, outcome

    def _done(self, o: Observed, d: Decision, outcome: Outcome) -> None:
        key = o.key
        if d.gone:
            self.forget(key)
            return
        metrics.set_phase(key, d.phase)
        runs = d.status.get("runs") or {}
        metrics.set_consecutive_failures(key, int(runs.get("consecutiveFailures", 0)))
        self._conflicts.pop(key, None)
        if not d.backing_off:
            self._errors.pop(key, None)
        settled = replace(o, error=self._errors.get(key))
        written = outcome.status_written
        if written is not None and o.schedule is not None:
            self._written_over[key] = o.schedule.resource_version
            schedule = replace(
                o.schedule, status=written.status, resource_version=outcome.new_version
            )
            settled = replace(settled, schedule=schedule)
        self._settled[key] = settled
        created = next((a.manifest for a in d.actions if isinstance(a, CreateCronJob)), None)
        if created is None:
            self._created.pop(key, None)
        else:
            self._created[key] = created
        if d.requeue_at is None:
            self.queue.cancel_timer(key)
        else:
            delay = (d.requeue_at - o.now).total_seconds() + TIMER_SLACK
            self.queue.add_after(key, delay)

    def _stale(self, key: Key, why: str) -> None:
        """A conditional write met a newer object: decide again from the newer one."""
        count = self._conflicts[key] = self._conflicts.get(key, 0) + 1
        self._settled.pop(key, None)
        self._created.pop(key, None)
        log.info("%s/%s: cache behind the API (%s); retrying", *key, why)
        self.queue.add_after(key, min(5.0, 0.05 * 2**count))

    def _failed(self, o: Observed, d: Decision | None, e: Exception) -> None:
        """Remember the failure: the next decision reports it and says when to retry."""
        key = o.key
        if isinstance(e, ApiException):
            message = f"API error {e.status}: {e.reason}"
            if e.status == 404 and self.on_not_found is not None:
                self.on_not_found()
        elif isinstance(e, NameConflictError):
            message = str(e)
        else:
            log.exception("reconcile of %s/%s failed", *key, exc_info=e)
            message = f"{type(e).__name__}: {e}"
        metrics.RECONCILE_ERRORS.inc()
        previous = self._errors.get(key)
        failures = (previous.failures if previous else 0) + 1
        self._errors[key] = ErrorFact(message, failures, o.now)
        self._settled.pop(key, None)
        self._created.pop(key, None)
        log.warning("reconcile of %s/%s failed (%s)", *key, message)
        if d is not None and d.backing_off:
            # Reporting the failure failed too (the API is down?): wait out the back-off.
            self.queue.add_after(key, retry_delay(failures))
        else:
            self.queue.add(key, timer=True)  # the next decision reports it at once

    def forget(self, key: Key) -> None:
        """The schedule is gone: drop everything kept for it."""
        metrics.set_phase(key, None)
        for state in (
            self._errors,
            self._conflicts,
            self._settled,
            self._written_over,
            self._created,
        ):
            state.pop(key, None)
        self._timer_owed.discard(key)
        self.queue.forget(key)

    def sizes(self) -> dict[str, int]:
        """Per-key bookkeeping (a test checks none of it grows with churn)."""
        return {
            "errors": len(self._errors),
            "conflicts": len(self._conflicts),
            "settled": len(self._settled),
            "written_over": len(self._written_over),
            "created": len(self._created),
            "timer_owed": len(self._timer_owed),
            **self.queue.sizes(),
            "metric_series": metrics.tracked_series(),
        }
