"""A real node next to the simulated ones: containerd (Debian's, with runc) and a kubelet
built from the pinned module, joined to the local control plane, running real pods from
images built here without a registry (tools/realnode/images.sh).

Only pods meant to run for real land on it: the node carries the taint and the label
``aischeduler.io/real-node``. A namespace asks for it with the annotations that the
PodNodeSelector and PodTolerationRestriction admission plugins read (``REAL_NAMESPACE``),
so the runner pods the operator creates there need no change.

The node uses a few fixed host paths (``hoststate.FIXED_PATHS``), so there is one per
machine; ``stop()`` puts the host back as ``hoststate`` recorded it before the start."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from localcluster.certs import API_SERVICE_IP
from localcluster.hoststate import CGROUP_NAME, CGROUP_ROOT, MACHINE_DIR, HostState

NAME = "aischeduler-real-node"
LABEL = "aischeduler.io/real-node"
REALNODE_TOOLS = Path(__file__).resolve().parents[1] / "realnode"
POD_SUBNET = "10.89.0.0/24"
BRIDGE = "aisched0"
# Namespace annotations that pin every pod of the namespace to the real node.
REAL_NAMESPACE = {
    "scheduler.alpha.kubernetes.io/node-selector": f"{LABEL}=true",
    "scheduler.alpha.kubernetes.io/defaultTolerations": json.dumps(
        [{"key": LABEL, "operator": "Exists", "effect": "NoSchedule"}]
    ),
}
# Held (flock) by the process that owns the real node of this machine.
MACHINE_LOCK = Path(MACHINE_DIR) / "lock"
NODE_DIR = Path(MACHINE_DIR) / "node"
SOCKET = NODE_DIR / "containerd.sock"
HOST_STATE = "host-state.json"
# The host as it was before the machine's real node started, kept beside (not in) its
# directory until a restore succeeds: a run that died before restoring leaves it behind,
# and the next node puts the host back from it before taking its own snapshot.
PRISTINE = Path(f"{MACHINE_DIR}.host-state.json")


@dataclass(frozen=True)
class Image:
    name: str
    archive: Path
    ref: str
    digest: str


def why_not(bin_dir: Path) -> str | None:
    """Why this host cannot run the real node, or None when it can. AISCHED_REAL_NODE=0
    turns it off."""
    if os.environ.get("AISCHED_REAL_NODE") == "0":
        return "turned off (AISCHED_REAL_NODE=0)"
    return _host_lacks() or _binaries_missing(bin_dir) or _packages_missing()


def _host_lacks() -> str | None:
    """What the kernel and the user lack: root, a cgroup memory controller, overlayfs."""
    if os.geteuid() != 0:
        return "needs root (containerd, runc, CNI, cgroups)"
    if not (CGROUP_ROOT / "memory").is_dir() and not (CGROUP_ROOT / "cgroup.controllers").exists():
        return f"no cgroup memory controller under {CGROUP_ROOT}"
    if "overlay" not in Path("/proc/filesystems").read_text():
        return "the kernel has no overlayfs"
    return None


def _binaries_missing(bin_dir: Path) -> str | None:
    for binary in ("kubelet", "pause"):
        if not (bin_dir / binary).is_file():
            return f"{binary} not found in {bin_dir}: run tools/build.sh"
    return None


def _packages_missing() -> str | None:
    """Installs the node's Debian packages (tools/realnode/install.sh); why not, if it fails."""
    install = subprocess.run(
        ["bash", str(REALNODE_TOOLS / "install.sh")], capture_output=True, text=True, check=False
    )
    if install.returncode != 0:
        return f"cannot install its packages: {install.stderr.strip()[-400:]}"
    return None


