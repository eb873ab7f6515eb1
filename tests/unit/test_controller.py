"""The controller on fake caches and a fake API: no reads, echoes of our own writes cause
no work, stale-cache refusals requeue quietly, and per-key state goes with the schedule."""

from __future__ import annotations

import asyncio
import copy
import itertools
from collections import Counter
from typing import Any

from kubernetes.client.exceptions import ApiException
from objects import NOW, schedule

from aischeduler_operator import metrics, names, reconcile
from aischeduler_operator.observe import (
    CronJobFacts,
    JobFacts,
    Key,
    PodFacts,
    ScheduleFacts,
    project_cronjob,
    project_schedule,
)
from aischeduler_operator.reconcile import Controller
from aischeduler_operator.settings import Settings

SETTINGS = Settings(platform_url="https://codemie.example.com/api", credentials_secret="creds")


class FakeCluster:
    """Stored objects, a fake of the Kube client over them, and caches that show a write
    only once ``echo()`` delivers it (as a watch would, later)."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, Key], dict[str, Any]] = {}
        self.seen: dict[tuple[str, Key], Any] = {}
        self.calls: Counter[str] = Counter()
        self.versions = itertools.count(1)
        self.refuse_status = 0  # answer this many status patches with 409
        self.refuse_events = False  # answer every Event post with 403
        self.controller: Controller | None = None

    # the Kube interface ------------------------------------------------------------
    def create_cronjob(self, manifest: dict[str, Any]) -> bool:
        self.calls["create cronjob"] += 1
        meta = manifest["metadata"]
        key = (meta["namespace"], meta["labels"][names.SCHEDULE_LABEL])
        if ("cronjob", key) in self.objects:
            return False
        self.objects["cronjob", key] = copy.deepcopy(manifest)
        return True

    def patch_status(
        self, namespace: str, name: str, patch: dict[str, Any], version: str
    ) -> dict[str, Any]:
        self.calls["patch status"] += 1
        body = self.objects.get(("schedule", (namespace, name)))
        if body is None:
            raise ApiException(status=404, reason="Not Found")
        if self.refuse_status or version != body["metadata"]["resourceVersion"]:
            self.refuse_status = max(0, self.refuse_status - 1)
            raise ApiException(status=409, reason="Conflict")
        status = {**body.get("status", {}), **patch}
        body["status"] = {k: v for k, v in status.items() if v is not None}
        body["metadata"]["resourceVersion"] = str(next(self.versions))
        return copy.deepcopy(body)

    def post_event(self, meta: dict[str, Any], kind: str, reason: str, message: str) -> None:
        self.calls["post event"] += 1
        if self.refuse_events:
            raise ApiException(status=403, reason="Forbidden")

    def __getattr__(self, name: str) -> Any:
        raise AssertionError(f"unexpected API call {name}")  # e.g. a read

    # the caches ---------------------------------------------------------------------
    def schedule(self, key: Key) -> ScheduleFacts | None:
        found: ScheduleFacts | None = self.seen.get(("schedule", key))
        return found

    def cronjob(self, key: Key) -> CronJobFacts | None:
        found: CronJobFacts | None = self.seen.get(("cronjob", key))
        return found

    def jobs(self, key: Key) -> list[JobFacts]:
        return []

    def pods(self, key: Key) -> list[PodFacts]:
        return []

    # the "watch" --------------------------------------------------------------------
    def put(self, body: dict[str, Any]) -> Key:
        key = (body["metadata"]["namespace"], body["metadata"]["name"])
        body["metadata"]["resourceVersion"] = str(next(self.versions))
        self.objects["schedule", key] = body
        return key

    def delete(self, key: Key) -> None:
        for kind in ("schedule", "cronjob"):
            self.objects.pop((kind, key), None)

    def echo(self) -> None:
        """Delivers every change as a watch event: caches updated, keys queued."""
        assert self.controller is not None
        current: dict[tuple[str, Key], Any] = {}
        for (kind, key), body in self.objects.items():
            project = project_schedule if kind == "schedule" else project_cronjob
            current[kind, key] = project(body)
        for ident in set(current) | set(self.seen):
            if current.get(ident) != self.seen.get(ident) or (
                ident[0] == "schedule"
                and ident in current
                and ident in self.seen
                and current[ident].resource_version != self.seen[ident].resource_version
            ):
                self.controller.trigger(ident[1])
        self.seen = current


async def settle(cluster: FakeCluster, controller: Controller) -> None:
    """Echo writes until nothing is queued or running."""
    for _ in range(200):
        cluster.echo()
        await asyncio.sleep(0.005)
        if controller.idle():
            cluster.echo()
            await asyncio.sleep(0.005)
            if controller.idle():
                return
    raise AssertionError(f"never settled: {controller.sizes()}")


async def until(cluster: FakeCluster, done: Any, what: str) -> None:
    """Echoes writes until ``done()`` holds (bounded)."""
    for _ in range(400):
        cluster.echo()
        if done():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


def ready_condition(status: dict[str, Any]) -> dict[str, Any]:
    return next(c for c in status["conditions"] if c["type"] == "Ready")


def run(scenario: Any) -> Any:
    async def main() -> Any:
        cluster = FakeCluster()
        controller = Controller(cluster, SETTINGS, cluster, workers=4, clock=lambda: NOW)  # type: ignore[arg-type]
        cluster.controller = controller
        controller.start()
        try:
            return await scenario(cluster, controller)
        finally:
            await controller.stop()

    return asyncio.run(main())


def test_new_schedule_takes_one_create_one_status_patch_and_its_echoes_no_work() -> None:
    decided: list[Key] = []
    real = reconcile.decide

    def counting(o: Any) -> Any:
        decided.append(o.key)
        return real(o)

    async def scenario(cluster: FakeCluster, controller: Controller) -> None:
        cluster.put(schedule())
        await settle(cluster, controller)
        assert cluster.calls == {"create cronjob": 1, "patch status": 1, "post event": 1}
        # The echoes (status, our new CronJob) change nothing a decision reads: one
        # decision, no writes after it.
        assert len(decided) == 1, decided
        decided.clear()
        controller.trigger(("team-a", "daily"))  # e.g. a relist
        await settle(cluster, controller)
        assert decided == []

    reconcile.decide = counting  # type: ignore[assignment]
    try:
        run(scenario)
    finally:
        reconcile.decide = real


def test_a_refused_status_patch_is_retried_from_the_newer_object_without_an_error() -> None:
    async def scenario(cluster: FakeCluster, controller: Controller) -> None:
        cluster.refuse_status = 2
        key = cluster.put(schedule())
        stored = cluster.objects["schedule", key]
        await until(cluster, lambda: "status" in stored, "the status patch to be taken")
        await settle(cluster, controller)
        status = stored["status"]
        ready = ready_condition(status)
        assert ready["status"] == "True"
        assert cluster.calls["patch status"] == 3
        assert controller.sizes()["errors"] == 0

    run(scenario)


def test_an_event_the_api_refuses_neither_fails_nor_repeats_the_reconcile() -> None:
    """E.g. an admission policy that refuses Events: the schedule is still Ready, with
    no reconcile error and no second attempt at anything."""

    async def scenario(cluster: FakeCluster, controller: Controller) -> None:
        cluster.refuse_events = True
        key = cluster.put(schedule())
        await settle(cluster, controller)
        status = cluster.objects["schedule", key]["status"]
        ready = ready_condition(status)
        assert ready["status"] == "True"
        assert cluster.calls == {"create cronjob": 1, "patch status": 1, "post event": 1}
        assert controller.sizes()["errors"] == 0

    run(scenario)


def test_nothing_grows_after_many_create_delete_cycles() -> None:
    async def scenario(cluster: FakeCluster, controller: Controller) -> dict[str, int]:
        for i in range(1000):
            key = cluster.put(schedule(name=f"s-{i}"))
            if i % 100 == 0:
                await settle(cluster, controller)
            cluster.delete(key)
        await settle(cluster, controller)
        return controller.sizes()

    before = metrics.tracked_series(), gauge_total(), per_schedule_series()
    sizes = run(scenario)
    sizes["metric_series"] -= before[0]
    assert {k: v for k, v in sizes.items() if v} == {}
    assert gauge_total() == before[1]
    assert per_schedule_series() == before[2]  # each schedule's series went with it


def per_schedule_series() -> int:
    return sum(len(family.samples) for family in metrics.PER_SCHEDULE.collect())


def gauge_total() -> float:
    return sum(sample.value for family in metrics.SCHEDULES.collect() for sample in family.samples)


def test_a_write_answered_404_asks_for_a_sweep_of_the_caches() -> None:
    """A schedule the cache shows but the API no longer has (its deletion never came as
    an event, e.g. across an expired watch): the refused write asks for a sweep."""

    async def scenario(cluster: FakeCluster, controller: Controller) -> None:
        asked: list[bool] = []
        controller.on_not_found = lambda: asked.append(True)
        key = cluster.put(schedule())
        cluster.echo()  # the cache sees it and the key is queued ...
        del cluster.objects["schedule", key]  # ... and it is gone before it is handled
        for _ in range(200):
            if asked:
                break
            await asyncio.sleep(0.01)
        assert asked, controller.sizes()

    run(scenario)
