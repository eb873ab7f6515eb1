"""Webhook receivers (n8n, Dify, ...): signed POST, any 2xx succeeds."""

from __future__ import annotations

import uuid

from .conftest import RunRunner
from .fakes import SIGNING_SECRET, WEBHOOK_TOKEN, FakeServer, Reply, Request, signature_ok

HOOK_PATH = "/webhook/daily-report"


def webhook_env(server: FakeServer, **extra: str | None) -> dict[str, str | None]:
    return {
        "AISCHED_PLATFORM_TYPE": "webhook",
        "AISCHED_PLATFORM_URL": server.url + HOOK_PATH,
        "AISCHED_TARGET_KIND": "workflow",
        "AISCHED_TARGET_ID": "n8n-flow-9",
        "AISCHED_CREDENTIALS_SECRET": "webhook-credentials",
        **extra,
    }


def test_signed_webhook_is_verified_by_the_receiver(
    server: FakeServer, run_runner: RunRunner
) -> None:
    def receiver(request: Request) -> Reply:
        if not signature_ok(request, SIGNING_SECRET) or request.bearer != WEBHOOK_TOKEN:
            return Reply(401, {"error": "bad signature or token"})
        return Reply(202, "accepted: report queued ✓")

    server.route("POST", HOOK_PATH, receiver)

    run = run_runner(
        webhook_env(server, AISCHED_SIGNING_SECRET=SIGNING_SECRET, AISCHED_TOKEN=WEBHOOK_TOKEN)
    )

    assert run.exit_code == 0, run.describe()
    (request,) = server.requests
    payload = request.json()
    assert payload["schedule"] == "team-a/daily-report"
    assert payload["target"] == {"kind": "workflow", "id": "n8n-flow-9"}
    assert payload["input"] == "Summarize yesterday's incidents"
    assert uuid.UUID(payload["runId"])
    assert request.headers["content-type"] == "application/json"
    assert run.result.output == "accepted: report queued ✓"
    assert run.result.execution_id == payload["runId"]


def test_tampered_signature_is_refused(server: FakeServer, run_runner: RunRunner) -> None:
    def receiver(request: Request) -> Reply:
        ok = signature_ok(request, "the receiver's different secret")
        return Reply(200, "ok") if ok else Reply(403, {"error": "bad signature"})

    server.route("POST", HOOK_PATH, receiver)

    run = run_runner(webhook_env(server, AISCHED_SIGNING_SECRET=SIGNING_SECRET))

    assert run.exit_code == 2, run.describe()
    assert "HTTP 403" in run.result.message


def test_unsigned_webhook_without_credentials(server: FakeServer, run_runner: RunRunner) -> None:
    server.route("POST", HOOK_PATH, [Reply(503, "flow busy"), Reply(200, {"status": "done"})])

    run = run_runner(webhook_env(server, AISCHED_RUN_ID="run-42"))

    assert run.exit_code == 0, run.describe()
    first, second = server.requests
    assert "x-aischeduler-signature" not in first.headers
    assert "authorization" not in first.headers
    assert first.body == second.body
    assert first.json()["runId"] == "run-42"
    assert run.result.output == '{"status": "done"}'
    assert run.result.attempts == 2


def test_webhook_that_may_have_run_is_not_sent_again(
    server: FakeServer, run_runner: RunRunner
) -> None:
    server.route("POST", HOOK_PATH, [Reply(500, "flow crashed"), Reply(200, "second run")])

    run = run_runner(webhook_env(server, AISCHED_RUN_ID="run-42"))

    assert run.exit_code == 1, run.describe()
    assert len(server.requests) == 1
    assert "may have started the run (execution run-42)" in run.result.message
    assert run.result.execution_id == "run-42"
