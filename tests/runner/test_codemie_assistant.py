"""CodeMie assistant calls with a static token, against a fake CodeMie API."""

from __future__ import annotations

import json
import signal
import subprocess
import uuid
from datetime import UTC, datetime
from email.utils import format_datetime

import pytest

from .conftest import RunRunner
from .fakes import (
    MAYBE_STARTED,
    TOKEN,
    FakeServer,
    Reply,
    bearer_guard,
    codemie_agent_failure,
    codemie_answer,
)

MODEL_PATH = "/v1/assistants/asst-1/model"


def codemie_env(server: FakeServer, **extra: str | None) -> dict[str, str | None]:
    return {"AISCHED_PLATFORM_URL": server.url, "AISCHED_TOKEN": TOKEN, **extra}


@pytest.fixture
def codemie(server: FakeServer) -> FakeServer:
    server.guard = bearer_guard(lambda token: token == TOKEN)
    return server


def test_assistant_answer_is_the_result(codemie: FakeServer, run_runner: RunRunner) -> None:
    codemie.route("POST", MODEL_PATH, codemie_answer("All quiet. No incidents."))

    run = run_runner(codemie_env(codemie))

    assert run.exit_code == 0, run.describe()
    (request,) = codemie.requests_to("POST", MODEL_PATH)
    assert request.query == {"include_tool_errors": ["true"]}
    body = request.json()
    assert body["text"] == "Summarize yesterday's incidents"
    assert body["stream"] is False
    assert uuid.UUID(body["conversation_id"])
    result = run.result
    assert result.result == "Succeeded"
    assert result.output == "All quiet. No incidents."
    assert result.conversation_id == body["conversation_id"]
    assert result.tokens_used is None  # the backend does not fill tokensUsed
    assert result.attempts == 1
    assert result.execution_id is None
    assert "asst-1" in result.message
    assert run.events("run.answer")[0]["output"] == "All quiet. No incidents."
    assert all(line["schedule"] == "team-a/daily-report" for line in run.logs)


def test_failed_agent_is_a_failed_run(codemie: FakeServer, run_runner: RunRunner) -> None:
    generated = "AI Agent run failed with error: Traceback ... BudgetExceededError"
    codemie.route(
        "POST",
        MODEL_PATH,
        codemie_agent_failure(
            generated,
            {"error_code": "agent_budget_exceeded", "message": "Budget has been exceeded"},
            [{"tool_name": "jira_search", "error_code": "tool_authentication", "message": "401"}],
        ),
    )

    run = run_runner(codemie_env(codemie))

    assert run.exit_code == 1, run.describe()
    result = run.result
    assert result.result == "Failed"
    assert "agent_budget_exceeded: Budget has been exceeded" in result.message
    assert "jira_search: tool_authentication: 401" in result.message
    assert result.output == generated
    assert run.events("run.answer")[0]["output"] == generated
    assert result.conversation_id is not None


def test_tool_errors_of_an_answer_are_noted(codemie: FakeServer, run_runner: RunRunner) -> None:
    answer = codemie_answer("Jira was unreachable; here is what I know.")
    answer.body["toolErrors"] = [
        {"tool_name": "jira_search", "error_code": "tool_server_error", "message": "502"}
    ]
    codemie.route("POST", MODEL_PATH, answer)

    run = run_runner(codemie_env(codemie))

    assert run.exit_code == 0, run.describe()
    assert "tool errors: jira_search: tool_server_error: 502" in run.result.message


@pytest.mark.parametrize("failure", MAYBE_STARTED.values(), ids=MAYBE_STARTED.keys())
def test_call_that_may_have_started_is_not_sent_again(
    codemie: FakeServer, run_runner: RunRunner, failure: Reply
) -> None:
    codemie.route("POST", MODEL_PATH, [failure, codemie_answer("a second run")])

    run = run_runner(codemie_env(codemie))

    assert run.exit_code == 1, run.describe()
    assert len(codemie.requests_to("POST", MODEL_PATH)) == 1
    result = run.result
    assert result.attempts == 1
    assert f"may have started the run (conversation {result.conversation_id})" in result.message
    assert run.events("http.retry") == []


@pytest.mark.parametrize(
    "retry_after",
    ["0", format_datetime(datetime(2020, 1, 1, tzinfo=UTC), usegmt=True)],
    ids=["seconds", "http-date"],
)
def test_rate_limit_honours_retry_after(
    codemie: FakeServer, run_runner: RunRunner, retry_after: str
) -> None:
    codemie.route(
        "POST",
        MODEL_PATH,
        [Reply(429, {"detail": "slow down"}, {"Retry-After": retry_after}), codemie_answer("ok")],
    )

    run = run_runner(codemie_env(codemie))

    assert run.exit_code == 0, run.describe()
    assert run.result.attempts == 2
    (retry,) = run.events("http.retry")
    assert "Retry-After" in retry["message"]
    assert retry["delaySeconds"] == 0


def test_retry_after_past_the_deadline_fails_at_once(
    codemie: FakeServer, run_runner: RunRunner
) -> None:
    codemie.route("POST", MODEL_PATH, Reply(429, {"detail": "quota"}, {"Retry-After": "3600"}))

    run = run_runner(codemie_env(codemie, AISCHED_TIMEOUT_SECONDS="20"))

    assert run.exit_code == 1, run.describe()
    assert len(codemie.requests_to("POST", MODEL_PATH)) == 1
    message = run.result.message
    assert "HTTP 429" in message and "Retry-After" in message
    assert "deadline of 20 s" in message


