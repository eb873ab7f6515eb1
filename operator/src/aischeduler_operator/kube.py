"""Kubernetes API calls, and only those. Objects travel as plain JSON dicts (what the
API sends), writes are counted for metrics, and "already there" / "already gone"
answers (409 on create, 404 on delete) count as success."""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, cast

import urllib3
from kubernetes import client
from kubernetes.client.exceptions import ApiException
from kubernetes.client.rest import RESTResponse

from aischeduler_operator import metrics
from aischeduler_operator.events import EventLog, Posted
from aischeduler_operator.models import GROUP, KIND, PLURAL, VERSION

COMPONENT = "aischeduler-operator"
INSTANCE = socket.gethostname()
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
TIMEOUT = urllib3.Timeout(total=60)  # seconds, as kopf's own requests (handlers.configure)
CRONJOBS = "/apis/batch/v1/namespaces/{namespace}/cronjobs"
JOBS = "/apis/batch/v1/namespaces/{namespace}/jobs"
EVENTS = "/api/v1/namespaces/{namespace}/events"
SCHEDULES = f"/apis/{GROUP}/{VERSION}/namespaces/{{namespace}}/{PLURAL}"
# Deletes leave the Jobs' pods to the garbage collector, without waiting for it.
BACKGROUND = {"apiVersion": "v1", "kind": "DeleteOptions", "propagationPolicy": "Background"}


@contextmanager
def _gone_is_fine() -> Iterator[None]:
    """Deleting or patching what is already gone is success (level-based: it converged)."""
    try:
        yield
    except ApiException as e:
        if e.status != 404:
            raise


