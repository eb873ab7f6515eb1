"""One thread that calls back at requested times, with at most one pending alarm per key:
the operator's only timers (a one-time runAt, the next look at a recurring schedule, a
retry after an error), however many schedules there are."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger("aischeduler.alarms")


class Alarms:
    def __init__(self, callback: Callable[[Hashable], None], workers: int = 4) -> None:
        self._callback = callback
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Hashable]] = []
        self._due: dict[Hashable, int] = {}  # key -> sequence number of its live entry
        self._seq = itertools.count()
        self._stopped = False
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="alarm")
        self._thread = threading.Thread(target=self._loop, name="alarms", daemon=True)
        self._thread.start()

    def set(self, key: Hashable, delay: float) -> None:
        """(Re)arms the alarm of ``key`` to fire ``delay`` seconds from now."""
        with self._cond:
            seq = next(self._seq)
            self._due[key] = seq
            heapq.heappush(self._heap, (time.monotonic() + max(0.0, delay), seq, key))
            self._cond.notify()

    def cancel(self, key: Hashable) -> None:
        with self._cond:
            self._due.pop(key, None)  # its heap entry is skipped when it comes up

    def pending(self, key: Hashable) -> bool:
        with self._cond:
            return key in self._due

    def stop(self) -> None:
        with self._cond:
            self._stopped = True
            self._cond.notify()
        self._thread.join(timeout=5)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _next(self) -> Hashable | None:
        """Blocks until an alarm is due (returns its key) or until stopped (None)."""
        with self._cond:
            while not self._stopped:
                if not self._heap:
                    self._cond.wait()
                    continue
                when, seq, key = self._heap[0]
                if self._due.get(key) != seq:
                    heapq.heappop(self._heap)  # cancelled or re-armed since
                    continue
                delay = when - time.monotonic()
                if delay > 0:
                    self._cond.wait(delay)
                    continue
                heapq.heappop(self._heap)
                del self._due[key]
                return key
            return None

    def _loop(self) -> None:
        while (key := self._next()) is not None:
            self._pool.submit(self._fire, key)

    def _fire(self, key: Hashable) -> None:
        try:
            self._callback(key)
        except Exception:
            log.exception("alarm for %s failed", key)
