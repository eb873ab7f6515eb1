"""kopf wiring, kept thin: every event about a schedule, its CronJob, its Jobs or their
Pods (watched by label) leads to one level-based reconcile of that schedule."""

from __future__ import annotations

import logging
from typing import Any, cast

import kopf
from kubernetes import client, config

from aischeduler_operator import names
from aischeduler_operator.kube import Kube
from aischeduler_operator.models import GROUP, PLURAL, VERSION
from aischeduler_operator.reconcile import Reconciler
from aischeduler_operator.settings import load_settings

OWNED = {names.MANAGED_BY_LABEL: names.MANAGED_BY}
_state: dict[str, Reconciler] = {}


def _reconciler() -> Reconciler:
    return _state["reconciler"]


def build_api_client() -> client.ApiClient:
    try:
        config.load_incluster_config()  # type: ignore[no-untyped-call]
        return client.ApiClient()
    except config.ConfigException:
        return cast(client.ApiClient, config.new_client_from_config())  # type: ignore[no-untyped-call]


def configure(operator: kopf.OperatorSettings) -> None:
    # Only watch-event handlers are used: kopf keeps no state on our objects (no
    # finalizers, no last-handled annotations), so an idle resync writes nothing.
    operator.posting.level = logging.WARNING
    operator.execution.max_workers = 8
    operator.watching.server_timeout = 300
    operator.watching.client_timeout = 330
    operator.networking.request_timeout = 60


@kopf.on.startup()
def startup(**kwargs: Any) -> None:
    ours = load_settings()
    configure(kwargs["settings"])
    _state["reconciler"] = Reconciler(Kube(build_api_client()), ours)


@kopf.on.cleanup()
def cleanup(**_: Any) -> None:
    if "reconciler" in _state:
        _reconciler().stop()


@kopf.on.event(GROUP, VERSION, PLURAL)
def schedule_event(**kwargs: Any) -> None:
    _reconciler().reconcile(kwargs["namespace"], kwargs["name"])


def _owned_event(**kwargs: Any) -> None:
    schedule = kwargs["labels"].get(names.SCHEDULE_LABEL)
    if schedule:
        _reconciler().reconcile(kwargs["namespace"], schedule)


# An owned object changed: reconcile the schedule it belongs to.
kopf.on.event("batch", "v1", "cronjobs", labels=OWNED, id="cronjob_event")(_owned_event)
kopf.on.event("batch", "v1", "jobs", labels=OWNED, id="job_event")(_owned_event)
kopf.on.event("", "v1", "pods", labels=OWNED, id="pod_event")(_owned_event)
