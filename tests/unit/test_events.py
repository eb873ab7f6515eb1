"""Repeated events count up on the Event already posted; the memory of them is bounded."""

from __future__ import annotations

from aischeduler_operator.events import EventLog, Posted


def key(n: int) -> tuple[str, str, str, str, str]:
    return ("team-a", "uid-1", "Warning", "InvalidSpec", f"message {n}")


def test_the_same_event_finds_the_event_posted_before() -> None:
    log = EventLog()
    assert log.find(key(1)) is None
    log.remember(key(1), Posted("daily.abc", 1))
    assert log.find(key(1)) == Posted("daily.abc", 1)
    assert log.find(key(2)) is None  # another message is another event
    log.remember(key(1), Posted("daily.abc", 2))
    assert log.find(key(1)) == Posted("daily.abc", 2)
    assert len(log) == 1


def test_memory_is_bounded_and_keeps_the_recently_used() -> None:
    log = EventLog(size=3)
    for n in range(3):
        log.remember(key(n), Posted(f"e{n}", 1))
    assert log.find(key(0)) is not None  # used: kept over key(1)
    log.remember(key(3), Posted("e3", 1))
    assert len(log) == 3
    assert log.find(key(1)) is None
    assert log.find(key(0)) is not None and log.find(key(3)) is not None
