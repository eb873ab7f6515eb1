"""kopf wiring, kept thin. Watches fill caches (kopf indexes of compact projections,
keyed by schedule) and every event queues its schedule's key; the controller
(``reconcile.py``) does the rest from the caches. The owned kinds are watched with a
server-side label selector, so objects that are not ours never reach the process."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any, cast

import kopf
from kopf import Body, BodyEssence, DiffBaseStorage, Patch
from kubernetes import client, config

from aischeduler_operator import names
from aischeduler_operator.kube import Kube
from aischeduler_operator.models import GROUP, PLURAL, VERSION
from aischeduler_operator.observe import (
    CronJobFacts,
    JobFacts,
    Key,
    PodFacts,
    ScheduleFacts,
    project_cronjob,
    project_job,
    project_pod,
    project_schedule,
    schedule_of,
)
from aischeduler_operator.reconcile import WORKERS, Controller
from aischeduler_operator.settings import Settings, load_settings

OWNED_KINDS = (("batch", "v1", "cronjobs"), ("batch", "v1", "jobs"), ("", "v1", "pods"))
OWNED_SELECTOR = f"{names.MANAGED_BY_LABEL}={names.MANAGED_BY}"
_state: dict[str, Controller] = {}


def controller() -> Controller:
    return _state["controller"]


def build_api_client() -> client.ApiClient:
    conf = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=conf)  # type: ignore[no-untyped-call]
    except config.ConfigException:
        config.load_kube_config(client_configuration=conf)  # type: ignore[no-untyped-call]
    # One connection per reconcile worker: the default pool (5 per CPU) would open and
    # drop a TLS connection per request beyond it.
    conf.connection_pool_maxsize = WORKERS
    return client.ApiClient(conf)


class NoDiffBase(DiffBaseStorage):
    """kopf builds a "last handled" essence of every event's body (a deep copy of it) for
    change handlers; we have none, and this copying was a third of the event loop's time
    in a burst of Job and Pod events (profiled with py-spy)."""

    def build(self, *, body: Body, extra_fields: Iterable[Any] | None = None) -> BodyEssence:
        return BodyEssence()

    def fetch(self, *, body: Body) -> BodyEssence | None:
        return BodyEssence()

    def store(self, *, body: Body, patch: Patch, essence: BodyEssence) -> None:
        return None


def configure(operator: kopf.OperatorSettings, ours: Settings) -> None:
    # Only watch-event and index handlers are used: kopf keeps no state on our objects (no
    # finalizers, no last-handled annotations), so an idle resync writes nothing.
    operator.persistence.diffbase_storage = NoDiffBase()
    operator.posting.level = logging.WARNING
    operator.watching.server_timeout = 300
    operator.watching.client_timeout = 330
    operator.networking.request_timeout = 60
    owned = OWNED_SELECTOR
    if ours.schedule_selector:
        # Sharding: this operator serves only the schedules matching the selector, and
        # their Jobs and Pods, which carry the schedule's shard label.
        operator.watching.label_selectors[GROUP, VERSION, PLURAL] = ours.schedule_selector
        owned = f"{owned},{ours.schedule_selector}"
    for kind in OWNED_KINDS:
        operator.watching.label_selectors[kind] = owned


class IndexCaches:
    """The controller's view of kopf's indexes (filled on kopf's loop, read there too)."""

    def __init__(self, indices: dict[str, Any]) -> None:
        # kopf passes each index to every handler as a keyword argument named by its id.
        self._schedules = indices["schedule_index"]
        self._cronjobs = indices["cronjob_index"]
        self._jobs = indices["job_index"]
        self._pods = indices["pod_index"]

    @staticmethod
    def _all(index: Any, key: Key) -> list[Any]:
        return list(index[key]) if key in index else []

    def schedule(self, key: Key) -> ScheduleFacts | None:
        found = self._all(self._schedules, key)
        return cast(ScheduleFacts, found[0]) if found else None

    def cronjob(self, key: Key) -> CronJobFacts | None:
        # Only the CronJob of the derived name is ours to manage.
        wanted = names.cronjob_name(key[1])
        found = [c for c in self._all(self._cronjobs, key) if c.name == wanted]
        return cast(CronJobFacts, found[0]) if found else None

    def jobs(self, key: Key) -> list[JobFacts]:
        return self._all(self._jobs, key)

    def pods(self, key: Key) -> list[PodFacts]:
        return self._all(self._pods, key)


@kopf.on.startup()
async def startup(**kwargs: Any) -> None:
    ours = load_settings()
    configure(kwargs["settings"], ours)
    ctl = Controller(Kube(build_api_client()), ours, IndexCaches(kwargs), workers=WORKERS)
    _state["controller"] = ctl
    ctl.start()


@kopf.on.cleanup()
async def cleanup(**_: Any) -> None:
    if "controller" in _state:
        await _state.pop("controller").stop()


# ----------------------------------------------------------------------- caches
# Async so that kopf runs them on its loop, without a thread hop per event.


@kopf.index(GROUP, VERSION, PLURAL, id="schedule_index")
async def schedule_index(**kwargs: Any) -> Any:
    return {(kwargs["namespace"], kwargs["name"]): project_schedule(dict(kwargs["body"]))}


def _owned_key(kwargs: dict[str, Any]) -> Key | None:
    schedule = schedule_of(dict(kwargs["body"]))
    return (kwargs["namespace"], schedule) if schedule else None


@kopf.index("batch", "v1", "cronjobs", id="cronjob_index")
async def cronjob_index(**kwargs: Any) -> Any:
    key = _owned_key(kwargs)
    return {key: project_cronjob(dict(kwargs["body"]))} if key else None


@kopf.index("batch", "v1", "jobs", id="job_index")
async def job_index(**kwargs: Any) -> Any:
    key = _owned_key(kwargs)
    return {key: project_job(dict(kwargs["body"]))} if key else None


@kopf.index("", "v1", "pods", id="pod_index")
async def pod_index(**kwargs: Any) -> Any:
    key = _owned_key(kwargs)
    return {key: project_pod(dict(kwargs["body"]))} if key else None


# ----------------------------------------------------------------------- triggers


@kopf.on.event(GROUP, VERSION, PLURAL, id="schedule_event")
async def schedule_event(**kwargs: Any) -> None:
    controller().trigger((kwargs["namespace"], kwargs["name"]))


async def _owned_event(**kwargs: Any) -> None:
    key = _owned_key(kwargs)
    if key is not None:
        controller().trigger(key)


# An owned object changed: queue the schedule it belongs to.
kopf.on.event("batch", "v1", "cronjobs", id="cronjob_event")(_owned_event)
kopf.on.event("batch", "v1", "jobs", id="job_event")(_owned_event)
kopf.on.event("", "v1", "pods", id="pod_event")(_owned_event)
