"""Helpers for the operator e2e tests: AssistantSchedule bodies, kwok steering annotations
for the runner pod, and reads of what the operator made of a schedule (status, CronJob,
Jobs, events) — all as plain JSON dicts, the way the API returns them."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from waiting import wait_for

GROUP, VERSION, PLURAL = "aischeduler.io", "v1alpha1", "assistantschedules"
MANAGED_BY = "app.kubernetes.io/managed-by"
SCHEDULE_LABEL = "aischeduler.io/schedule"
TRIGGER_LABEL = "aischeduler.io/trigger"
RECORDED_LABEL = "aischeduler.io/recorded"
RUN_FINALIZER = "aischeduler.io/run-record"
RUN_NOW = "aischeduler.io/run-now"
RUN_NOW_INPUT = "aischeduler.io/run-now-input"
# A schedule that never fires while a test runs (03:00 on New Year's Day).
QUIET = "0 3 1 1 *"


def sim(
    *,
    exit_code: int | None = None,
    message: str | None = None,
    duration: float | None = None,
    waiting_reason: str | None = None,
    odd_exit_code: int | None = None,
    odd_message: str | None = None,
) -> dict[str, str]:
    """Pod annotations that steer the kwok-simulated runner pod; the ``odd_`` ones apply
    instead to pods of Jobs whose name ends in an odd digit (a CronJob's Jobs are
    ``<name>-<unix minutes>``: every other minute)."""
    values = {
        "exit-code": exit_code,
        "message": message,
        "duration": duration,
        "waiting-reason": waiting_reason,
        "odd-exit-code": odd_exit_code,
        "odd-message": odd_message,
    }
    return {f"sim.aischeduler.io/{k}": str(v) for k, v in values.items() if v is not None}


def runner_result(result: str = "Succeeded", message: str = "ok", **fields: Any) -> str:
    """A runner termination message (spec §4.1)."""
    return json.dumps({"result": result, "message": message, **fields})


def body(
    name: str,
    *,
    schedule: str | None = QUIET,
    assistant: str | None = "asst-e2e",
    workflow: str | None = None,
    pod: dict[str, str] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    """An AssistantSchedule. ``spec`` takes the API's camelCase field names; ``runAt=...``
    replaces the default recurring ``schedule``; ``pod`` are runner pod annotations."""
    full: dict[str, Any] = {"input": "Summarise the day."}
    if assistant is not None:
        full["assistant"] = {"id": assistant}
    if workflow is not None:
        full["workflow"] = {"id": workflow}
    if schedule is not None and "runAt" not in spec:
        full["schedule"] = schedule
    if pod:
        full["runner"] = {"podAnnotations": pod}
    full.update(spec)
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "AssistantSchedule",
        "metadata": {"name": name},
        "spec": full,
    }


def condition(status: dict[str, Any], kind: str) -> dict[str, Any]:
    """The condition of that type, or {} when the status has none."""
    found: dict[str, Any] = next(
        (c for c in status.get("conditions") or [] if c.get("type") == kind), {}
    )
    return found


def env_of(pod_spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The runner container's env, by variable name."""
    runner = next(c for c in pod_spec["containers"] if c["name"] == "runner")
    return {e["name"]: e for e in runner.get("env") or []}


def is_ready(cr: dict[str, Any]) -> bool:
    """Ready=True and both the status and the condition describe the current generation."""
    status = cr.get("status") or {}
    ready = condition(status, "Ready")
    generation = cr["metadata"]["generation"]
    return (
        ready.get("status") == "True"
        and ready.get("observedGeneration") == generation
        and status.get("observedGeneration") == generation
    )


