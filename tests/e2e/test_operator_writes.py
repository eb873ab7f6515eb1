"""How many API writes the operator makes: for one new schedule, and for an idle resync
(a restart re-listing everything; a metadata-only touch of the CR), which must write
nothing; and how many reads a restart makes: one LIST per watched kind. Writes are counted
twice: by the operator (aischeduler_api_writes_total) and by the apiserver itself
(apiserver_request_total). The numbers are printed (``-s``) and saved to
/tmp/aisched-writes.txt."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pytest
from prometheus_client.parser import text_string_to_metric_families
from schedules import Schedules, body

from conftest import Cluster, OperatorProcess
from waiting import wait_for

T = TypeVar("T")
REPORT = Path("/tmp/aisched-writes.txt")  # noqa: S108 - a report for humans, not a secret
WRITE_VERBS = {"POST", "PATCH", "PUT", "DELETE"}
RESOURCES = ("assistantschedules", "cronjobs", "jobs", "events")
WATCHED = ("assistantschedules", "cronjobs", "jobs", "pods")
BUILTIN_NAMESPACES = {"default", "kube-system", "kube-public", "kube-node-lease"}


def samples(text: str, name: str) -> list[tuple[dict[str, str], float]]:
    return [
        (sample.labels, sample.value)
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name
    ]


def operator_writes(operator: OperatorProcess) -> Counter[str]:
    """aischeduler_api_writes_total by "verb resource" (since the operator started)."""
    counts: Counter[str] = Counter()
    for labels, value in samples(operator.metrics(), "aischeduler_api_writes_total"):
        counts[f"{labels['verb']} {labels['resource']}"] += int(value)
    return counts


def apiserver_requests(
    cluster: Cluster, verbs: set[str] = WRITE_VERBS, resources: tuple[str, ...] = RESOURCES
) -> Counter[str]:
    """apiserver_request_total of ``verbs`` by resource (all clients, all namespaces)."""
    counts: Counter[str] = Counter()
    text = cluster.kubectl("get", "--raw", "/metrics")
    for labels, value in samples(text, "apiserver_request_total"):
        if labels["verb"] in verbs and labels["resource"] in resources:
            counts[labels["resource"]] += int(value)
    return counts


def apiserver_writes(cluster: Cluster) -> Counter[str]:
    return apiserver_requests(cluster)


def apiserver_lists(cluster: Cluster) -> Counter[str]:
    """LISTs of the kinds the operator watches (a watch request is verb WATCH)."""
    return apiserver_requests(cluster, {"LIST"}, WATCHED)


def delta(after: Counter[str], before: Counter[str]) -> dict[str, int]:
    keys = sorted(set(after) | set(before))
    return {k: after[k] - before[k] for k in keys if after[k] != before[k]}


def settled(read: Callable[[], T], what: str, quiet: float = 3.0, timeout: float = 60) -> T:
    """Polls ``read`` until its value has not changed for ``quiet`` seconds."""
    values: list[T] = []
    since = [time.monotonic()]

    def observe() -> tuple[T, float]:
        value, now = read(), time.monotonic()
        if not values or values[-1] != value:
            values.append(value)
            since.append(now)
        return value, now - since[-1]

    value, _ = wait_for(observe, lambda v: v[1] >= quiet, timeout=timeout, what=what)
    return value


def schedules_gauge(operator: OperatorProcess) -> float:
    return sum(v for _, v in samples(operator.metrics(), "aischeduler_schedules"))


def test_api_writes_for_a_new_schedule_and_an_idle_resync(
    s: Schedules, operator: OperatorProcess, cluster: Cluster
) -> None:
    if cluster.bin_dir is None:
        pytest.skip("counts every client's writes: needs the dedicated local control plane")

    # Only this test's schedule may exist: other tests' namespaces being torn down would
    # show in the apiserver's counters, and the restart re-lists every schedule.
    def others() -> list[str]:
        namespaces = s.core.list_namespace().items
        busy = [
            n.metadata.name
            for n in namespaces
            if n.metadata.name not in BUILTIN_NAMESPACES | {s.namespace}
            and n.status.phase == "Terminating"
        ]
        foreign = s.custom.list_cluster_custom_object(
            "aischeduler.io", "v1alpha1", "assistantschedules"
        )["items"]
        return busy + [f"{c['metadata']['namespace']}/{c['metadata']['name']}" for c in foreign]

    wait_for(others, lambda o: o == [], timeout=120, what="other tests' objects to be gone")
    wait_for(operator.metrics, what="the operator's metrics endpoint")
    lines: list[str] = []

    # 1. One new schedule, until Ready and settled.
    ours, theirs = operator_writes(operator), apiserver_writes(cluster)
    s.create(body("counted", schedule="0 3 * * *"))
    s.wait_ready("counted")
    settled(lambda: operator_writes(operator), "the operator's writes to settle")
    new_ours, new_theirs = (
        delta(operator_writes(operator), ours),
        delta(apiserver_writes(cluster), theirs),
    )
    lines.append(f"new schedule: operator {new_ours} apiserver {new_theirs}")
    assert new_ours.get("create cronjobs") == 1
    assert new_ours.get("patch assistantschedules/status") == 1

    # 2. Idle resync: a restart lists and reconciles everything again.
    theirs, lists = apiserver_writes(cluster), apiserver_lists(cluster)
    operator.restart()
    wait_for(
        lambda: schedules_gauge(operator),
        lambda n: n >= 1,
        what="the restarted operator to reconcile the schedule",
    )
    restart_ours = settled(lambda: operator_writes(operator), "the restarted operator to settle")
    restart_theirs = delta(apiserver_writes(cluster), theirs)
    restart_lists = delta(apiserver_lists(cluster), lists)
    lines.append(f"restart resync: operator {dict(restart_ours)} apiserver {restart_theirs}")
    lines.append(f"restart reads: LISTs {restart_lists}")

    # 3. Idle resync: a metadata-only change of the CR (one PATCH, our own).
    ours, theirs = operator_writes(operator), apiserver_writes(cluster)
    cluster.kubectl("label", "-n", s.namespace, "asched/counted", "example.com/team=blue")
    touch_ours = delta(
        settled(lambda: operator_writes(operator), "the operator to handle the touch"), ours
    )
    touch_theirs = delta(apiserver_writes(cluster), theirs)
    lines.append(f"metadata touch: operator {touch_ours} apiserver {touch_theirs}")

    report = "\n".join(lines)
    print("\n" + report)
    REPORT.write_text(report + "\n")

    assert sum(restart_ours.values()) == 0, report
    # One LIST per watched kind: the start-up listing asks for no sweep (relist.Listings).
    assert restart_lists == dict.fromkeys(sorted(WATCHED), 1), report
    assert restart_theirs.get("assistantschedules", 0) == 0, report
    assert restart_theirs.get("cronjobs", 0) == 0, report
    assert touch_ours == {}, report
    assert touch_theirs.get("assistantschedules", 0) == 1, report  # the label itself
    assert touch_theirs.get("cronjobs", 0) == 0, report
    assert s.status("counted")["observedGeneration"] == 1
