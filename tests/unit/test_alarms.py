"""The operator's single timer thread: order, re-arming and cancelling (no timing asserts)."""

from __future__ import annotations

import threading
from collections.abc import Hashable

from aischeduler_operator.alarms import Alarms


def test_alarms_fire_in_time_order_once_and_honour_cancel_and_rearm() -> None:
    fired: list[Hashable] = []
    done = threading.Event()

    def record(key: Hashable) -> None:
        fired.append(key)
        if key == "last":
            done.set()

    alarms = Alarms(record, workers=1)
    try:
        alarms.set("later", 0.2)
        alarms.set("sooner", 0.01)
        alarms.set("cancelled", 0.05)
        alarms.cancel("cancelled")
        alarms.set("rearmed", 0.02)
        alarms.set("rearmed", 0.1)  # replaces the first arming
        alarms.set("last", 0.3)
        assert alarms.pending("later") and not alarms.pending("cancelled")
        assert done.wait(timeout=10), f"alarms did not fire; fired so far: {fired}"
    finally:
        alarms.stop()
    assert fired == ["sooner", "rearmed", "later", "last"]


def test_a_failing_callback_does_not_stop_other_alarms() -> None:
    done = threading.Event()

    def callback(key: Hashable) -> None:
        if key == "bad":
            raise RuntimeError("boom")
        done.set()

    alarms = Alarms(callback)
    try:
        alarms.set("bad", 0)
        alarms.set("good", 0.05)
        assert done.wait(timeout=10)
    finally:
        alarms.stop()
