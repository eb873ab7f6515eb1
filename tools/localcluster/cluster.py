"""A real, hermetic Kubernetes control plane for tests, demos and development: etcd,
kube-apiserver, kube-controller-manager, kube-scheduler and kwok (simulated Ready nodes
whose pods play a runner), started from the binaries that ``tools/build.sh`` builds, and,
where the host allows it, one real node (realnode.py) whose pods really run.

Used as a pytest fixture (``LocalCluster(...).start()`` / ``.stop()``) and from the
Makefile (``python -m localcluster up|down``)."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from localcluster import realnode
from localcluster.certs import SERVICE_CIDR, Pki, make_pki
from localcluster.hoststate import HostState

CONTROLLERS = (
    "job,cronjob,garbagecollector,namespace,serviceaccount,serviceaccount-token,"
    "ttl-after-finished,podgc,deployment,replicaset,clusterrole-aggregation,"
    "root-ca-certificate-publisher-controller,endpointslice"
)
STAGES = Path(__file__).with_name("stages.yaml")
NODE_LABEL = "aischeduler.io/simulated-node"
NOT_READY_TAINT = "node.kubernetes.io/not-ready"
# No client-side rate limit in the controllers, as kwokctl's ``disableQPSLimits`` does for
# simulated clusters: with kube-controller-manager's default (20 requests/s, burst 30), its
# Job controller alone makes 100 Jobs started at once take 19-28 s to complete with 0 s pods
# (3.5-4.5 s without it, measured by ``make bench``'s Job floor on this machine), so every
# burst would measure that limit rather than the cluster. Real clusters tune it too.
UNLIMITED_CLIENT = ("--kube-api-qps=5000", "--kube-api-burst=10000")


class ClusterError(RuntimeError):
    """The control plane could not be started; the message carries the failing log."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def tail(path: Path, lines: int = 25) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except FileNotFoundError:
        return "(no log)"


@dataclass
class Component:
    name: str
    argv: list[str]
    log: Path
    pid: int | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    pass_fds: tuple[int, ...] = ()

    def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                self.argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # survives `cluster-up` exiting; killed as a group
                pass_fds=self.pass_fds,
            )
        self.pid = self.process.pid

    def exited(self) -> int | None:
        if self.process is not None:
            return self.process.poll()
        return None if self.pid is not None and pid_alive(self.pid) else -1

    def failure(self, why: str) -> ClusterError:
        return ClusterError(f"{self.name} {why}; last lines of {self.log}:\n{tail(self.log)}")


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a zombie child of ours counts as gone
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except (OSError, IndexError):  # gone meanwhile: ENOENT, or ESRCH mid-exit
        return False


