"""The run's overall deadline (AISCHED_TIMEOUT_SECONDS)."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType

from .contract import Env
from .errors import DeadlineError


def format_seconds(seconds: float) -> str:
    return f"{seconds:g} s"


class Deadline:
    """Time left for the run, plus what the runner is currently waiting for.

    Callers check `remaining()` before each request and never sleep past it. `enforced()`
    adds a hard stop (SIGALRM) for waits no timeout covers, such as a slowly trickling
    response body or a hanging name lookup.
    """

    def __init__(self, seconds: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.seconds = seconds
        self._clock = clock
        self._ends_at = clock() + seconds
        self.activity = "the platform"

    def remaining(self) -> float:
        return self._ends_at - self._clock()

    def expired(self) -> bool:
        return self.remaining() <= 0

    def error(self, detail: str = "") -> DeadlineError:
        message = (
            f"deadline of {format_seconds(self.seconds)} ({Env.TIMEOUT_SECONDS}) reached "
            f"while waiting for {self.activity}"
        )
        return DeadlineError(f"{message}: {detail}" if detail else message)

    @contextmanager
    def enforced(self) -> Iterator[None]:
        """Raise `DeadlineError` wherever the main thread is when the deadline passes."""

        def on_alarm(_signum: int, _frame: FrameType | None) -> None:
            raise self.error()

        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, max(self.remaining(), 1e-3))
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
