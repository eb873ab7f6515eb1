"""Shared fixtures. e2e tests (tests/e2e) run against the local control plane started here
from the binaries tools/build.sh builds, or against any cluster named by
AISCHED_TEST_KUBECONFIG (kind, a real cluster)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config
from prometheus_client.parser import text_string_to_metric_families
from schedules import Schedules  # tests/e2e/schedules.py

from argocd_lua import ArgoCD  # tests/argocd_lua.py
from localcluster import LocalCluster
from localcluster.cluster import free_port

ROOT = Path(__file__).resolve().parents[1]
pytest_plugins = ["realfixtures"]  # tests/real/realfixtures.py: the real tier's fixtures


# Set on a machine that must run the real tier (CI on this kind of machine): a real node
# that cannot start is then an error, not a skip.
REQUIRE_REAL = os.environ.get("AISCHED_REQUIRE_REAL_NODE") == "1"


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    for item in items:
        if "/tests/e2e/" in str(item.path) or "/tests/real/" in str(item.path):
            item.add_marker(pytest.mark.e2e)
        if "/tests/real/" in str(item.path):
            item.add_marker(pytest.mark.real)
    # First the host-restore test, which starts and stops a real node of its own before the
    # session's cluster holds the machine's one real node; then the tests without the
    # session's operator (test_install runs operators of its own, which must not share the
    # cluster with the session's, which runs from its first user to the end). The sort is
    # stable, so the order is kept otherwise.
    items.sort(
        key=lambda i: (
            not i.get_closest_marker("own_real_node"),
            "operator" in getattr(i, "fixturenames", ()),
        )
    )
    # Tests that play runner outcomes through kwok's pod annotations need simulated
    # nodes: the local control plane has them; another cluster only if it runs kwok with
    # our stages (say so with AISCHED_TEST_SIMULATED=1). Deselected, never passed.
    if os.environ.get("AISCHED_TEST_KUBECONFIG"):
        # Restarting kube-apiserver or etcd needs a control plane of the test's own.
        own = [i for i in items if i.get_closest_marker("own_control_plane")]
        if own:
            config.hook.pytest_deselected(items=own)
            items[:] = [i for i in items if not i.get_closest_marker("own_control_plane")]
            print(f"\n{len(own)} tests restart parts of a local control plane and were deselected")
    if (
        os.environ.get("AISCHED_TEST_KUBECONFIG")
        and os.environ.get("AISCHED_TEST_SIMULATED") != "1"
    ):
        simulated = [i for i in items if i.get_closest_marker("simulated")]
        if simulated:
            config.hook.pytest_deselected(items=simulated)
            items[:] = [i for i in items if not i.get_closest_marker("simulated")]
            print(
                f"\n{len(simulated)} tests need kwok-simulated pods and were deselected "
                "(external cluster; set AISCHED_TEST_SIMULATED=1 if it runs kwok)"
            )


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """The real tier counted on its own line: how many real tests passed, failed, or did
    not run and why (a skipped real test is never counted as passed)."""
    counts: dict[str, int] = {}
    reasons: set[str] = set()
    for outcome in ("passed", "failed", "error", "skipped"):
        for report in terminalreporter.stats.get(outcome, []):
            if "real" not in getattr(report, "keywords", {}) or report.when not in (
                "call",
                "setup",
            ):
                continue
            if outcome == "passed" and report.when != "call":
                continue
            counts[outcome] = counts.get(outcome, 0) + 1
            if outcome == "skipped" and isinstance(report.longrepr, tuple):
                reasons.add(str(report.longrepr[2]))
    if counts:
        line = ", ".join(f"{n} {k}" for k, n in counts.items())
        terminalreporter.write_line(f"real tier (real kubelet and runner pods): {line}")
        for reason in sorted(reasons):
            terminalreporter.write_line(f"  not run: {reason}")


@dataclass(frozen=True)
class Cluster:
    kubeconfig: Path
    bin_dir: Path | None  # None when testing an external cluster
    real_node: dict[str, Any] | None = None  # RealNode.describe() when it runs
    real_node_skipped: str | None = None

    def tool(self, name: str) -> str:
        """Path of kubectl/helm: the pinned build, else whatever is on PATH."""
        if self.bin_dir is not None and (self.bin_dir / name).exists():
            return str(self.bin_dir / name)
        return name

    def kubectl(self, *args: str, input: str | None = None, check: bool = True) -> str:
        proc = subprocess.run(
            [self.tool("kubectl"), f"--kubeconfig={self.kubeconfig}", *args],
            input=input,
            check=False,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed: {proc.stderr}")
        return proc.stdout + (proc.stderr if not check else "")


def tools_bin() -> Path:
    out = subprocess.run(
        ["bash", str(ROOT / "tools" / "build.sh")],
        capture_output=True,
        text=True,
        check=False,
    )
    if out.returncode != 0:
        raise RuntimeError(f"tools/build.sh failed:\n{out.stderr[-4000:]}")
    return Path(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def argocd() -> ArgoCD:
    """Argo CD's Lua runtime (pinned build) over gitops/argocd/argocd-cm.yaml. A failed build
    fails the tests that need it."""
    return ArgoCD(tools_bin() / "argocd-lua")


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    external = os.environ.get("AISCHED_TEST_KUBECONFIG")
    if external:
        yield Cluster(Path(external), None)
        return
    bin_dir = tools_bin()
    local = LocalCluster(
        bin_dir,
        tmp_path_factory.mktemp("cluster"),
        real_node=True if REQUIRE_REAL else None,
        python=sys.executable,
    ).start()
    try:
        yield Cluster(
            local.kubeconfig,
            bin_dir,
            local.real.describe() if local.real is not None else None,
            local.real_node_skipped,
        )
    finally:
        local.stop()


@pytest.fixture(scope="session")
def api(cluster: Cluster) -> client.ApiClient:
    return config.new_client_from_config(config_file=str(cluster.kubeconfig))


@pytest.fixture
def namespace(api: client.ApiClient, request: pytest.FixtureRequest) -> Iterator[str]:
    """A fresh namespace per test, deleted afterwards."""
    base = re.sub(r"[^a-z0-9]+", "-", request.node.name.lower())[:40].strip("-")
    name = f"{base}-{uuid.uuid4().hex[:6]}"
    core = client.CoreV1Api(api)
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    yield name
    core.delete_namespace(name, propagation_policy="Background")


@dataclass
class OperatorProcess:
    """The operator run as a real subprocess (`aischeduler-operator`) against the cluster."""

    cluster: Cluster
    log: Path
    env: dict[str, str]
    metrics_port: int
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [str(ROOT / ".venv" / "bin" / "aischeduler-operator")],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def kill(self) -> None:
        """SIGKILL: no clean-up of any kind, as when the node or the OOM killer takes it."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
        self.process = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def metrics(self) -> str:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{self.metrics_port}/metrics", timeout=5
        ) as resp:
            text: str = resp.read().decode()
            return text

    def metric(self, name: str, **labels: str) -> float:
        """The sum of the samples of ``name`` whose labels include ``labels``."""
        return sum(
            sample.value
            for family in text_string_to_metric_families(self.metrics())
            for sample in family.samples
            if sample.name == name and labels.items() <= sample.labels.items()
        )

    def samples(self, name: str, label: str) -> dict[str, float]:
        """The samples of ``name`` by the value of one label."""
        return {
            sample.labels[label]: sample.value
            for family in text_string_to_metric_families(self.metrics())
            for sample in family.samples
            if sample.name == name and label in sample.labels
        }

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


