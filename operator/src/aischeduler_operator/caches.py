"""The watch caches: kopf's indexes of compact projections keyed by schedule, read by the
controller, measured for the ``aischeduler_tracked_entries`` gauge, and swept after a
relist (``relist.py``) of what went while no watch was looking."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from typing import Any, cast

from aischeduler_operator import names, relist
from aischeduler_operator.kube import Kube
from aischeduler_operator.observe import (
    CronJobFacts,
    JobFacts,
    Key,
    PodFacts,
    ScheduleFacts,
)

log = logging.getLogger("aischeduler.caches")
KINDS = ("schedules", "cronjobs", "jobs", "pods")


class IndexCaches:
    """The controller's view of kopf's indexes (filled on kopf's loop, read there too)."""

    def __init__(self, indices: dict[str, Any]) -> None:
        # kopf passes each index to every handler as a keyword argument named by its id.
        self._indexes = {
            "schedules": indices["schedule_index"],
            "cronjobs": indices["cronjob_index"],
            "jobs": indices["job_index"],
            "pods": indices["pod_index"],
        }

    @staticmethod
    def _all(index: Any, key: Key) -> list[Any]:
        return list(index[key]) if key in index else []

    def schedule(self, key: Key) -> ScheduleFacts | None:
        found = self._all(self._indexes["schedules"], key)
        return cast(ScheduleFacts, found[0]) if found else None

    def cronjob(self, key: Key) -> CronJobFacts | None:
        # Only the CronJob of the derived name is ours to manage.
        wanted = names.cronjob_name(key[1])
        found = [c for c in self._all(self._indexes["cronjobs"], key) if c.name == wanted]
        return cast(CronJobFacts, found[0]) if found else None

    def jobs(self, key: Key) -> list[JobFacts]:
        return self._all(self._indexes["jobs"], key)

    def pods(self, key: Key) -> list[PodFacts]:
        return self._all(self._indexes["pods"], key)

    def sizes(self) -> dict[str, int]:
        """Keys and entries of each cache (read on kopf's loop, which fills them)."""
        sizes = {}
        for kind, index in self._indexes.items():
            sizes[f"{kind}_index_keys"] = len(index)
            sizes[f"{kind}_index_entries"] = sum(len(index[key]) for key in index)
        return sizes

    def cached(self, kind: str) -> Iterator[relist.Cached]:
        index = self._indexes[kind]
        for key in list(index):
            for facts in list(index[key]) if key in index else []:
                yield relist.Cached(key, key[0], facts.name, facts.uid, facts.seen)

    def discard(self, kind: str, ghost: relist.Cached) -> bool:
        """Drops one object from kopf's index. kopf has no public call for this (it drops
        objects on their DELETED events only): its index's own ``_discard``, addressed
        as kopf addresses objects (namespace, name, uid). False if that is not there."""
        discard = getattr(self._indexes[kind], "_discard", None)
        if discard is None:
            return False
        discard((ghost.namespace, ghost.name, ghost.uid))
        return True


class Sweeper:
    """After kopf listed again, reads each kind once and drops the ghosts (relist.py).

    Every kind is swept after a relisting of any: a kind whose objects all went while no
    watch was looking lists empty and so sends no event of its own. A write answered 404
    (what the cache shows is gone) asks for a sweep too. The first listing of each kind, at
    start-up, asks for none (``relist.Listings``): a start costs one LIST per kind."""

    def __init__(
        self,
        kube: Kube,
        caches: IndexCaches,
        selectors: dict[str, str],
        namespaces: tuple[str, ...],
        trigger: Callable[[Key], None],
    ) -> None:
        self._kube = kube
        self._caches = caches
        self._selectors = selectors
        self._namespaces = namespaces
        self._trigger = trigger
        self._timer: asyncio.TimerHandle | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._listings = relist.Listings()

    def soon(self, kind: str | None = None) -> None:
        """Called with each listing event's kind (``KINDS``), or with none for a write
        answered 404. Sweeps, if the burst calls for it, once nothing asked again for
        ``relist.SETTLE_SECONDS`` (a listing is a burst of events: one sweep after it)."""
        self._listings.heard(kind)
        if self._timer is not None:
            self._timer.cancel()
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(relist.SETTLE_SECONDS, self._start)

    def _start(self) -> None:
        self._timer = None
        if not self._listings.settled():
            return
        task = asyncio.create_task(self._sweep(), name="aischeduler-sweep")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _sweep(self) -> None:
        for kind in KINDS:
            started = time.monotonic()
            try:
                live = await asyncio.to_thread(
                    self._kube.list_uids, kind, self._namespaces, self._selectors[kind]
                )
            except Exception as e:  # the API is away again: try again later
                log.warning("could not read %s after a listing (%s); trying again", kind, e)
                self.soon()
                return
            found = relist.ghosts(self._caches.cached(kind), live, started)
            for ghost in found:
                if self._caches.discard(kind, ghost):
                    self._trigger(ghost.key)
            if found:
                log.info("dropped %d %s that went while no watch was looking", len(found), kind)

    async def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


def state_reader(*parts: Callable[[], dict[str, int]]) -> Callable[[], dict[str, int]]:
    """What the metrics thread calls at a scrape: the sizes, computed on kopf's loop
    (where every one of them changes), so a scrape never sees a half-made change."""
    loop = asyncio.get_running_loop()

    async def sizes() -> dict[str, int]:
        return {k: v for part in parts for k, v in part().items()}

    def read() -> dict[str, int]:
        try:
            return asyncio.run_coroutine_threadsafe(sizes(), loop).result(timeout=10)
        except Exception:  # the loop is busy or gone: this scrape goes without them
            return {}

    return read
