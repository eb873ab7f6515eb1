"""A plain HTTP endpoint (n8n, Dify, LangGraph, ...): POST the run, any 2xx succeeds."""

from __future__ import annotations

import hashlib
import hmac
import json

from ..errors import RunnerError
from ..http import Authenticator, Effect, Http, response_text
from ..settings import Settings
from .base import Outcome

SIGNATURE_HEADER = "X-AIScheduler-Signature"


def sign(body: bytes, secret: str) -> str:
    """`sha256=<hex HMAC-SHA256 of the raw body>`, as receivers verify it."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class Webhook:
    def __init__(self, settings: Settings, http: Http, auth: Authenticator | None) -> None:
        self._settings = settings
        self._http = http
        self._auth = auth

    def run(self) -> Outcome:
        s = self._settings
        payload = {
            "schedule": s.schedule,
            "target": {"kind": s.target_kind, "id": s.target_id},
            "input": s.input,
            "runId": s.run_id,
        }
        # The signature covers exactly these bytes, so they are serialized once, here.
        body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        headers = {"Content-Type": "application/json"}
        if s.credentials.signing_secret:
            headers[SIGNATURE_HEADER] = sign(body, s.credentials.signing_secret)
        try:
            response = self._http.request(
                "POST",
                s.platform_url,
                what=f"webhook call for {s.target_kind} {s.target_id!r}",
                effect=Effect.STARTS_WORK,
                content=body,
                headers=headers,
                auth=self._auth,
            )
        except RunnerError as exc:
            exc.execution_id = s.run_id  # the receiver knows the run by it
            raise
        return Outcome(output=response_text(response), execution_id=s.run_id)

    def abandon(self) -> str:
        return ""  # one request, nothing left running that the runner could stop
