"""The runner's part of the schedule policies: the input rendered for the run's scheduled
time (given by the operator, or read from the CronJob controller's Job name), the token
limit passed to OpenAI, and the start jitter bounded by the deadline."""

from __future__ import annotations

import json
import signal
import subprocess

import pytest

from .conftest import RunRunner
from .fakes import API_KEY, TOKEN, FakeServer, Reply, bearer_guard, codemie_answer, openai_answer
from .test_openai import COMPLETIONS_PATH, openai_env

MODEL_PATH = "/v1/assistants/asst-1/model"
DATED = (
    'day {{ .Date "-1d" }} week {{ .Week }} at {{ .ScheduledTime }} '
    "({{ .Trigger }}, {{ .Schedule }})"
)


@pytest.fixture
def openai(server: FakeServer) -> FakeServer:
    server.guard = bearer_guard(lambda token: token == API_KEY)
    server.route("POST", COMPLETIONS_PATH, openai_answer("ok"))
    return server


def test_max_tokens_goes_to_openai(openai: FakeServer, run_runner: RunRunner) -> None:
    run = run_runner(openai_env(openai, AISCHED_MAX_TOKENS="500"))
    assert run.exit_code == 0, run.describe()
    (request,) = openai.requests_to("POST", COMPLETIONS_PATH)
    assert request.json()["max_tokens"] == 500


def test_without_a_limit_no_max_tokens_is_sent(openai: FakeServer, run_runner: RunRunner) -> None:
    run = run_runner(openai_env(openai))
    assert run.exit_code == 0, run.describe()
    (request,) = openai.requests_to("POST", COMPLETIONS_PATH)
    assert "max_tokens" not in request.json()


def test_a_platform_without_a_limit_says_so(server: FakeServer, run_runner: RunRunner) -> None:
    server.guard = bearer_guard(lambda token: token == TOKEN)
    server.route("POST", MODEL_PATH, codemie_answer("ok"))
    run = run_runner(
        {"AISCHED_PLATFORM_URL": server.url, "AISCHED_TOKEN": TOKEN, "AISCHED_MAX_TOKENS": "500"}
    )
    assert run.exit_code == 0, run.describe()
    (note,) = run.events("run.token_limit_not_applied")
    assert note["maxTokens"] == 500 and "codemie" in note["message"]


@pytest.mark.parametrize(
    ("env", "prompt", "source"),
    [
        pytest.param(
            # 2025-12-31 10:30 UTC is already New Year's Day on Kiritimati (UTC+14)
            {
                "AISCHED_SCHEDULED_TIME": "2025-12-31T10:30:00Z",
                "AISCHED_TIME_ZONE": "Pacific/Kiritimati",
                "AISCHED_TRIGGER": "Manual",
            },
            "day 2025-12-31 week 2026-W01 at 2026-01-01T00:30:00+14:00 "
            "(Manual, team-a/daily-report)",
            "given",
            id="given",
        ),
        pytest.param(
            # Unix minute 29579460 is 2026-03-29T07:00:00Z: 09:00 in Berlin, DST's first day.
            {
                "AISCHED_RUN_ID": "daily-report-29579460",
                "AISCHED_CRONJOB": "daily-report",
                "AISCHED_TIME_ZONE": "Europe/Berlin",
                "AISCHED_TRIGGER": "Scheduled",
            },
            "day 2026-03-28 week 2026-W13 at 2026-03-29T09:00:00+02:00 "
            "(Scheduled, team-a/daily-report)",
            "job-name",
            id="cronjob-job-name",
        ),
    ],
)
def test_input_rendered_for_the_scheduled_time(
    openai: FakeServer, run_runner: RunRunner, env: dict[str, str], prompt: str, source: str
) -> None:
    run = run_runner(openai_env(openai, AISCHED_INPUT=DATED, **env))
    assert run.exit_code == 0, run.describe()
    (request,) = openai.requests_to("POST", COMPLETIONS_PATH)
    assert request.json()["messages"][0]["content"] == prompt
    (started,) = run.events("run.started")
    assert started["scheduledTimeFrom"] == source
    assert started["scheduledTime"] in prompt


def test_an_unknown_placeholder_is_a_configuration_error(
    openai: FakeServer, run_runner: RunRunner
) -> None:
    run = run_runner(openai_env(openai, AISCHED_INPUT="about {{ .Yesterday }}"))
    assert run.exit_code == 2, run.describe()
    assert "{{ .Yesterday }}" in run.result.message
    assert openai.requests_to("POST", COMPLETIONS_PATH) == []


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("AISCHED_JITTER_SECONDS", "soon"),
        ("AISCHED_JITTER_SECONDS", "3601"),
        ("AISCHED_MAX_TOKENS", "0"),
        ("AISCHED_SCHEDULED_TIME", "2026-03-29T09:00:00"),  # no offset
        ("AISCHED_TIME_ZONE", "Mars/Olympus"),
    ],
)
def test_invalid_policy_settings_are_named(
    openai: FakeServer, run_runner: RunRunner, variable: str, value: str
) -> None:
    run = run_runner(openai_env(openai, **{variable: value}))
    assert run.exit_code == 2, run.describe()
    assert variable in run.result.message


def test_jitter_waits_at_most_its_bound(openai: FakeServer, run_runner: RunRunner) -> None:
    run = run_runner(openai_env(openai, AISCHED_JITTER_SECONDS="1"))
    assert run.exit_code == 0, run.describe()
    (jitter,) = run.events("run.jitter")
    assert 0 <= jitter["delaySeconds"] <= 1 and jitter["jitterSeconds"] == 1
    assert len(openai.requests_to("POST", COMPLETIONS_PATH)) == 1


def test_sigterm_while_waiting_still_writes_a_result(
    openai: FakeServer, run_runner: RunRunner
) -> None:
    openai.route("POST", COMPLETIONS_PATH, Reply(block=True))
    seen: list[dict[str, object]] = []

    def terminate_when_waiting(process: subprocess.Popen[bytes]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            seen.append(json.loads(line))
            if seen[-1]["event"] == "run.jitter":
                process.send_signal(signal.SIGTERM)
                return

    # A jitter of an hour is cut to half the 20 s deadline.
    run = run_runner(
        openai_env(openai, AISCHED_JITTER_SECONDS="3600"), popen=terminate_when_waiting
    )
    assert run.exit_code == 1, run.describe()
    assert "SIGTERM" in run.result.message
    assert float(str(seen[-1]["delaySeconds"])) <= 10
