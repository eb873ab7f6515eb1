"""Small local HTTP servers that play CodeMie, Keycloak, OpenAI and webhook receivers.

Each `FakeServer` runs stdlib `http.server` in a thread on 127.0.0.1 and a free port.
Routes map (method, path) to a handler, a fixed `Reply`, or a list of replies served in
order (the last one repeats). Every request is recorded for assertions.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import math
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

# Credentials used across the scenarios; none of them may ever show up in an output.
TOKEN = 'cm-static-T0ken/"quoted"+plus'
CLIENT_SECRET = 'kc-cl!ent-s3cr+t/"q"&=?'
PASSWORD = "pässwörd-✓-42&x=y"
API_KEY = "sk-test-ApiKey-0123456789abcdef"
SIGNING_SECRET = "whsec-Sign1ng-S3cret-value"
WEBHOOK_TOKEN = "wh-bearer-T0k3n-value"
STATIC_SECRETS = (TOKEN, CLIENT_SECRET, PASSWORD, API_KEY, SIGNING_SECRET, WEBHOOK_TOKEN)
# Access tokens handed out by every FakeKeycloak in this test session.
ISSUED_TOKENS: list[str] = []


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode("utf-8")).items()}

    @property
    def bearer(self) -> str | None:
        value = self.headers.get("authorization", "")
        return value.removeprefix("Bearer ") if value.startswith("Bearer ") else None


@dataclass
class Reply:
    status: int = 200
    body: Any = b""
    headers: dict[str, str] = field(default_factory=dict)
    # Hold the answer until the test ends: slower than any deadline.
    block: bool = False
    # Close the connection without answering, as a crashing proxy does.
    drop: bool = False
    # Replaces the Content-Type the body's type implies (odd or lying charsets).
    content_type: str | None = None
    # Send the body in pieces of this many bytes with `drip_seconds` between them.
    drip_bytes: int = 0
    drip_seconds: float = 0.0

    def encoded(self) -> tuple[bytes, str]:
        body, content_type = self._encoded()
        return body, self.content_type if self.content_type is not None else content_type

    def _encoded(self) -> tuple[bytes, str]:
        if isinstance(self.body, bytes):
            return self.body, "application/octet-stream"
        if isinstance(self.body, str):
            return self.body.encode("utf-8"), "text/plain; charset=utf-8"
        return json.dumps(self.body, ensure_ascii=False).encode("utf-8"), "application/json"


# Failures after which a request may have reached the platform and started work.
MAYBE_STARTED = {
    "500": Reply(500, {"detail": "Workflow Error"}),
    "502": Reply(502, "bad gateway"),
    "504": Reply(504, "gateway timeout"),
    "connection-dropped": Reply(drop=True),
}

Handler = Callable[[Request], Reply]
Guard = Callable[[Request], Reply | None]


def in_order(*replies: Reply) -> Handler:
    """Serve `replies` one per request; the last one repeats."""
    queue = list(replies)

    def handle(_request: Request) -> Reply:
        return queue.pop(0) if len(queue) > 1 else queue[0]

    return handle


class FakeServer:
    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Handler] = {}
        self.requests: list[Request] = []
        # Runs before every route; returning a Reply answers instead of the route.
        self.guard: Guard | None = None
        self.release = threading.Event()
        self.blocked = threading.Event()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler_class(self))
        self._httpd.daemon_threads = True
        # A short poll interval keeps shutdown (one poll) fast.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def route(self, method: str, path: str, answer: Handler | Reply | Sequence[Reply]) -> None:
        if isinstance(answer, Reply):
            answer = in_order(answer)
        elif not callable(answer):
            answer = in_order(*answer)
        self.routes[(method, path)] = answer

    def requests_to(self, method: str, path: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and r.path == path]

    def start(self) -> FakeServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        self._httpd.shutdown()
        self._httpd.server_close()

    def answer(self, request: Request) -> Reply:
        self.requests.append(request)
        if self.guard is not None and (refusal := self.guard(request)) is not None:
            return refusal
        handler = self.routes.get((request.method, request.path))
        if handler is None:
            return Reply(404, {"detail": f"no route for {request.method} {request.path}"})
        return handler(request)


def _handler_class(server: FakeServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            parts = urlsplit(self.path)
            request = Request(
                method=self.command,
                path=parts.path,
                query=parse_qs(parts.query),
                headers={k.lower(): v for k, v in self.headers.items()},
                body=self.rfile.read(length),
            )
            reply = server.answer(request)
            if reply.block:
                server.blocked.set()
                server.release.wait(60)
                return
            if reply.drop:
                self.close_connection = True
                return
            body, content_type = reply.encoded()
            self.send_response(reply.status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            if not reply.drip_bytes:
                self.wfile.write(body)
                return
            for start in range(0, len(body), reply.drip_bytes):
                self.wfile.write(body[start : start + reply.drip_bytes])
                self.wfile.flush()
                # Paced by the server's stop event, so stopping the server ends the drip.
                if server.release.wait(reply.drip_seconds):
                    return

        do_GET = do_POST = do_PUT = _serve  # noqa: N815 - http.server's naming

        def log_message(self, format: str, *args: Any) -> None:
            return

    return Handler


class FakeKeycloak:
    """Keycloak's token endpoint for one realm: checks the grant, hands out new tokens."""

    def __init__(
        self,
        server: FakeServer,
        realm: str = "codemie-prod",
        *,
        client_id: str = "scheduler",
        client_secret: str | None = CLIENT_SECRET,
        username: str | None = None,
        password: str | None = None,
        expires_in: int = 300,
    ) -> None:
        self.server = server
        self.realm = realm
        self.client_id = client_id
        self.client_secret = client_secret
        self.username = username
        self.password = password
        self.expires_in = expires_in
        self.issued: list[str] = []
        self.revoked: set[str] = set()
        self.path = f"/realms/{realm}/protocol/openid-connect/token"
        server.route("POST", self.path, self._token)

    @property
    def url(self) -> str:
        return self.server.url

    def valid(self, token: str) -> bool:
        return token in self.issued and token not in self.revoked

    def latest(self, token: str) -> bool:
        return bool(self.issued) and token == self.issued[-1]

    def revoke_all(self) -> None:
        self.revoked.update(self.issued)

    def _token(self, request: Request) -> Reply:
        form = request.form()
        grant = form.get("grant_type")
        if form.get("client_id") != self.client_id:
            return Reply(401, {"error": "invalid_client", "error_description": "unknown client"})
        if self.client_secret is not None and form.get("client_secret") != self.client_secret:
            return Reply(401, {"error": "invalid_client", "error_description": "bad secret"})
        if grant == "password":
            if (form.get("username"), form.get("password")) != (self.username, self.password):
                return Reply(400, {"error": "invalid_grant", "error_description": "bad user"})
        elif grant != "client_credentials" or self.username is not None:
            return Reply(400, {"error": "unsupported_grant_type"})
        token = f"kc-access-{len(ISSUED_TOKENS) + 1:04d}-{self.realm}"
        self.issued.append(token)
        ISSUED_TOKENS.append(token)
        return Reply(
            200,
            {"access_token": token, "expires_in": self.expires_in, "token_type": "Bearer"},
        )


