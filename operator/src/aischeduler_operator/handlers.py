"""kopf wiring, kept thin. Watches fill caches (kopf indexes of compact projections,
keyed by schedule) and every event queues its schedule's key; the controller
(``reconcile.py``) does the rest from the caches. The owned kinds are watched with a
server-side label selector, so objects that are not ours never reach the process."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable
from dataclasses import replace
from typing import Any, cast

import kopf
from kopf import Body, BodyEssence, DiffBaseStorage, Patch
from kubernetes import client, config

from aischeduler_operator import discovery, kopftoggles, metrics, names, recorder
from aischeduler_operator.caches import IndexCaches, Sweeper, state_reader
from aischeduler_operator.kube import Kube
from aischeduler_operator.models import GROUP, PLURAL, VERSION
from aischeduler_operator.observe import (
    Key,
    project_cronjob,
    project_job,
    project_pod,
    project_schedule,
    schedule_of,
)
from aischeduler_operator.reconcile import WORKERS, Controller
from aischeduler_operator.settings import Settings, load_settings

kopftoggles.quiet()  # before kopf starts: its index pre-population wakes every waiter

OWNED_KINDS = (("batch", "v1", "cronjobs"), ("batch", "v1", "jobs"), ("", "v1", "pods"))
OWNED_SELECTOR = f"{names.MANAGED_BY_LABEL}={names.MANAGED_BY}"
_state: dict[str, Any] = {}
log = logging.getLogger("aischeduler.handlers")


def controller() -> Controller:
    return cast(Controller, _state["controller"])


def sweeper() -> Sweeper:
    return cast(Sweeper, _state["sweeper"])


def build_api_client() -> client.ApiClient:
    conf = client.Configuration()
    try:
        config.load_incluster_config(client_configuration=conf)  # type: ignore[no-untyped-call]
    except config.ConfigException:
        config.load_kube_config(client_configuration=conf)  # type: ignore[no-untyped-call]
    # One connection per reconcile worker and Event sender: the default pool (5 per CPU)
    # would open and drop a TLS connection per request beyond it.
    conf.connection_pool_maxsize = WORKERS + recorder.SENDERS
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


def configure(operator: kopf.OperatorSettings, ours: Settings) -> dict[str, str]:
    # Only watch-event and index handlers are used: kopf keeps no state on our objects (no
    # finalizers, no last-handled annotations), so an idle resync writes nothing.
    operator.persistence.diffbase_storage = NoDiffBase()
    operator.posting.level = logging.WARNING
    operator.watching.server_timeout = 300
    operator.watching.client_timeout = 330
    operator.networking.request_timeout = 60
    # kopf gives each object with events a worker task, kept 5 s after its last event by
    # default. In a burst every new schedule, CronJob, Job and Pod has one, and the memory
    # they held stays the process's high-water mark: 0.5 s took the RSS after 1,000 new
    # schedules from 162 to 123-127 MiB (make bench), with no change in creation time.
    operator.queueing.idle_timeout = 0.5
    owned = OWNED_SELECTOR
    if ours.schedule_selector:
        # Sharding: this operator serves only the schedules matching the selector, and
        # their Jobs and Pods, which carry the schedule's shard label.
        operator.watching.label_selectors[GROUP, VERSION, PLURAL] = ours.schedule_selector
        owned = f"{owned},{ours.schedule_selector}"
    for kind in OWNED_KINDS:
        operator.watching.label_selectors[kind] = owned
    return {"schedules": ours.schedule_selector, "cronjobs": owned, "jobs": owned, "pods": owned}


async def wait_until_served(kube: Kube) -> None:
    """Returns once discovery lists every resource we watch (see ``discovery.py``);
    kopf resolves them right after the start-up handlers."""
    attempt = 0
    while True:
        try:
            missing = discovery.missing(await asyncio.to_thread(kube.served_resources))
        except Exception as e:  # the apiserver is not answering (yet)
            missing = [f"discovery failed: {type(e).__name__}: {e}"]
        if not missing:
            return
        delay = discovery.retry_delay(attempt)
        log.warning("not served by the apiserver yet: %s; asking again in %.0fs", missing, delay)
        attempt += 1
        await asyncio.sleep(delay)


@kopf.on.startup()
async def startup(**kwargs: Any) -> None:
    ours = load_settings()
    selectors = configure(kwargs["settings"], ours)
    kube = Kube(build_api_client())
    await wait_until_served(kube)
    caches = IndexCaches(kwargs)
    ctl = Controller(kube, ours, caches, workers=WORKERS)
    _state["controller"] = ctl
    _state["sweeper"] = sweep = Sweeper(kube, caches, selectors, ours.watch_namespaces, ctl.trigger)
    ctl.on_not_found = sweep.soon
    metrics.TRACKED.read = state_reader(ctl.sizes, caches.sizes)
    ctl.start()


@kopf.on.cleanup()
async def cleanup(**_: Any) -> None:
    metrics.TRACKED.read = None
    if "sweeper" in _state:
        await _state.pop("sweeper").stop()
    if "controller" in _state:
        await _state.pop("controller").stop()


# ----------------------------------------------------------------------- caches
# Async so that kopf runs them on its loop, without a thread hop per event.


# Every projection notes when the cache heard of the object (relist.py).


@kopf.index(GROUP, VERSION, PLURAL, id="schedule_index")
async def schedule_index(**kwargs: Any) -> Any:
    facts = replace(project_schedule(dict(kwargs["body"])), seen=time.monotonic())
    return {(kwargs["namespace"], kwargs["name"]): facts}


def _owned_key(kwargs: dict[str, Any]) -> Key | None:
    schedule = schedule_of(dict(kwargs["body"]))
    return (kwargs["namespace"], schedule) if schedule else None


@kopf.index("batch", "v1", "cronjobs", id="cronjob_index")
async def cronjob_index(**kwargs: Any) -> Any:
    key = _owned_key(kwargs)
    return (
        {key: replace(project_cronjob(dict(kwargs["body"])), seen=time.monotonic())}
        if key
        else None
    )


@kopf.index("batch", "v1", "jobs", id="job_index")
async def job_index(**kwargs: Any) -> Any:
    key = _owned_key(kwargs)
    return {key: replace(project_job(dict(kwargs["body"])), seen=time.monotonic())} if key else None


@kopf.index("", "v1", "pods", id="pod_index")
async def pod_index(**kwargs: Any) -> Any:
    key = _owned_key(kwargs)
    return {key: replace(project_pod(dict(kwargs["body"])), seen=time.monotonic())} if key else None


# ----------------------------------------------------------------------- triggers


# A listing event (type None: kopf listed the kind, at start-up or after its watch
# expired) is told to the sweeper, which reads every kind once after a relisting.


@kopf.on.event(GROUP, VERSION, PLURAL, id="schedule_event")
async def schedule_event(**kwargs: Any) -> None:
    if kwargs["type"] is None:
        sweeper().soon("schedules")
    controller().trigger((kwargs["namespace"], kwargs["name"]))


async def _owned_event(**kwargs: Any) -> None:
    if kwargs["type"] is None:
        sweeper().soon(kwargs["resource"].plural)  # cronjobs, jobs, pods: caches.KINDS
    key = _owned_key(kwargs)
    if key is not None:
        controller().trigger(key)


# An owned object changed: queue the schedule it belongs to.
kopf.on.event("batch", "v1", "cronjobs", id="cronjob_event")(_owned_event)
kopf.on.event("batch", "v1", "jobs", id="job_event")(_owned_event)
kopf.on.event("", "v1", "pods", id="pod_event")(_owned_event)