def node_ip() -> str:
    """The address of the interface of the default route: the apiserver reaches the kubelet
    there, and pods reach servers on the host there (loopback is per network namespace)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("198.51.100.1", 9))  # no packet is sent: this only picks a route
        address: str = s.getsockname()[0]
    if address.startswith("127."):
        raise RuntimeError("no non-loopback address for the real node")
    return address


def build_images(bin_dir: Path, python: str) -> list[Image]:
    out = subprocess.run(
        ["bash", str(REALNODE_TOOLS / "images.sh"), str(bin_dir)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHON": python},
    )
    if out.returncode != 0:
        raise RuntimeError(f"tools/realnode/images.sh failed:\n{out.stderr[-3000:]}")
    images = []
    for line in out.stdout.splitlines():
        name, archive, ref, digest = line.split()
        images.append(Image(name, Path(archive), ref, digest))
    return images


class RealNode:
    """The real node's configuration and commands; its files live under ``NODE_DIR``."""

    def __init__(self, bin_dir: Path, images: list[Image]) -> None:
        self.workdir = NODE_DIR
        self.bin_dir = bin_dir
        self.images = {i.name: i for i in images}
        self.socket = SOCKET
        self.ip = node_ip()

    def describe(self) -> dict[str, object]:
        """What tests and the demo need to know (saved in the cluster's state.json)."""
        return {
            "name": NAME,
            "ip": self.ip,
            "images": {i.name: {"ref": i.ref, "digest": i.digest} for i in self.images.values()},
        }

    # ------------------------------------------------------------ configuration
    def write_config(self, kubeconfig: Path, kubelet_port: int) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)  # a fresh node every time
        for sub in ("containerd", "cni/net.d", "cni/ipam", "kubelet", "podlogs"):
            (self.workdir / sub).mkdir(parents=True, exist_ok=True)
        self._containerd_config()
        self._cni_config()
        self._kubelet_config(kubelet_port)
        self.kubeconfig = kubeconfig

    def _containerd_config(self) -> None:
        w = self.workdir
        cri = 'plugins."io.containerd.grpc.v1.cri"'
        (w / "containerd" / "config.toml").write_text(
            f"""version = 2
root = "{w}/containerd/root"
state = "{w}/containerd/state"
# Snapshotters that need tools or kernel features this node does not use.
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.devmapper"]
[grpc]
  address = "{self.socket}"
[ttrpc]
  address = "{self.socket}.ttrpc"
[plugins."io.containerd.internal.v1.opt"]
  path = "{w}/containerd/opt"
[{cri}]
  sandbox_image = "{self.images["pause"].ref}"
  # runc cannot lower oom_score_adj where root lacks CAP_SYS_RESOURCE (this kind of VM).
  restrict_oom_score_adj = true
  enable_cdi = false
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  # Network namespaces under the state dir, not in the machine-wide /run/netns.
  netns_mounts_under_state_dir = true
  [{cri}.containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
  [{cri}.containerd.runtimes.runc]
    runtime_type = "io.containerd.runc.v2"
  [{cri}.containerd.runtimes.runc.options]
    BinaryName = "/usr/sbin/runc"
    SystemdCgroup = false
  [{cri}.cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{w}/cni/net.d"
"""
        )

    def _cni_config(self) -> None:
        # A bridge with the host as gateway and no masquerading: pods reach servers on the
        # host at the node's address and nothing else is needed (no kube-proxy, no DNS).
        conflist = {
            "cniVersion": "0.4.0",
            "name": "aischeduler",
            "plugins": [
                {
                    "type": "bridge",
                    "bridge": BRIDGE,
                    "isGateway": True,
                    "ipMasq": False,
                    "hairpinMode": True,
                    "ipam": {
                        "type": "host-local",
                        "ranges": [[{"subnet": POD_SUBNET}]],
                        "routes": [{"dst": "0.0.0.0/0"}],
                        "dataDir": str(self.workdir / "cni" / "ipam"),
                    },
                },
            ],
        }
        path = self.workdir / "cni" / "net.d" / "10-aischeduler.conflist"
        path.write_text(json.dumps(conflist, indent=2))

    def _kubelet_config(self, port: int) -> None:
        w = self.workdir
        config = {
            "apiVersion": "kubelet.config.k8s.io/v1beta1",
            "kind": "KubeletConfiguration",
            "failCgroupV1": False,  # this kind of machine mounts cgroup v1 controllers
            "cgroupDriver": "cgroupfs",
            "containerRuntimeEndpoint": f"unix://{self.socket}",
            "address": self.ip,
            "port": port,
            "readOnlyPort": 0,
            "healthzPort": 0,
            # The apiserver's calls (logs, exec) are let in unauthenticated: local only.
            "authentication": {"anonymous": {"enabled": True}, "webhook": {"enabled": False}},
            "authorization": {"mode": "AlwaysAllow"},
            "failSwapOn": False,
            "podLogsDir": str(w / "podlogs"),
            "volumePluginDir": str(w / "volume-plugins"),
            "resolvConf": "/etc/resolv.conf",
            "maxPods": 30,
            "evictionHard": {
                "memory.available": "100Mi",
                "nodefs.available": "2%",
                "imagefs.available": "2%",
            },
            "imageGCHighThresholdPercent": 99,
            "imageGCLowThresholdPercent": 98,
            "serializeImagePulls": False,
        }
        (w / "kubelet-config.json").write_text(json.dumps(config, indent=2))

    # ------------------------------------------------------------ processes
    def containerd_argv(self) -> list[str]:
        return ["containerd", f"--config={self.workdir / 'containerd' / 'config.toml'}"]

    def kubelet_argv(self) -> list[str]:
        w = self.workdir
        return [
            str(self.bin_dir / "kubelet"),
            f"--config={w / 'kubelet-config.json'}",
            f"--kubeconfig={self.kubeconfig}",
            f"--root-dir={w / 'kubelet'}",
            f"--cert-dir={w / 'kubelet-pki'}",
            f"--hostname-override={NAME}",
            f"--node-ip={self.ip}",
            f"--node-labels={LABEL}=true",
            f"--register-with-taints={LABEL}=true:NoSchedule",
            "--v=1",
        ]

    def ctr(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ctr", f"--address={self.socket}", "--namespace=k8s.io", *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=300,
        )

    def containerd_up(self) -> bool:
        return self.socket.exists() and self.ctr("version").returncode == 0

    def route_api_service(self, api_port: int) -> None:
        """Pods reach the apiserver (on the host's 127.0.0.1) through the `kubernetes`
        Service's address, as in-cluster clients do: a DNAT rule stands in for kube-proxy's
        for that one Service. Loopback is another network namespace's for a pod, so the
        bridge is made here, before any pod, to let it route to 127.0.0.1
        (route_localnet). Both go away with the bridge and the iptables restore."""
        if not Path(f"/sys/class/net/{BRIDGE}").exists():
            _run("ip", "link", "add", BRIDGE, "type", "bridge")
        Path(f"/proc/sys/net/ipv4/conf/{BRIDGE}/route_localnet").write_text("1")
        rule = ["PREROUTING", "-i", BRIDGE, "-d", f"{API_SERVICE_IP}/32", "-p", "tcp"]
        rule += ["--dport", "443", "-j", "DNAT", "--to-destination", f"127.0.0.1:{api_port}"]
        _run("iptables", "-t", "nat", "-A", *rule)

    def import_images(self) -> None:
        for image in self.images.values():
            # The archive names its image by tag only; ctr prefixes the repository.
            out = self.ctr(
                "images", "import", "--base-name", image.ref.rsplit(":", 1)[0], str(image.archive)
            )
            if out.returncode != 0:
                raise RuntimeError(f"ctr import of {image.ref} failed: {out.stderr}")


