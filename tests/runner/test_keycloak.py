"""CodeMie behind Keycloak: client-credentials and password grants, token renewal."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from .conftest import RunRunner
from .fakes import (
    CLIENT_SECRET,
    PASSWORD,
    FakeKeycloak,
    FakeServer,
    FakeWorkflow,
    Reply,
    bearer_guard,
    codemie_answer,
)

MODEL_PATH = "/v1/assistants/asst-1/model"
WORKFLOW = "wf-nightly"


def keycloak_env(
    codemie: FakeServer, keycloak: FakeKeycloak, **extra: str | None
) -> dict[str, str | None]:
    env: dict[str, str | None] = {
        "AISCHED_PLATFORM_URL": codemie.url,
        "AISCHED_AUTH_SERVER_URL": keycloak.url,
        "AISCHED_AUTH_REALM": keycloak.realm,
        "AISCHED_CLIENT_ID": keycloak.client_id,
        "AISCHED_CLIENT_SECRET": keycloak.client_secret,
    }
    if keycloak.username:
        env["AISCHED_USERNAME"] = keycloak.username
        env["AISCHED_PASSWORD"] = keycloak.password
    env.update(extra)
    return env


@pytest.fixture
def keycloak(make_server: Callable[[], FakeServer]) -> FakeKeycloak:
    return FakeKeycloak(make_server())


def test_client_credentials_token_is_used(
    server: FakeServer, keycloak: FakeKeycloak, run_runner: RunRunner
) -> None:
    server.guard = bearer_guard(keycloak.valid)
    server.route("POST", MODEL_PATH, codemie_answer("hello from keycloak land"))

    run = run_runner(keycloak_env(server, keycloak))

    assert run.exit_code == 0, run.describe()
    (token_request,) = keycloak.server.requests_to("POST", keycloak.path)
    assert token_request.form() == {
        "grant_type": "client_credentials",
        "client_id": "scheduler",
        "client_secret": CLIENT_SECRET,
    }
    (call,) = server.requests_to("POST", MODEL_PATH)
    assert call.bearer == keycloak.issued[0]
    assert run.result.output == "hello from keycloak land"


def test_password_grant_defaults_to_the_codemie_sdk_client(
    server: FakeServer, make_server: Callable[[], FakeServer], run_runner: RunRunner
) -> None:
    keycloak = FakeKeycloak(
        make_server(),
        client_id="codemie-sdk",
        client_secret=None,
        username="robot@example.com",
        password=PASSWORD,
    )
    server.guard = bearer_guard(keycloak.valid)
    server.route("POST", MODEL_PATH, codemie_answer("ok"))

    run = run_runner(keycloak_env(server, keycloak, AISCHED_CLIENT_ID=None))

    assert run.exit_code == 0, run.describe()
    (token_request,) = keycloak.server.requests_to("POST", keycloak.path)
    assert token_request.form() == {
        "grant_type": "password",
        "client_id": "codemie-sdk",
        "username": "robot@example.com",
        "password": PASSWORD,
    }


def test_rejected_client_secret_is_a_configuration_error(
    server: FakeServer, keycloak: FakeKeycloak, run_runner: RunRunner
) -> None:
    run = run_runner(keycloak_env(server, keycloak, AISCHED_CLIENT_SECRET="wrong-secret"))

    assert run.exit_code == 2, run.describe()
    assert "Keycloak rejected the credentials" in run.result.message
    assert "invalid_client" in run.result.message
    assert server.requests == []  # the platform was never called


def test_keycloak_server_errors_are_retried(
    server: FakeServer, keycloak: FakeKeycloak, run_runner: RunRunner
) -> None:
    token_route = keycloak.server.routes[("POST", keycloak.path)]
    answers = iter([Reply(503, "keycloak restarting")])
    keycloak.server.route("POST", keycloak.path, lambda r: next(answers, None) or token_route(r))
    server.guard = bearer_guard(keycloak.valid)
    server.route("POST", MODEL_PATH, codemie_answer("ok"))

    run = run_runner(keycloak_env(server, keycloak))

    assert run.exit_code == 0, run.describe()
    assert len(keycloak.server.requests) == 2


def test_token_expiring_during_polling_is_renewed_after_401(
    server: FakeServer, keycloak: FakeKeycloak, run_runner: RunRunner
) -> None:
    server.guard = bearer_guard(keycloak.valid)
    flow = FakeWorkflow(server, WORKFLOW, ["In Progress"] * 3 + ["Succeeded"])

    def expire_on_third_poll(poll: int) -> Reply | None:
        if poll == 3:
            keycloak.revoke_all()
            return Reply(401, {"detail": "token expired"})
        return None

    flow.before_poll = expire_on_third_poll

    run = run_runner(
        keycloak_env(server, keycloak, AISCHED_TARGET_KIND="workflow", AISCHED_TARGET_ID=WORKFLOW)
    )

    assert run.exit_code == 0, run.describe()
    first, second = keycloak.issued
    polls = server.requests_to("GET", flow.execution_path)
    assert [p.bearer for p in polls] == [first, first, first, second]
    assert run.result.output == "workflow final answer"
    assert len(run.events("auth.refresh")) == 1


def test_short_lived_tokens_are_renewed_before_they_expire(
    server: FakeServer, make_server: Callable[[], FakeServer], run_runner: RunRunner
) -> None:
    # Lifetimes under the runner's 30 s renewal margin are renewed before every request.
    keycloak = FakeKeycloak(make_server(), expires_in=20)
    server.guard = bearer_guard(keycloak.latest)
    flow = FakeWorkflow(server, WORKFLOW, ["In Progress", "In Progress", "Succeeded"])

    run = run_runner(
        keycloak_env(server, keycloak, AISCHED_TARGET_KIND="workflow", AISCHED_TARGET_ID=WORKFLOW)
    )

    assert run.exit_code == 0, run.describe()
    polls = server.requests_to("GET", flow.execution_path)
    assert len(polls) == 3
    assert len({p.bearer for p in polls}) == 3
    assert len(keycloak.issued) == len(server.requests)
    assert run.events("auth.refresh") == []  # renewed ahead of time, never refused


def test_new_token_still_refused_is_a_configuration_error(
    server: FakeServer, keycloak: FakeKeycloak, run_runner: RunRunner
) -> None:
    server.route("POST", MODEL_PATH, Reply(401, {"detail": "user has no access"}))

    run = run_runner(keycloak_env(server, keycloak))

    assert run.exit_code == 2, run.describe()
    assert len(keycloak.issued) == 2  # one renewal, then give up
    assert "HTTP 401" in run.result.message
