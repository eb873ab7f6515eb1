"""Events go out as client-go's event recorder sends them: off the reconcile path. A
reconcile hands its Events to the recorder and moves on; 16 sender threads post them,
all Events of one schedule through the same thread, in the order they were recorded.

Events are notes for people. One the API refuses (an admission policy or webhook, the
EventRateLimit plugin's 429, a missing permission, an apiserver away) is logged and
dropped: it must not fail, repeat or slow the reconcile that made it, whose status carries
the same facts. The queue is bounded, as client-go's; when it is full an Event is dropped
and counted."""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from kubernetes.client.exceptions import ApiException

from aischeduler_operator import metrics
from aischeduler_operator.actions import PostEvent

log = logging.getLogger("aischeduler.events")
# Enough to keep up with the reconcile workers under load: with 4, creating 5,000
# schedules left ~3,100 Events behind when the last was Ready (537 still in the next
# minute's window); each Event waits on the API as long as a status patch does.
SENDERS = 16
MAX_QUEUED = 10_000  # Events waiting, all senders together
DRAIN_SECONDS = 5.0  # at shutdown, how long queued Events may still take


@dataclass(frozen=True)
class Note:
    """One Event to post about the schedule of ``meta`` (name, namespace, uid, version)."""

    meta: dict[str, Any]
    event: PostEvent


_STOP = object()


def _why(e: Exception) -> str:
    """What the API said, in one line (the client's own text spans headers and body)."""
    if not isinstance(e, ApiException):
        return f"{type(e).__name__}: {e}"
    try:
        message = json.loads(e.body or "{}").get("message", "")
    except (ValueError, AttributeError):
        message = ""
    return f"API error {e.status}: {message or e.reason}"


class EventRecorder:
    def __init__(
        self,
        post: Callable[[dict[str, Any], str, str, str], None],
        senders: int = SENDERS,
        size: int = MAX_QUEUED,
    ) -> None:
        self._post = post
        self._queues: list[queue.Queue[Any]] = [
            queue.Queue(maxsize=max(1, size // senders)) for _ in range(senders)
        ]
        self._threads = [
            threading.Thread(target=self._send, args=(q,), name=f"events-{i}", daemon=True)
            for i, q in enumerate(self._queues)
        ]
        self._closed = False
        self.dropped = 0  # also counted in metrics.EVENTS_DROPPED

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def record(self, note: Note) -> None:
        """Queues the Event; never blocks and never raises."""
        if self._closed:
            self._drop(note, "shutting down")
            return
        uid = str(note.meta.get("uid", ""))
        try:
            self._queues[hash(uid) % len(self._queues)].put_nowait(note)
        except queue.Full:
            self._drop(note, "too many waiting")

    def _send(self, q: queue.Queue[Any]) -> None:
        while True:
            note = q.get()
            try:
                if note is _STOP:
                    return
                event = note.event
                self._post(note.meta, event.type, event.reason, event.message)
            except Exception as e:  # an Event is best effort; the status holds the facts
                self._drop(note, _why(e))
            finally:
                q.task_done()

    def _drop(self, note: Note, why: str) -> None:
        self.dropped += 1  # for tests; from several threads at once it may miss one
        metrics.EVENTS_DROPPED.inc()
        meta = note.meta
        log.warning(
            "Event %s %s for %s/%s not posted: %s",
            note.event.type,
            note.event.reason,
            meta.get("namespace"),
            meta.get("name"),
            why,
        )

    def idle(self) -> bool:
        """No Event waiting or being posted."""
        return all(q.unfinished_tasks == 0 for q in self._queues)

    def stop(self, timeout: float = DRAIN_SECONDS) -> None:
        """Posts what is queued within ``timeout`` seconds, then stops; blocks."""
        self._closed = True
        deadline = time.monotonic() + timeout
        for q in self._queues:
            with contextlib.suppress(queue.Full):  # its sender is busy still: a daemon
                q.put(_STOP, timeout=max(0.0, deadline - time.monotonic()))
        for thread in self._threads:
            if thread.is_alive():
                thread.join(max(0.0, deadline - time.monotonic()))
