"""`kubectl asched` against the real control plane with the operator running: every
command as a user runs it (the installed console script, and once through kubectl's
plugin mechanism), on schedules whose runs kwok plays."""

from __future__ import annotations

import json
import os
import re
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from kubernetes import client
from schedules import Schedules, body, runner_result, sim

from aischeduler_operator.cli import cluster as cli_cluster
from conftest import Cluster
from waiting import wait_for

ROOT = Path(__file__).resolve().parents[2]
CLI = ROOT / ".venv" / "bin" / "kubectl-asched"

pytestmark = pytest.mark.simulated


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


def asched(cluster: Cluster, command: str, *args: str, namespace: str | None = None) -> Result:
    """Runs the installed console script; the global flags go after the sub-command, as
    with kubectl."""
    where = ["-n", namespace] if namespace else []
    proc = subprocess.run(
        [str(CLI), command, "--kubeconfig", str(cluster.kubeconfig), *where, *args],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return Result(proc.returncode, proc.stdout, proc.stderr)


def in_ns(cluster: Cluster, namespace: str, command: str, *args: str) -> Result:
    return asched(cluster, command, *args, namespace=namespace)


def test_list_show_and_history(s: Schedules, cluster: Cluster) -> None:
    result = runner_result(output="Three incidents, all closed.", tokensUsed=17)
    s.create(
        body("soon", schedule="0 9 * * 1-5", timeZone="Europe/Berlin", pod=sim(message=result))
    )
    s.create(body("broken", schedule="61 * * * *"))
    s.create(body("paused", suspend=True))
    for name in ("soon", "paused"):
        s.wait_ready(name)
    s.wait_observed("broken")
    s.run_now("soon", "cli-1")
    s.wait_runs("soon", 1)

    listed = in_ns(cluster, s.namespace, "list")
    assert listed.code == 0, listed.err
    rows = {line.split()[0]: line for line in listed.out.splitlines()[1:]}
    assert set(rows) == {"soon", "broken", "paused"}
    assert "invalid: InvalidSchedule" in rows["broken"]
    assert " suspended " in rows["paused"]
    assert "assistant/asst-e2e" in rows["soon"] and "Europe/Berlin" in rows["soon"]
    assert "Succeeded" in rows["soon"] and rows["soon"].rstrip().endswith("1/1")
    # Sorted by next run: the only schedule with one comes first.
    assert listed.out.splitlines()[1].startswith("soon")

    everywhere = asched(cluster, "list", "-A", "-o", "json")
    mine = [o for o in json.loads(everywhere.out) if o["namespace"] == s.namespace]
    assert {o["name"]: o["state"] for o in mine} == {
        "soon": "active",
        "broken": "invalid: InvalidSchedule",
        "paused": "suspended",
    }

    shown = in_ns(cluster, s.namespace, "show", "soon")
    assert shown.code == 0, shown.err
    assert re.search(r"^Ready\s+True\s+", shown.out, re.MULTILINE), shown.out
    assert "Next 10 runs:" in shown.out and shown.out.count("CET") + shown.out.count("CEST") >= 10
    assert "History (1):" in shown.out and "Manual" in shown.out

    history = in_ns(cluster, s.namespace, "history", "soon", "-o", "json")
    (entry,) = json.loads(history.out)
    assert (entry["trigger"], entry["result"], entry["tokensUsed"]) == ("Manual", "Succeeded", 17)
    assert in_ns(cluster, s.namespace, "history", "soon", "--failed").out.startswith("No failed")

    missing = in_ns(cluster, s.namespace, "show", "nope")
    assert missing.code == 2
    assert "'nope'" in missing.err and "not found" in missing.err


def test_run_wait_exits_with_the_runs_result(s: Schedules, cluster: Cluster) -> None:
    good = runner_result(output="All quiet.", tokensUsed=5)
    s.create(body("ok", suspend=True, pod=sim(message=good)))
    failure = runner_result("Failed", "HTTP 500 from the platform after 5 attempts")
    s.create(body("bad", retries=0, pod=sim(exit_code=1, message=failure)))
    s.wait_ready("ok")
    s.wait_ready("bad")

    ok = in_ns(cluster, s.namespace, "run", "ok", "--wait", "--timeout", "120")
    assert ok.code == 0, ok.out + ok.err
    assert "Succeeded" in ok.out and "All quiet." in ok.out and "tokens: 5" in ok.out

    bad = in_ns(cluster, s.namespace, "run", "bad", "--wait", "--input", "one-off")
    assert bad.code == 1, bad.out + bad.err
    assert "Failed: failed after 1 attempt(s): HTTP 500 from the platform" in bad.out
    annotations = s.get("bad")["metadata"]["annotations"]
    assert annotations["aischeduler.io/run-now-input"] == "one-off"

    # A later run without --input drops the one-off input again.
    again = in_ns(cluster, s.namespace, "run", "bad")
    assert again.code == 0 and "requested" in again.out
    assert "aischeduler.io/run-now-input" not in s.get("bad")["metadata"]["annotations"]


def test_run_wait_times_out_with_exit_3(s: Schedules, cluster: Cluster) -> None:
    s.create(body("slow", suspend=True, pod=sim(duration=600, message=runner_result())))
    s.wait_ready("slow")
    slow = in_ns(cluster, s.namespace, "run", "slow", "--wait", "--timeout", "3")
    assert slow.code == 3, slow.out + slow.err
    assert "timed out after 3s" in slow.out


def test_logs_with_and_without_the_job(s: Schedules, cluster: Cluster) -> None:
    result = runner_result(message="answered", output="The recorded answer.")
    s.create(body("logged", suspend=True, pod=sim(message=result)))
    s.wait_ready("logged")
    s.run_now("logged", "logs-1")
    s.wait_runs("logged", 1)
    (job,) = s.jobs("logged")

    # kwok's simulated node serves no container logs: the pod log cannot be read, and
    # the command falls back to the record, saying why.
    with_job = in_ns(cluster, s.namespace, "logs", "logged")
    assert with_job.code == 0, with_job.err
    assert "the pod log of" in with_job.out and "cannot be read" in with_job.out
    assert "The recorded answer." in with_job.out

    name = job["metadata"]["name"]
    s.batch.delete_namespaced_job(name, s.namespace, propagation_policy="Background")
    s.wait_job_gone(name)
    gone = in_ns(cluster, s.namespace, "logs", "logged", name)
    assert gone.code == 0, gone.err
    assert f"the pod log is gone (Job {name} was removed)" in gone.out
    assert "Succeeded (Manual): answered" in gone.out and "The recorded answer." in gone.out

    unknown = in_ns(cluster, s.namespace, "logs", "logged", "no-such-job")
    assert unknown.code == 2 and "no run of Job no-such-job" in unknown.err


def test_suspend_and_resume(s: Schedules, cluster: Cluster) -> None:
    for name in ("a", "b"):
        s.create(body(name))
        s.wait_ready(name)
    done = in_ns(cluster, s.namespace, "suspend", "a", "b")
    assert done.code == 0, done.err
    for name in ("a", "b"):
        s.wait(name, lambda cr: (cr.get("status") or {}).get("phase") == "Suspended", "Suspended")
        assert s.cronjob_spec(name)["suspend"] is True
    assert in_ns(cluster, s.namespace, "resume", "a").code == 0
    s.wait("a", lambda cr: (cr.get("status") or {}).get("phase") == "Active", "Active again")
    assert in_ns(cluster, s.namespace, "suspend", "nope").code == 2


def test_forbidden_for_an_editor_names_the_verb(
    s: Schedules, cluster: Cluster, api: client.ApiClient
) -> None:
    """An `edit` user (the chart's aggregated viewer rules) may list but not run."""
    suffix = uuid.uuid4().hex[:6]
    roles = subprocess.run(
        [
            cluster.tool("helm"),
            "template",
            "cli-roles",
            str(ROOT / "charts" / "aischeduler"),
            "--show-only",
            "templates/user-roles.yaml",
            "--set",
            f"rbac.userRoles.adminName=cli-admin-{suffix}",
            "--set",
            f"rbac.userRoles.viewerName=cli-viewer-{suffix}",
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    rbac = client.RbacAuthorizationV1Api(api)
    created = [rbac.create_cluster_role(doc) for doc in yaml.safe_load_all(roles) if doc]
    try:
        rbac.create_namespaced_role_binding(
            s.namespace,
            {
                "metadata": {"name": "bob-edit"},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": "edit",
                },
                "subjects": [
                    {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "bob"}
                ],
            },
        )
        s.create(body("guarded"))
        s.wait_ready("guarded")
        listed: Any = wait_for(
            lambda: in_ns(cluster, s.namespace, "list", "--as", "bob"),
            lambda r: r.code == 0,
            timeout=60,
            what="the aggregated viewer rules to reach `edit`",
        )
        assert "guarded" in listed.out
        refused = in_ns(cluster, s.namespace, "run", "guarded", "--as", "bob")
        assert refused.code == 2
        assert refused.err.startswith("error: forbidden: you may not patch")
        assert "run-now" not in json.dumps(s.get("guarded")["metadata"].get("annotations") or {})
        everywhere = asched(cluster, "list", "-A", "--as", "bob")
        assert everywhere.code == 2 and "you may not list" in everywhere.err
    finally:
        for role in created:
            rbac.delete_cluster_role(role.metadata.name)


def test_no_crd_and_kubectl_plugin_discovery(
    cluster: Cluster, crd_installed: None, namespace: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Found by kubectl as a plugin on PATH; a resource type the server does not know
    (standing in for a cluster without the CRD) is one clear line."""
    env = {
        **os.environ,
        "PATH": f"{CLI.parent}{os.pathsep}{os.environ['PATH']}",
        "KUBECONFIG": str(cluster.kubeconfig),
    }
    plugin = subprocess.run(
        [cluster.tool("kubectl"), "asched", "list", "-n", namespace],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert plugin.returncode == 0, plugin.stderr
    assert plugin.stdout.strip() == f"No AssistantSchedules in namespace {namespace}."

    # Ask for an API group this server does not serve: the answer a cluster without the
    # CRD gives (the session's CRD must stay for the other tests).
    monkeypatch.setattr(cli_cluster, "GROUP", "not-installed.aischeduler.io")
    live = cli_cluster.Cluster(str(cluster.kubeconfig), None, namespace)
    with pytest.raises(cli_cluster.CliError, match="CRD is not installed"):
        live.schedules(namespace)
