"""A memo of consecutive activations per schedule, so that the calendar search (the
costly part of a decision) runs once per activation instead of once per question: every
reconcile asks for the next 5 times after now, and the missed-run accounting walks the
times after the watermark, mostly the same ones as last time.

The answers are exactly those of the search itself. A window for a key holds
activations ``times[0] < times[1] < ...`` found by stepping from ``lo``: the first is the
next activation after ``lo``, each next one the next after its predecessor, so every
activation after ``lo`` up to the last one known is in the list. ``end`` says the search
from the last one found nothing (robfig gives up five years on). Thread-safe (the
reconcile workers share it); bounded in keys and in times per key."""

from __future__ import annotations

import threading
from bisect import bisect_right
from collections import OrderedDict
from collections.abc import Callable, Hashable

#: Keys kept (least recently used go first): one per distinct (schedule, time zone).
MAX_WINDOWS = 4096
#: Activations kept per key; when full, the older half goes.
MAX_TIMES = 32

Step = Callable[[int], "int | None"]  # the next activation strictly after a Unix second


class _Window:
    __slots__ = ("end", "lo", "times")

    def __init__(self, lo: int) -> None:
        self.lo = lo
        self.times: list[int] = []
        self.end = False

    def last(self) -> int:
        return self.times[-1] if self.times else self.lo


class FireTimes:
    def __init__(self, max_windows: int = MAX_WINDOWS, max_times: int = MAX_TIMES) -> None:
        self._windows: OrderedDict[Hashable, _Window] = OrderedDict()
        self._max_windows = max_windows
        self._max_times = max(2, max_times)
        self._lock = threading.Lock()

    def after(self, key: Hashable, after: int, count: int, step: Step) -> list[int]:
        """The next ``count`` activations strictly after ``after`` (fewer if there are
        none), as ``step`` repeated from ``after`` would give them."""
        with self._lock:
            w = self._window(key, after, step)
            i = bisect_right(w.times, after)
            while len(w.times) - i < count and not w.end:
                found = step(w.last())
                if found is None:
                    w.end = True
                else:
                    w.times.append(found)
            found_times = w.times[i : i + count]
            self._trim(w)
            return found_times

    def __len__(self) -> int:
        return len(self._windows)

    def _window(self, key: Hashable, after: int, step: Step) -> _Window:
        """The key's window, made to cover ``after`` (a fresh one if it cannot)."""
        w = self._windows.get(key)
        if w is not None:
            self._windows.move_to_end(key)
            if after < w.lo:
                w = self._reach_back(w, after, step)
            elif after > w.last():
                # Past what is known: stepping there would search times nobody asked for
                # (and ``end`` holds only for the search from the last one).
                w = None
        if w is None:
            w = _Window(after)
        self._windows[key] = w
        if len(self._windows) > self._max_windows:
            self._windows.popitem(last=False)
        return w

    @staticmethod
    def _reach_back(w: _Window, after: int, step: Step) -> _Window | None:
        """Extends the window back to ``after`` when no activation lies between them
        (one search), else None (start afresh there)."""
        found = step(after)
        if w.times and found == w.times[0]:
            w.lo = after
            return w
        if found is None:
            w.lo, w.times, w.end = after, [], True
            return w
        return None

    def _trim(self, w: _Window) -> None:
        if len(w.times) > self._max_times:
            cut = len(w.times) - self._max_times // 2
            w.lo = w.times[cut - 1]
            del w.times[:cut]
