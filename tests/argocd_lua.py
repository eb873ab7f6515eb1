"""Argo CD's own Lua runtime for resource customizations, as tests call it: the pinned
`argocd-lua` (tools/argocd, Argo CD v3.2.12's util/lua behind the same settings parsing as
`argocd admin settings resource-overrides`) run on an argocd-cm ConfigMap and an object."""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
ARGOCD_CM = ROOT / "gitops" / "argocd" / "argocd-cm.yaml"
# What Argo CD's CLI exits with on an error (util/errors.ErrorGeneric).
ERROR_EXIT = 20


class ArgoCDError(AssertionError):
    def __init__(self, returncode: int, stderr: str) -> None:
        super().__init__(f"argocd-lua exited {returncode}: {stderr.strip()}")
        self.returncode = returncode
        self.stderr = stderr


@dataclass(frozen=True)
class Health:
    status: str
    message: str


@dataclass(frozen=True)
class ArgoCD:
    binary: Path
    argocd_cm: Path = ARGOCD_CM

    def _run(self, command: str, obj: dict[str, Any], *args: str) -> Any:
        with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
            json.dump(obj, f)
            f.flush()
            proc = subprocess.run(
                [str(self.binary), "--argocd-cm", str(self.argocd_cm), command, f.name, *args],
                capture_output=True,
                text=True,
                check=False,
                timeout=60,
            )
        if proc.returncode != 0:
            raise ArgoCDError(proc.returncode, proc.stderr)
        return json.loads(proc.stdout)

    def health(self, obj: dict[str, Any]) -> Health:
        out = self._run("health", obj)
        assert out["configured"], f"no health script for the object in {self.argocd_cm}"
        return Health(out["status"], out["message"])

    def actions(self, obj: dict[str, Any]) -> dict[str, bool]:
        """Action name → disabled."""
        return {a["name"]: a.get("disabled", False) for a in self._run("list-actions", obj)}

    def run_action(self, obj: dict[str, Any], action: str) -> dict[str, Any]:
        """The object the action returns for Argo CD to patch (the action's only result)."""
        (result,) = self._run("run-action", obj, action)
        assert result["operation"] == "patch", result
        changed: dict[str, Any] = result["object"]
        return changed

    def with_cm(self, argocd_cm: Path) -> ArgoCD:
        return ArgoCD(self.binary, argocd_cm)
