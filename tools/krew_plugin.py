"""Builds the `kubectl asched` plugin for krew: ``python tools/krew_plugin.py --version
v0.1.0 --out dist/krew`` (``make krew``) writes ``kubectl-asched_<version>_linux_amd64.tar.gz``
and ``asched.yaml``, the krew manifest (plugins/asched.yaml) filled in with the version and
the archive's sha256, into ``--out``.

The plugin is one self-contained executable made by PyInstaller from the operator package's
console script, so people need neither Python nor our packages to use it. PyInstaller builds
for the machine it runs on: this builds the linux/amd64 archive; other platforms are built
the same way on a machine of that platform. The executable is cached outside the checkout,
keyed by everything it is built from, because a build takes minutes."""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
from importlib.metadata import version as installed_version
from pathlib import Path
from string import Template

ROOT = Path(__file__).resolve().parents[1]
RELEASES = "https://github.com/aischeduler/assistant-scheduler/releases/download"
MANIFEST = ROOT / "plugins" / "asched.yaml"
BINARY = "kubectl-asched"
# What the executable is built from, besides the Python and PyInstaller versions.
SOURCES = ("operator/src", "operator/pyproject.toml", "runner/src", "runner/pyproject.toml")
ENTRY = "from aischeduler_operator.cli.app import entry_point\n\nentry_point()\n"
PYINSTALLER_ARGS = (
    "--onefile",
    "--noconfirm",
    "--log-level=WARN",
    # Data and modules PyInstaller cannot see from the imports: the IANA time zones (for
    # machines without /usr/share/zoneinfo) and the kubernetes client's API and model
    # classes, which it imports by name on first use.
    "--collect-data=tzdata",
    "--collect-submodules=kubernetes.client",
)


def cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "aischeduler" / "krew"


def source_key() -> str:
    """A digest of what the executable is built from."""
    digest = hashlib.sha256()
    digest.update(f"{sys.version} {installed_version('pyinstaller')} {PYINSTALLER_ARGS}".encode())
    for name in SOURCES:
        path = ROOT / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            if "__pycache__" in file.parts or file.suffix == ".pyc" or ".egg-info" in str(file):
                continue
            digest.update(str(file.relative_to(ROOT)).encode())
            digest.update(file.read_bytes())
    return digest.hexdigest()[:16]


def executable() -> Path:
    """The plugin executable for this machine's platform, built unless already cached."""
    target = cache_root() / source_key() / BINARY
    if target.exists():
        return target
    with tempfile.TemporaryDirectory() as work:
        entry = Path(work) / "entry.py"
        entry.write_text(ENTRY)
        print(f">> building {BINARY} with PyInstaller (takes minutes)", file=sys.stderr)
        subprocess.run(
            [sys.executable, "-m", "PyInstaller", *PYINSTALLER_ARGS, f"--name={BINARY}",
             f"--distpath={work}/dist", f"--workpath={work}/build", f"--specpath={work}",
             str(entry)],
            check=True,
        )  # fmt: skip
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(f"{work}/dist/{BINARY}", f"{target}.tmp")
        Path(f"{target}.tmp").rename(target)
    return target


def archive(binary: Path, version: str, out: Path) -> Path:
    """The release archive: the executable and the licence, with fixed owners and times so
    the same executable always gives the same bytes."""
    path = out / f"{BINARY}_{version}_{platform_name()}.tar.gz"
    data = io.BytesIO()
    with tarfile.open(fileobj=data, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for source, name, mode in ((binary, BINARY, 0o755), (ROOT / "LICENSE", "LICENSE", 0o644)):
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = source.stat().st_size, mode, 0
            with source.open("rb") as f:
                tar.addfile(info, f)
    with path.open("wb") as raw, gzip.GzipFile(fileobj=raw, mode="wb", mtime=0) as gz:
        gz.write(data.getvalue())
    return path


def platform_name() -> str:
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    return f"{sys.platform}_{arch}"


def render(version: str, download: str, sha256_linux_amd64: str) -> str:
    """plugins/asched.yaml for a release whose assets are at ``download``, without its
    leading comment about releases."""
    text = MANIFEST.read_text()
    return Template(text[text.index("apiVersion:") :]).substitute(
        version=version, download=download, sha256_linux_amd64=sha256_linux_amd64
    )


def build(version: str, out: Path, download: str | None = None) -> tuple[Path, Path]:
    """The archive and the manifest of a release, in ``out``; the manifest points at
    ``download`` (default: the project's GitHub release of ``version``)."""
    if platform_name() != "linux_amd64":
        raise SystemExit(f"the manifest lists linux_amd64; this machine is {platform_name()}")
    out.mkdir(parents=True, exist_ok=True)
    tar = archive(executable(), version, out)
    manifest = out / "asched.yaml"
    sha256 = hashlib.sha256(tar.read_bytes()).hexdigest()
    manifest.write_text(render(version, download or f"{RELEASES}/{version}", sha256))
    return tar, manifest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--version", required=True, help="release tag, e.g. v0.1.0")
    parser.add_argument("--out", type=Path, default=ROOT / "dist" / "krew")
    parser.add_argument("--download", help="where the release assets are (default: GitHub)")
    args = parser.parse_args()
    for path in build(args.version, args.out, args.download):
        print(path)


if __name__ == "__main__":
    main()
