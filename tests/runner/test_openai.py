"""OpenAI-compatible chat completions."""

from __future__ import annotations

import pytest

from .conftest import RunRunner
from .fakes import API_KEY, FakeServer, Reply, bearer_guard, openai_answer

COMPLETIONS_PATH = "/v1/chat/completions"


@pytest.fixture
def openai(server: FakeServer) -> FakeServer:
    server.guard = bearer_guard(lambda token: token == API_KEY)
    return server


def openai_env(server: FakeServer, **extra: str | None) -> dict[str, str | None]:
    return {
        "AISCHED_PLATFORM_TYPE": "openai",
        "AISCHED_PLATFORM_URL": server.url,
        "AISCHED_TARGET_ID": "gpt-4o-mini",
        "AISCHED_CREDENTIALS_SECRET": "openai-credentials",
        "AISCHED_API_KEY": API_KEY,
        **extra,
    }


def test_chat_completion_answer_is_the_result(openai: FakeServer, run_runner: RunRunner) -> None:
    openai.route("POST", COMPLETIONS_PATH, openai_answer("Three incidents, all resolved."))

    run = run_runner(openai_env(openai))

    assert run.exit_code == 0, run.describe()
    (request,) = openai.requests_to("POST", COMPLETIONS_PATH)
    assert request.json() == {
        "model": "gpt-4o-mini",
        "messages": [{"role": "user", "content": "Summarize yesterday's incidents"}],
    }
    result = run.result
    assert result.output == "Three incidents, all resolved."
    assert result.tokens_used == 57
    assert result.execution_id == "chatcmpl-123"


def test_rate_limit_then_success(openai: FakeServer, run_runner: RunRunner) -> None:
    openai.route(
        "POST",
        COMPLETIONS_PATH,
        [
            Reply(429, {"error": {"message": "rate limited"}}, {"Retry-After": "0"}),
            openai_answer("ok"),
        ],
    )

    run = run_runner(openai_env(openai))

    assert run.exit_code == 0, run.describe()
    assert run.result.attempts == 2


def test_workflow_on_openai_is_a_configuration_error(
    openai: FakeServer, run_runner: RunRunner
) -> None:
    run = run_runner(openai_env(openai, AISCHED_TARGET_KIND="workflow"))

    assert run.exit_code == 2, run.describe()
    assert "workflow" in run.result.message and "openai" in run.result.message
    assert openai.requests == []


def test_missing_api_key_names_the_secret_and_key(
    openai: FakeServer, run_runner: RunRunner
) -> None:
    run = run_runner(openai_env(openai, AISCHED_API_KEY=None))

    assert run.exit_code == 2, run.describe()
    message = run.result.message
    assert "'openai-credentials'" in message
    assert "'api-key'" in message and "AISCHED_API_KEY" in message
    assert openai.requests == []


def test_answer_without_choices_fails(openai: FakeServer, run_runner: RunRunner) -> None:
    openai.route("POST", COMPLETIONS_PATH, Reply(200, {"id": "x", "choices": []}))

    run = run_runner(openai_env(openai))

    assert run.exit_code == 1, run.describe()
    assert "choices[0].message.content" in run.result.message
