"""AI/Run CodeMie: assistant chat, and workflow executions polled to a terminal status."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

from ..errors import DeadlineError, RunFailedError, RunnerError
from ..http import Authenticator, Http
from ..logs import JsonLog
from ..settings import Settings
from .base import Outcome, as_int, as_text, parse_json_object

TERMINAL_STATUSES = frozenset({"Succeeded", "Failed", "Aborted", "Interrupted"})
# States fetched per page when looking for the workflow's final output.
STATES_PAGE_SIZE = 100


class CodeMie:
    def __init__(self, settings: Settings, http: Http, auth: Authenticator, log: JsonLog) -> None:
        self._settings = settings
        self._http = http
        self._auth = auth
        self._log = log
        self._base = settings.platform_url
        self._id = quote(settings.target_id, safe="")

    def run(self) -> Outcome:
        if self._settings.target_kind == "workflow":
            return self._workflow()
        return self._assistant()

    def _assistant(self) -> Outcome:
        conversation_id = str(uuid.uuid4())
        what = f"codemie assistant {self._settings.target_id!r} call"
        response = self._http.request(
            "POST",
            f"{self._base}/v1/assistants/{self._id}/model",
            what=what,
            json_body={
                "text": self._settings.input,
                "conversation_id": conversation_id,
                "stream": False,
            },
            auth=self._auth,
            counted=True,
        )
        body = parse_json_object(response, what)
        generated = body.get("generated")
        if not isinstance(generated, str):
            raise RunFailedError(
                f"{what}: the answer has no 'generated' text (keys: {', '.join(body) or 'none'})",
                conversation_id=conversation_id,
            )
        tokens = as_int(body.get("tokensUsed", body.get("tokens_used")))
        return Outcome(output=generated, conversation_id=conversation_id, tokens_used=tokens)

    def _workflow(self) -> Outcome:
        workflow = self._settings.target_id
        what = f"codemie workflow {workflow!r} execution request"
        response = self._http.request(
            "POST",
            f"{self._base}/v1/workflows/{self._id}/executions",
            what=what,
            json_body={"user_input": self._settings.input},
            auth=self._auth,
            counted=True,
        )
        body = parse_json_object(response, what)
        execution_id = as_text(body.get("execution_id")) or as_text(body.get("id"))
        if execution_id is None:
            raise RunFailedError(f"{what}: the answer has neither 'execution_id' nor 'id'")
        conversation_id = as_text(body.get("conversation_id"))
        self._log.info(
            f"workflow {workflow!r} execution {execution_id} started",
            event="workflow.started",
            executionId=execution_id,
        )
        body = self._poll(execution_id, body, conversation_id)
        status = body.get("overall_status")
        tokens = _workflow_tokens(body)
        if status != "Succeeded":
            raise RunFailedError(
                f"workflow {workflow!r} execution {execution_id} ended {status!r}",
                execution_id=execution_id,
                conversation_id=conversation_id,
                output=as_text(body.get("output")) or "",
                tokens_used=tokens,
            )
        output, note = self._final_output(execution_id, body)
        return Outcome(
            output=output,
            execution_id=execution_id,
            conversation_id=conversation_id,
            tokens_used=tokens,
            note=note,
        )

    def _poll(
        self, execution_id: str, body: dict[str, Any], conversation_id: str | None
    ) -> dict[str, Any]:
        """Poll with growing intervals until the execution reaches a terminal status."""
        deadline = self._http.deadline
        backoff = self._http.backoff
        url = f"{self._base}/v1/workflows/{self._id}/executions/{quote(execution_id, safe='')}"
        what = f"codemie workflow execution {execution_id} status"
        interval = backoff.base_seconds
        status = body.get("overall_status")
        try:
            while status not in TERMINAL_STATUSES:
                deadline.activity = f"workflow execution {execution_id}"
                self._http.sleep(max(min(interval, deadline.remaining()), 0.0))
                if deadline.expired():
                    raise deadline.error()
                interval = min(max(interval * 2, 0.001), backoff.max_seconds)
                response = self._http.request("GET", url, what=what, auth=self._auth)
                body = parse_json_object(response, what)
                if body.get("overall_status") != status:
                    status = body.get("overall_status")
                    self._log.info(
                        f"workflow execution {execution_id} is {status!r}",
                        event="workflow.status",
                        executionId=execution_id,
                        status=status,
                    )
        except RunnerError as exc:
            if isinstance(exc, DeadlineError):
                exc.message += f" (last status {status!r})"
            exc.execution_id = exc.execution_id or execution_id
            exc.conversation_id = exc.conversation_id or conversation_id
            raise
        return body

    def _final_output(self, execution_id: str, body: dict[str, Any]) -> tuple[str, str]:
        """The workflow's answer: the execution's `output`, else its last state's output.

        Best effort: the run succeeded, so a failure here only adds a note.
        """
        output = body.get("output")
        if isinstance(output, str):
            return output, ""
        base = (
            f"{self._base}/v1/workflows/{self._id}/executions/{quote(execution_id, safe='')}/states"
        )
        what = f"codemie workflow execution {execution_id} states"
        try:
            page = self._states_page(base, what, 0)
            pagination = page.get("pagination")
            pages = as_int(pagination.get("pages")) if isinstance(pagination, dict) else None
            if pages is not None and pages > 1:
                page = self._states_page(base, what, pages - 1)
            states = [s for s in page.get("data") or [] if isinstance(s, dict) and s.get("id")]
            if not states:
                return "", "the workflow reported no states to take the output from"
            state_id = quote(str(states[-1]["id"]), safe="")
            response = self._http.request(
                "GET", f"{base}/{state_id}/output", what=what, auth=self._auth
            )
            return as_text(parse_json_object(response, what).get("output")) or "", ""
        except RunnerError as exc:
            self._log.warning(f"could not read the output: {exc.message}", event="workflow.output")
            return "", f"output not available: {exc.message}"

    def _states_page(self, base: str, what: str, page: int) -> dict[str, Any]:
        url = f"{base}?page={page}&per_page={STATES_PAGE_SIZE}"
        response = self._http.request("GET", url, what=what, auth=self._auth)
        return parse_json_object(response, what)


def _workflow_tokens(body: dict[str, Any]) -> int | None:
    usage = body.get("tokens_usage")
    if isinstance(usage, dict):
        counts = [as_int(usage.get(k)) for k in ("input_tokens", "output_tokens")]
        if any(c is not None for c in counts):
            return sum(c or 0 for c in counts)
    return as_int(body.get("tokensUsed", body.get("tokens_used")))
