"""Events are posted off the reconcile path: in order per schedule, never blocking or
failing the caller, bounded, drained at shutdown."""

from __future__ import annotations

import logging
import threading
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from aischeduler_operator import metrics
from aischeduler_operator.actions import PostEvent
from aischeduler_operator.recorder import EventRecorder, Note

WAIT = 10.0  # seconds: an upper bound for the sender threads, not a timing


def note(uid: str, reason: str) -> Note:
    meta = {"name": f"s-{uid}", "namespace": "team-a", "uid": uid}
    return Note(meta, PostEvent("Normal", reason, f"{reason} of {uid}"))


class Sink:
    """Records what was posted; ``gate`` holds every post until it is set."""

    def __init__(self, fail: set[str] | None = None) -> None:
        self.posted: list[tuple[str, str]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.fail = fail or set()
        self._lock = threading.Lock()

    def post(self, meta: dict[str, Any], kind: str, reason: str, message: str) -> None:
        assert self.gate.wait(WAIT)
        if reason in self.fail:
            raise RuntimeError("events is forbidden")
        with self._lock:
            self.posted.append((meta["uid"], reason))


def test_the_events_of_one_schedule_are_posted_in_the_order_recorded() -> None:
    sink = Sink()
    recorder = EventRecorder(sink.post, senders=3)
    recorder.start()
    for i in range(20):
        for uid in ("a", "b", "c", "d"):
            recorder.record(note(uid, f"R{i}"))
    recorder.stop(WAIT)
    assert len(sink.posted) == 80
    for uid in ("a", "b", "c", "d"):
        assert [r for u, r in sink.posted if u == uid] == [f"R{i}" for i in range(20)]


def test_recording_does_not_wait_for_the_api() -> None:
    sink = Sink()
    sink.gate.clear()  # the API does not answer
    recorder = EventRecorder(sink.post, senders=2)
    recorder.start()
    for i in range(50):
        recorder.record(note("a", f"R{i}"))  # returns at once although nothing is posted
    assert sink.posted == [] and not recorder.idle()
    sink.gate.set()
    recorder.stop(WAIT)
    assert len(sink.posted) == 50 and recorder.idle()


def test_an_event_the_api_refuses_is_dropped_and_counted_and_the_rest_go_on() -> None:
    sink = Sink(fail={"Refused"})
    recorder = EventRecorder(sink.post, senders=1)
    recorder.start()
    counted = metrics.EVENTS_DROPPED._value.get()
    recorder.record(note("a", "Scheduled"))
    recorder.record(note("a", "Refused"))
    recorder.record(note("a", "RunStarted"))
    recorder.stop(WAIT)
    assert sink.posted == [("a", "Scheduled"), ("a", "RunStarted")]
    assert recorder.dropped == 1
    assert metrics.EVENTS_DROPPED._value.get() >= counted + 1  # shared: other tests count too


def test_when_too_many_wait_the_newest_are_dropped_and_counted() -> None:
    sink = Sink()
    sink.gate.clear()
    recorder = EventRecorder(sink.post, senders=1, size=3)
    recorder.start()
    recorder.record(note("a", "R0"))  # taken by the sender, which waits on the gate
    for i in range(1, 10):
        recorder.record(note("a", f"R{i}"))
    # The queue holds three: R1-R3 when the sender took R0 already, else R0-R2.
    assert recorder.dropped in (6, 7)
    sink.gate.set()
    recorder.stop(WAIT)
    assert [r for _, r in sink.posted] == [f"R{i}" for i in range(len(sink.posted))]
    assert len(sink.posted) + recorder.dropped == 10


def test_after_stop_events_are_dropped_not_queued_forever() -> None:
    sink = Sink()
    recorder = EventRecorder(sink.post, senders=2)
    recorder.start()
    recorder.record(note("a", "Scheduled"))
    recorder.stop(WAIT)
    recorder.record(note("a", "RunStarted"))
    assert sink.posted == [("a", "Scheduled")]
    assert recorder.dropped == 1 and recorder.idle()


def test_a_refusal_is_logged_as_the_api_said_it_in_one_line(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def refuse(meta: dict[str, Any], kind: str, reason: str, message: str) -> None:
        body = '{"kind": "Status", "message": "denied request: no Events here", "code": 403}'
        raise ApiException(status=403, reason="Forbidden", body=body)

    recorder = EventRecorder(refuse, senders=1)
    recorder.start()
    with caplog.at_level(logging.WARNING, logger="aischeduler.events"):
        recorder.record(note("a", "Scheduled"))
        recorder.stop(WAIT)
    (line,) = [r.getMessage() for r in caplog.records]
    assert line == (
        "Event Normal Scheduled for team-a/s-a not posted: "
        "API error 403: denied request: no Events here"
    )
