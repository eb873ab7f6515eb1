"""AI/Run CodeMie: assistant chat, and workflow executions polled to a terminal status."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

from ..errors import DeadlineError, RunFailedError, RunnerError
from ..http import Authenticator, Effect, Http
from ..logs import JsonLog
from ..settings import Settings
from .base import Outcome, as_int, as_text, parse_json_object
from .codemie_answers import (
    SUCCEEDED,
    TERMINAL_STATUSES,
    State,
    assistant_failure,
    tool_errors,
    workflow_ending,
)

# States fetched per page (the backend's default is 10; oldest first).
STATES_PAGE_SIZE = 100
# Pages read when looking for the state a workflow failed in, before giving up.
MAX_STATES_PAGES = 20
# How long the abort of an abandoned execution may take: the run is already over.
ABORT_SECONDS = 5.0


class CodeMie:
    def __init__(self, settings: Settings, http: Http, auth: Authenticator, log: JsonLog) -> None:
        self._settings = settings
        self._http = http
        self._auth = auth
        self._log = log
        self._base = settings.platform_url
        self._id = quote(settings.target_id, safe="")
        # The workflow execution started and not yet seen in a terminal status.
        self._in_flight: str | None = None

    def run(self) -> Outcome:
        if self._settings.target_kind == "workflow":
            return self._workflow()
        return self._assistant()

    def abandon(self) -> str:
        """Abort the execution still running, once; a note for the result's message."""
        execution_id, self._in_flight = self._in_flight, None
        if execution_id is None:
            return ""
        problem = self._http.send_once(
            "PUT",
            f"{self._execution_url(execution_id)}/abort",
            what=f"codemie workflow execution {execution_id} abort",
            auth=self._auth,
            seconds=ABORT_SECONDS,
        )
        if problem is None:
            self._log.info(
                f"workflow execution {execution_id} aborted",
                event="workflow.aborted",
                executionId=execution_id,
            )
            return f"; the execution {execution_id} was aborted in CodeMie"
        self._log.warning(
            f"could not abort workflow execution {execution_id}: {problem}",
            event="workflow.abort_failed",
            executionId=execution_id,
        )
        return f"; aborting the execution {execution_id} in CodeMie failed: {problem}"

    def _assistant(self) -> Outcome:
        conversation_id = str(uuid.uuid4())
        what = f"codemie assistant {self._settings.target_id!r} call"
        try:
            response = self._http.request(
                "POST",
                # Without include_tool_errors the backend leaves out agentError/toolErrors.
                f"{self._base}/v1/assistants/{self._id}/model?include_tool_errors=true",
                what=what,
                effect=Effect.STARTS_WORK,
                json_body={
                    "text": self._settings.input,
                    "conversation_id": conversation_id,
                    "stream": False,
                },
                auth=self._auth,
            )
            body = parse_json_object(response, what)
        except RunnerError as exc:
            exc.conversation_id = conversation_id
            raise
        generated = body.get("generated")
        tokens = as_int(body.get("tokensUsed", body.get("tokens_used")))
        if (failure := assistant_failure(body)) is not None:
            raise RunFailedError(
                f"assistant {self._settings.target_id!r} failed in CodeMie: {failure}",
                conversation_id=conversation_id,
                output=generated if isinstance(generated, str) else "",
                tokens_used=tokens,
            )
        if not isinstance(generated, str):
            raise RunFailedError(
                f"{what}: the answer has no 'generated' text (keys: {', '.join(body) or 'none'})",
                conversation_id=conversation_id,
            )
        # The agent answered although tools failed: a success, but the user should know.
        note = f"tool errors: {tools}" if (tools := tool_errors(body)) else ""
        return Outcome(
            output=generated, conversation_id=conversation_id, tokens_used=tokens, note=note
        )

    def _workflow(self) -> Outcome:
        workflow = self._settings.target_id
        what = f"codemie workflow {workflow!r} execution request"
        response = self._http.request(
            "POST",
            f"{self._base}/v1/workflows/{self._id}/executions",
            what=what,
            effect=Effect.STARTS_WORK,
            json_body={"user_input": self._settings.input},
            auth=self._auth,
        )
        body = parse_json_object(response, what)
        # The backend looks executions up by `execution_id`; its `id` is a row id.
        execution_id = as_text(body.get("execution_id"))
        if execution_id is None:
            raise RunFailedError(
                f"{what}: the answer has no 'execution_id' (keys: {', '.join(body) or 'none'})"
            )
        self._in_flight = execution_id
        conversation_id = as_text(body.get("conversation_id"))
        self._log.info(
            f"workflow {workflow!r} execution {execution_id} started",
            event="workflow.started",
            executionId=execution_id,
        )
        body = self._poll(execution_id, body, conversation_id)
        self._in_flight = None
        status = str(body.get("overall_status"))
        tokens = _workflow_tokens(body)
        if status != SUCCEEDED:
            state, details = self._ending_state(execution_id, status)
            error = workflow_ending(workflow, execution_id, status, state, details)
            error.conversation_id = conversation_id
            error.tokens_used = tokens
            raise error
        output, note = self._final_output(execution_id)
        return Outcome(
            output=output,
            execution_id=execution_id,
            conversation_id=conversation_id,
            tokens_used=tokens,
            note=note,
        )

    def _execution_url(self, execution_id: str) -> str:
        return f"{self._base}/v1/workflows/{self._id}/executions/{quote(execution_id, safe='')}"

    def _poll(
        self, execution_id: str, body: dict[str, Any], conversation_id: str | None
    ) -> dict[str, Any]:
        """Poll with growing intervals until the execution reaches a terminal status."""
        deadline = self._http.deadline
        backoff = self._http.backoff
        url = self._execution_url(execution_id)
        what = f"codemie workflow execution {execution_id} status"
        interval = backoff.base_seconds
        status = body.get("overall_status")
        try:
            while not _is_terminal(status):
                deadline.activity = f"workflow execution {execution_id}"
                self._http.sleep(max(min(interval, deadline.remaining()), 0.0))
                if deadline.expired():
                    raise deadline.error()
                interval = min(max(interval * 2, 0.001), backoff.max_seconds)
                response = self._http.request(
                    "GET", url, what=what, effect=Effect.READ, auth=self._auth
                )
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

    def _final_output(self, execution_id: str) -> tuple[str, str]:
        """The workflow's answer: the output of its last state (the execution GET has none).

        Best effort: the run succeeded, so a failure here only adds a note.
        """
        try:
            states, pages = self._states_page(execution_id, 0)
            if pages > 1:
                states, _ = self._states_page(execution_id, pages - 1)
            if not states:
                return "", "the workflow reported no states to take the output from"
            return self._state_output(execution_id, states[-1]), ""
        except RunnerError as exc:
            self._log.warning(f"could not read the output: {exc.message}", event="workflow.output")
            return "", f"output not available: {exc.message}"

    def _ending_state(self, execution_id: str, status: str) -> tuple[State | None, str]:
        """The first state (oldest first) that ended with the execution's status.

        Best effort: the run failed either way; a problem here becomes a detail.
        """
        try:
            page, pages = 0, 1
            while page < min(pages, MAX_STATES_PAGES):
                states, pages = self._states_page(execution_id, page)
                for state in states:
                    if state.get("status") == status:
                        name = as_text(state.get("name")) or str(state["id"])
                        return State(name, self._state_output(execution_id, state)), ""
                page += 1
        except RunnerError as exc:
            self._log.warning(f"could not read the states: {exc.message}", event="workflow.states")
            return None, f"state details not available: {exc.message}"
        return None, ""

    def _states_page(self, execution_id: str, page: int) -> tuple[list[dict[str, Any]], int]:
        """One page of the execution's states (those with an id) and the number of pages."""
        url = f"{self._execution_url(execution_id)}/states?page={page}&per_page={STATES_PAGE_SIZE}"
        what = f"codemie workflow execution {execution_id} states"
        response = self._http.request("GET", url, what=what, effect=Effect.READ, auth=self._auth)
        body = parse_json_object(response, what)
        pagination = body.get("pagination")
        pages = as_int(pagination.get("pages")) if isinstance(pagination, dict) else None
        data = body.get("data")
        rows = data if isinstance(data, list) else []
        states = [s for s in rows if isinstance(s, dict) and s.get("id")]
        return states, pages or 1

    def _state_output(self, execution_id: str, state: dict[str, Any]) -> str:
        state_id = quote(str(state["id"]), safe="")
        url = f"{self._execution_url(execution_id)}/states/{state_id}/output"
        what = f"codemie workflow execution {execution_id} state output"
        response = self._http.request("GET", url, what=what, effect=Effect.READ, auth=self._auth)
        return as_text(parse_json_object(response, what).get("output")) or ""


def _is_terminal(status: Any) -> bool:
    # A status of the wrong type (a list, an object) is no known status: keep polling.
    return isinstance(status, str) and status in TERMINAL_STATUSES


def _workflow_tokens(body: dict[str, Any]) -> int | None:
    usage = body.get("tokens_usage")
    if isinstance(usage, dict):
        counts = [as_int(usage.get(k)) for k in ("input_tokens", "output_tokens")]
        if any(c is not None for c in counts):
            return sum(c or 0 for c in counts)
    return as_int(body.get("tokensUsed", body.get("tokens_used")))
