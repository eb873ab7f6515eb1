"""Which Event a repeated event goes to. As client-go's event recorder does it: the same
event (object, type, reason, message) again is a higher ``count`` and a new
``lastTimestamp`` on the Event already posted, not a new object. Memory is bounded (the
least recently posted are forgotten, as client-go's LRU of 4096), so a forgotten or
expired Event simply starts again at 1. No I/O; safe to share between the recorder's
sender threads."""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

EventKey = tuple[str, str, str, str, str]  # namespace, object uid, type, reason, message
MAX_REMEMBERED = 4096


@dataclass(frozen=True)
class Posted:
    name: str  # the Event object's name
    count: int


class EventLog:
    """The Events posted lately, by what they say."""

    def __init__(self, size: int = MAX_REMEMBERED) -> None:
        self.size = size
        self._posted: OrderedDict[EventKey, Posted] = OrderedDict()
        self._lock = threading.Lock()

    def find(self, key: EventKey) -> Posted | None:
        with self._lock:
            posted = self._posted.get(key)
            if posted is not None:
                self._posted.move_to_end(key)
            return posted

    def remember(self, key: EventKey, posted: Posted) -> None:
        with self._lock:
            self._posted[key] = posted
            self._posted.move_to_end(key)
            while len(self._posted) > self.size:
                self._posted.popitem(last=False)

    def __len__(self) -> int:
        return len(self._posted)
