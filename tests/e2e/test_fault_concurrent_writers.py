"""Fault: another client writes the schedule's status and its CronJob while runs are
being recorded. The operator's status writes are conditional on the version it read, so
none of the other client's writes hides a run: every run gets its history entry, once;
and what the other client changed in the operator's fields is put back (drift repaired)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from faults import figure
from kubernetes.client.exceptions import ApiException
from schedules import GROUP, PLURAL, QUIET, VERSION, Schedules, body, runner_result, sim

from aischeduler_operator.names import cronjob_name, manual_job_name
from waiting import wait_for

RUNS = 12


class Meddler:
    """Writes in a loop on a thread of its own until stopped; counts accepted writes."""

    def __init__(self, write: Callable[[], object]) -> None:
        self.write = write
        self.accepted = 0
        self.refused = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.write()
                self.accepted += 1
            except ApiException:
                self.refused += 1
            self._stop.wait(0.1)  # pacing between writes, not a wait for a condition

    def __enter__(self) -> Meddler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=30)


@pytest.mark.simulated
def test_concurrent_status_and_cronjob_writers_lose_no_run(s: Schedules) -> None:
    name = "contested"
    s.create(
        body(
            name,
            schedule=QUIET,
            historyLimit=RUNS + 5,
            pod=sim(duration=1, message=runner_result(output="mine")),
        )
    )
    s.wait_ready(name)
    true_next = s.status(name)["nextRunTime"]

    def meddle_status() -> None:
        s.custom.patch_namespaced_custom_object_status(
            GROUP,
            VERSION,
            s.namespace,
            PLURAL,
            name,
            {"status": {"nextRunTime": "2000-01-01T00:00:00Z", "lastResult": "Failed"}},
        )

    def meddle_cronjob() -> None:
        s.batch.patch_namespaced_cron_job(
            cronjob_name(name), s.namespace, {"spec": {"suspend": True, "schedule": "* * * * *"}}
        )

    started = time.monotonic()
    jobs = [manual_job_name(name, f"run-{i}") for i in range(RUNS)]
    with Meddler(meddle_status) as status_writer, Meddler(meddle_cronjob) as cronjob_writer:
        for i, job in enumerate(jobs):
            s.run_now(name, f"run-{i}")
            # The next value only once this one started a Job (a newer value replaces
            # one not acted on yet: run-now is "run once more", not a queue).
            wait_for(lambda job=job: s.job(job), lambda j: j is not None, what=f"Job {job}")
        s.wait_runs(name, RUNS, timeout=180)
    recorded = time.monotonic() - started

    status = s.wait(
        name,
        lambda cr: (
            (cr.get("status") or {}).get("nextRunTime") == true_next
            and (cr.get("status") or {}).get("lastResult") == "Succeeded"
        ),
        "the status fields the other client changed to be repaired",
    )
    cronjob = wait_for(
        lambda: s.cronjob_spec(cronjob_name(name)),
        lambda spec: spec["suspend"] is False and spec["schedule"] == QUIET,
        what="the CronJob the other client changed to be repaired",
    )
    history = [h["job"] for h in status["history"]]
    figure(
        "concurrent writers",
        runs=RUNS,
        recorded_s=recorded,
        status_writes_by_other=status_writer.accepted,
        cronjob_writes_by_other=cronjob_writer.accepted,
        runs_counted=status["runs"]["total"],
        history_entries=len(history),
        lost=len(set(jobs) - set(history)),
        duplicated=len(history) - len(set(history)),
    )
    assert status_writer.accepted > 0 and cronjob_writer.accepted > 0
    assert sorted(history) == sorted(jobs), "every run once in the history"
    assert status["runs"] == {
        "total": RUNS,
        "succeeded": RUNS,
        "failed": 0,
        "missed": 0,
        "consecutiveFailures": 0,
    }
    assert cronjob["suspend"] is False
