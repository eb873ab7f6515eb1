"""Runs while the operator is down. A `* * * * *` schedule keeps running (the CronJob
controller does not need the operator) for more than 15 minutes, its simulated runs
succeeding and failing by turns; once the operator is back every one of them is counted
with its real result and the newest are in history with their outputs: nothing lost,
nothing called Missed, nothing counted twice.

Slow by nature: the outage is the test (about 18 minutes; marked ``slow``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Any

import pytest
from schedules import RECORDED_LABEL, Schedules, body, parse, runner_result, sim

from conftest import OperatorProcess
from waiting import wait_for

HISTORY = 10
# Runs scheduled after the stop: the last of them is more than 15 minutes after it.
OUTAGE_RUNS = 16
JOBS_KEPT = 3  # the operator's default jobsHistoryLimit
OUTPUT = {"Succeeded": "even-minute answer", "Failed": "odd-minute partial answer"}
SCHEDULED = "batch.kubernetes.io/cronjob-scheduled-timestamp"


def scheduled_at(job: dict[str, Any]) -> datetime:
    return parse(job["metadata"]["annotations"][SCHEDULED])


def outcome(job: dict[str, Any]) -> str | None:
    for c in job.get("status", {}).get("conditions") or []:
        if c["status"] == "True" and c["type"] in ("Complete", "Failed"):
            return "Succeeded" if c["type"] == "Complete" else "Failed"
    return None


def played(job_name: str) -> str:
    """The outcome kwok plays for a Job: its name ends in the run's unix minute."""
    return "Failed" if int(job_name[-1]) % 2 else "Succeeded"


@pytest.mark.simulated
@pytest.mark.slow
@pytest.mark.timeout(40 * 60)
def test_every_run_of_a_15_minute_outage_is_recorded_once(
    s: Schedules, restartable: OperatorProcess
) -> None:
    pod = sim(
        duration=1,
        message=runner_result(message="answered", output=OUTPUT["Succeeded"]),
        odd_exit_code=1,
        odd_message=runner_result(
            result="Failed", message="platform said no", output=OUTPUT["Failed"]
        ),
    )
    manifest = body("minutely", schedule="* * * * *", retries=0, historyLimit=HISTORY, pod=pod)
    s.create(manifest)
    s.wait_ready("minutely")
    limits = s.cronjob_spec("minutely")
    assert limits["successfulJobsHistoryLimit"] >= OUTAGE_RUNS
    assert limits["failedJobsHistoryLimit"] >= OUTAGE_RUNS

    # A first run recorded with the operator up: the simulation plays what it should.
    (first,) = s.wait_runs("minutely", 1, timeout=90)["history"]
    assert (first["result"], first["output"]) == (played(first["job"]), OUTPUT[first["result"]])

    restartable.stop()
    stopped = datetime.now(UTC)
    before = s.status("minutely")  # nobody writes it while the operator is down
    in_history = {h["job"] for h in before.get("history") or []}

    def owed() -> list[dict[str, Any]]:
        """Jobs whose runs the operator has not recorded."""
        return [
            j
            for j in s.jobs("minutely")
            if j["metadata"]["labels"].get(RECORDED_LABEL) != "true"
            and j["metadata"]["name"] not in in_history
        ]

    jobs = wait_for(
        owed,
        lambda js: (
            sum(scheduled_at(j) > stopped for j in js) >= OUTAGE_RUNS
            and all(outcome(j) for j in js)
        ),
        timeout=(OUTAGE_RUNS + 6) * 60,
        interval=10,
        what=f"{OUTAGE_RUNS} finished runs while the operator is down",
    )
    outage = datetime.now(UTC) - stopped
    assert outage >= timedelta(minutes=15)
    during = sorted(scheduled_at(j) for j in jobs if scheduled_at(j) > stopped)
    assert all(b - a == timedelta(minutes=1) for a, b in pairwise(during))
    results = {j["metadata"]["name"]: outcome(j) for j in jobs}
    when = {j["metadata"]["name"]: scheduled_at(j) for j in jobs}
    assert results == {name: played(name) for name in results}, "kwok played the outcomes"

    restartable.start()
    total = before["runs"]["total"] + len(results)
    after = s.wait_runs("minutely", total, timeout=120)
    history = after["history"]
    # Runs recorded after the restart that began after it (the schedule keeps running).
    later = [h for h in history if h["job"] not in results and h["job"] not in in_history]

    def count(result: str) -> int:
        return sum(r == result for r in results.values()) + sum(
            h["result"] == result for h in later
        )

    runs = after["runs"]
    assert runs["total"] == total + len(later), "each run counted exactly once"
    assert runs["succeeded"] == before["runs"]["succeeded"] + count("Succeeded")
    assert runs["failed"] == before["runs"]["failed"] + count("Failed")
    assert runs["missed"] == 0
    assert [h for h in history if h["result"] == "Missed"] == []
    names = [h["job"] for h in history]
    assert len(names) == len(set(names)) == HISTORY
    # The newest runs of the outage fill the history after the later ones, with their
    # real results and outputs.
    newest = sorted(results, key=when.__getitem__, reverse=True)[: HISTORY - len(later)]
    assert names[len(later) :] == newest
    for h in history[len(later) :]:
        assert (h["result"], h["output"]) == (played(h["job"]), OUTPUT[played(h["job"])])

    # Recorded, the outage's Jobs go: the operator keeps its jobsHistoryLimit of them.
    wait_for(
        lambda: s.jobs("minutely"),
        lambda js: sum(outcome(j) is not None for j in js) <= JOBS_KEPT,
        timeout=60,
        what=f"recorded Jobs deleted down to {JOBS_KEPT}",
    )
    print(
        f"\noutage of {outage.total_seconds() / 60:.1f} min: {len(during)} runs started "
        f"while the operator was down ({len(results)} unrecorded at its restart: "
        f"{sum(r == 'Succeeded' for r in results.values())} succeeded, "
        f"{sum(r == 'Failed' for r in results.values())} failed); recorded after the "
        f"restart: {runs['total'] - before['runs']['total'] - len(later)} "
        f"(+{len(later)} newer runs); Missed: {runs['missed']}; double-counted: "
        f"{runs['total'] - total - len(later)}"
    )
