"""Any OpenAI-compatible chat completions endpoint (assistants only)."""

from __future__ import annotations

from ..errors import RunFailedError
from ..http import Authenticator, Effect, Http
from ..settings import Settings
from .base import Outcome, as_int, as_text, parse_json_object


class OpenAI:
    def __init__(self, settings: Settings, http: Http, auth: Authenticator) -> None:
        self._settings = settings
        self._http = http
        self._auth = auth

    def run(self) -> Outcome:
        model = self._settings.target_id
        what = f"openai chat completion with model {model!r}"
        request: dict[str, object] = {
            "model": model,
            "messages": [{"role": "user", "content": self._settings.input}],
        }
        if self._settings.policy.max_tokens is not None:  # spec.maxTokensPerRun
            request["max_tokens"] = self._settings.policy.max_tokens
        response = self._http.request(
            "POST",
            f"{self._settings.platform_url}/v1/chat/completions",
            what=what,
            effect=Effect.STARTS_WORK,
            json_body=request,
            auth=self._auth,
        )
        body = parse_json_object(response, what)
        choices = body.get("choices")
        first = choices[0] if isinstance(choices, list) and choices else None
        message = first.get("message") if isinstance(first, dict) else None
        content = message.get("content") if isinstance(message, dict) else None
        if not isinstance(content, str):
            raise RunFailedError(f"{what}: the answer has no choices[0].message.content text")
        usage = body.get("usage")
        tokens = as_int(usage.get("total_tokens")) if isinstance(usage, dict) else None
        return Outcome(output=content, execution_id=as_text(body.get("id")), tokens_used=tokens)

    def abandon(self) -> str:
        return ""  # one request, nothing left running that the runner could stop
