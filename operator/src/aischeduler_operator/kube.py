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


def _drain(response: Any) -> None:
    """Writes whose answer we do not read ask for it raw (``_preload_content=False``):
    turning a Job or an Event into the client's typed models costs more CPU than the
    request. Reading the raw answer gives its connection back to the pool."""
    _ = response.data


class Kube:
    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self.custom = client.CustomObjectsApi(api)
        self.batch = client.BatchV1Api(api)
        self.core = client.CoreV1Api(api)

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
            _drain(
                self.batch.create_namespaced_cron_job(
                    manifest["metadata"]["namespace"], _body(manifest), _preload_content=False
                )
            )
        except ApiException as e:
            if e.status == 409:
                return False
            raise
        return True

    def patch_cronjob(self, namespace: str, name: str, patch: dict[str, Any]) -> None:
        metrics.API_WRITES.labels("patch", "cronjobs").inc()
        _drain(
            self.batch.patch_namespaced_cron_job(
                name, namespace, patch, _content_type=MERGE, _preload_content=False
            )
        )

    def delete_cronjob(self, namespace: str, name: str) -> None:
        metrics.API_WRITES.labels("delete", "cronjobs").inc()
        with _gone_is_fine():
            self.batch.delete_namespaced_cron_job(name, namespace, propagation_policy="Background")

    def create_job(self, manifest: dict[str, Any]) -> bool:
        """Creates a Job; False when one of that name exists already."""
        metrics.API_WRITES.labels("create", "jobs").inc()
        try:
            _drain(
                self.batch.create_namespaced_job(
                    manifest["metadata"]["namespace"], _body(manifest), _preload_content=False
                )
            )
        except ApiException as e:
            if e.status == 409:
                return False
            raise
        return True

    def patch_job(self, namespace: str, name: str, operations: list[dict[str, Any]]) -> None:
        metrics.API_WRITES.labels("patch", "jobs").inc()
        with _gone_is_fine():
            _drain(
                self.batch.patch_namespaced_job(
                    name, namespace, operations, _content_type=JSON_PATCH, _preload_content=False
                )
            )

    def delete_job(self, namespace: str, name: str) -> None:
        metrics.API_WRITES.labels("delete", "jobs").inc()
        with _gone_is_fine():
            self.batch.delete_namespaced_job(name, namespace, propagation_policy="Background")

    def post_event(self, meta: dict[str, Any], kind: str, reason: str, message: str) -> None:
        """An Event about the schedule of ``meta`` (name, namespace, uid, resourceVersion)."""
        now = datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
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
            "message": message[:1024],
            "source": {"component": COMPONENT},
            "reportingComponent": COMPONENT,
            "reportingInstance": INSTANCE,
            "firstTimestamp": now[:19] + "Z",
            "lastTimestamp": now[:19] + "Z",
            "count": 1,
        }
        metrics.API_WRITES.labels("create", "events").inc()
        _drain(
            self.core.create_namespaced_event(
                meta["namespace"], _body(event), _preload_content=False
            )
        )

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
