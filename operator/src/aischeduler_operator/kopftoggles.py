"""A fix for a wake-up storm in kopf's ``ToggleSet`` (kopf 1.45).

kopf holds back every handler until all indexes are filled (index pre-population): each
object a watch brings gets a toggle in one set, every worker waits on that set's
condition, and adding or dropping any toggle wakes every waiter (``notify_all``), each of
which then checks every toggle again. With N objects listed at a start, or arriving while
the set is not yet all on, that is on the order of N² wake-ups: at a restart with 2,000
schedules it was about half of the operator's CPU (py-spy: ``make_toggle`` →
``notify_all`` and the woken ``wait_for``s), and the restart took a minute.

A waiter waits for ``is_on()`` to be a given value, so a change that leaves ``is_on()`` as
it was wakes nobody usefully. ``quiet()`` makes the set notify only when its ``is_on()``
changes. Toggles turned on or off one by one (``Toggle.turn_to``) notify as before."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from kopf._cogs.aiokits.aiotoggles import Toggle, ToggleSet


def _changing(self: ToggleSet, change: Callable[[], None]) -> None:
    """Applies ``change`` to the set's toggles (the condition held) and wakes the waiters
    only if that changed what they wait on."""
    before = self.is_on()
    change()
    if self.is_on() != before:
        self._condition.notify_all()


async def _make_toggle(self: ToggleSet, __val: bool = False, *, name: str | None = None) -> Toggle:
    toggle = Toggle(__val, name=name, condition=self._condition)
    async with self._condition:
        _changing(self, lambda: self._toggles.add(toggle))
    return toggle


async def _drop_toggle(self: ToggleSet, toggle: Toggle) -> None:
    async with self._condition:
        _changing(self, lambda: self._toggles.discard(toggle))


async def _drop_toggles(self: ToggleSet, toggles: Iterable[Toggle]) -> None:
    async with self._condition:
        _changing(self, lambda: self._toggles.difference_update(toggles))


def quiet() -> None:
    """Installs the fix on kopf's ``ToggleSet`` (idempotent)."""
    ToggleSet.make_toggle = _make_toggle  # type: ignore[method-assign]
    ToggleSet.drop_toggle = _drop_toggle  # type: ignore[method-assign]
    ToggleSet.drop_toggles = _drop_toggles  # type: ignore[method-assign]
