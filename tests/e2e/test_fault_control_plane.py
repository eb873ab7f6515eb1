"""Faults of the control plane itself, on a cluster of this module's own (the session's
cluster is never restarted under the other tests): kube-apiserver stopped and started
again, then etcd, each under a burst of new schedules and run-nows — the operator
reconnects by itself (same process), converges and loses nothing; and a watch that
expires (410 Gone after an etcd compaction) — the operator lists again and does no
work twice."""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from faults import BURST_POD, Burst, check_burst, figure, list_schedules, persist
from kubernetes import client, config
from kubernetes.client.exceptions import ApiException
from schedules import GROUP, PLURAL, QUIET, VERSION, Schedules, body, is_ready, sim

from aischeduler_operator.names import cronjob_name, manual_job_name
from conftest import Cluster, OperatorProcess, install_crd, operator_process, tools_bin
from localcluster import LocalCluster
from waiting import wait_for

pytestmark = [pytest.mark.simulated, pytest.mark.own_control_plane]
SCHEDULES, RUN_NOWS = 500, 50  # the load: 500 new schedules and 50 run-nows


@dataclass
class Plane:
    local: LocalCluster
    cluster: Cluster
    api: client.ApiClient
    operator: OperatorProcess

    def schedules(self, namespace: str) -> Schedules:
        return Schedules(self.api, self.cluster.kubectl, namespace)

    def namespace(self, name: str) -> Schedules:
        persist(
            lambda: client.CoreV1Api(self.api).create_namespace({"metadata": {"name": name}}),
            f"namespace {name}",
        )
        return self.schedules(name)

    def operator_pid(self) -> int:
        assert self.operator.process is not None
        assert self.operator.process.poll() is None, "the operator exited"
        return self.operator.process.pid

    def tracked(self) -> dict[str, float]:
        return self.operator.samples("aischeduler_tracked_entries", "state")


@pytest.fixture(scope="module")
def plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plane]:
    workdir = tmp_path_factory.mktemp("fault-cluster")
    bin_dir = tools_bin()
    local = LocalCluster(bin_dir, workdir, real_node=False, python=sys.executable).start()
    try:
        cluster = Cluster(local.kubeconfig, bin_dir)
        install_crd(cluster)
        operator = operator_process(cluster, workdir / "operator.log")
        operator.start()
        try:
            api = config.new_client_from_config(config_file=str(local.kubeconfig))
            plane = Plane(local, cluster, api, operator)
            wait_serving(plane, "probe")
            yield plane
        finally:
            operator.stop()
    finally:
        local.stop()


def wait_serving(plane: Plane, namespace: str) -> None:
    """Waits until the operator serves schedules, Jobs and Pods: a run-now is recorded."""
    s = plane.namespace(namespace)
    s.create(body("probe", schedule=QUIET, pod=BURST_POD))
    s.wait_ready("probe", timeout=180)
    s.run_now("probe", "serving")
    s.wait_runs("probe", 1, timeout=120)


def test_operator_started_while_the_apiserver_comes_up_serves_everything(plane: Plane) -> None:
    """kopf resolves what to watch once, at start-up: started against an apiserver that is
    still coming up, it used to miss batch/v1 and the CRD and never watch them."""
    plane.operator.stop()
    plane.local.stop_component("kube-apiserver")
    seen = len(plane.operator.log_text())
    plane.operator.start()
    wait_for(
        lambda: plane.operator.log_text()[seen:],
        lambda text: "not served by the apiserver yet" in text,
        timeout=120,
        what="the operator to wait for the apiserver's discovery",
    )
    plane.local.start_component("kube-apiserver")
    started = time.monotonic()
    wait_serving(plane, "started-during-restart")
    figure(
        "operator started while the apiserver comes up", serving_after_s=time.monotonic() - started
    )