def bearer_guard(accept: Callable[[str], bool]) -> Guard:
    """Refuse requests without an accepted bearer token, as the platforms do."""

    def guard(request: Request) -> Reply | None:
        token = request.bearer
        if token is None or not accept(token):
            return Reply(401, {"detail": "Unauthorized: invalid or expired token"})
        return None

    return guard


# The CodeMie double answers as the backend (codemie-ai/codemie, see runner/README.md) does:
# the assistant answer is `BaseModelResponse` dumped by alias (camelCase at the top level,
# snake_case inside the error objects); workflow models are snake_case.


def codemie_answer(text: str, tokens: int | None = None) -> Reply:
    """POST /v1/assistants/{id}/model with stream=false; the backend never fills tokensUsed."""
    return Reply(
        200,
        {
            "generated": text,
            "timeElapsed": 0.42,
            "tokensUsed": tokens,
            "thoughts": [],
            "taskId": None,
            "success": True,
            "agentError": None,
            "toolErrors": None,
        },
    )


def codemie_agent_failure(
    generated: str, agent_error: dict[str, Any] | None, tool_errors: list[dict[str, Any]]
) -> Handler:
    """A failed agent: HTTP 200, the error text in `generated`, `success: false`.

    Like the backend, `agentError` and `toolErrors` are filled only when the request asks
    for them with `include_tool_errors=true`.
    """

    def handle(request: Request) -> Reply:
        reply = codemie_answer(generated)
        reply.body["success"] = False
        if request.query.get("include_tool_errors") == ["true"]:
            reply.body["agentError"] = agent_error
            reply.body["toolErrors"] = tool_errors or None
        return reply

    return handle


@dataclass
class FakeState:
    """One row of an execution's states, as `GET .../states` lists them (oldest first)."""

    name: str
    status: str = "Succeeded"
    output: str | None = None