class Kube:
    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self.custom = client.CustomObjectsApi(api)
        self.batch = client.BatchV1Api(api)
        self.core = client.CoreV1Api(api)
        self.events = EventLog()

    def _send(
        self, method: str, path: str, body: Any = None, content_type: str = "application/json"
    ) -> bytes:
        """One write with a plain JSON body; returns the raw answer. The client only signs
        the request (``param_serialize``: URL, headers, token); the body goes out as
        ``json.dumps`` writes it. The client's typed calls (kubernetes >= 35) validate
        every argument with pydantic and turn a create's body into the client's model and
        back: for manifests and patches we built ourselves that was about a fifth of the
        operator's CPU in a burst of new schedules (py-spy), and a field the model does not
        know would be dropped. Its generic path still walks every value of the body
        (``sanitize_for_serialization``): 8 % of the operator's CPU more (py-spy --gil)."""
        _, url, headers, _, _ = self.api.param_serialize(
            method=method,
            resource_path=path,
            header_params={"Content-Type": content_type, "Accept": "application/json"},
            auth_settings=["BearerToken"],
        )
        response = RESTResponse(
            self.api.rest_client.pool_manager.request(
                method,
                url,
                body=None if body is None else json.dumps(body),
                headers=headers,
                timeout=TIMEOUT,
                preload_content=False,
            )
        )
        data = response.read()  # type: ignore[no-untyped-call]
        if not 200 <= response.status <= 299:
            raise ApiException.from_response(http_resp=response, body=None, data=None)
        return cast(bytes, data)

    def _create(self, plural: str, path: str, manifest: dict[str, Any]) -> bool:
        """Creates the object at ``path`` (``{namespace}`` filled in); False when one of
        that name exists already (409)."""
        metrics.API_WRITES.labels("create", plural).inc()
        try:
            self._send("POST", path.format(namespace=manifest["metadata"]["namespace"]), manifest)
        except ApiException as e:
            if e.status == 409:
                return False
            raise
        return True

    # ------------------------------------------------------------------ reads
    # Decisions read the watch caches; this is for the one case they cannot answer.
    @staticmethod
    def _json(response: Any) -> Any:
        return json.loads(response.data)

    def served_resources(self) -> dict[str, set[str]]:
        """The resource names discovery lists for each group/version the operator serves
        (none for one it does not serve yet); raises when the apiserver cannot answer."""
        timeout = 10
        reads: dict[str, Callable[[], Any]] = {
            "v1": lambda: self.core.get_api_resources(_request_timeout=timeout),
            "batch/v1": lambda: self.batch.get_api_resources(_request_timeout=timeout),
            f"{GROUP}/{VERSION}": lambda: self.custom.get_api_resources(
                GROUP, VERSION, _request_timeout=timeout
            ),
        }
        served: dict[str, set[str]] = {}
        for group_version, read in reads.items():
            try:
                served[group_version] = {r.name for r in read().resources}
            except ApiException as e:
                if e.status != 404:
                    raise
                served[group_version] = set()
        return served

    def list_uids(self, kind: str, namespaces: tuple[str, ...], selector: str) -> set[str]:
        """The uids of one watched kind (``caches.KINDS``), selected as the watch selects
        them: one LIST per namespace served (one in all when none is named)."""
        options: dict[str, Any] = {
            "label_selector": selector,
            "_preload_content": False,
            "_request_timeout": 60,
        }
        everywhere: dict[str, Callable[[], Any]] = {
            "schedules": lambda: self.custom.list_cluster_custom_object(
                GROUP, VERSION, PLURAL, **options
            ),
            "cronjobs": lambda: self.batch.list_cron_job_for_all_namespaces(**options),
            "jobs": lambda: self.batch.list_job_for_all_namespaces(**options),
            "pods": lambda: self.core.list_pod_for_all_namespaces(**options),
        }
        within: dict[str, Callable[[str], Any]] = {
            "schedules": lambda ns: self.custom.list_namespaced_custom_object(
                GROUP, VERSION, ns, PLURAL, **options
            ),
            "cronjobs": lambda ns: self.batch.list_namespaced_cron_job(ns, **options),
            "jobs": lambda ns: self.batch.list_namespaced_job(ns, **options),
            "pods": lambda ns: self.core.list_namespaced_pod(ns, **options),
        }
        responses = [within[kind](ns) for ns in namespaces] or [everywhere[kind]()]
        return {item["metadata"]["uid"] for r in responses for item in self._json(r)["items"]}

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
        return self._create("cronjobs", CRONJOBS, manifest)

    def patch_cronjob(self, namespace: str, name: str, patch: dict[str, Any]) -> None:
        metrics.API_WRITES.labels("patch", "cronjobs").inc()
        self._send("PATCH", f"{CRONJOBS.format(namespace=namespace)}/{name}", patch, MERGE)

    def delete_cronjob(self, namespace: str, name: str) -> None:
        metrics.API_WRITES.labels("delete", "cronjobs").inc()
        with _gone_is_fine():
            self._send("DELETE", f"{CRONJOBS.format(namespace=namespace)}/{name}", BACKGROUND)

    def create_job(self, manifest: dict[str, Any]) -> bool:
        """Creates a Job; False when one of that name exists already."""
        return self._create("jobs", JOBS, manifest)

    def patch_job(self, namespace: str, name: str, operations: list[dict[str, Any]]) -> None:
        metrics.API_WRITES.labels("patch", "jobs").inc()
        with _gone_is_fine():
            self._send(
                "PATCH", f"{JOBS.format(namespace=namespace)}/{name}", operations, JSON_PATCH
            )

    def delete_job(self, namespace: str, name: str) -> None:
        metrics.API_WRITES.labels("delete", "jobs").inc()
        with _gone_is_fine():
            self._send("DELETE", f"{JOBS.format(namespace=namespace)}/{name}", BACKGROUND)

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
        created = json.loads(self._send("POST", EVENTS.format(namespace=meta["namespace"]), event))
        name = (created.get("metadata") or {}).get("name")
        if name:
            self.events.remember(key, Posted(name, 1))

    def _count_up(self, namespace: str, posted: Posted, now: str) -> bool:
        """One more of an Event already posted; False when it is gone (expired)."""
        metrics.API_WRITES.labels("patch", "events").inc()
        try:
            self._send(
                "PATCH",
                f"{EVENTS.format(namespace=namespace)}/{posted.name}",
                {"count": posted.count + 1, "lastTimestamp": now},
                MERGE,
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
        path = f"{SCHEDULES.format(namespace=namespace)}/{name}/status"
        return cast(dict[str, Any], json.loads(self._send("PATCH", path, body, MERGE)))