def test_persistent_server_errors_fail_after_max_attempts(
    codemie: FakeServer, run_runner: RunRunner
) -> None:
    codemie.route("POST", MODEL_PATH, Reply(503, "service unavailable"))

    run = run_runner(codemie_env(codemie, AISCHED_MAX_ATTEMPTS="3"))

    assert run.exit_code == 1, run.describe()
    assert len(codemie.requests_to("POST", MODEL_PATH)) == 3  # 503: nothing was started
    assert run.result.attempts == 3
    assert "after 3 attempts" in run.result.message
    assert "HTTP 503" in run.result.message


@pytest.mark.parametrize("kind", ["assistant", "workflow"])
def test_connection_refused_is_retried_then_fails(
    run_runner: RunRunner, unused_url: str, kind: str
) -> None:
    run = run_runner(
        {
            "AISCHED_TARGET_KIND": kind,
            "AISCHED_PLATFORM_URL": unused_url,
            "AISCHED_TOKEN": TOKEN,
            "AISCHED_MAX_ATTEMPTS": "2",
        }
    )

    assert run.exit_code == 1, run.describe()
    assert run.result.attempts == 2  # nothing was sent: a start may be sent again
    assert "connection error" in run.result.message
    assert "may have started" not in run.result.message


@pytest.mark.parametrize("status", [401, 403])
def test_refused_credentials_are_a_configuration_error(
    codemie: FakeServer, run_runner: RunRunner, status: int
) -> None:
    codemie.guard = None
    codemie.route("POST", MODEL_PATH, Reply(status, {"detail": "not allowed"}))

    run = run_runner(codemie_env(codemie))

    assert run.exit_code == 2, run.describe()
    assert len(codemie.requests) == 1  # not retried
    assert f"HTTP {status}" in run.result.message
    assert "check the credentials in Secret 'codemie-credentials'" in run.result.message


def test_wrong_token_is_refused(codemie: FakeServer, run_runner: RunRunner) -> None:
    codemie.route("POST", MODEL_PATH, codemie_answer("never"))

    run = run_runner(codemie_env(codemie, AISCHED_TOKEN="not-the-token"))

    assert run.exit_code == 2, run.describe()
    assert "HTTP 401" in run.result.message


def test_unknown_assistant_is_a_configuration_error(
    codemie: FakeServer, run_runner: RunRunner
) -> None:
    run = run_runner(codemie_env(codemie, AISCHED_TARGET_ID="no-such-assistant"))

    assert run.exit_code == 2, run.describe()
    assert len(codemie.requests) == 1
    assert "HTTP 404" in run.result.message
    assert "no-such-assistant" in run.result.message


def test_answer_slower_than_the_deadline_fails(codemie: FakeServer, run_runner: RunRunner) -> None:
    codemie.route("POST", MODEL_PATH, Reply(block=True))

    run = run_runner(codemie_env(codemie, AISCHED_TIMEOUT_SECONDS="1"))

    assert run.exit_code == 1, run.describe()
    assert "deadline of 1 s (AISCHED_TIMEOUT_SECONDS)" in run.result.message
    assert "may have started the run" in run.result.message
    assert run.result.attempts == 1


def test_malformed_json_fails_with_a_clear_message(
    codemie: FakeServer, run_runner: RunRunner
) -> None:
    codemie.route("POST", MODEL_PATH, Reply(200, b'{"generated": "unterminated'))

    run = run_runner(codemie_env(codemie))

    assert run.exit_code == 1, run.describe()
    assert "not valid JSON" in run.result.message
    assert "unterminated" in run.result.message


def test_answer_without_generated_text_fails(codemie: FakeServer, run_runner: RunRunner) -> None:
    codemie.route("POST", MODEL_PATH, Reply(200, {"error": "model overloaded"}))

    run = run_runner(codemie_env(codemie))

    assert run.exit_code == 1, run.describe()
    assert "no 'generated' text" in run.result.message


def test_one_megabyte_answer_is_cut_in_the_result_and_logged_whole(
    codemie: FakeServer, run_runner: RunRunner
) -> None:
    answer = "".join(f"line {i}: {'x' * 90}\n" for i in range(10_000))
    assert len(answer) > 1_000_000
    codemie.route("POST", MODEL_PATH, codemie_answer(answer))

    run = run_runner(codemie_env(codemie))

    assert run.exit_code == 0, run.describe()
    assert len(run.result_bytes) <= 4096
    assert answer.startswith(run.result.output.removesuffix("…"))
    assert len(run.result.output) > 3000
    assert run.events("run.answer")[0]["output"] == answer


def test_multibyte_answer_gives_a_valid_result(codemie: FakeServer, run_runner: RunRunner) -> None:
    answer = '日本語のテキスト 😀🚀 中文 한국어 "quoted"\n' * 400
    codemie.route("POST", MODEL_PATH, codemie_answer(answer))

    run = run_runner(codemie_env(codemie))

    assert run.exit_code == 0, run.describe()
    assert len(run.result_bytes) <= 4096
    output = json.loads(run.result_bytes.decode("utf-8"))["output"]
    assert output.endswith("…")
    assert answer.startswith(output[:-1])
    assert run.events("run.answer")[0]["output"] == answer


def test_sigterm_still_writes_a_result(codemie: FakeServer, run_runner: RunRunner) -> None:
    codemie.route("POST", MODEL_PATH, Reply(block=True))

    def terminate_when_waiting(process: subprocess.Popen[bytes]) -> None:
        assert codemie.blocked.wait(30), "the runner never called the platform"
        process.send_signal(signal.SIGTERM)

    run = run_runner(codemie_env(codemie), popen=terminate_when_waiting)

    assert run.exit_code == 1, run.describe()
    assert "SIGTERM" in run.result.message
