"""Fault: churn. 1,000 schedules created, reconciled and deleted (in waves of 100): the
operator's per-schedule state (work queue, caches, bookkeeping: the
``aischeduler_tracked_entries`` gauge) returns to where it was, and its memory (RSS)
does not grow with the cycles."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

from faults import figure, list_schedules, persist
from schedules import QUIET, Schedules, body, is_ready

from conftest import OperatorProcess
from waiting import wait_for

CYCLES, WAVE = 1000, 100
MIB = 1024 * 1024
# The first half warms up (Python's arenas and dicts grow to the largest wave seen, the
# bounded memos and the Event LRU fill): 11-20 MiB in all, flattening out, with the
# operator of before the scale work as with this one. A leak grows with the cycles, so the
# second half (500 cycles) is what must stay flat: 8 MiB is 16 KiB per cycle, well under
# what one live schedule takes (~27 KiB in the steady state, README "Benchmarks").
LATE_GROWTH_MIB = 8.0


def rss_mib(operator: OperatorProcess) -> float:
    return operator.metric("process_resident_memory_bytes") / MIB


def wave(s: Schedules, index: int) -> None:
    names = [f"churn-{index:02d}-{i:03d}" for i in range(WAVE)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda n: persist(lambda: s.create(body(n, schedule=QUIET)), n), names))
    wait_for(
        lambda: sum(is_ready(cr) for cr in list_schedules(s)),
        lambda ready: ready == WAVE,
        timeout=300,
        interval=1.0,
        what=f"wave {index}: {WAVE} schedules Ready",
    )
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(s.delete, names))
    wait_for(
        lambda: (len(list_schedules(s)), len(s.cronjobs())),
        lambda left: left == (0, 0),
        timeout=300,
        interval=1.0,
        what=f"wave {index}: schedules and CronJobs gone",
    )


def test_churn_leaves_no_per_schedule_state_and_no_memory_growth(
    s: Schedules, operator: OperatorProcess
) -> None:
    def tracked() -> dict[str, float]:
        return operator.samples("aischeduler_tracked_entries", "state")

    baseline = wait_for(tracked, what="the operator's aischeduler_tracked_entries")
    started = time.monotonic()
    rss: list[float] = []
    for index in range(CYCLES // WAVE):
        wave(s, index)
        rss.append(rss_mib(operator))
    seconds = time.monotonic() - started
    # Other tests' namespaces may still be going away: the state may drop below baseline.
    after = wait_for(
        tracked,
        lambda now: all(now.get(k, 0) <= v for k, v in baseline.items()),
        timeout=120,
        what=f"per-schedule state back to its baseline {baseline}",
    )
    grown = {k: v - baseline.get(k, 0) for k, v in after.items() if v > baseline.get(k, 0)}
    figure(
        "churn",
        cycles=CYCLES,
        seconds=seconds,
        rss_first_wave_mib=rss[0],
        rss_last_wave_mib=rss[-1],
        rss_per_wave_mib=" ".join(f"{r:.0f}" for r in rss),
        state_baseline=sum(baseline.values()),
        state_after=sum(after.values()),
        grown=grown,
    )
    assert grown == {}
    late = rss[len(rss) // 2 - 1 :]
    assert max(late) - late[0] <= LATE_GROWTH_MIB, rss
