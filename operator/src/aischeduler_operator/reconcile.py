"""Carries out a Plan (``plan.decide``) against the API: read → decide → apply → patch
status once → release recorded Jobs → events. Serialised per schedule; safe to run
again at any moment and after any crash (the plan is computed from what is observed)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Hashable
from datetime import UTC, datetime
from typing import Any, cast

from kubernetes.client.exceptions import ApiException

from aischeduler_operator import drift, metrics, names
from aischeduler_operator.alarms import Alarms
from aischeduler_operator.kube import Kube
from aischeduler_operator.plan import Plan, condition, decide, load_status
from aischeduler_operator.settings import Settings
from aischeduler_operator.times import parse_time

log = logging.getLogger("aischeduler.reconcile")
Key = tuple[str, str]
MAX_RETRY_SECONDS = 300.0


class NameConflictError(Exception):
    """An object of the name we need exists and belongs to someone else."""


def utcnow() -> datetime:
    return datetime.now(UTC)


def status_patch(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Merge patch from the stored status to ``new`` (absent keys are removed)."""
    return {**dict.fromkeys(old, None), **new}


class Reconciler:
    def __init__(self, kube: Kube, settings: Settings, clock: Callable[[], datetime] = utcnow):
        self.kube = kube
        self.settings = settings
        self.clock = clock
        self._locks: dict[Key, threading.Lock] = {}
        self._locks_guard = threading.Lock()
        self._alarms = Alarms(self._wake)
        self._failures: dict[Key, int] = {}

    def _lock(self, key: Key) -> threading.Lock:
        with self._locks_guard:
            return self._locks.setdefault(key, threading.Lock())

    # ------------------------------------------------------------------ entry point
    def reconcile(self, namespace: str, name: str) -> None:
        key = (namespace, name)
        with self._lock(key):
            try:
                self._reconcile(key)
                self._failures.pop(key, None)
            except ApiException as e:
                self._failed(key, f"API error {e.status}: {e.reason}")
            except NameConflictError as e:
                self._failed(key, str(e))
            except Exception as e:  # never let one schedule take the operator down
                log.exception("reconcile of %s/%s failed", namespace, name)
                self._failed(key, f"{type(e).__name__}: {e}")

    def _reconcile(self, key: Key) -> None:
        namespace, name = key
        cr = self.kube.get_schedule(namespace, name)
        jobs, pods = self.kube.owned(namespace, name)
        if cr is None or cr["metadata"].get("deletionTimestamp"):
            self._release_orphans(namespace, jobs)
            self._alarms.cancel(key)
            metrics.set_phase(key, None)
            return
        now = self.clock()
        plan = decide(cr, jobs, pods, self.settings, now)
        self._apply_objects(cr, plan, jobs)
        stored = cr.get("status") or {}
        if plan.status != load_status(stored).to_dict():
            self.kube.patch_status(namespace, name, status_patch(stored, plan.status))
        for job in plan.finalize_jobs:
            self.kube.patch_job(namespace, job, release_operations(jobs, job))
        for event in plan.events:
            self.kube.post_event(cr, event.type, event.reason, event.message)
        self._observe(key, plan, now)
        self._schedule_wake(key, plan.wake_at, now)

    # ------------------------------------------------------------------ pieces
    def _apply_objects(self, cr: dict[str, Any], plan: Plan, jobs: list[dict[str, Any]]) -> None:
        meta = cr["metadata"]
        namespace, cronjob_name = meta["namespace"], names.cronjob_name(meta["name"])
        existing = (
            None if plan.cronjob == "keep" else self.kube.get_cronjob(namespace, cronjob_name)
        )
        # A user's own CronJob that happens to have our name is never changed or deleted.
        foreign = drift.foreign_owner(existing, meta) if existing is not None else None
        if plan.cronjob == "apply" and plan.cronjob_manifest is not None:
            if existing is None:
                self.kube.create_cronjob(plan.cronjob_manifest)
            elif foreign is not None:
                raise NameConflictError(
                    f"CronJob {cronjob_name} exists and is not managed by this schedule "
                    f"({foreign}); delete or rename it, or rename the schedule"
                )
            else:
                patch = drift.cronjob_patch(existing, plan.cronjob_manifest)
                if patch is not None:
                    self.kube.patch_cronjob(namespace, cronjob_name, patch)
        elif plan.cronjob == "delete" and existing is not None and foreign is None:
            self.kube.delete_cronjob(namespace, cronjob_name)
        for manifest in plan.create_jobs:
            self.kube.create_job(manifest)
        for job in plan.adopt_jobs:
            self.kube.patch_job(namespace, job, adopt_operations(jobs, job))
        for job in plan.delete_jobs:
            self.kube.delete_job(namespace, job)

    def _release_orphans(self, namespace: str, jobs: list[dict[str, Any]]) -> None:
        """The schedule is gone: its Jobs are being collected; let them go."""
        for job in jobs:
            if names.RUN_FINALIZER in (job["metadata"].get("finalizers") or []):
                self.kube.patch_job(
                    namespace,
                    job["metadata"]["name"],
                    release_operations(jobs, job["metadata"]["name"]),
                )

    def _observe(self, key: Key, plan: Plan, now: datetime) -> None:
        metrics.set_phase(key, plan.status.get("phase"))
        for entry in plan.recorded:
            metrics.RUNS.labels(entry.result).inc()
            if entry.duration_seconds is not None:
                metrics.RUN_DURATION.observe(entry.duration_seconds)
            finished = parse_time(entry.completion_time)
            if entry.result != "Missed" and finished is not None:
                metrics.HISTORY_LAG.observe(max(0.0, (now - finished).total_seconds()))

    def _failed(self, key: Key, message: str) -> None:
        """Ready=False/ReconcileError on the status (best effort) and a retry with backoff."""
        metrics.RECONCILE_ERRORS.inc()
        failures = self._failures[key] = self._failures.get(key, 0) + 1
        delay = min(MAX_RETRY_SECONDS, 2.0**failures)
        log.warning("reconcile of %s/%s failed (%s); retrying in %.0fs", *key, message, delay)
        try:
            cr = self.kube.get_schedule(*key)
            patch = reconcile_error_status(cr, message, self.clock()) if cr else None
            if patch is not None:
                self.kube.patch_status(*key, patch)
        except Exception:
            log.exception("could not report the reconcile error on %s/%s", *key)
        self._alarms.set(key, delay)

    # ------------------------------------------------------------------ timers
    def _wake(self, key: Hashable) -> None:
        namespace, name = cast(Key, key)
        self.reconcile(namespace, name)

    def _schedule_wake(self, key: Key, wake_at: datetime | None, now: datetime) -> None:
        if wake_at is None:
            self._alarms.cancel(key)
        else:
            self._alarms.set(key, (wake_at - now).total_seconds() + 0.05)

    def stop(self) -> None:
        self._alarms.stop()


