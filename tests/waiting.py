"""Bounded polling for tests: wait for a condition with a deadline, and when it does not
come, fail with what was last seen — never a bare sleep, never a timed assertion."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeoutError(AssertionError):
    pass


def wait_for(
    observe: Callable[[], T],
    done: Callable[[T], bool] = bool,
    *,
    timeout: float = 60.0,
    interval: float = 0.25,
    what: str = "condition",
) -> T:
    """Calls ``observe`` until ``done(value)`` holds; returns that value. On time-out raises
    with the last observed value (or exception) so a failure says what the cluster looked like."""
    deadline = time.monotonic() + timeout
    last: object = "<nothing observed>"
    while True:
        try:
            value = observe()
            if done(value):
                return value
            last = value
        except Exception as e:  # observe may race with object creation; keep polling
            last = f"{type(e).__name__}: {e}"
        if time.monotonic() >= deadline:
            raise WaitTimeoutError(
                f"timed out after {timeout:.0f}s waiting for {what}; last seen: {last}"
            )
        time.sleep(interval)
