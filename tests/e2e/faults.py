"""Load and checks shared by the fault tests (tests/e2e/test_fault_*.py): a burst of new
schedules and run-nows made by client threads that keep trying through API outages, and
the check that the operator converged on exactly what the burst asked for — one CronJob
per schedule, one Job per run-now, each run counted once, nothing twice."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from kubernetes.client.exceptions import ApiException
from schedules import (
    GROUP,
    PLURAL,
    SCHEDULE_LABEL,
    VERSION,
    Schedules,
    body,
    is_ready,
    runner_result,
    sim,
)

from aischeduler_operator.names import cronjob_name, manual_job_name
from waiting import wait_for

RUN_NOW_VALUE = "burst"
BURST_POD = sim(duration=1, message=runner_result(output="burst"))


def persist(call: Callable[[], Any], what: str, timeout: float = 300) -> None:
    """Calls until the API accepts, through outages (connection refused, 5xx, 429). A 409
    on a create means an earlier attempt landed before the connection broke."""

    def attempt() -> bool:
        try:
            call()
        except ApiException as e:
            if e.status != 409:
                raise
        return True

    wait_for(attempt, timeout=timeout, interval=0.5, what=what)


def list_schedules(s: Schedules) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = s.custom.list_namespaced_custom_object(
        GROUP, VERSION, s.namespace, PLURAL
    )["items"]
    return items


@dataclass
class Burst:
    """``schedules`` new AssistantSchedules created by ``threads`` clients; ``run_nows``
    of them, spread evenly over the burst, get a run-now right after their create."""

    s: Schedules
    schedules: int
    run_nows: int
    threads: int = 8
    prefix: str = "burst"
    done: int = 0
    seconds: float = 0.0
    errors: list[BaseException] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _thread: threading.Thread | None = None

    @property
    def names(self) -> list[str]:
        return [f"{self.prefix}-{i:04d}" for i in range(self.schedules)]

    @property
    def run_now_names(self) -> list[str]:
        return self.names[:: max(1, self.schedules // max(1, self.run_nows))][: self.run_nows]

    def _one(self, name: str) -> None:
        s = self.s
        persist(lambda: s.create(body(name, pod=BURST_POD)), f"create {name}")
        if name in self.run_now_names:
            persist(lambda: s.run_now(name, RUN_NOW_VALUE), f"run-now {name}")
        with self._lock:
            self.done += 1

    def _run(self) -> None:
        started = time.monotonic()
        with ThreadPoolExecutor(self.threads) as pool:
            futures = [pool.submit(self._one, name) for name in self.names]
            for future in futures:
                error = future.exception()
                if error is not None:
                    self.errors.append(error)
        self.seconds = time.monotonic() - started

    def start(self) -> Burst:
        self._thread = threading.Thread(target=self._run, name="burst", daemon=True)
        self._thread.start()
        return self

    def wait_done(self, count: int, timeout: float = 600) -> None:
        """Waits until ``count`` schedules (with their run-nows) were written."""
        wait_for(
            lambda: (self.done, self.errors),
            lambda seen: seen[0] >= count or bool(seen[1]),
            timeout=timeout,
            interval=0.1,
            what=f"{count} of the burst's schedules to be written",
        )
        assert not self.errors, f"the burst's client failed: {self.errors[:3]}"

    def join(self, timeout: float = 600) -> None:
        self.wait_done(self.schedules, timeout)
        assert self._thread is not None
        self._thread.join(timeout=30)


def wait_converged(s: Schedules, burst: Burst, timeout: float = 600) -> float:
    """Waits until every schedule of the burst is Ready and every run-now recorded;
    returns the seconds it took."""
    started = time.monotonic()
    wanted = set(burst.run_now_names)

    def progress(items: list[dict[str, Any]]) -> tuple[int, int]:
        ready = sum(is_ready(cr) for cr in items)
        recorded = sum(
            ((cr.get("status") or {}).get("runs") or {}).get("total", 0) >= 1
            for cr in items
            if cr["metadata"]["name"] in wanted
        )
        return ready, recorded

    wait_for(
        lambda: progress(list_schedules(s)),
        lambda seen: seen == (burst.schedules, burst.run_nows),
        timeout=timeout,
        interval=1.0,
        what=f"(Ready, run-nows recorded) == ({burst.schedules}, {burst.run_nows})",
    )
    return time.monotonic() - started


@dataclass(frozen=True)
class Tally:
    schedules: int
    cronjobs: int
    jobs: int
    runs_counted: int
    duplicates: list[str]

    def line(self) -> str:
        return (
            f"{self.schedules} schedules, {self.cronjobs} CronJobs, {self.jobs} Jobs, "
            f"{self.runs_counted} runs counted, {len(self.duplicates)} duplicates"
        )


def tally(s: Schedules, burst: Burst) -> Tally:
    """What exists against what the burst asked for; ``duplicates`` names every object or
    count that is there more often than asked (or missing)."""
    crs = {cr["metadata"]["name"]: cr for cr in list_schedules(s)}
    cronjobs = s.cronjobs()
    jobs = s.jobs()
    wrong: list[str] = []
    if sorted(crs) != sorted(burst.names):
        wrong.append(f"schedules: {len(crs)} of {burst.schedules}")
    per_schedule: dict[str, list[str]] = {}
    for cj in cronjobs:
        per_schedule.setdefault(cj["metadata"]["labels"].get(SCHEDULE_LABEL, "?"), []).append(
            cj["metadata"]["name"]
        )
    for name, cr in crs.items():
        owned = per_schedule.get(name, [])
        if owned != [cronjob_name(name)]:
            wrong.append(f"{name}: CronJobs {owned}")
        elif not any(
            cj["metadata"]["name"] == owned[0]
            and cj["metadata"]["ownerReferences"][0]["uid"] == cr["metadata"]["uid"]
            for cj in cronjobs
        ):
            wrong.append(f"{name}: CronJob not owned by it")
    jobs_of: dict[str, list[str]] = {}
    for job in jobs:
        jobs_of.setdefault(job["metadata"]["labels"].get(SCHEDULE_LABEL, "?"), []).append(
            job["metadata"]["name"]
        )
    counted = 0
    for name, cr in crs.items():
        expected = [manual_job_name(name, RUN_NOW_VALUE)] if name in burst.run_now_names else []
        if jobs_of.get(name, []) != expected:
            wrong.append(f"{name}: Jobs {jobs_of.get(name, [])}, expected {expected}")
        status = cr.get("status") or {}
        history = [h["job"] for h in status.get("history") or []]
        total = (status.get("runs") or {}).get("total", 0)
        counted += total
        if history != expected or total != len(expected):
            wrong.append(f"{name}: runs.total {total}, history {history}, expected {expected}")
    return Tally(len(crs), len(cronjobs), len(jobs), counted, wrong)


def figure(name: str, **values: Any) -> None:
    """One line in the test output that the README's Guarantees section quotes."""
    text = ", ".join(
        f"{k}={v:.1f}" if isinstance(v, float) else f"{k}={v}" for k, v in values.items()
    )
    print(f"\nFIGURE {name}: {text}")


def check_burst(name: str, s: Schedules, burst: Burst, **extra: Any) -> None:
    """Waits for convergence, prints the burst's figure (with ``extra``) and checks that
    exactly what the burst asked for exists: no duplicate, nothing missing."""
    converge = wait_converged(s, burst)
    result = tally(s, burst)
    figure(
        name,
        schedules=burst.schedules,
        run_nows=burst.run_nows,
        **extra,
        burst_s=burst.seconds,
        converged_after_burst_s=converge,
        cronjobs=result.cronjobs,
        jobs=result.jobs,
        runs_counted=result.runs_counted,
        duplicates=len(result.duplicates),
    )
    assert result.duplicates == [], result.duplicates[:20]
    counts = (result.cronjobs, result.jobs, result.runs_counted)
    assert counts == (burst.schedules, burst.run_nows, burst.run_nows)