def _finalizers(jobs: list[dict[str, Any]], name: str) -> list[str] | None:
    job = next((j for j in jobs if j["metadata"]["name"] == name), None)
    found = (job or {}).get("metadata", {}).get("finalizers")
    return list(found) if found is not None else None


def _set_finalizers(current: list[str] | None, wanted: list[str]) -> list[dict[str, Any]]:
    """JSON patch setting the finalizers; its ``test`` op makes it fail (and the reconcile
    retry) if another controller changed them meanwhile."""
    if current is None:
        return [{"op": "add", "path": "/metadata/finalizers", "value": wanted}]
    return [
        {"op": "test", "path": "/metadata/finalizers", "value": current},
        {"op": "replace", "path": "/metadata/finalizers", "value": wanted},
    ]


def adopt_operations(jobs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """JSON patch adding the run finalizer to a Job the CronJob controller created."""
    current = _finalizers(jobs, name)
    return _set_finalizers(current, [*(current or []), names.RUN_FINALIZER])


def release_operations(jobs: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    """JSON patch dropping the run finalizer and marking the Job recorded."""
    current = _finalizers(jobs, name)
    ops: list[dict[str, Any]] = []
    if current and names.RUN_FINALIZER in current:
        ops = _set_finalizers(current, [f for f in current if f != names.RUN_FINALIZER])
    labels_path = "/metadata/labels/" + names.RECORDED_LABEL.replace("/", "~1")
    ops.append({"op": "add", "path": labels_path, "value": "true"})
    return ops


def reconcile_error_status(
    cr: dict[str, Any], message: str, now: datetime
) -> dict[str, Any] | None:
    """Status patch setting Ready=False/ReconcileError, or None when it says that already."""
    status = load_status(cr.get("status"))
    generation = cr["metadata"].get("generation", 1)
    ready = condition(
        status.conditions, "Ready", "False", "ReconcileError", message, generation, now
    )
    conditions = [ready, *(c for c in status.conditions if c.type != "Ready")]
    if conditions == status.conditions:
        return None
    return {"conditions": [c.model_dump(by_alias=True, exclude_none=True) for c in conditions]}
