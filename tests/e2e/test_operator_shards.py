"""Sharding: two operators, each serving the schedules of its shard
(AISCHED_SCHEDULE_SELECTOR on the aischeduler.io/shard label); every schedule is
reconciled by exactly one of them, and a schedule in neither shard by none."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from kubernetes import client
from schedules import RUN_NOW, SCHEDULE_LABEL, Schedules, body, sim

from conftest import Cluster, OperatorProcess, operator_process
from waiting import wait_for

SHARD_LABEL = "aischeduler.io/shard"
SHARDS = ("a", "b")
PER_SHARD = 3


@pytest.fixture
def shard_operators(
    cluster: Cluster, operator: OperatorProcess, tmp_path: Path
) -> Iterator[dict[str, OperatorProcess]]:
    """One operator per shard, while the session's (unsharded) operator is stopped."""
    operator.stop()
    procs = {}
    for shard in SHARDS:
        procs[shard] = operator_process(
            cluster,
            tmp_path / f"operator-{shard}.log",
            AISCHED_SCHEDULE_SELECTOR=f"{SHARD_LABEL}={shard}",
        )
        procs[shard].start()
    try:
        yield procs
    finally:
        for proc in procs.values():
            proc.stop()
        operator.start()


def test_two_operators_serve_disjoint_shards(
    api: client.ApiClient,
    cluster: Cluster,
    namespace: str,
    shard_operators: dict[str, OperatorProcess],
) -> None:
    s = Schedules(api, cluster.kubectl, namespace)
    quick = sim(message='{"result": "Succeeded", "message": "ok"}', duration=0)
    for shard in SHARDS:
        for i in range(PER_SHARD):
            manifest = body(f"{shard}-{i}", pod=quick)
            manifest["metadata"]["labels"] = {SHARD_LABEL: shard}
            s.create(manifest)
    s.create(body("unsharded"))

    for shard in SHARDS:
        for i in range(PER_SHARD):
            s.wait_ready(f"{shard}-{i}", timeout=60)
    # Each operator reconciled its own shard and nothing else.
    for shard, proc in shard_operators.items():
        wait_for(
            lambda p=proc: p.metric("aischeduler_schedules"),
            lambda n: n == PER_SHARD,
            what=f"operator {shard} to count its {PER_SHARD} schedules",
        )
        created = proc.metric("aischeduler_api_writes_total", verb="create", resource="cronjobs")
        assert created == PER_SHARD, f"operator {shard} created {created} CronJobs"
        cronjob = s.cronjob(f"{shard}-0")
        assert cronjob is not None
        assert cronjob["metadata"]["labels"][SHARD_LABEL] == shard
    assert s.cronjob("unsharded") is None
    assert not s.status("unsharded"), "a schedule in no shard was reconciled"

    # A run in each shard is started, recorded and released once, by its own operator.
    for shard in SHARDS:
        s.patch(f"{shard}-0", {"metadata": {"annotations": {RUN_NOW: f"go-{shard}"}}})
    for shard in SHARDS:
        status = s.wait_runs(f"{shard}-0", 1)
        assert [h["trigger"] for h in status["history"]] == ["Manual"]
        jobs = s.jobs(f"{shard}-0")
        assert len(jobs) == 1
        assert jobs[0]["metadata"]["labels"][SHARD_LABEL] == shard
        assert jobs[0]["metadata"]["labels"][SCHEDULE_LABEL] == f"{shard}-0"
    for shard, proc in shard_operators.items():
        created = proc.metric("aischeduler_api_writes_total", verb="create", resource="jobs")
        assert created == 1, f"operator {shard} created {created} Jobs"
