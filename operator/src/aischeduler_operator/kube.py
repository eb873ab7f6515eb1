"""Kubernetes API calls, and only those. Objects travel as plain JSON dicts (what the
API sends), writes are counted for metrics, and "already there" / "already gone"
answers (409 on create, 404 on delete) count as success."""

from __future__ import annotations

import json
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, cast

from kubernetes import client
from kubernetes.client.exceptions import ApiException

from aischeduler_operator import metrics
from aischeduler_operator.events import EventLog, Posted
from aischeduler_operator.models import GROUP, KIND, PLURAL, VERSION

COMPONENT = "aischeduler-operator"
INSTANCE = socket.gethostname()
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


@contextmanager
def _gone_is_fine() -> Iterator[None]:
    """Deleting or patching what is already gone is success (level-based: it converged)."""
    try:
        yield
    except ApiException as e:
        if e.status != 404:
            raise


def _body(manifest: dict[str, Any]) -> Any:
    """Our manifests are plain dicts; the typed client accepts them as request bodies."""
    return manifest


class Kube:
    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self.custom = client.CustomObjectsApi(api)
        self.batch = client.BatchV1Api(api)
        self.core = client.CoreV1Api(api)
        self.events = EventLog()

    # ------------------------------------------------------------------ reads
    # Decisions read the watch caches; this is for the one case they cannot answer.
    @staticmethod
    def _json(response: Any) -> Any:
        return json.loads(response.data)

    def get_cronjob(self, namespace: str, name: str) -> dict[str, Any] | None:
        try:
            found: dict[str, Any] = self._json(
                self.batch.read_namespaced_cron_job(name, namespace, _preload_content=False)
            )
        except ApiException as e:
            if e.status == 404:
                return None
            raise
        return found

    # ------------------------------------------------------------------ writes
    def create_cronjob(self, manifest: dict[str, Any]) -> bool:
        """Creates a CronJob; False when one of that name exists already."""
        metrics.API_WRITES.labels("create", "cronjobs").inc()
        try:
            self.batch.create_namespaced_cron_job(
                manifest["metadata"]["namespace"], _body(manifest)
            )
        except ApiException as e:
            if e.status == 409:
                return False
            raise
        return True

    def patch_cronjob(self, namespace: str, name: str, patch: dict[str, Any]) -> None:
        metrics.API_WRITES.labels("patch", "cronjobs").inc()
        self.batch.patch_namespaced_cron_job(name, namespace, patch, _content_type=MERGE)

    def delete_cronjob(self, namespace: str, name: str) -> None:
        metrics.API_WRITES.labels("delete", "cronjobs").inc()
        with _gone_is_fine():
            self.batch.delete_namespaced_cron_job(name, namespace, propagation_policy="Background")

    def create_job(self, manifest: dict[str, Any]) -> bool:
        """Creates a Job; False when one of that name exists already."""
        metrics.API_WRITES.labels("create", "jobs").inc()
        try:
            self.batch.create_namespaced_job(manifest["metadata"]["namespace"], _body(manifest))
        except ApiException as e:
            if e.status == 409:
                return False
            raise
        return True

    def patch_job(self, namespace: str, name: str, operations: list[dict[str, Any]]) -> None:
        metrics.API_WRITES.labels("patch", "jobs").inc()
        with _gone_is_fine():
            self.batch.patch_namespaced_job(name, namespace, operations, _content_type=JSON_PATCH)

    def delete_job(self, namespace: str, name: str) -> None:
        metrics.API_WRITES.labels("delete", "jobs").inc()
        with _gone_is_fine():
            self.batch.delete_namespaced_job(name, namespace, propagation_policy="Background")

    def post_event(self, meta: dict[str, Any], kind: str, reason: str, message: str) -> None:
        """An Event about the schedule of ``meta`` (name, namespace, uid, resourceVersion);
        the same event again counts up on the Event already posted (see ``events.py``)."""
        now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
        message = message[:1024]
        key = (meta["namespace"], meta["uid"], kind, reason, message)
        posted = self.events.find(key)
        if posted is not None and self._count_up(meta["namespace"], posted, now):
            self.events.remember(key, Posted(posted.name, posted.count + 1))
            return
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta['name']}.", "namespace": meta["namespace"]},
            "involvedObject": {
                "apiVersion": f"{GROUP}/{VERSION}",
                "kind": KIND,
                "name": meta["name"],
                "namespace": meta["namespace"],
                "uid": meta["uid"],
                "resourceVersion": meta.get("resourceVersion"),
            },
            "type": kind,
            "reason": reason,
            "message": message,
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "reportingInstance": INSTANCE,
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        metrics.API_WRITES.labels("create", "events").inc()
        created = self.core.create_namespaced_event(meta["namespace"], _body(event))
        if created.metadata.name:
            self.events.remember(key, Posted(created.metadata.name, 1))

    def _count_up(self, namespace: str, posted: Posted, now: str) -> bool:
        """One more of an Event already posted; False when it is gone (expired)."""
        metrics.API_WRITES.labels("patch", "events").inc()
        try:
            self.core.patch_namespaced_event(
                posted.name,
                namespace,
                _body({"count": posted.count + 1, "lastTimestamp": now}),
                _content_type=MERGE,
            )
        except ApiException as e:
            if e.status == 404:
                return False
            raise
        return True

    def patch_status(
        self, namespace: str, name: str, patch: dict[str, Any], resource_version: str = ""
    ) -> dict[str, Any]:
        """Merge patch of status; with ``resource_version``, only if the object is still at
        that version (409 otherwise): a decision made on a stale cache is never stored."""
        metrics.API_WRITES.labels("patch", "assistantschedules/status").inc()
        body: dict[str, Any] = {"status": patch}
        if resource_version:
            body["metadata"] = {"resourceVersion": resource_version}
        updated = self.custom.patch_namespaced_custom_object_status(
            GROUP, VERSION, namespace, PLURAL, name, body
        )
        return cast(dict[str, Any], updated)
