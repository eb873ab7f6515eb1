"""Regression tests for the answers the fuzzing (test_fuzz_responses) found mishandled.

Each used to end in the runner's internal-error path (exit 1 with "internal error: …",
whatever the platform had said) or in a count the operator cannot store.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from .conftest import RunRunner
from .fakes import (
    CLIENT_SECRET,
    ISSUED_TOKENS,
    TOKEN,
    FakeKeycloak,
    FakeServer,
    FakeWorkflow,
    Reply,
    Request,
    bearer_guard,
    codemie_answer,
)
from .test_fuzz_responses import ASSISTANT, WEBHOOK

MODEL_PATH = ASSISTANT.path
GZIP_GARBAGE = {"Content-Encoding": "gzip"}


@pytest.mark.parametrize(
    ("reply", "exit_code", "says"),
    [
        # httpx's Response.text raises for these; the webhook's answer is its body.
        (Reply(200, b"done", content_type="text/plain; charset=base64"), 0, "done"),
        (Reply(200, b"done", content_type="text/plain; charset=idna"), 0, "done"),
        (Reply(200, b"odd", content_type="text/plain; charset=utf-16"), 0, ""),
        # A body whose Content-Encoding does not decode: the receiver got the call.
        (Reply(200, b"not gzip at all", headers=GZIP_GARBAGE), 1, "may have started"),
    ],
    ids=["charset-base64", "charset-idna", "utf-16-without-bom", "garbled-gzip"],
)
def test_webhook_body_in_an_odd_encoding(
    server: FakeServer, run_runner: RunRunner, reply: Reply, exit_code: int, says: str
) -> None:
    server.route("POST", WEBHOOK.path, reply)

    run = run_runner(WEBHOOK.env(server))

    assert run.exit_code == exit_code, run.describe()
    assert not run.events("run.internal_error"), run.describe()
    assert says in (run.result.output if exit_code == 0 else run.result.message)


@pytest.mark.parametrize(
    ("reply", "says"),
    [
        (Reply(429, "slow down", headers={"Retry-After": "nan"}), "failed after 5 attempts"),
        (Reply(200, '{"generated": 1' + "0" * 5000 + "}"), "not valid JSON"),
        (Reply(200, "[" * 100_000), "not valid JSON"),
        (Reply(500, "oops", content_type="text/plain; charset=idna"), "HTTP 500"),
        # httpx builds the (unfollowed) redirect's next request with the stored cookies.
        (Reply(302, "", headers={"Location": MODEL_PATH, "Set-Cookie": "k=ü"}), "HTTP 302"),
    ],
    ids=["retry-after-nan", "int-too-long", "nested-too-deep", "error-charset", "cookie"],
)
def test_odd_answer_fails_the_assistant_call_cleanly(
    server: FakeServer, run_runner: RunRunner, reply: Reply, says: str
) -> None:
    server.route("POST", MODEL_PATH, reply)

    run = run_runner(ASSISTANT.env(server))

    assert run.exit_code == 1, run.describe()
    assert not run.events("run.internal_error"), run.describe()
    assert says in run.result.message


@pytest.mark.parametrize("tokens", [2**64, -5, 1e300])
def test_token_count_out_of_range_is_dropped(
    server: FakeServer, run_runner: RunRunner, tokens: float
) -> None:
    # The operator keeps tokensUsed in an int64 field: such a count could not be stored.
    server.route("POST", MODEL_PATH, codemie_answer("fine", tokens=tokens))  # type: ignore[arg-type]

    run = run_runner(ASSISTANT.env(server))

    assert run.exit_code == 0, run.describe()
    assert run.result.tokens_used is None


def test_workflow_with_odd_status_and_states_still_succeeds(
    server: FakeServer, run_runner: RunRunner
) -> None:
    server.guard = bearer_guard(lambda token: token == TOKEN)
    flow = FakeWorkflow(server, "wf-odd", ["In Progress", "Succeeded"])
    odd_status = Reply(200, {"execution_id": flow.execution_id, "overall_status": ["Failed"]})
    flow.before_poll = lambda poll: odd_status if poll == 1 else None
    server.route("GET", f"{flow.execution_path}/states", Reply(200, {"data": 5, "pagination": 1}))

    run = run_runner(
        {
            "AISCHED_TARGET_KIND": "workflow",
            "AISCHED_TARGET_ID": "wf-odd",
            "AISCHED_PLATFORM_URL": server.url,
            "AISCHED_TOKEN": TOKEN,
        }
    )

    assert run.exit_code == 0, run.describe()
    assert not run.events("run.internal_error"), run.describe()
    assert "no states" in run.result.message


def test_keycloak_lifetime_beyond_any_float(
    server: FakeServer, make_server: Callable[[], FakeServer], run_runner: RunRunner
) -> None:
    keycloak_server = make_server()
    keycloak = FakeKeycloak(keycloak_server)
    server.route("POST", MODEL_PATH, codemie_answer("fine"))
    answer = keycloak_server.routes[("POST", keycloak.path)]

    def huge_lifetime(request: Request) -> Reply:
        reply = answer(request)
        return Reply(200, json_with_huge_lifetime(reply.body))

    keycloak_server.route("POST", keycloak.path, huge_lifetime)

    run = run_runner(
        {
            "AISCHED_PLATFORM_URL": server.url,
            "AISCHED_AUTH_SERVER_URL": keycloak.url,
            "AISCHED_AUTH_REALM": keycloak.realm,
            "AISCHED_CLIENT_ID": keycloak.client_id,
            "AISCHED_CLIENT_SECRET": keycloak.client_secret,
        }
    )

    assert run.exit_code == 0, run.describe()
    assert run.result.output == "fine"


def json_with_huge_lifetime(body: dict[str, Any]) -> bytes:
    """The token answer with `expires_in: 10**400`, an integer no float can hold."""
    text = json.dumps({**body, "expires_in": 0})
    return text.replace('"expires_in": 0', '"expires_in": 1' + "0" * 400).encode()


def test_token_in_a_keycloak_error_answer_is_not_quoted(
    server: FakeServer, run_runner: RunRunner
) -> None:
    # The failed request's body is quoted in the message: the token in it must be masked
    # (run_runner's leak check looks for every issued token).
    token = "kc-access-in-an-error-answer"
    ISSUED_TOKENS.append(token)
    path = "/realms/r/protocol/openid-connect/token"
    server.route("POST", path, Reply(502, {"access_token": token, "error": "proxy"}))

    run = run_runner(
        {
            "AISCHED_PLATFORM_URL": server.url,
            "AISCHED_AUTH_SERVER_URL": server.url,
            "AISCHED_AUTH_REALM": "r",
            "AISCHED_CLIENT_ID": "scheduler",
            "AISCHED_CLIENT_SECRET": CLIENT_SECRET,
        }
    )

    assert run.exit_code == 1, run.describe()
    assert "HTTP 502" in run.result.message
