"""The platform doubles, called by the real runner (its console script, as a process): each
platform answers as the backend does, and the scripted behaviours give the outcomes the
real tier relies on."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from platformdouble import API_KEY, SIGNING_SECRET, TOKEN, DoubleServer

RUNNER = str(Path(sys.executable).with_name("aischeduler-runner"))


@pytest.fixture(scope="module")
def double() -> Iterator[DoubleServer]:
    server = DoubleServer(("127.0.0.1", 0)).start()
    try:
        yield server
    finally:
        server.stop()


def run(
    tmp_path: Path, platform: str, url: str, target: str, kind: str = "assistant", **creds: str
) -> tuple[int, dict[str, Any], str]:
    result = tmp_path / "result.json"
    env = {
        "PATH": os.environ["PATH"],
        "AISCHED_TARGET_KIND": kind,
        "AISCHED_TARGET_ID": target,
        "AISCHED_INPUT": "Hello",
        "AISCHED_PLATFORM_TYPE": platform,
        "AISCHED_PLATFORM_URL": url,
        "AISCHED_TIMEOUT_SECONDS": "20",
        "AISCHED_SCHEDULE": "ns/name",
        "AISCHED_CREDENTIALS_SECRET": "creds",
        "AISCHED_RESULT_PATH": str(result),
        **creds,
    }
    proc = subprocess.run(
        [RUNNER], env=env, capture_output=True, text=True, timeout=60, check=False
    )
    return proc.returncode, json.loads(result.read_text()), proc.stdout


def test_codemie_assistant_answers_as_the_backend(tmp_path: Path, double: DoubleServer) -> None:
    code, result, logs = run(
        tmp_path, "codemie", f"{double.url}/codemie", "answer", AISCHED_TOKEN=TOKEN
    )
    assert code == 0, result
    assert result["output"] == "Answer from the platform double (answer) to: Hello"
    assert result["tokensUsed"] == 321
    assert TOKEN not in logs


def test_codemie_workflow_is_polled_and_read_from_its_states(
    tmp_path: Path, double: DoubleServer
) -> None:
    code, result, _ = run(
        tmp_path,
        "codemie",
        f"{double.url}/codemie",
        "wf-answer",
        kind="workflow",
        AISCHED_AUTH_SERVER_URL=f"{double.url}/keycloak",
        AISCHED_AUTH_REALM="codemie",
        AISCHED_CLIENT_ID="scheduler",
        AISCHED_CLIENT_SECRET="s3cret",
    )
    assert code == 0, result
    assert result["output"] == "Answer from the platform double (wf-answer) to: Hello"
    assert result["tokensUsed"] == 121
    polls = [c for c in double.state.calls if c.path.endswith(result["executionId"])]
    assert len(polls) == 3
    # The double records the token request without the client secret.
    assert "s3cret" not in repr(double.state.calls)


def test_openai_and_webhook(tmp_path: Path, double: DoubleServer) -> None:
    code, result, _ = run(
        tmp_path, "openai", f"{double.url}/openai", "gpt", AISCHED_API_KEY=API_KEY
    )
    assert (code, result["tokensUsed"]) == (0, 50)
    code, result, _ = run(
        tmp_path,
        "webhook",
        f"{double.url}/webhook/answer",
        "x",
        AISCHED_SIGNING_SECRET=SIGNING_SECRET,
    )
    assert code == 0, result
    code, result, _ = run(
        tmp_path, "webhook", f"{double.url}/webhook/answer", "x", AISCHED_SIGNING_SECRET="wrong"
    )
    assert code == 2, result  # the double refuses a bad signature with 401


@pytest.mark.parametrize(
    ("target", "exit_code", "words"),
    [
        ("status-401", 2, "401"),
        ("malformed", 1, "JSON"),
        ("flaky-1", 0, ""),
        ("ratelimited-1", 0, ""),
    ],
)
def test_scripted_behaviours(
    tmp_path: Path, double: DoubleServer, target: str, exit_code: int, words: str
) -> None:
    code, result, _ = run(tmp_path, "codemie", f"{double.url}/codemie", target, AISCHED_TOKEN=TOKEN)
    assert code == exit_code, result
    assert words in result["message"]
