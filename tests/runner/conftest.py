"""Fixtures: fake platform servers and the runner as a real process.

Every run is checked for the invariants that hold in all scenarios (a single valid
result of at most 4096 bytes, JSON-lines stdout, empty stderr, exit code matching the
result, no secret anywhere) and recorded for the session-wide leak test.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import pytest

from aischeduler_runner.contract import RESULT_LIMIT_BYTES, RunResult, decode_result

from .fakes import ISSUED_TOKENS, STATIC_SECRETS, FakeServer

RUNNER = Path(sys.executable).with_name("aischeduler-runner")
LEAK_TEST = "test_no_secret_in_any_output"


@dataclass
class RunnerRun:
    env: dict[str, str]
    exit_code: int
    stdout: bytes
    stderr: bytes
    result_bytes: bytes

    @property
    def result(self) -> RunResult:
        return decode_result(self.result_bytes)

    @property
    def logs(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.stdout.decode("utf-8").splitlines()]

    def events(self, event: str) -> list[dict[str, Any]]:
        return [line for line in self.logs if line["event"] == event]

    def describe(self) -> str:
        return (
            f"exit {self.exit_code}\nresult: {self.result_bytes!r}\n"
            f"stdout: {self.stdout.decode(errors='replace')[-3000:]}\n"
            f"stderr: {self.stderr.decode(errors='replace')[-3000:]}"
        )


# Every run of this session, for the leak test.
RUNS: list[RunnerRun] = []


def secret_spellings(secret: str) -> set[str]:
    """How a secret could appear in a text: as is, JSON-escaped (once or twice), URL-encoded."""
    return {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(json.dumps(secret)[1:-1])[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        quote_plus(secret),
        quote(secret, safe=""),
    }


def leaks(run: RunnerRun) -> list[str]:
    """Secret values found in the run's stdout, stderr or result file.

    Looks at the raw bytes and at the strings inside the JSON (stdout lines, result), so
    a secret is found however many layers of escaping it went through.
    """
    secrets = [*STATIC_SECRETS, *ISSUED_TOKENS]
    texts = {
        "stdout": _with_json_strings(run.stdout),
        "stderr": run.stderr.decode("utf-8", errors="replace"),
        "result": _with_json_strings(run.result_bytes),
    }
    return [
        f"{secret!r} in {name}"
        for name, text in texts.items()
        for secret in secrets
        if any(spelling in text for spelling in secret_spellings(secret))
    ]


def _with_json_strings(data: bytes) -> str:
    text = data.decode("utf-8", errors="replace")
    strings = []
    for line in text.splitlines():
        try:
            strings += _strings(json.loads(line))
        except ValueError:
            continue
    return "\n".join([text, *strings])


def _strings(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in (*_strings(k), *_strings(v))]
    if isinstance(value, list):
        return [s for v in value for s in _strings(v)]
    return []


def check_invariants(run: RunnerRun) -> None:
    assert run.result_bytes, f"no result file written\n{run.describe()}"
    assert len(run.result_bytes) <= RESULT_LIMIT_BYTES, run.describe()
    parsed = json.loads(run.result_bytes.decode("utf-8"))
    assert isinstance(parsed, dict)
    assert list(parsed) == [
        "result",
        "message",
        "output",
        "executionId",
        "conversationId",
        "tokensUsed",
        "durationSeconds",
        "attempts",
    ]
    result = run.result
    assert run.exit_code in (0, 1, 2), run.describe()
    assert (run.exit_code == 0) == (result.result == "Succeeded"), run.describe()
    assert run.stderr == b"", run.describe()
    assert all(isinstance(line, dict) for line in run.logs)
    assert run.logs[-1]["event"] == "run.finished", run.describe()
    assert run.logs[-1]["exitCode"] == run.exit_code
    assert not leaks(run), f"{leaks(run)}\n{run.describe()}"


def base_env(tmp_path: Path) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "AISCHED_TARGET_KIND": "assistant",
        "AISCHED_TARGET_ID": "asst-1",
        "AISCHED_INPUT": "Summarize yesterday's incidents",
        "AISCHED_PLATFORM_TYPE": "codemie",
        "AISCHED_TIMEOUT_SECONDS": "20",
        "AISCHED_SCHEDULE": "team-a/daily-report",
        "AISCHED_CREDENTIALS_SECRET": "codemie-credentials",
        "AISCHED_RESULT_PATH": str(tmp_path / "termination-log"),
        # Fast retries and polls: tests must not wait on real backoff.
        "AISCHED_BACKOFF_BASE_SECONDS": "0.01",
        "AISCHED_BACKOFF_MAX_SECONDS": "0.05",
    }


RunRunner = Callable[..., RunnerRun]


@pytest.fixture
def run_runner(tmp_path: Path) -> RunRunner:
    """Run `aischeduler-runner` with the base env updated by `env` (None unsets a key)."""

    def run(
        env: dict[str, str | None],
        *,
        popen: Callable[[subprocess.Popen[bytes]], None] | None = None,
    ) -> RunnerRun:
        full = base_env(tmp_path)
        for key, value in env.items():
            if value is None:
                full.pop(key, None)
            else:
                full[key] = value
        result_file = Path(full.get("AISCHED_RESULT_PATH", tmp_path / "termination-log"))
        result_file.unlink(missing_ok=True)
        with subprocess.Popen(
            [str(RUNNER)], env=full, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        ) as process:
            if popen is not None:
                popen(process)
            stdout, stderr = process.communicate(timeout=60)
        run = RunnerRun(
            env=full,
            exit_code=process.returncode,
            stdout=stdout,
            stderr=stderr,
            result_bytes=result_file.read_bytes() if result_file.exists() else b"",
        )
        RUNS.append(run)
        check_invariants(run)
        return run

    return run


@pytest.fixture
def make_server() -> Iterator[Callable[[], FakeServer]]:
    servers: list[FakeServer] = []

    def make() -> FakeServer:
        server = FakeServer().start()
        servers.append(server)
        return server

    yield make
    for server in servers:
        server.stop()


@pytest.fixture
def server(make_server: Callable[[], FakeServer]) -> FakeServer:
    return make_server()


@pytest.fixture
def unused_url() -> str:
    """A local URL nothing listens on (connection refused)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The leak test looks at every run of the session, so it goes last."""
    last = [item for item in items if item.name == LEAK_TEST]
    items[:] = [item for item in items if item.name != LEAK_TEST] + last