def stop_pids(pids: list[int], grace: float = 10.0) -> None:
    """SIGTERM each process group, then SIGKILL what is still there after ``grace``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
            time.sleep(0.1)
        if not any(pid_alive(p) for p in pids):
            return


class LocalCluster:
    """``real_node``: True requires the real node, False leaves it out, None (the default)
    adds it when the host allows and otherwise says why in ``real_node_skipped``."""

    def __init__(
        self,
        bin_dir: Path,
        workdir: Path,
        nodes: int = 2,
        real_node: bool | None = None,
        python: str = sys.executable,
    ) -> None:
        self.bin_dir = bin_dir
        self.workdir = workdir
        self.nodes = nodes
        self.want_real_node = real_node
        self.python = python
        self.real: realnode.RealNode | None = None
        self.real_node_skipped: str | None = None
        self.components: list[Component] = []
        self.kubeconfig = workdir / "kubeconfig"
        self.state_file = workdir / "state.json"
        self.server = ""
        self.etcd_url = ""
        self._pki: Pki | None = None
        self._machine_lock: int | None = None

    # ----------------------------------------------------------------- lifecycle
    def start(self, timeout: float = 180.0) -> LocalCluster:
        for binary in ("etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler"):
            if not (self.bin_dir / binary).is_file():
                raise ClusterError(f"{binary} not found in {self.bin_dir}: run tools/build.sh")
        self.workdir.mkdir(parents=True, exist_ok=True)
        # A fresh cluster every time: drop data and logs a previous run left behind.
        shutil.rmtree(self.workdir / "etcd", ignore_errors=True)
        for log in self.workdir.glob("*.log"):
            log.unlink()
        self._pki = make_pki(self.workdir / "pki")
        try:
            self._prepare_real_node()  # before the deadline: a cold image build takes minutes
            deadline = time.monotonic() + timeout
            etcd_url = self._start_etcd()
            self._start_apiserver(etcd_url, deadline)
            self._write_kubeconfig()
            self._start_controllers()
            self._create_nodes()
            self._wait("controller-manager", deadline, self._service_account_ready)
            self._start_real_node(deadline)
            self._wait("kwok", deadline, self._nodes_ready)
            if self.real is not None:
                self._wait("kubelet", deadline, self._real_node_ready)
        except BaseException:
            self.stop()
            raise
        self._save_state()
        return self

    def stop(self) -> None:
        stop_pids([c.pid for c in self.components if c.pid is not None])
        for c in self.components:
            if c.process is not None:
                c.process.wait(timeout=5)
        self.components.clear()
        # Also after a start that failed half-way: restores what was recorded, if anything.
        realnode.restore_host(self.workdir / "realnode")
        self._unlock_machine()
        self.state_file.unlink(missing_ok=True)

    # ----------------------------------------------------------------- faults
    # For fault tests: a component stopped and started again comes back with the same
    # arguments (ports, certificates, data directory), as after a crash and restart.
    def component(self, name: str) -> Component:
        found = next((c for c in self.components if c.name == name), None)
        if found is None:
            raise ClusterError(f"no component {name} (have: {[c.name for c in self.components]})")
        return found

    def stop_component(self, name: str, kill: bool = False) -> None:
        """Stops one component (SIGKILL at once with ``kill``, else SIGTERM first)."""
        c = self.component(name)
        if c.pid is not None:
            if kill:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.killpg(c.pid, signal.SIGKILL)
            stop_pids([c.pid])
        if c.process is not None:
            c.process.wait(timeout=10)

    def start_component(self, name: str, timeout: float = 120.0) -> None:
        """Starts a stopped component again and waits until the apiserver answers ready
        (which includes its etcd check)."""
        c = self.component(name)
        if c.exited() is None:
            raise ClusterError(f"{name} is still running")
        c.start()
        self._save_state()
        self._wait(name, time.monotonic() + timeout, self._api_ready)

    def _api_ready(self) -> bool:
        try:
            return self.get("/readyz") == "ok"
        except (urllib.error.URLError, OSError):
            return False

    def _etcd(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        req = urllib.request.Request(  # noqa: S310 - our own etcd on localhost
            self.etcd_url + path,
            data=json.dumps(body).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as resp:  # noqa: S310
            answer: dict[str, Any] = json.loads(resp.read())
            return answer

    def etcd_revision(self) -> int:
        """etcd's current revision (what the apiserver hands out as resourceVersions)."""
        header = self._etcd("/v3/kv/range", {"key": "AA==", "limit": 1})["header"]
        return int(header["revision"])

    def compact_etcd(self) -> int:
        """Compacts etcd's history up to its current revision, as the apiserver does every
        5 minutes: a watch from an older resourceVersion is then answered 410 Gone."""
        revision = self.etcd_revision()
        self._etcd("/v3/kv/compaction", {"revision": str(revision), "physical": True})
        return revision

    # ----------------------------------------------------------------- real node
    def _prepare_real_node(self) -> None:
        if self.want_real_node is False:
            self.real_node_skipped = "not asked for"
            return
        why = realnode.why_not(self.bin_dir)
        if why is None:
            realnode.recover_crashed_node()
        # Recorded before anything of the node (its lock included) exists on the host;
        # stop() and `down` restore it.
        host = HostState.capture()
        why = why or self._lock_machine()
        if why is not None:
            if self.want_real_node:
                raise ClusterError(f"the real node cannot run here: {why}")
            self.real_node_skipped = why
            return
        realnode.save_host_state(self.workdir / "realnode", host)
        try:
            images = realnode.build_images(self.bin_dir, self.python)
        except RuntimeError as e:
            if self.want_real_node:
                raise ClusterError(str(e)) from e
            self.real_node_skipped = f"its images could not be built: {str(e)[-300:]}"
            realnode.restore_host(self.workdir / "realnode")
            self._unlock_machine()
            return
        self.real = realnode.RealNode(self.bin_dir, images)

    def _lock_machine(self) -> str | None:
        """One real node per machine (it uses fixed host paths): containerd inherits this
        lock and holds it as long as it runs, also after `cluster-up` has exited."""
        realnode.MACHINE_LOCK.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(realnode.MACHINE_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return f"another real node runs on this machine ({realnode.MACHINE_LOCK} is locked)"
        self._machine_lock = fd
        return None

    def _unlock_machine(self) -> None:
        if self._machine_lock is not None:
            os.close(self._machine_lock)
            self._machine_lock = None

    def _start_real_node(self, deadline: float) -> None:
        node = self.real
        if node is None:
            return
        node.write_config(self.kubeconfig, free_port())
        containerd = Component(
            "containerd",
            node.containerd_argv(),
            self.workdir / "containerd.log",
            pass_fds=(self._machine_lock,) if self._machine_lock is not None else (),
        )
        containerd.start()
        self.components.append(containerd)
        self._wait("containerd", deadline, node.containerd_up)
        try:
            node.route_api_service(int(self.server.rsplit(":", 1)[1]))
            node.import_images()
        except RuntimeError as e:
            raise ClusterError(str(e)) from e
        self._spawn("kubelet", node.kubelet_argv())

    # ----------------------------------------------------------------- components
    def _spawn(self, name: str, argv: list[str]) -> Component:
        component = Component(name, argv, self.workdir / f"{name}.log")
        component.start()
        self.components.append(component)
        return component

    def _start_etcd(self) -> str:
        client, peer = free_port(), free_port()
        url = self.etcd_url = f"http://127.0.0.1:{client}"
        peer_url = f"http://127.0.0.1:{peer}"
        self._spawn(
            "etcd",
            [
                str(self.bin_dir / "etcd"),
                "--name=local",
                f"--data-dir={self.workdir / 'etcd'}",
                f"--listen-client-urls={url}",
                f"--advertise-client-urls={url}",
                f"--listen-peer-urls={peer_url}",
                f"--initial-advertise-peer-urls={peer_url}",
                f"--initial-cluster=local={peer_url}",
                "--unsafe-no-fsync",  # test data; durability across power loss is not needed
                "--log-level=warn",
            ],
        )
        return url

    def _start_apiserver(self, etcd_url: str, deadline: float) -> None:
        pki = self._require_pki()
        port = free_port()
        self.server = f"https://127.0.0.1:{port}"
        apiserver = self._spawn(
            "kube-apiserver",
            [
                str(self.bin_dir / "kube-apiserver"),
                f"--etcd-servers={etcd_url}",
                "--bind-address=127.0.0.1",
                "--advertise-address=127.0.0.1",
                f"--secure-port={port}",
                # The real node is reached at its address (logs, exec), not by host name.
                "--kubelet-preferred-address-types=InternalIP,Hostname",
                # Namespaces pin their pods to the real node (realnode.REAL_NAMESPACE).
                "--enable-admission-plugins=PodNodeSelector,PodTolerationRestriction",
                f"--cert-dir={self.workdir / 'apiserver-certs'}",
                f"--tls-cert-file={pki.serving_cert}",
                f"--tls-private-key-file={pki.serving_key}",
                f"--client-ca-file={pki.ca_cert}",
                f"--requestheader-client-ca-file={pki.ca_cert}",
                "--requestheader-allowed-names=front-proxy-client",
                "--requestheader-username-headers=X-Remote-User",
                "--requestheader-group-headers=X-Remote-Group",
                "--requestheader-extra-headers-prefix=X-Remote-Extra-",
                "--authorization-mode=RBAC",
                "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
                f"--service-account-key-file={pki.sa_pub}",
                f"--service-account-signing-key-file={pki.sa_key}",
                f"--service-cluster-ip-range={SERVICE_CIDR}",
                "--allow-privileged=true",
                "--profiling=false",
                "--v=1",
            ],
        )

        def readyz() -> bool:
            if apiserver.exited() is not None:
                raise apiserver.failure("exited during start-up")
            return self._api_ready()

        self._wait("kube-apiserver", deadline, readyz)

    def _start_controllers(self) -> None:
        pki = self._require_pki()
        kubeconfig = str(self.kubeconfig)
        delegated = [
            f"--kubeconfig={kubeconfig}",
            f"--authentication-kubeconfig={kubeconfig}",
            f"--authorization-kubeconfig={kubeconfig}",
            "--bind-address=127.0.0.1",
            "--leader-elect=false",
        ]
        self._spawn(
            "kube-controller-manager",
            [
                str(self.bin_dir / "kube-controller-manager"),
                *delegated,
                f"--secure-port={free_port()}",
                f"--controllers={CONTROLLERS}",
                f"--service-account-private-key-file={pki.sa_key}",
                f"--root-ca-file={pki.ca_cert}",
                "--use-service-account-credentials=false",
                *UNLIMITED_CLIENT,
                "--v=1",
            ],
        )
        self._spawn(
            "kube-scheduler",
            [
                str(self.bin_dir / "kube-scheduler"),
                *delegated,
                f"--secure-port={free_port()}",
                *UNLIMITED_CLIENT,
                "--v=1",
            ],
        )
        self._spawn(
            "kwok",
            [
                str(self.bin_dir / "kwok"),
                f"--kubeconfig={kubeconfig}",
                f"--config={STAGES}",
                "--manage-all-nodes=false",
                f"--manage-nodes-with-label-selector={NODE_LABEL}=true",
                "--cidr=10.244.0.0/16",
                "--node-ip=10.0.0.1",
                "--server-address=",
            ],
        )

    def _create_nodes(self) -> None:
        for i in range(self.nodes):
            name = f"kwok-node-{i}"
            node = {
                "apiVersion": "v1",
                "kind": "Node",
                "metadata": {
                    "name": name,
                    "labels": {
                        NODE_LABEL: "true",
                        "kubernetes.io/hostname": name,
                        "kubernetes.io/os": "linux",
                        "kubernetes.io/arch": "amd64",
                        "type": "kwok",
                    },
                    "annotations": {"kwok.x-k8s.io/node": "fake"},
                },
            }
            self.request("POST", "/api/v1/nodes", node)

    # ----------------------------------------------------------------- readiness
    def _service_account_ready(self) -> bool:
        try:
            self.get("/api/v1/namespaces/default/serviceaccounts/default")
        except urllib.error.HTTPError as e:
            if e.code == 404:
                return False
            raise
        return True

    def _nodes_ready(self) -> bool:
        simulated = [n for n in self._ready_nodes() if NODE_LABEL in n["metadata"]["labels"]]
        return len(simulated) >= self.nodes

    def _real_node_ready(self) -> bool:
        return any(n["metadata"]["name"] == realnode.NAME for n in self._ready_nodes())

    def _ready_nodes(self) -> list[dict[str, Any]]:
        """Nodes that report Ready, with the not-ready taint lifted from them."""
        nodes = json.loads(self.get("/api/v1/nodes"))["items"]
        ready = [
            n
            for n in nodes
            for c in n.get("status", {}).get("conditions", [])
            if c["type"] == "Ready" and c["status"] == "True"
        ]
        for node in ready:
            taints = node["spec"].get("taints") or []
            kept = [t for t in taints if t["key"] != NOT_READY_TAINT]
            if kept != taints:
                # The node lifecycle controller, which would lift the not-ready taint that
                # admission puts on new nodes, is not run (kwok sends no heartbeats it
                # would accept), so lift it once the node reports Ready.
                self.request(
                    "PATCH",
                    f"/api/v1/nodes/{node['metadata']['name']}",
                    {"spec": {"taints": kept or None}},
                    content_type="application/merge-patch+json",
                )
        return ready

    def _wait(self, what: str, deadline: float, check: Callable[[], bool]) -> None:
        while time.monotonic() < deadline:
            for c in self.components:
                if c.exited() is not None:
                    raise c.failure(f"exited (code {c.exited()}) while waiting for {what}")
            if check():
                return
            time.sleep(0.2)
        component = next((c for c in self.components if what.startswith(c.name)), None)
        if component is None:
            component = next(c for c in self.components if c.name == "kube-apiserver")
        raise component.failure(f"not ready in time (waiting for {what})")

    # ----------------------------------------------------------------- API access
    def _require_pki(self) -> Pki:
        if self._pki is None:
            raise ClusterError("cluster not started")
        return self._pki

    def _ssl(self) -> ssl.SSLContext:
        pki = self._require_pki()
        ctx = ssl.create_default_context(cafile=str(pki.ca_cert))
        ctx.load_cert_chain(str(pki.admin_cert), str(pki.admin_key))
        return ctx

    def request(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        content_type: str = "application/json",
    ) -> str:
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(  # noqa: S310 - our own https apiserver
            self.server + path,
            data=data,
            method=method,
            headers={"Content-Type": content_type, "Accept": "application/json"},
        )
        with urllib.request.urlopen(req, context=self._ssl(), timeout=10) as resp:  # noqa: S310
            text: str = resp.read().decode()
            return text

    def get(self, path: str) -> str:
        return self.request("GET", path)

    def _write_kubeconfig(self) -> None:
        pki = self._require_pki()
        config = {
            "apiVersion": "v1",
            "kind": "Config",
            "clusters": [
                {
                    "name": "local",
                    "cluster": {"server": self.server, "certificate-authority": str(pki.ca_cert)},
                }
            ],
            "users": [
                {
                    "name": "admin",
                    "user": {
                        "client-certificate": str(pki.admin_cert),
                        "client-key": str(pki.admin_key),
                    },
                }
            ],
            "contexts": [{"name": "local", "context": {"cluster": "local", "user": "admin"}}],
            "current-context": "local",
        }
        self.kubeconfig.write_text(json.dumps(config, indent=2))
        self.kubeconfig.chmod(0o600)

    def _save_state(self) -> None:
        state = {
            "kubeconfig": str(self.kubeconfig),
            "server": self.server,
            "pids": {c.name: c.pid for c in self.components},
            "realNode": self.real.describe() if self.real is not None else None,
            "realNodeSkipped": self.real_node_skipped,
        }
        self.state_file.write_text(json.dumps(state, indent=2))


def stop_from_state(workdir: Path) -> list[str]:
    """Stops a cluster started by another process (``make cluster-up``) and restores the
    host after its real node; returns the names stopped and what was restored."""
    state_file = workdir / "state.json"
    if not state_file.exists():
        return []
    state = json.loads(state_file.read_text())
    pids: dict[str, int] = state["pids"]
    stop_pids(list(pids.values()))
    restored = realnode.restore_host(workdir / "realnode")
    state_file.unlink()
    return [*pids, *restored]