def _run(*argv: str) -> None:
    out = subprocess.run(argv, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {out.stderr.strip()}")


def pod_pids() -> set[int]:
    """Processes in the node's cgroups: its containers."""
    pids: set[int] = set()
    for procs in CGROUP_ROOT.glob(f"*/{CGROUP_NAME}/**/cgroup.procs"):
        with contextlib.suppress(OSError):
            pids.update(int(pid) for pid in procs.read_text().split())
    return pids


def kill_node_processes(socket_path: Path, grace: float = 10.0) -> None:
    """SIGKILLs what the node left running, and waits until it is gone: the containers
    (every process in its cgroups) and the containerd shims of this socket, which run in
    process groups of their own."""
    for pid in pod_pids():
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    needle = f"{socket_path}".encode()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            argv = (proc / "cmdline").read_bytes().split(b"\0")
            if argv and argv[0].endswith(b"containerd-shim-runc-v2") and needle in argv:
                os.kill(int(proc.name), signal.SIGKILL)
    # An empty cgroup can be removed; the kernel empties it once the killed have exited.
    deadline = time.monotonic() + grace
    while pod_pids() and time.monotonic() < deadline:
        time.sleep(0.1)


def save_host_state(state_dir: Path, host: HostState) -> None:
    """Keeps the snapshot taken before the node started in the cluster's state dir, and
    machine-wide for recover_crashed_node."""
    state_dir.mkdir(parents=True, exist_ok=True)
    host.save(state_dir / HOST_STATE)
    host.save(PRISTINE)


def recover_crashed_node() -> list[str]:
    """Restores the host from a node that died without restoring it (its snapshot is still
    there) — only when no node runs now (the machine lock is free)."""
    if not PRISTINE.exists():
        return []
    MACHINE_LOCK.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(MACHINE_LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return []  # a live node owns the host; its own stop restores it
    finally:
        os.close(fd)  # also drops the lock: the restore below removes its directory
    kill_node_processes(SOCKET)
    done = HostState.load(PRISTINE).restore([MACHINE_DIR])
    PRISTINE.unlink()
    return done


def restore_host(state_dir: Path) -> list[str]:
    """Stops what the node left and restores the host as ``save_host_state`` recorded it."""
    state_file = state_dir / HOST_STATE
    if not state_file.exists():
        return []
    kill_node_processes(SOCKET)
    done = HostState.load(state_file).restore([MACHINE_DIR])
    state_file.unlink()
    PRISTINE.unlink(missing_ok=True)
    return done


__all__ = ["LABEL", "NAME", "REAL_NAMESPACE", "HostState", "Image", "RealNode", "why_not"]