def restart_under_burst(plane: Plane, component: str, namespace: str) -> None:
    s = plane.namespace(namespace)
    pid = plane.operator_pid()
    burst = Burst(s, SCHEDULES, RUN_NOWS, prefix=namespace).start()
    burst.wait_done(SCHEDULES // 3)
    stopped = time.monotonic()
    plane.local.stop_component(component)
    plane.local.start_component(component)
    outage = time.monotonic() - stopped
    burst.join()
    check_burst(f"{component} restarted under a burst", s, burst, outage_s=outage)
    assert plane.operator_pid() == pid, "the operator was not restarted: it reconnected"


def test_apiserver_restart_under_load(plane: Plane) -> None:
    restart_under_burst(plane, "kube-apiserver", "apiserver-restart")


def test_etcd_restart_under_load(plane: Plane) -> None:
    restart_under_burst(plane, "etcd", "etcd-restart")


def watch_answer(api: client.ApiClient, resource_version: str) -> int:
    """The HTTP status, or the code of the first watch event's error, for a watch of
    AssistantSchedules from ``resource_version`` (200: the watch was served)."""
    custom = client.CustomObjectsApi(api)
    try:
        response = custom.list_cluster_custom_object(
            GROUP,
            VERSION,
            PLURAL,
            watch=True,
            resource_version=resource_version,
            timeout_seconds=2,
            _preload_content=False,
        )
    except ApiException as e:
        return int(e.status)
    first = response.readline()
    response.release_conn()
    event: dict[str, Any] = json.loads(first) if first else {}
    if event.get("type") == "ERROR":
        return int(event["object"]["code"])
    return 200


def owned_counts(plane: Plane) -> dict[str, int]:
    """Live objects the operator's caches should hold, cluster-wide."""
    custom = client.CustomObjectsApi(plane.api)
    batch = client.BatchV1Api(plane.api)
    selector = "app.kubernetes.io/managed-by=aischeduler"
    return {
        "schedules_index_keys": len(
            custom.list_cluster_custom_object(GROUP, VERSION, PLURAL)["items"]
        ),
        "cronjobs_index_entries": len(
            batch.list_cron_job_for_all_namespaces(label_selector=selector).items
        ),
        "jobs_index_entries": len(batch.list_job_for_all_namespaces(label_selector=selector).items),
    }


def test_watch_expiry_relists_without_duplicate_work(plane: Plane, tmp_path: Path) -> None:
    s = plane.namespace("watch-expiry")
    steady = [f"steady-{i:02d}" for i in range(30)]
    doomed = [f"doomed-{i:02d}" for i in range(10)]
    fresh = [f"fresh-{i:02d}" for i in range(10)]
    for name in steady + doomed:
        pod = sim(duration=600) if name == doomed[0] else BURST_POD
        s.create(body(name, schedule=QUIET, pod=pod))
    wait_for(
        lambda: sum(is_ready(cr) for cr in list_schedules(s)),
        lambda ready: ready == len(steady) + len(doomed),
        timeout=180,
        interval=1.0,
        what="the first schedules to be Ready",
    )
    # A deleted schedule's running run (its Job carries no finalizer of ours).
    s.run_now(doomed[0], "running")
    wait_for(
        lambda: s.jobs(doomed[0]),
        lambda jobs: len(jobs) == 1 and bool(jobs[0].get("status", {}).get("active")),
        what=f"{doomed[0]}: a running Job",
    )
    drifted = steady[5]
    drifted_uid = (s.cronjob(cronjob_name(drifted)) or {})["metadata"]["uid"]
    before = {cr["metadata"]["name"]: cr["metadata"]["resourceVersion"] for cr in list_schedules(s)}
    seen_version = client.CustomObjectsApi(plane.api).list_cluster_custom_object(
        GROUP, VERSION, PLURAL, limit=1
    )["metadata"]["resourceVersion"]
    pid = plane.operator_pid()
    writes = plane.operator.metric("aischeduler_api_writes_total")

    # The operator stalls (as a process starved of CPU would) and the apiserver restarts,
    # dropping its watches and its cache of events. Before the operator watches again,
    # schedules go and come, run-nows are asked for, and etcd compacts its history: the
    # operator's watches resume from a version that is gone, and it never sees the
    # deletions as events.
    os.kill(pid, signal.SIGSTOP)
    try:
        plane.local.stop_component("kube-apiserver")
        plane.local.start_component("kube-apiserver")
        for name in doomed:
            s.delete(name)
        s.batch.delete_namespaced_cron_job(cronjob_name(drifted), s.namespace)
        for name in fresh:
            s.create(body(name, schedule=QUIET))
        touched = steady[:5]
        for name in touched:
            s.run_now(name, "after-expiry")
        compacted = plane.local.compact_etcd()
        answer = watch_answer(plane.api, seen_version)
    finally:
        os.kill(pid, signal.SIGCONT)
    assert answer == 410, f"a watch from {seen_version} (compacted at {compacted}) got {answer}"

    started = time.monotonic()
    wait_for(
        lambda: {cr["metadata"]["name"]: is_ready(cr) for cr in list_schedules(s)},
        lambda seen: sorted(seen) == sorted(steady + fresh) and all(seen.values()),
        timeout=180,
        interval=1.0,
        what="the new schedules Ready, the deleted ones gone",
    )
    for name in touched:
        s.wait_runs(name, 1, timeout=120)
    converge = time.monotonic() - started
    wait_for(
        lambda: (s.cronjobs(), s.jobs()),
        lambda seen: (
            sorted(c["metadata"]["name"] for c in seen[0])
            == sorted(cronjob_name(n) for n in steady + fresh)
            and sorted(j["metadata"]["name"] for j in seen[1])
            == sorted(manual_job_name(n, "after-expiry") for n in touched)
        ),
        timeout=120,
        what="one CronJob per schedule, one Job per run-now",
    )
    after = {cr["metadata"]["name"]: cr for cr in list_schedules(s)}
    recreated = (s.cronjob(cronjob_name(drifted)) or {})["metadata"]["uid"] != drifted_uid
    rewritten = [n for n in steady[6:] if after[n]["metadata"]["resourceVersion"] != before[n]]
    counted = {n: after[n]["status"]["runs"]["total"] for n in touched}
    # The caches hold what exists, nothing that went while the watches were down.
    tracked = wait_for(
        lambda: (plane.tracked(), owned_counts(plane)),
        lambda seen: all(seen[0].get(k) == v for k, v in seen[1].items()),
        timeout=60,
        what="the operator's caches to hold exactly the live objects",
    )
    figure(
        "watch expiry (410 after compaction)",
        compacted_at=compacted,
        watch_from=seen_version,
        watch_answer=answer,
        converged_s=converge,
        writes_during_relist=plane.operator.metric("aischeduler_api_writes_total") - writes,
        untouched_rewritten=len(rewritten),
        cronjob_deleted_meanwhile_recreated=recreated,
        runs_counted=sum(counted.values()),
        cached_schedules=tracked[0].get("schedules_index_keys"),
    )
    assert plane.operator_pid() == pid
    assert rewritten == [], f"untouched schedules written again: {rewritten}"
    assert recreated, "the CronJob deleted while no watch was looking is recreated"
    assert counted == dict.fromkeys(touched, 1)