class FakeWorkflow:
    """A CodeMie workflow whose execution walks through `statuses`, one per status poll.

    Like the backend: the create answer is the stored execution (`overall_status`
    "In Progress", a row `id` besides `execution_id`); the execution GET has no `output`;
    states are paginated (`page`, `per_page`, default 10) and carry no output, which is
    read per state; `PUT .../abort` marks the execution and its running states Aborted.
    """

    def __init__(
        self,
        server: FakeServer,
        workflow_id: str,
        statuses: Sequence[str],
        *,
        execution_id: str = "exec-7f3a",
        states: Sequence[FakeState] = (
            FakeState("plan", output="1. read the incidents 2. summarize"),
            FakeState("answer", output="workflow final answer"),
        ),
    ) -> None:
        self.server = server
        self.workflow_id = workflow_id
        self.statuses = list(statuses)
        self.execution_id = execution_id
        self.states = list(states)
        self.polls = 0
        self.aborted = False
        # Called before each status poll with the poll number; may answer instead.
        self.before_poll: Callable[[int], Reply | None] | None = None
        base = f"/v1/workflows/{workflow_id}/executions"
        self.execution_path = f"{base}/{execution_id}"
        self.abort_path = f"{self.execution_path}/abort"
        server.route("POST", base, lambda _request: Reply(200, self._created()))
        server.route("GET", self.execution_path, self._poll)
        server.route("GET", f"{self.execution_path}/states", self._states)
        server.route("PUT", self.abort_path, self._abort)
        for index, state in enumerate(self.states):
            path = f"{self.execution_path}/states/{self._state_id(index)}/output"
            server.route("GET", path, Reply(200, {"output": state.output}))

    @staticmethod
    def _state_id(index: int) -> str:
        return f"state-{index + 1}"

    def _common(self, status: str) -> dict[str, Any]:
        return {
            "id": "0b9e6a4c-row-id",
            "workflow_id": self.workflow_id,
            "execution_id": self.execution_id,
            "overall_status": status,
            "prompt": "Summarize yesterday's incidents",
            "file_names": [],
            "conversation_id": "conv-wf-1",
            "created_by": {"user_id": "u-1", "username": "scheduler", "name": "Scheduler"},
            "updated_by": None,
            "date": "2026-08-03T10:00:00",
            "update_date": "2026-08-03T10:00:01",
        }

    def _created(self) -> dict[str, Any]:
        # `create_workflow_execution` returns the stored row itself: every column.
        return {
            **self._common("In Progress"),
            "output": None,
            "name": None,
            "checkpoints": [],
            "tokens_usage": None,
            "project": "team-a",
            "history": [],
        }

    def _poll(self, _request: Request) -> Reply:
        self.polls += 1
        if self.before_poll is not None and (reply := self.before_poll(self.polls)) is not None:
            return reply
        status = self.statuses[min(self.polls, len(self.statuses)) - 1]
        # `WorkflowExecutionResponse`: no `output`.
        execution = {
            **self._common("Aborted" if self.aborted else status),
            "file_name": None,
            "tokens_usage": {
                "input_tokens": 100,
                "output_tokens": 23,
                "cached_tokens": 0,
                "money_spent": 0.01,
                "cached_tokens_money_spent": 0.0,
                "cached_tokens_creation_money_spent": 0.0,
            },
        }
        return Reply(200, execution)

    def _states(self, request: Request) -> Reply:
        page = int(request.query.get("page", ["0"])[0])
        per_page = int(request.query.get("per_page", ["10"])[0])
        rows = [
            {
                "id": self._state_id(index),
                "date": f"2026-08-03T10:00:{index:02d}",
                "update_date": None,
                "execution_id": self.execution_id,
                "name": state.name,
                "state_id": state.name,
                "task": "",
                "status": state.status,
                "started_at": None,
                "completed_at": None,
                "preceding_state_ids": None,
                "iteration_number": None,
                "history_index": 0,
                "thoughts": [],
            }
            for index, state in enumerate(self.states)
        ]
        total = len(rows)
        pagination = {
            "page": page,
            "per_page": per_page,
            "total": total,
            "pages": math.ceil(total / per_page),
        }
        data = rows[page * per_page : (page + 1) * per_page]
        return Reply(200, {"data": data, "pagination": pagination})

    def _abort(self, _request: Request) -> Reply:
        self.aborted = True
        for state in self.states:
            if state.status in ("In Progress", "Interrupted"):
                state.status = "Aborted"
        return Reply(200, {"message": "Workflow execution has been aborted"})


def openai_answer(text: str, total_tokens: int = 57) -> Reply:
    return Reply(
        200,
        {
            "id": "chatcmpl-123",
            "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}}],
            "usage": {"prompt_tokens": 12, "completion_tokens": 45, "total_tokens": total_tokens},
        },
    )


def signature_ok(request: Request, secret: str) -> bool:
    expected = "sha256=" + hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(request.headers.get("x-aischeduler-signature", ""), expected)


def echo(request: Request, status: int = 200) -> Reply:
    """The worst case for leaks: what the runner sent comes back, plainly and JSON-encoded."""
    sent = {
        "body": request.body.decode("utf-8", "replace"),
        "authorization": request.headers.get("authorization"),
    }
    return Reply(status, {"generated": json.dumps(sent), "detail": sent})
