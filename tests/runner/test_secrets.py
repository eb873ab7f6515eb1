"""No credential or token ever reaches stdout, stderr or the result file.

Every runner process of the session is recorded by the `run_runner` fixture; this test
adds worst-case scenarios (servers echoing back everything they received, in errors and
in answers) and then checks all recorded runs. conftest.py orders it last.
"""

from __future__ import annotations

from collections.abc import Callable

from .conftest import LEAK_TEST, RUNS, RunRunner, leaks
from .fakes import (
    API_KEY,
    CLIENT_SECRET,
    ISSUED_TOKENS,
    PASSWORD,
    SIGNING_SECRET,
    TOKEN,
    WEBHOOK_TOKEN,
    FakeKeycloak,
    FakeServer,
    echo,
)

MODEL_PATH = "/v1/assistants/asst-1/model"


def echo_scenarios(make_server: Callable[[], FakeServer], run_runner: RunRunner) -> dict[str, int]:
    """Run the echo scenarios; return each one's exit code."""
    codes = {}

    api = make_server()
    api.route("POST", MODEL_PATH, lambda r: echo(r, 403))
    codes["static token, refused with echo"] = run_runner(
        {"AISCHED_PLATFORM_URL": api.url, "AISCHED_TOKEN": TOKEN}
    ).exit_code

    api = make_server()
    api.route("POST", MODEL_PATH, echo)
    codes["static token, answer echoes"] = run_runner(
        {"AISCHED_PLATFORM_URL": api.url, "AISCHED_TOKEN": TOKEN}
    ).exit_code

    for name, kc_args in {
        "client credentials refused with echo": {},
        "password grant refused with echo": {"username": "robot", "password": PASSWORD},
    }.items():
        keycloak = FakeKeycloak(make_server(), **kc_args)  # type: ignore[arg-type]
        keycloak.server.route("POST", keycloak.path, lambda r: echo(r, 401))
        env = {
            "AISCHED_PLATFORM_URL": api.url,
            "AISCHED_AUTH_SERVER_URL": keycloak.url,
            "AISCHED_AUTH_REALM": keycloak.realm,
            "AISCHED_CLIENT_ID": keycloak.client_id,
            "AISCHED_CLIENT_SECRET": CLIENT_SECRET,
            "AISCHED_USERNAME": keycloak.username,
            "AISCHED_PASSWORD": keycloak.password,
        }
        codes[name] = run_runner(env).exit_code

    keycloak = FakeKeycloak(make_server())
    codes["keycloak token, answer echoes"] = run_runner(
        {
            "AISCHED_PLATFORM_URL": api.url,
            "AISCHED_AUTH_SERVER_URL": keycloak.url,
            "AISCHED_AUTH_REALM": keycloak.realm,
            "AISCHED_CLIENT_ID": keycloak.client_id,
            "AISCHED_CLIENT_SECRET": CLIENT_SECRET,
        }
    ).exit_code

    openai = make_server()
    openai.route("POST", "/v1/chat/completions", lambda r: echo(r, 500))
    codes["openai error echoes"] = run_runner(
        {
            "AISCHED_PLATFORM_TYPE": "openai",
            "AISCHED_PLATFORM_URL": openai.url,
            "AISCHED_API_KEY": API_KEY,
            "AISCHED_MAX_ATTEMPTS": "2",
        }
    ).exit_code

    hook = make_server()
    hook.route("POST", "/hook", echo)
    codes["webhook answer echoes"] = run_runner(
        {
            "AISCHED_PLATFORM_TYPE": "webhook",
            "AISCHED_PLATFORM_URL": hook.url + "/hook",
            "AISCHED_TOKEN": WEBHOOK_TOKEN,
            "AISCHED_SIGNING_SECRET": SIGNING_SECRET,
        }
    ).exit_code
    return codes


def test_no_secret_in_any_output(
    make_server: Callable[[], FakeServer], run_runner: RunRunner
) -> None:
    assert test_no_secret_in_any_output.__name__ == LEAK_TEST

    codes = echo_scenarios(make_server, run_runner)

    assert codes == {
        "static token, refused with echo": 2,
        "static token, answer echoes": 0,
        "client credentials refused with echo": 2,
        "password grant refused with echo": 2,
        "keycloak token, answer echoes": 0,
        "openai error echoes": 1,
        "webhook answer echoes": 0,
    }
    assert ISSUED_TOKENS, "no Keycloak token was issued, so none was checked"
    # The echoes did carry the secrets: the runner masked them.
    echoed = [run for run in RUNS[-len(codes) :] if b"***" in run.stdout]
    assert len(echoed) == len(codes)
    problems = {i: found for i, run in enumerate(RUNS) if (found := leaks(run))}
    assert problems == {}, f"secrets leaked in {len(problems)} of {len(RUNS)} runs: {problems}"
