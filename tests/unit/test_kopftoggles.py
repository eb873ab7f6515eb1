"""kopf's ToggleSet with the wake-up fix: waiters still wake on every change of what they
wait on, and only then."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import kopf
from kopf._cogs.aiokits.aiotoggles import ToggleSet

from aischeduler_operator import kopftoggles

kopftoggles.quiet()


def run(main: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(asyncio.wait_for(main(), timeout=10))


def counting_wakeups(toggles: ToggleSet) -> list[int]:
    """Counts the set's notify_all calls (each wakes every waiter)."""
    calls = [0]
    notify_all = toggles._condition.notify_all

    def counted() -> None:
        calls[0] += 1
        notify_all()

    toggles._condition.notify_all = counted  # type: ignore[method-assign]
    return calls


def test_the_fix_is_for_the_kopf_it_runs_with() -> None:
    # Written against kopf 1.45's aiotoggles; a kopf upgrade re-checks it here.
    assert kopf.__version__.startswith("1.45."), kopf.__version__
    assert ToggleSet.make_toggle is kopftoggles._make_toggle


def test_a_waiter_for_all_on_wakes_when_the_last_blocker_goes() -> None:
    async def main() -> None:
        toggles = ToggleSet(all)
        blockers = [await toggles.make_toggle(name=str(i)) for i in range(3)]
        waiter = asyncio.create_task(toggles.wait_for(True))
        for blocker in blockers[:-1]:
            await toggles.drop_toggle(blocker)
            await asyncio.sleep(0)
            assert not waiter.done()
        await toggles.drop_toggles(blockers[-1:])
        await waiter

    run(main)


def test_a_waiter_for_off_wakes_when_a_blocker_comes() -> None:
    async def main() -> None:
        toggles = ToggleSet(all)
        waiter = asyncio.create_task(toggles.wait_for(False))
        await asyncio.sleep(0)
        assert not waiter.done()
        await toggles.make_toggle(name="blocker")
        await waiter

    run(main)


def test_a_toggle_turned_by_itself_still_wakes_the_set_s_waiters() -> None:
    # The operator's pause set (any): a peering toggle turned on pauses it.
    async def main() -> None:
        toggles = ToggleSet(any)
        toggle = await toggles.make_toggle(False, name="peering")
        waiter = asyncio.create_task(toggles.wait_for(True))
        await asyncio.sleep(0)
        assert not waiter.done()
        await toggle.turn_to(True)
        await waiter

    run(main)


def test_changes_that_keep_the_state_wake_nobody() -> None:
    # A start listing 1,000 objects while one kind is still listing: 2,000 changes, and
    # before the fix 2,000 wake-ups of every waiter; now the one that matters.
    async def main() -> int:
        toggles = ToggleSet(all)
        listing = await toggles.make_toggle(name="a kind still listing")
        wakeups = counting_wakeups(toggles)
        waiters = [asyncio.create_task(toggles.wait_for(True)) for _ in range(100)]
        for i in range(1000):
            obj = await toggles.make_toggle(name=f"object {i}")
            await toggles.drop_toggle(obj)
        assert wakeups[0] == 0
        assert not any(w.done() for w in waiters)
        await toggles.drop_toggle(listing)
        await asyncio.gather(*waiters)
        return wakeups[0]

    assert run(main) == 1
