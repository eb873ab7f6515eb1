"""Project layout rules."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_operator_folder_does_not_shadow_the_standard_library() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "import operator; print(operator.__file__, operator.add(1, 2))"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    path, three = out.stdout.split()
    assert three == "3"
    assert not Path(path).resolve().is_relative_to(ROOT)


def test_runner_package_installs_without_kopf() -> None:
    pyproject = (ROOT / "runner" / "pyproject.toml").read_text()
    assert "kopf" not in pyproject
    assert "aischeduler_operator" not in "".join(
        p.read_text() for p in (ROOT / "runner" / "src").rglob("*.py")
    )


def pins(path: Path) -> dict[str, str]:
    lines = [line.strip() for line in path.read_text().splitlines()]
    pairs = [line.split("==") for line in lines if line and not line.startswith("#")]
    return {name.lower().replace("_", "-"): version for name, version in pairs}


def test_operator_image_pins_the_runner_images_dependencies_alike() -> None:
    """The operator imports the runner contract: both images carry the same pydantic."""
    runner = pins(ROOT / "runner" / "constraints.txt")
    operator = pins(ROOT / "operator" / "constraints.txt")
    assert {name: operator.get(name) for name in runner} == runner
