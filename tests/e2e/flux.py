"""Flux's source-controller and kustomize-controller (v1.9.6, pinned builds from tools/) run
as local processes against a cluster: their CRDs from the Go modules' config/crd/bases,
the controllers with KUBECONFIG and RUNTIME_NAMESPACE in the environment (they have no
--kubeconfig flag) and source-controller serving its artifacts on 127.0.0.1."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from localcluster.cluster import free_port, pid_alive, stop_pids, tail

ROOT = Path(__file__).resolve().parents[2]
NAMESPACE = "flux-system"
# binary → (module dir under tools/, Go module holding its CRDs)
CONTROLLERS = {
    "source-controller": ("flux-source", "github.com/fluxcd/source-controller"),
    "kustomize-controller": ("flux-kustomize", "github.com/fluxcd/kustomize-controller"),
}


def crd_files() -> list[Path]:
    """The controllers' CRDs, from the pinned modules (in the Go module cache)."""
    files = []
    for module_dir, module in CONTROLLERS.values():
        proc = subprocess.run(
            ["go", "list", "-m", "-f", "{{.Dir}}", module],
            cwd=ROOT / "tools" / module_dir,
            env={**os.environ, "GOFLAGS": "-mod=mod", "GOTOOLCHAIN": "local"},
            capture_output=True,
            text=True,
            check=False,
        )
        assert proc.returncode == 0, f"go list -m {module} failed: {proc.stderr}"
        files += sorted(Path(proc.stdout.strip(), "config", "crd", "bases").glob("*.yaml"))
    return files


@dataclass
class FluxControllers:
    bin_dir: Path
    kubeconfig: Path
    workdir: Path
    pids: dict[str, int] = field(default_factory=dict)

    def log(self, name: str) -> Path:
        return self.workdir / f"{name}.log"

    def start(self) -> None:
        (self.workdir / "artifacts").mkdir(parents=True, exist_ok=True)
        storage = free_port()
        extra = {
            "source-controller": [
                f"--storage-path={self.workdir / 'artifacts'}",
                f"--storage-addr=127.0.0.1:{storage}",
                # kustomize-controller downloads the artifacts from this address.
                f"--storage-adv-addr=127.0.0.1:{storage}",
            ],
            # Re-check a Kustomization waiting on dependsOn every 2s, not every 30s.
            "kustomize-controller": ["--requeue-dependency=2s"],
        }
        env = {**os.environ, "KUBECONFIG": str(self.kubeconfig), "RUNTIME_NAMESPACE": NAMESPACE}
        for name in CONTROLLERS:
            argv = [
                str(self.bin_dir / name),
                "--watch-all-namespaces",
                f"--metrics-addr=127.0.0.1:{free_port()}",
                f"--health-addr=127.0.0.1:{free_port()}",
                *extra[name],
            ]
            with self.log(name).open("ab") as out:
                process = subprocess.Popen(
                    argv,
                    env=env,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    start_new_session=True,
                )
            self.pids[name] = process.pid

    def alive(self) -> bool:
        """True, or fails at once (a wait must not poll a controller that has exited)."""
        for name, pid in self.pids.items():
            assert pid_alive(pid), f"{name} exited; last lines:\n{tail(self.log(name))}"
        return True

    def logs(self, lines: int = 15) -> str:
        return "\n".join(f"--- {n}:\n{tail(self.log(n), lines)}" for n in self.pids)

    def stop(self) -> None:
        stop_pids(list(self.pids.values()))
        self.pids.clear()
