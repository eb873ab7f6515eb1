"""Fault: the operator is SIGKILLed in the middle of a burst of 500 new schedules and 50
run-nows, and started again while the burst goes on. Once back it converges on exactly
what was asked: 500 CronJobs, one Job per run-now, each run counted once, no duplicate."""

from __future__ import annotations

import time

import pytest
from faults import Burst, check_burst
from schedules import Schedules

from conftest import OperatorProcess

SCHEDULES, RUN_NOWS = 500, 50


@pytest.mark.simulated
def test_kill_9_during_a_burst_converges_without_duplicates(
    s: Schedules, restartable: OperatorProcess
) -> None:
    burst = Burst(s, SCHEDULES, RUN_NOWS).start()
    burst.wait_done(SCHEDULES // 2)
    restartable.kill()
    killed_at = time.monotonic()
    burst.wait_done(SCHEDULES * 3 // 4)
    restartable.start()
    down = time.monotonic() - killed_at
    burst.join()
    check_burst("kill -9 during a burst", s, burst, operator_down_s=down)