OPERATOR_DEFAULTS = {
    "AISCHED_DEFAULT_PLATFORM_TYPE": "codemie",
    "AISCHED_DEFAULT_PLATFORM_URL": "http://codemie.test.invalid/code-assistant-api",
    "AISCHED_DEFAULT_CREDENTIALS_SECRET": "codemie-credentials",
    "AISCHED_RUNNER_IMAGE": "ghcr.io/aischeduler/runner:0.1.0",
    "AISCHED_LOG_FORMAT": "text",
}


def install_crd(cluster: Cluster) -> None:
    cluster.kubectl("apply", "--server-side", "--force-conflicts", "-f", str(ROOT / "crds"))
    cluster.kubectl(
        "wait",
        "--for=condition=Established",
        "--timeout=60s",
        "crd/assistantschedules.aischeduler.io",
    )


@pytest.fixture(scope="session")
def crd_installed(cluster: Cluster) -> None:
    install_crd(cluster)


def operator_process(cluster: Cluster, log: Path, **env: str) -> OperatorProcess:
    """An operator (not started yet) against ``cluster``, with the test defaults and
    ``env`` on top, serving metrics on a port of its own."""
    metrics_port = free_port()
    full = {
        **os.environ,
        **OPERATOR_DEFAULTS,
        "KUBECONFIG": str(cluster.kubeconfig),
        "AISCHED_METRICS_PORT": str(metrics_port),
        "AISCHED_HEALTH_PORT": str(free_port()),
        **env,
    }
    return OperatorProcess(cluster, log, full, metrics_port)


@pytest.fixture(scope="session")
def operator(
    cluster: Cluster, crd_installed: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[OperatorProcess]:
    """The operator, running for the whole session (tests use fresh namespaces)."""
    proc = operator_process(cluster, tmp_path_factory.mktemp("operator") / "operator.log")
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()


@pytest.fixture
def restartable(operator: OperatorProcess) -> Iterator[OperatorProcess]:
    """The session's operator, running again after the test whatever happened."""
    yield operator
    if operator.process is None or operator.process.poll() is not None:
        operator.start()


@pytest.fixture
def s(
    api: client.ApiClient, cluster: Cluster, namespace: str, operator: OperatorProcess
) -> Schedules:
    """AssistantSchedules in this test's namespace, with the operator running."""
    return Schedules(api, cluster.kubectl, namespace)
