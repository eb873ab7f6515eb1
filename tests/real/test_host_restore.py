"""`make cluster-up` with a real node, a real pod on it, then `make cluster-down`: the host
is as it was before — iptables and ip6tables rules, the sysctls the kubelet and the CNI
bridge set, mounts, network links, cgroups and the fixed paths (hoststate.HostState)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REQUIRE_REAL, ROOT, tools_bin
from localcluster import realnode
from localcluster.hoststate import HostState
from waiting import wait_for

# `up` builds the node's images when their inputs changed: minutes on a busy 2-core machine
# (the images stage of .ci/run builds them before the tests, so there they are cached).
IMAGE_BUILD_SECONDS = 1800
pytestmark = [pytest.mark.own_real_node, pytest.mark.timeout(IMAGE_BUILD_SECONDS + 600)]


def localcluster(*args: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "localcluster", *args],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT / "tools")},
        capture_output=True,
        text=True,
        check=False,
        timeout=IMAGE_BUILD_SECONDS + 300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_cluster_down_restores_the_host(tmp_path: Path) -> None:
    bin_dir = tools_bin()
    why = realnode.why_not(bin_dir)
    if why is not None:
        if REQUIRE_REAL:
            pytest.fail(f"the real node is required (AISCHED_REQUIRE_REAL_NODE=1): {why}")
        pytest.skip(f"no real node: {why}")
    before = HostState.capture()
    workdir = tmp_path / "cluster"
    out = localcluster("up", "--dir", str(workdir), "--bin", str(bin_dir), "--real-node", "yes")
    try:
        state = json.loads((workdir / "state.json").read_text())
        kubectl = [str(bin_dir / "kubectl"), f"--kubeconfig={state['kubeconfig']}"]
        namespace = {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {"name": "probe", "annotations": realnode.REAL_NAMESPACE},
        }
        pod = {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "probe", "namespace": "probe"},
            "spec": {
                "restartPolicy": "Never",
                "containers": [
                    {
                        "name": "probe",
                        "image": state["realNode"]["images"]["runner"]["ref"],
                        "command": ["python3", "-c", "print('hello from a real pod')"],
                    }
                ],
            },
        }
        for manifest in (namespace, pod):
            subprocess.run(
                [*kubectl, "apply", "-f", "-"], input=json.dumps(manifest), text=True, check=True
            )
        wait_for(
            lambda: (
                subprocess.run(
                    [
                        *kubectl,
                        "get",
                        "pod",
                        "-n",
                        "probe",
                        "probe",
                        "-o",
                        "jsonpath={.status.phase}",
                    ],
                    capture_output=True,
                    text=True,
                    check=False,
                ).stdout
            ),
            lambda phase: phase == "Succeeded",
            timeout=120,
            what="the probe pod on the real node to succeed",
        )
        during = HostState.capture()
        assert during.differences(before), "the real node changed nothing on the host?"
    finally:
        down = localcluster("down", "--dir", str(workdir))
    after = HostState.capture()
    assert after.differences(before) == {}, f"{out}\n{down}"
