"""A coalescing work queue of schedule keys, as client-go's: a key is queued at most once
(duplicate triggers merge), is handled by at most one worker at a time, and a trigger
that comes while it is being handled queues it once more for afterwards. Timers (a
one-time ``runAt``, the next look at a recurring schedule, a retry) feed the same queue,
one per key. Every per-key entry goes when the key is forgotten. Runs in one asyncio
loop (kopf's), so no locks."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

log = logging.getLogger("aischeduler.workqueue")
K = TypeVar("K", bound=Hashable)


class WorkQueue(Generic[K]):
    def __init__(self, handle: Callable[[K, bool], Awaitable[None]], workers: int) -> None:
        """``handle(key, timer)`` is awaited for each key; ``timer`` says a timer (not
        only watch events) asked for it, so the clock may have changed the answer."""
        self._handle = handle
        self._workers = workers
        self._ready: deque[K] = deque()
        self._dirty: dict[K, bool] = {}  # queued or to be queued again -> timer asked
        self._processing: set[K] = set()
        self._timers: dict[K, asyncio.TimerHandle] = {}
        self._wakeup = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    # ---------------------------------------------------------------- triggers
    def add(self, key: K, timer: bool = False) -> None:
        if key in self._dirty:
            self._dirty[key] = self._dirty[key] or timer  # merged with the queued trigger
            return
        self._dirty[key] = timer
        if key not in self._processing:  # else queued again when its worker is done
            self._ready.append(key)
            self._wakeup.set()

    def add_after(self, key: K, delay: float) -> None:
        """(Re)arms the key's one timer: the key is queued ``delay`` seconds from now."""
        self.cancel_timer(key)
        loop = asyncio.get_running_loop()
        self._timers[key] = loop.call_later(max(0.0, delay), self._fire, key)

    def cancel_timer(self, key: K) -> None:
        handle = self._timers.pop(key, None)
        if handle is not None:
            handle.cancel()

    def forget(self, key: K) -> None:
        """Drops the key's timer (its queue entries go as they are handled)."""
        self.cancel_timer(key)

    def _fire(self, key: K) -> None:
        self._timers.pop(key, None)
        self.add(key, timer=True)

    # ---------------------------------------------------------------- workers
    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._work(), name=f"aischeduler-worker-{i}")
            for i in range(self._workers)
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()

    async def _next(self) -> tuple[K, bool]:
        while not self._ready:
            self._wakeup.clear()
            await self._wakeup.wait()
        key = self._ready.popleft()
        self._processing.add(key)
        return key, self._dirty.pop(key)

    def _done(self, key: K) -> None:
        self._processing.discard(key)
        if key in self._dirty:  # triggered while it was handled
            self._ready.append(key)
            self._wakeup.set()

    async def _work(self) -> None:
        while True:
            key, timer = await self._next()
            try:
                await self._handle(key, timer)
            except Exception:  # the handler reports its own errors; never lose a worker
                log.exception("handling %s failed", key)
            finally:
                self._done(key)

    # ---------------------------------------------------------------- introspection
    def sizes(self) -> dict[str, int]:
        """Per-key bookkeeping (a test checks none of it grows with churn)."""
        return {
            "ready": len(self._ready),
            "dirty": len(self._dirty),
            "processing": len(self._processing),
            "timers": len(self._timers),
        }

    def idle(self) -> bool:
        return not self._ready and not self._processing
