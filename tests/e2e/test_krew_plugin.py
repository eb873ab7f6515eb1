"""The krew manifest (plugins/asched.yaml) checked and used by the real krew (pinned build):
the release archive made by tools/krew_plugin.py, served over HTTP as a GitHub release
serves it, passes krew's own manifest validator (which installs every platform), installs
with `kubectl krew install` from a plugin index, and the installed executable, which needs
neither Python nor our packages, works as `kubectl asched` against the control plane."""

from __future__ import annotations

import functools
import hashlib
import http.server
import os
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from schedules import Schedules, body

import krew_plugin
from conftest import Cluster

VERSION = "v0.1.0"


@dataclass(frozen=True)
class Release:
    archive: Path
    manifest: Path  # pointing at the local server
    download: str  # the local server's URL
    env: dict[str, str]  # a shell with the pinned kubectl and krew, and krew's bin dir

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            args, env=self.env, capture_output=True, text=True, timeout=300, check=False
        )


@pytest.fixture(scope="module")
def release(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Release]:
    assets = tmp_path_factory.mktemp("release")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(assets))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        download = f"http://127.0.0.1:{server.server_address[1]}"
        archive, manifest = krew_plugin.build(VERSION, assets, download)
        tools = tmp_path_factory.mktemp("bin")
        for name in ("kubectl", "kubectl-krew", "validate-krew-manifest"):
            (tools / name).symlink_to(cluster.tool(name))
        krew_root = tmp_path_factory.mktemp("krew")
        env = {
            "HOME": str(tmp_path_factory.mktemp("home")),
            "KREW_ROOT": str(krew_root),
            # No Python of ours on PATH; zoneinfo finds no system time zones either, so the
            # executable must bring its own.
            "PATH": f"{tools}:{krew_root / 'bin'}:/usr/bin:/bin",
            "PYTHONTZPATH": str(assets / "no-zoneinfo"),
            "KUBECONFIG": str(cluster.kubeconfig),
        }
        yield Release(archive, manifest, download, env)
    finally:
        server.shutdown()


def test_manifests_pass_krew_validation(release: Release) -> None:
    checked = release.run("validate-krew-manifest", "-manifest", str(release.manifest))
    assert checked.returncode == 0, checked.stderr
    assert "all 1 spec.platforms installed fine" in checked.stderr
    # The manifest a release publishes (GitHub URLs) is the same but for the URL.
    sha256 = hashlib.sha256(release.archive.read_bytes()).hexdigest()
    published = release.manifest.parent / "published" / "asched.yaml"
    published.parent.mkdir()
    published.write_text(krew_plugin.render(VERSION, f"{krew_plugin.RELEASES}/{VERSION}", sha256))
    structure = release.run("validate-krew-manifest", "-skip-install", "-manifest", str(published))
    assert structure.returncode == 0, structure.stderr
    assert published.read_text() == release.manifest.read_text().replace(
        release.download, f"{krew_plugin.RELEASES}/{VERSION}"
    )


def test_installed_plugin_works_as_kubectl_asched(
    release: Release, s: Schedules, tmp_path: Path
) -> None:
    """Published in a plugin index (a git repository, like krew-index or a custom one),
    installed from it, used, and uninstalled."""
    index = tmp_path / "index"
    (index / "plugins").mkdir(parents=True)
    (index / "plugins" / "asched.yaml").write_text(release.manifest.read_text())
    git = ("git", "-C", str(index), "-c", "user.name=ci", "-c", "user.email=ci@localhost")
    for step in (("init", "-q"), ("add", "."), ("commit", "-q", "-m", "asched")):
        assert release.run(*git, *step).returncode == 0
    added = release.run("kubectl", "krew", "index", "add", "aischeduler", str(index))
    assert added.returncode == 0, added.stderr
    installed = release.run("kubectl", "krew", "install", "aischeduler/asched")
    assert installed.returncode == 0, installed.stderr
    link = Path(release.env["KREW_ROOT"]) / "bin" / "kubectl-asched"
    assert link.is_symlink()

    plugins = release.run("kubectl", "plugin", "list")
    assert str(link) in plugins.stdout, plugins.stdout + plugins.stderr

    s.create(body("from-krew", schedule="0 9 * * 1-5", timeZone="Asia/Kolkata"))
    s.wait_ready("from-krew")
    listed = release.run("kubectl", "asched", "list", "-n", s.namespace)
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[1].split()[:2] == ["from-krew", "assistant/asst-e2e"]
    assert "09:00 IST" in listed.stdout

    shown = release.run("kubectl", "asched", "show", "from-krew", "-n", s.namespace)
    assert shown.returncode == 0, shown.stderr
    assert "Ready" in shown.stdout and "Asia/Kolkata" in shown.stdout

    examples = sorted(str(p) for p in (Path(krew_plugin.ROOT) / "examples").glob("*.yaml"))
    validated = release.run("kubectl", "asched", "validate", *examples)
    assert validated.returncode == 0, validated.stdout + validated.stderr

    removed = release.run("kubectl", "krew", "uninstall", "asched")
    assert removed.returncode == 0, removed.stderr
    assert not link.exists() and not os.path.lexists(link)
    assert release.run("kubectl", "asched", "list").returncode != 0
