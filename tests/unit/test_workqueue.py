"""The coalescing work queue: merged duplicates, one worker per key, timers, forgetting."""

from __future__ import annotations

import asyncio

from aischeduler_operator.workqueue import WorkQueue


def test_duplicates_merge_and_a_key_is_never_handled_twice_at_once() -> None:
    async def scenario() -> tuple[list[tuple[str, bool]], int]:
        handled: list[tuple[str, bool]] = []
        running: dict[str, int] = {}
        most = 0
        gate = asyncio.Event()

        async def handle(key: str, timer: bool) -> None:
            nonlocal most
            running[key] = running.get(key, 0) + 1
            most = max(most, running[key])
            handled.append((key, timer))
            if key == "a" and len(handled) == 1:
                await gate.wait()  # "a" is slow the first time
            running[key] -= 1

        q: WorkQueue[str] = WorkQueue(handle, workers=4)
        q.start()
        for _ in range(10):
            q.add("a")
        await asyncio.sleep(0)  # a worker takes "a"
        for _ in range(10):
            q.add("a")  # while "a" runs: queued once more, for afterwards
        q.add("b", timer=True)
        q.add("b")
        for _ in range(50):
            await asyncio.sleep(0)
        gate.set()
        for _ in range(50):
            await asyncio.sleep(0)
        assert q.idle()
        await q.stop()
        return handled, most

    handled, most = asyncio.run(scenario())
    assert sorted(handled) == [("a", False), ("a", False), ("b", True)]
    assert most == 1


def test_timers_feed_the_queue_one_per_key_and_forget_drops_them() -> None:
    async def scenario() -> tuple[list[tuple[str, bool]], dict[str, int]]:
        handled: list[tuple[str, bool]] = []

        async def handle(key: str, timer: bool) -> None:
            handled.append((key, timer))

        q: WorkQueue[str] = WorkQueue(handle, workers=2)
        q.start()
        q.add_after("a", 10.0)
        q.add_after("a", 0.01)  # re-armed: one timer per key
        q.add_after("gone", 0.01)
        q.forget("gone")
        await asyncio.sleep(0.1)
        sizes = q.sizes()
        await q.stop()
        return handled, sizes

    handled, sizes = asyncio.run(scenario())
    assert handled == [("a", True)]
    assert sizes == {"ready": 0, "dirty": 0, "processing": 0, "timers": 0}
