"""Small local HTTP servers that play CodeMie, Keycloak, OpenAI and webhook receivers.

Each `FakeServer` runs stdlib `http.server` in a thread on 127.0.0.1 and a free port.
Routes map (method, path) to a handler, a fixed `Reply`, or a list of replies served in
order (the last one repeats). Every request is recorded for assertions.
"""

from __future__ import annotations

import hashlib
import hmac
import json
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

    def encoded(self) -> tuple[bytes, str]:
        if isinstance(self.body, bytes):
            return self.body, "application/octet-stream"
        if isinstance(self.body, str):
            return self.body.encode("utf-8"), "text/plain; charset=utf-8"
        return json.dumps(self.body, ensure_ascii=False).encode("utf-8"), "application/json"


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
            body, content_type = reply.encoded()
            self.send_response(reply.status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(body)

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


def codemie_answer(text: str, tokens: int | None = 42) -> Reply:
    """POST /v1/assistants/{id}/model with stream=false."""
    return Reply(200, {"generated": text, "timeElapsed": 0.42, "tokensUsed": tokens})


class FakeWorkflow:
    """A CodeMie workflow whose execution walks through `statuses`, one per status poll."""

    def __init__(
        self,
        server: FakeServer,
        workflow_id: str,
        statuses: Sequence[str],
        *,
        execution_id: str = "exec-7f3a",
        output: str = "workflow final answer",
        id_field: str = "execution_id",
    ) -> None:
        self.server = server
        self.statuses = list(statuses)
        self.execution_id = execution_id
        self.output = output
        self.polls = 0
        # Called before each status poll with the poll number; may answer instead.
        self.before_poll: Callable[[int], Reply | None] | None = None
        base = f"/v1/workflows/{workflow_id}/executions"
        self.execution_path = f"{base}/{execution_id}"
        created = self._execution("Not Started")
        if id_field != "execution_id":
            created[id_field] = created.pop("execution_id")
        server.route("POST", base, Reply(200, created))
        server.route("GET", self.execution_path, self._poll)
        server.route("GET", f"{self.execution_path}/states", self._states)
        server.route("GET", f"{self.execution_path}/states/state-2/output", self._output)

    def _execution(self, status: str) -> dict[str, Any]:
        return {
            "id": "row-1",
            "execution_id": self.execution_id,
            "workflow_id": "wf",
            "overall_status": status,
            "conversation_id": "conv-wf-1",
            "tokens_usage": {"input_tokens": 100, "output_tokens": 23, "money_spent": 0.01},
        }

    def _poll(self, _request: Request) -> Reply:
        self.polls += 1
        if self.before_poll is not None and (reply := self.before_poll(self.polls)) is not None:
            return reply
        status = self.statuses[min(self.polls, len(self.statuses)) - 1]
        return Reply(200, self._execution(status))

    def _states(self, _request: Request) -> Reply:
        data = [
            {"id": "state-1", "execution_id": self.execution_id, "name": "plan"},
            {"id": "state-2", "execution_id": self.execution_id, "name": "answer"},
        ]
        pagination = {"page": 0, "per_page": 100, "total": 2, "pages": 1}
        return Reply(200, {"data": data, "pagination": pagination})

    def _output(self, _request: Request) -> Reply:
        return Reply(200, {"output": self.output})


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
