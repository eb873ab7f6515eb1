"""A stand-in for the AI platforms the runner calls, served over real HTTP so a runner pod
on the real node can call it: CodeMie (assistants, workflows polled to a terminal status,
a Keycloak token endpoint), an OpenAI-compatible chat endpoint, and a webhook receiver
that checks the HMAC signature.

Behaviour is scripted by the target id (assistant id, workflow id, OpenAI model, or the
webhook path's last segment), so a test picks it in the AssistantSchedule alone:

  answer (or any other id)  a normal answer naming the input
  slow-<s>                  answers after <s> seconds
  status-<code>             answers <code> (429 with Retry-After: 1, 500, 401, ...)
  flaky-<n>                 answers 503 to the first <n> calls, then a normal answer
  ratelimited-<n>           answers 429 (Retry-After: 1) to the first <n> calls, then an answer
  malformed                 200 whose body is not JSON
  unsuccessful              CodeMie assistant: 200 with success false and an error
  wf-fail                   CodeMie workflow: the execution ends Failed

Answers follow the backends: a CodeMie assistant answers 200 with ``generated`` and
``success: true``; a workflow execution GET carries no ``output`` (the answer is read from
the execution's last state), as CodeMie's does. Every request is recorded (``calls``)
without its credentials."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

# The doubles' own made-up credentials (tests put them in Secrets and look for leaks).
TOKEN = "double-static-token"  # noqa: S105 - the CodeMie double's static bearer token
API_KEY = "double-api-key"  # the OpenAI double's key
SIGNING_SECRET = "double-signing-secret"  # noqa: S105 - the webhook double's HMAC key
KEYCLOAK_ACCESS_TOKEN = "double-keycloak-access-token"  # noqa: S105
# Workflow executions report In Progress this many times before they finish.
POLLS_IN_PROGRESS = 2
TOKENS_USED = 321


@dataclass
class Call:
    method: str
    path: str
    body: Any
    at: float = field(default_factory=time.monotonic)  # when it came in (monotonic clock)


@dataclass
class Execution:
    workflow: str
    user_input: str
    polls: int = 0
    aborted: bool = False


@dataclass
class State:
    calls: list[Call] = field(default_factory=list)
    counters: dict[str, int] = field(default_factory=dict)
    executions: dict[str, Execution] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def count(self, key: str) -> int:
        with self.lock:
            self.counters[key] = self.counters.get(key, 0) + 1
            return self.counters[key]


def answer_text(target: str, text: str) -> str:
    return f"Answer from the platform double ({target}) to: {text}"


class Handler(BaseHTTPRequestHandler):
    server: DoubleServer
    protocol_version = "HTTP/1.1"

    # ------------------------------------------------------------ plumbing
    def log_message(self, format: str, *args: Any) -> None:
        return  # the calls are recorded; no credentials go to stderr

    def _body(self) -> tuple[bytes, Any]:
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            # Recorded without secrets.
            return raw, {k: v for k, v in form.items() if k not in ("client_secret", "password")}
        try:
            return raw, json.loads(raw) if raw else None
        except ValueError:
            return raw, raw.decode(errors="replace")

    def _send(self, code: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def _scripted(self, target: str) -> bool:
        """Plays the target's scripted failure or delay; True when it answered already."""
        kind, _, arg = target.partition("-")
        if kind == "slow" and arg.isdigit():
            time.sleep(int(arg))
        elif kind == "status" and arg.isdigit():
            headers = {"Retry-After": "1"} if arg == "429" else {}
            self._send(int(arg), {"error": f"scripted {arg}"}, headers)
            return True
        elif kind in ("flaky", "ratelimited") and arg.isdigit():
            if self.server.state.count(f"{kind}:{target}") <= int(arg):
                code = 503 if kind == "flaky" else 429
                self._send(code, {"error": f"scripted {code}"}, {"Retry-After": "1"})
                return True
        elif target == "malformed":
            self._send(200, b"<html>this is not JSON</html>")
            return True
        return False

    def _authorized(self, accepted: set[str]) -> bool:
        auth = self.headers.get("Authorization", "")
        if auth.removeprefix("Bearer ") in accepted:
            return True
        self._send(401, {"error": "unauthorized"})
        return False

    # ------------------------------------------------------------ routes
    def do_POST(self) -> None:
        raw, body = self._body()
        path = urlsplit(self.path).path
        self.server.state.calls.append(Call("POST", path, body))
        parts = path.strip("/").split("/")
        if path.endswith("/protocol/openid-connect/token"):
            self._keycloak(body)
        elif path.startswith("/codemie/v1/assistants/") and parts[-1] == "model":
            self._codemie_assistant(parts[-2], body)
        elif path.startswith("/codemie/v1/workflows/") and parts[-1] == "executions":
            self._codemie_workflow_start(parts[-2], body)
        elif path == "/openai/v1/chat/completions":
            self._openai(body)
        elif path.startswith("/webhook/"):
            self._webhook(parts[-1], raw, body)
        else:
            self._send(404, {"error": f"no route {path}"})

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        self.server.state.calls.append(Call("GET", url.path, None))
        parts = url.path.strip("/").split("/")
        if not self._authorized({TOKEN, KEYCLOAK_ACCESS_TOKEN}):
            return
        # /codemie/v1/workflows/{wf}/executions/{id}[/states[/{state}/output]]
        if parts[:3] != ["codemie", "v1", "workflows"] or len(parts) < 6:
            self._send(404, {"error": f"no route {url.path}"})
            return
        execution = self.server.state.executions.get(parts[5])
        if execution is None:
            self._send(404, {"error": "no such execution"})
        elif len(parts) == 6:
            self._codemie_execution(parts[5], execution)
        elif parts[6:] == ["states"]:
            self._send(200, self._states(parts[5]))
        elif len(parts) == 9 and parts[8] == "output":
            self._send(200, {"output": answer_text(execution.workflow, execution.user_input)})
        else:
            self._send(404, {"error": f"no route {url.path}"})

    def do_PUT(self) -> None:
        self._body()
        path = urlsplit(self.path).path
        self.server.state.calls.append(Call("PUT", path, None))
        parts = path.strip("/").split("/")
        execution = self.server.state.executions.get(parts[-2]) if len(parts) > 1 else None
        if parts[-1] == "abort" and execution is not None:
            execution.aborted = True
            self._send(200, {"message": "Execution aborted"})
        else:
            self._send(404, {"error": f"no route {path}"})

    # ------------------------------------------------------------ platforms
    def _keycloak(self, form: Any) -> None:
        ok = isinstance(form, dict) and form.get("grant_type") in {"client_credentials", "password"}
        if not ok:
            self._send(400, {"error": "invalid_grant"})
            return
        self._send(
            200,
            {"access_token": KEYCLOAK_ACCESS_TOKEN, "expires_in": 300, "token_type": "Bearer"},
        )

    def _codemie_assistant(self, assistant: str, body: Any) -> None:
        if not self._authorized({TOKEN, KEYCLOAK_ACCESS_TOKEN}) or self._scripted(assistant):
            return
        text = body.get("text", "") if isinstance(body, dict) else ""
        if assistant == "unsuccessful":
            self._send(200, {"generated": "", "success": False, "error": "the agent failed"})
            return
        self._send(
            200,
            {
                "generated": answer_text(assistant, text),
                "timeElapsed": 0.01,
                "tokensUsed": TOKENS_USED,
                "thoughts": [],
                "success": True,
            },
        )

    def _codemie_workflow_start(self, workflow: str, body: Any) -> None:
        if not self._authorized({TOKEN, KEYCLOAK_ACCESS_TOKEN}) or self._scripted(workflow):
            return
        execution_id = str(uuid.uuid4())
        user_input = body.get("user_input", "") if isinstance(body, dict) else ""
        self.server.state.executions[execution_id] = Execution(workflow, user_input)
        self._send(
            200,
            {
                "execution_id": execution_id,
                "workflow_id": workflow,
                "overall_status": "In Progress",
            },
        )

    def _codemie_execution(self, execution_id: str, execution: Execution) -> None:
        execution.polls += 1
        if execution.aborted:
            status = "Aborted"
        elif execution.polls <= POLLS_IN_PROGRESS:
            status = "In Progress"
        else:
            status = "Failed" if execution.workflow == "wf-fail" else "Succeeded"
        self._send(
            200,
            {
                "execution_id": execution_id,
                "workflow_id": execution.workflow,
                "overall_status": status,
                "tokens_usage": {"input_tokens": 100, "output_tokens": 21},
            },
        )

    def _states(self, execution_id: str) -> dict[str, Any]:
        state = {"id": f"{execution_id}-state-1", "name": "answer", "status": "Succeeded"}
        return {"data": [state], "pagination": {"page": 0, "per_page": 100, "total": 1, "pages": 1}}

    def _openai(self, body: Any) -> None:
        if not self._authorized({API_KEY}):
            return
        model = body.get("model", "") if isinstance(body, dict) else ""
        if self._scripted(model):
            return
        messages = body.get("messages") or [{}] if isinstance(body, dict) else [{}]
        text = answer_text(model, str(messages[-1].get("content", "")))
        self._send(
            200,
            {
                "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
                "object": "chat.completion",
                "model": model,
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": text},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 20, "completion_tokens": 30, "total_tokens": 50},
            },
        )

    def _webhook(self, name: str, raw: bytes, body: Any) -> None:
        expected = "sha256=" + hmac.new(SIGNING_SECRET.encode(), raw, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(self.headers.get("X-AIScheduler-Signature", ""), expected):
            self._send(401, {"error": "bad signature"})
            return
        if self._scripted(name):
            return
        text = body.get("input", "") if isinstance(body, dict) else ""
        self._send(200, {"received": True, "answer": answer_text(name, text)})


class DoubleServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int]) -> None:
        super().__init__(address, Handler)
        self.state = State()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> DoubleServer:
        threading.Thread(target=self.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
