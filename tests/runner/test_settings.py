"""Settings from the AISCHED_* environment: validation and credentials (exit 2)."""

from __future__ import annotations

import pytest

from aischeduler_runner.settings import SettingsError, load_settings

from .conftest import RunRunner
from .fakes import CLIENT_SECRET, TOKEN, FakeServer

VALID = {
    "AISCHED_TARGET_KIND": "assistant",
    "AISCHED_TARGET_ID": "asst-1",
    "AISCHED_PLATFORM_TYPE": "codemie",
    "AISCHED_PLATFORM_URL": "https://codemie.example.com/code-assistant-api/",
    "AISCHED_TIMEOUT_SECONDS": "3600",
    "AISCHED_CREDENTIALS_SECRET": "codemie-credentials",
    "AISCHED_TOKEN": TOKEN,
}


def test_valid_settings() -> None:
    settings = load_settings(VALID)
    assert settings.platform_url == "https://codemie.example.com/code-assistant-api"
    assert settings.timeout_seconds == 3600
    assert settings.keycloak is None
    assert settings.credentials.token == TOKEN
    assert (settings.backoff_base_seconds, settings.max_attempts) == (1.0, 5)


@pytest.mark.parametrize(
    ("changes", "problem"),
    [
        (
            {"AISCHED_TARGET_KIND": "agent"},
            "AISCHED_TARGET_KIND must be one of assistant, workflow",
        ),
        ({"AISCHED_TARGET_ID": " "}, "AISCHED_TARGET_ID is not set"),
        ({"AISCHED_PLATFORM_TYPE": "bedrock"}, "AISCHED_PLATFORM_TYPE must be one of"),
        ({"AISCHED_PLATFORM_URL": "codemie.local"}, "AISCHED_PLATFORM_URL must be an http"),
        ({"AISCHED_TIMEOUT_SECONDS": "soon"}, "AISCHED_TIMEOUT_SECONDS must be a positive"),
        ({"AISCHED_TIMEOUT_SECONDS": "0"}, "AISCHED_TIMEOUT_SECONDS must be a positive"),
        ({"AISCHED_TIMEOUT_SECONDS": "nan"}, "AISCHED_TIMEOUT_SECONDS must be a positive"),
        ({"AISCHED_TIMEOUT_SECONDS": ""}, "AISCHED_TIMEOUT_SECONDS is not set"),
        ({"AISCHED_BACKOFF_BASE_SECONDS": "-1"}, "AISCHED_BACKOFF_BASE_SECONDS must be a non-neg"),
        ({"AISCHED_MAX_ATTEMPTS": "0"}, "AISCHED_MAX_ATTEMPTS must be a whole number"),
        ({"AISCHED_AUTH_SERVER_URL": "keycloak"}, "AISCHED_AUTH_SERVER_URL must be an http"),
        (
            {"AISCHED_PLATFORM_TYPE": "openai", "AISCHED_TARGET_KIND": "workflow"},
            "platform 'openai' runs assistants only",
        ),
    ],
)
def test_invalid_settings(changes: dict[str, str], problem: str) -> None:
    with pytest.raises(SettingsError, match="invalid runner settings") as error:
        load_settings({**VALID, **changes})
    assert problem in error.value.message


@pytest.mark.parametrize(
    ("credentials", "grant"),
    [
        ({"AISCHED_TOKEN": TOKEN}, None),
        (
            {
                "AISCHED_AUTH_SERVER_URL": "https://kc.example.com/auth/",
                "AISCHED_AUTH_REALM": "codemie-prod",
                "AISCHED_CLIENT_ID": "svc",
                "AISCHED_CLIENT_SECRET": CLIENT_SECRET,
            },
            "client_credentials",
        ),
        (
            {
                "AISCHED_AUTH_SERVER_URL": "https://kc.example.com/auth",
                "AISCHED_AUTH_REALM": "codemie-prod",
                "AISCHED_USERNAME": "robot",
                "AISCHED_PASSWORD": "pw",
            },
            "password",
        ),
    ],
)
def test_codemie_credentials(credentials: dict[str, str], grant: str | None) -> None:
    env = {k: v for k, v in VALID.items() if k != "AISCHED_TOKEN"} | credentials
    keycloak = load_settings(env).keycloak
    assert (keycloak.grant if keycloak else None) == grant
    if keycloak:
        assert keycloak.token_url == (
            "https://kc.example.com/auth/realms/codemie-prod/protocol/openid-connect/token"
        )


def test_incomplete_keycloak_credentials_name_secret_and_keys() -> None:
    env = {k: v for k, v in VALID.items() if k != "AISCHED_TOKEN"}
    env |= {"AISCHED_AUTH_SERVER_URL": "https://kc.example.com", "AISCHED_CLIENT_ID": "svc"}
    with pytest.raises(SettingsError) as error:
        load_settings(env)
    message = error.value.message
    assert "Secret 'codemie-credentials' (AISCHED_CREDENTIALS_SECRET)" in message
    for key in ("'token'", "'auth-server-url'", "'realm'", "'client-secret'", "'password'"):
        assert key in message
    assert "keys present: auth-server-url, client-id" in message


def test_invalid_settings_exit_2_with_a_result(server: FakeServer, run_runner: RunRunner) -> None:
    run = run_runner(
        {
            "AISCHED_PLATFORM_URL": server.url,
            "AISCHED_TOKEN": TOKEN,
            "AISCHED_TARGET_KIND": "robot",
            "AISCHED_TIMEOUT_SECONDS": "-5",
        }
    )

    assert run.exit_code == 2, run.describe()
    assert "AISCHED_TARGET_KIND" in run.result.message
    assert "AISCHED_TIMEOUT_SECONDS" in run.result.message
    assert run.result.attempts == 0
    assert server.requests == []


def test_missing_credentials_exit_2_naming_the_secret(
    server: FakeServer, run_runner: RunRunner
) -> None:
    run = run_runner({"AISCHED_PLATFORM_URL": server.url, "AISCHED_TOKEN": None})

    assert run.exit_code == 2, run.describe()
    message = run.result.message
    assert "Secret 'codemie-credentials'" in message
    assert "AISCHED_TOKEN" in message and "'client-secret'" in message
    assert server.requests == []