class Schedules:
    """AssistantSchedules and what the operator owns for them, in one namespace."""

    def __init__(self, api: client.ApiClient, kubectl: Callable[..., str], namespace: str):
        self.namespace = namespace
        self.kubectl = kubectl
        self.custom = client.CustomObjectsApi(api)
        self.batch = client.BatchV1Api(api)
        self.core = client.CoreV1Api(api)

    # ------------------------------------------------------------------ the CR
    def create(self, manifest: dict[str, Any]) -> dict[str, Any]:
        created: dict[str, Any] = self.custom.create_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, manifest
        )
        return created

    def get(self, name: str) -> dict[str, Any]:
        found: dict[str, Any] = self.custom.get_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, name
        )
        return found

    def status(self, name: str) -> dict[str, Any]:
        return self.get(name).get("status") or {}

    def patch(self, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        """Merge patch of the CR (the custom objects client sends merge patches for dicts)."""
        patched: dict[str, Any] = self.custom.patch_namespaced_custom_object(
            GROUP, VERSION, self.namespace, PLURAL, name, patch
        )
        return patched

    def patch_spec(self, name: str, **spec: Any) -> int:
        """Changes spec fields; returns the new generation."""
        generation: int = self.patch(name, {"spec": spec})["metadata"]["generation"]
        return generation

    def run_now(self, name: str, value: str, run_input: str | None = None) -> None:
        """Sets the run-now annotation (and its input override) in one write."""
        annotations = {RUN_NOW: value}
        if run_input is not None:
            annotations[RUN_NOW_INPUT] = run_input
        self.patch(name, {"metadata": {"annotations": annotations}})

    def delete(self, name: str) -> None:
        self.custom.delete_namespaced_custom_object(GROUP, VERSION, self.namespace, PLURAL, name)

    # ------------------------------------------------------------------ owned objects
    def _json(self, response: Any) -> Any:
        return json.loads(response.data)

    def cronjob(self, name: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = self._json(
                self.batch.read_namespaced_cron_job(name, self.namespace, _preload_content=False)
            )
        except ApiException as e:
            if e.status == 404:
                return None
            raise
        return found

    def cronjob_spec(self, name: str) -> dict[str, Any]:
        found = self.cronjob(name)
        assert found is not None, f"no CronJob {name}"
        spec: dict[str, Any] = found["spec"]
        return spec

    def cronjobs(self) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self._json(
            self.batch.list_namespaced_cron_job(self.namespace, _preload_content=False)
        )["items"]
        return items

    def jobs(self, schedule: str | None = None) -> list[dict[str, Any]]:
        """Jobs in the namespace (of one schedule when given), oldest first."""
        selector = f"{SCHEDULE_LABEL}={schedule}" if schedule else ""
        items: list[dict[str, Any]] = self._json(
            self.batch.list_namespaced_job(
                self.namespace, label_selector=selector, _preload_content=False
            )
        )["items"]
        return sorted(items, key=lambda j: j["metadata"]["creationTimestamp"])

    def job(self, name: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = self._json(
                self.batch.read_namespaced_job(name, self.namespace, _preload_content=False)
            )
        except ApiException as e:
            if e.status == 404:
                return None
            raise
        return found

    def pods(self, job: str) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self._json(
            self.core.list_namespaced_pod(
                self.namespace,
                label_selector=f"batch.kubernetes.io/job-name={job}",
                _preload_content=False,
            )
        )["items"]
        return items

    def events(self, name: str) -> list[tuple[str, str, str]]:
        """(type, reason, message) of the events about one schedule, oldest first."""
        items = self._json(
            self.core.list_namespaced_event(
                self.namespace,
                field_selector=f"involvedObject.name={name},involvedObject.kind=AssistantSchedule",
                _preload_content=False,
            )
        )["items"]
        items.sort(key=lambda e: e["metadata"]["creationTimestamp"])
        return [(e["type"], e["reason"], e["message"]) for e in items]

    # ------------------------------------------------------------------ waits
    def wait_event(self, name: str, kind: str, reason: str, timeout: float = 30) -> None:
        """Events are the operator's last writes of a reconcile, after the status patch
        and the Job release: wait for one rather than expect it with the status."""
        wait_for(
            lambda: [(t, r) for t, r, _ in self.events(name)],
            lambda seen: (kind, reason) in seen,
            timeout=timeout,
            what=f"a {kind} {reason} event about {name}",
        )

    def wait(
        self,
        name: str,
        done: Callable[[dict[str, Any]], bool],
        what: str,
        timeout: float = 30,
    ) -> dict[str, Any]:
        """Waits on the whole CR; returns its status."""
        cr = wait_for(lambda: self.get(name), done, timeout=timeout, what=f"{name}: {what}")
        return cr.get("status") or {}

    def wait_ready(self, name: str, timeout: float = 30) -> dict[str, Any]:
        return self.wait(name, is_ready, "Ready=True for the current generation", timeout)

    def wait_observed(self, name: str, timeout: float = 30) -> dict[str, Any]:
        """Waits until the status describes the current generation (Ready or not)."""

        def observed(cr: dict[str, Any]) -> bool:
            status = cr.get("status") or {}
            return status.get("observedGeneration") == cr["metadata"]["generation"]

        return self.wait(name, observed, "status.observedGeneration == generation", timeout)

    def wait_runs(self, name: str, total: int, timeout: float = 60) -> dict[str, Any]:
        """Waits until ``runs.total`` reached ``total``; returns the status."""
        return self.wait(
            name,
            lambda cr: (cr.get("status") or {}).get("runs", {}).get("total", 0) >= total,
            f"runs.total >= {total}",
            timeout,
        )

    def sync(self, name: str) -> dict[str, Any]:
        """Makes the operator reconcile ``name`` once more and waits until it has: the spec
        (input) changes, and the reconcile is level-based, so once the new generation is
        observed that reconcile also saw everything else about the schedule."""
        self.patch_spec(name, input=f"sync {uuid.uuid4().hex[:8]}")
        return self.wait_ready(name)

    def wait_job_gone(self, name: str, timeout: float = 30) -> None:
        wait_for(
            lambda: self.job(name),
            lambda j: j is None,
            timeout=timeout,
            what=f"Job {name} to be deleted",
        )


def parse(when: str) -> datetime:
    """An API timestamp ("...Z") as an aware datetime."""
    return datetime.fromisoformat(when.replace("Z", "+00:00"))
