"""The cluster side of `kubectl asched`: kubeconfig, context and namespace as kubectl
resolves them, the few API calls the commands make, and API failures turned into one
clear sentence (no cluster, no CRD, forbidden with the verb, unknown schedule)."""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from functools import cached_property
from typing import Any

import urllib3
from kubernetes import client, config, watch
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException

from aischeduler_operator.models import GROUP, PLURAL, VERSION
from aischeduler_operator.names import SCHEDULE_LABEL

RESOURCE = f"{PLURAL}.{GROUP}"


class CliError(Exception):
    """A failure to tell the user in one line (exit code 2)."""


class Cluster:
    def __init__(
        self,
        kubeconfig: str | None,
        context: str | None,
        namespace: str | None,
        impersonate: str | None = None,
    ):
        try:
            contexts, active = config.list_kube_config_contexts(config_file=kubeconfig)  # type: ignore[no-untyped-call]
            chosen = (
                next((c for c in contexts if c["name"] == context), None) if context else active
            )
            if context and chosen is None:
                raise CliError(f"context {context!r} is not in the kubeconfig")
            configuration = client.Configuration()
            config.load_kube_config(  # type: ignore[no-untyped-call]
                config_file=kubeconfig, context=context, client_configuration=configuration
            )
        except ConfigException as e:
            raise CliError(f"no usable kubeconfig: {e}") from None
        except OSError as e:
            raise CliError(f"cannot read the kubeconfig: {e}") from None
        configuration.retries = 1  # a missing cluster should fail fast, not after retries
        self.server = configuration.host
        self.api = client.ApiClient(configuration)
        if impersonate:
            self.api.set_default_header("Impersonate-User", impersonate)  # type: ignore[no-untyped-call]
        self.namespace = namespace or (chosen or {}).get("context", {}).get("namespace", "default")
        self._custom = client.CustomObjectsApi(self.api)

    # The typed core and batch clients take seconds to import (thousands of models); only
    # `logs` needs them.
    @cached_property
    def _batch(self) -> Any:
        return client.BatchV1Api(self.api)

    @cached_property
    def _core(self) -> Any:
        return client.CoreV1Api(self.api)

    # ------------------------------------------------------------------ errors
    def _call(self, verb: str, what: str, call: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return call(*args, **kwargs)
        except ApiException as e:
            raise self._explain(e, verb, what) from None
        except urllib3.exceptions.HTTPError as e:
            raise CliError(f"cannot reach the cluster at {self.server}: {_reason(e)}") from None

    def _explain(self, e: ApiException, verb: str, what: str) -> CliError:
        status = _status(e)
        message = str(status.get("message") or e.reason or e.status)
        if e.status == 403:
            return CliError(f"forbidden: you may not {verb} {what} ({message})")
        if e.status == 401:
            return CliError(f"unauthorized: the cluster rejected the credentials ({message})")
        named = bool((status.get("details") or {}).get("name"))
        if e.status == 404 and what.startswith(RESOURCE) and not named:
            # Not an object that is missing but the whole resource type: the server
            # answers a plain "404 page not found" for a group it does not serve.
            return CliError(
                f"the AssistantSchedule CRD is not installed in this cluster ({RESOURCE}); "
                "install it with `kubectl apply --server-side -f crds/` or the Helm chart"
            )
        if e.status == 404:
            return CliError(f"{what} not found")
        return CliError(f"cannot {verb} {what}: {message}")

    def _where(self, namespace: str | None) -> str:
        return f"in namespace {namespace}" if namespace else "in all namespaces"

    # ------------------------------------------------------------------ schedules
    def schedules(self, namespace: str | None) -> list[dict[str, Any]]:
        """All AssistantSchedules of a namespace, or of all with None."""
        what = f"{RESOURCE} {self._where(namespace)}"
        if namespace is None:
            found = self._call(
                "list", what, self._custom.list_cluster_custom_object, GROUP, VERSION, PLURAL
            )
        else:
            found = self._call(
                "list",
                what,
                self._custom.list_namespaced_custom_object,
                GROUP,
                VERSION,
                namespace,
                PLURAL,
            )
        items: list[dict[str, Any]] = found["items"]
        return items

    def schedule(self, name: str) -> dict[str, Any]:
        what = f"{RESOURCE} {name!r} in namespace {self.namespace}"
        found: dict[str, Any] = self._call(
            "get",
            what,
            self._custom.get_namespaced_custom_object,
            GROUP,
            VERSION,
            self.namespace,
            PLURAL,
            name,
        )
        return found

    def patch(self, name: str, patch: dict[str, Any]) -> dict[str, Any]:
        """A JSON merge patch of one schedule (null removes a key)."""
        what = f"{RESOURCE} {name!r} in namespace {self.namespace}"
        patched: dict[str, Any] = self._call(
            "patch",
            what,
            self._custom.patch_namespaced_custom_object,
            GROUP,
            VERSION,
            self.namespace,
            PLURAL,
            name,
            patch,
        )
        return patched

    def watch_schedule(self, name: str, resource_version: str, timeout: int) -> Iterator[Any]:
        """Changes of one schedule from ``resource_version`` on, for ``timeout`` seconds."""
        what = f"{RESOURCE} {name!r} in namespace {self.namespace}"
        stream = watch.Watch().stream(  # type: ignore[no-untyped-call]
            self._custom.list_namespaced_custom_object,
            GROUP,
            VERSION,
            self.namespace,
            PLURAL,
            field_selector=f"metadata.name={name}",
            resource_version=resource_version,
            timeout_seconds=max(timeout, 1),
        )
        try:
            for event in stream:
                yield event["object"]
        except ApiException as e:
            raise self._explain(e, "watch", what) from None
        except urllib3.exceptions.HTTPError as e:
            raise CliError(f"cannot reach the cluster at {self.server}: {_reason(e)}") from None

    # ------------------------------------------------------------------ runs
    def jobs(self, schedule: str) -> list[dict[str, Any]]:
        """The schedule's Jobs, newest first."""
        return self._newest("jobs", self._batch.list_namespaced_job, f"{SCHEDULE_LABEL}={schedule}")

    def pods(self, job: str) -> list[dict[str, Any]]:
        """The Job's pods, newest first."""
        return self._newest(
            "pods", self._core.list_namespaced_pod, f"batch.kubernetes.io/job-name={job}"
        )

    def _newest(self, kind: str, list_call: Any, selector: str) -> list[dict[str, Any]]:
        """Objects of ``kind`` in the namespace matching ``selector``, newest first."""
        response = self._call(
            "list",
            f"{kind} in namespace {self.namespace}",
            list_call,
            self.namespace,
            label_selector=selector,
            _preload_content=False,
        )
        items: list[dict[str, Any]] = json.loads(response.data)["items"]
        return sorted(items, key=lambda o: o["metadata"]["creationTimestamp"], reverse=True)

    def pod_log(self, pod: str, *, follow: bool) -> Iterator[str]:
        """The runner container's log as it arrives (followed to the end with ``follow``)."""
        what = f"pods/log of {pod!r} in namespace {self.namespace}"
        response = self._call(
            "get",
            what,
            self._core.read_namespaced_pod_log,
            pod,
            self.namespace,
            container="runner",
            follow=follow,
            _preload_content=False,
        )
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        try:
            for chunk in response.stream(decode_content=True):
                yield decoder.decode(chunk)
            yield decoder.decode(b"", final=True)
        finally:
            response.release_conn()


def _status(e: ApiException) -> dict[str, Any]:
    """The metav1.Status the server answered with, or {} for a body that is not one."""
    try:
        body = json.loads(e.body or "{}")
    except (ValueError, TypeError):
        return {}
    return body if isinstance(body, dict) else {}


def _reason(e: Exception) -> str:
    inner = getattr(e, "reason", None)
    return str(inner or e)
