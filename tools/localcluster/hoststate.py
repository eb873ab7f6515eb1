"""What a real node changes on the host, recorded before it starts and put back after it
stops: sysctls, iptables rules, mounts, network links, cgroups and a few fixed paths.

A kubelet, containerd and the CNI plugins change machine-wide state that outlives their
processes (the note in shared/notes/real-node.md lists it). ``HostState.capture()`` takes
a snapshot that is saved as JSON next to the cluster's state, so ``make cluster-down``,
another process, can restore it; ``differences()`` is what the restore test checks."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path

# Set by the kubelet (its kernel tunables) and the bridge plugin (forwarding).
SYSCTLS = (
    "kernel.panic",
    "kernel.panic_on_oops",
    "kernel.keys.root_maxkeys",
    "kernel.keys.root_maxbytes",
    "vm.overcommit_memory",
    "vm.panic_on_oom",
    "net.ipv4.ip_forward",
    "net.ipv6.conf.all.forwarding",
    "net.ipv4.conf.all.forwarding",
    "net.ipv4.conf.default.forwarding",
)
# The real node's own fixed directory: its lock, containerd's and the kubelet's state and
# sockets (a socket path must stay under 108 bytes, which a pytest tmp path can exceed).
MACHINE_DIR = "/var/lib/aischeduler-real-node"
# Paths the kubelet, containerd and the CNI plugins use whatever their configured roots.
FIXED_PATHS = (
    MACHINE_DIR,
    "/var/lib/kubelet",
    "/var/log/containers",
    "/var/log/pods",
    "/var/lib/cni",
    "/run/netns",
    "/run/containerd",
    "/opt/containerd",
    "/var/lib/containerd",
    "/etc/cni",
    "/opt/cni",
    "/etc/kubernetes",
)
# Directories watched for new entries, so that a path the node creates and this module
# does not know about shows up in differences() rather than staying behind unnoticed.
WATCHED_DIRS = ("/run", "/var/lib", "/var/log", "/opt")
CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_NAME = "kubepods"


def sysctl_path(name: str) -> Path:
    return Path("/proc/sys") / name.replace(".", "/")


def read_sysctls() -> dict[str, str]:
    values = {}
    for name in SYSCTLS:
        with contextlib.suppress(OSError):
            values[name] = sysctl_path(name).read_text().strip()
    return values


def iptables_save(binary: str) -> str:
    """The rules without counters, comments, or tables holding nothing but empty built-in
    chains (nftables keeps a table once created, even after it is flushed)."""
    if shutil.which(binary) is None:
        return ""
    out = subprocess.run([binary], capture_output=True, text=True, check=False).stdout
    tables: list[list[str]] = []
    for line in out.splitlines():
        if line.startswith("#"):
            continue
        if line.startswith("*"):
            tables.append([line])
        elif tables:
            # ":CHAIN POLICY [packets:bytes]" -> ":CHAIN POLICY"
            tables[-1].append(line.split(" [")[0] if line.startswith(":") else line)
    kept = []
    for table in tables:
        chains = [line for line in table if line.startswith(":")]
        rules = [line for line in table if line.startswith("-")]
        if rules or any(not c.endswith(" ACCEPT") for c in chains):
            kept.extend(table)
    return "\n".join(kept)


def mounts() -> list[str]:
    """Mount points, in the order they were mounted."""
    return [line.split()[1] for line in Path("/proc/mounts").read_text().splitlines()]


def links() -> list[str]:
    return sorted(p.name for p in Path("/sys/class/net").iterdir())


def cgroup_dirs() -> list[str]:
    return sorted(str(p) for p in CGROUP_ROOT.glob(f"*/{CGROUP_NAME}"))


@dataclass
class HostState:
    sysctls: dict[str, str]
    iptables: str
    ip6tables: str
    mounts: list[str]
    links: list[str]
    cgroups: list[str]
    paths: list[str]
    entries: list[str]

    @classmethod
    def capture(cls) -> HostState:
        return cls(
            sysctls=read_sysctls(),
            iptables=iptables_save("iptables-save"),
            ip6tables=iptables_save("ip6tables-save"),
            mounts=mounts(),
            links=links(),
            cgroups=cgroup_dirs(),
            paths=[p for p in FIXED_PATHS if os.path.lexists(p)],
            entries=sorted(str(p) for d in WATCHED_DIRS for p in Path(d).iterdir()),
        )

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(asdict(self), indent=2))

    @classmethod
    def load(cls, path: Path) -> HostState:
        return cls(**json.loads(path.read_text()))

    def differences(self, other: HostState) -> dict[str, tuple[object, object]]:
        """Fields that differ, as (self, other); empty when the host is as it was."""
        mine, theirs = asdict(self), asdict(other)
        return {k: (mine[k], theirs[k]) for k in mine if mine[k] != theirs[k]}

    # ------------------------------------------------------------------ restore
    def restore(self, own_prefixes: list[str]) -> list[str]:
        """Undoes what appeared since this snapshot; returns what it did. Only mounts under
        ``own_prefixes`` (and the fixed paths) are touched: other users of the machine keep
        theirs. Call it once the node's processes are gone."""
        done: list[str] = []
        done += self._unmount(own_prefixes)
        done += self._remove_links()
        done += self._restore_iptables("iptables", self.iptables)
        done += self._restore_iptables("ip6tables", self.ip6tables)
        done += self._restore_sysctls()
        done += self._remove_cgroups()
        for path in FIXED_PATHS:
            if path not in self.paths and os.path.lexists(path):
                shutil.rmtree(path, ignore_errors=True)
                done.append(f"removed {path}")
        return done

    def _unmount(self, own_prefixes: list[str]) -> list[str]:
        prefixes = [p.rstrip("/") + "/" for p in [*own_prefixes, *FIXED_PATHS]]
        done = []
        # Several passes: a mount point may be stacked, and inner ones go first.
        for _ in range(5):
            before = set(self.mounts)
            new = [
                m
                for m in mounts()
                if m not in before and any((m + "/").startswith(p) for p in prefixes)
            ]
            if not new:
                break
            for mount in reversed(new):
                if (
                    subprocess.run(
                        ["umount", "-l", mount], capture_output=True, check=False
                    ).returncode
                    == 0
                ):
                    done.append(f"unmounted {mount}")
        return done

    def _remove_links(self) -> list[str]:
        done = []
        for link in links():
            if link not in self.links:
                subprocess.run(["ip", "link", "delete", link], capture_output=True, check=False)
                done.append(f"deleted link {link}")
        return done

    def _restore_iptables(self, family: str, saved: str) -> list[str]:
        if iptables_save(f"{family}-save") == saved:
            return []
        # Tables that hold something now but did not before are flushed; the others get
        # their saved rules back (iptables-restore replaces each table it is given).
        current = subprocess.run(
            [f"{family}-save"], capture_output=True, text=True, check=False
        ).stdout
        saved_tables = {t.splitlines()[0] for t in saved.split("COMMIT") if t.strip()}
        script = saved + ("\n" if saved else "")
        for line in current.splitlines():
            if line.startswith("*") and line not in saved_tables:
                script += f"{line}\nCOMMIT\n"
        subprocess.run([f"{family}-restore"], input=script, text=True, check=True)
        return [f"restored {family} rules"]

    def _restore_sysctls(self) -> list[str]:
        done = []
        for name, value in self.sysctls.items():
            path = sysctl_path(name)
            with contextlib.suppress(OSError):
                if path.read_text().strip() != value:
                    path.write_text(value)
                    done.append(f"sysctl {name}={value}")
        return done

    def _remove_cgroups(self) -> list[str]:
        done = []
        for top in cgroup_dirs():
            if top in self.cgroups:
                continue
            # Leaves first: a cgroup directory is removed with rmdir once it is empty.
            for dirpath, _, _ in sorted(os.walk(top), key=lambda w: -w[0].count("/")):
                with contextlib.suppress(OSError):
                    os.rmdir(dirpath)
            done.append(f"removed cgroup {top}")
        return done
