"""What CodeMie's answers mean: pure functions over the JSON the backend sends.

Field spellings are the backend's (`BaseModelResponse` is serialised by alias, so the
assistant answer is camelCase at the top level; the error objects inside it, and every
workflow model, are snake_case).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError, RunFailedError, RunnerError
from .base import as_text

# Workflow `overall_status` values (backend `WorkflowExecutionStatusEnum`).
SUCCEEDED = "Succeeded"
FAILED = "Failed"
ABORTED = "Aborted"
INTERRUPTED = "Interrupted"
# Upper case, and missing from the SDK's enum: an MCP server needs a person to log in.
AUTHENTICATION_REQUIRED = "AUTHENTICATION_REQUIRED"
TERMINAL_STATUSES = frozenset({SUCCEEDED, FAILED, ABORTED, INTERRUPTED, AUTHENTICATION_REQUIRED})
# How much of an agent's or a state's error goes into the result's message.
ERROR_CHARS = 500


def excerpt(text: str, limit: int = ERROR_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"


def _error_text(error: Any) -> str:
    """`message` of an AgentErrorDetails / ToolErrorDetails object, with its code."""
    if not isinstance(error, dict):
        return as_text(error) or ""
    message = as_text(error.get("message")) or ""
    code = as_text(error.get("error_code"))
    tool = as_text(error.get("tool_name"))
    head = ": ".join(part for part in (tool, code) if part)
    return f"{head}: {message}" if head and message else head or message


def tool_errors(body: dict[str, Any]) -> str:
    """The answer's `toolErrors`, one phrase; "" when there are none."""
    errors = body.get("toolErrors")
    if not isinstance(errors, list):
        return ""
    return "; ".join(text for text in (_error_text(e) for e in errors) if text)


def assistant_failure(body: dict[str, Any]) -> str | None:
    """Why the assistant run failed although the backend answered 200, or None.

    The backend sets `success: false` when the agent failed and still puts the error text
    in `generated`; `agentError` (sent only with `include_tool_errors=true`) says why.
    """
    agent_error = _error_text(body.get("agentError"))
    if body.get("success") is not False and not agent_error:
        return None
    generated = as_text(body.get("generated")) or ""
    reason = agent_error or excerpt(generated) or "no error details"
    tools = tool_errors(body)
    return f"{reason}; tool errors: {tools}" if tools else reason


@dataclass(frozen=True)
class State:
    """The workflow state an execution ended in, as far as it could be read."""

    name: str
    output: str = ""


def workflow_ending(
    workflow: str, execution_id: str, status: str, state: State | None, details: str = ""
) -> RunnerError:
    """The error for an execution that ended with a terminal status other than Succeeded.

    `state` is the state that failed (or was aborted, interrupted, waiting for a login);
    `details` says why it is unknown when it could not be read.
    """
    where = f" in state {state.name!r}" if state else ""
    why = f": {excerpt(state.output)}" if state and state.output else ""
    ended = f"workflow {workflow!r} execution {execution_id} ended {status!r}{where}"
    if status == AUTHENTICATION_REQUIRED:
        # A person has to act in CodeMie; running again without that cannot help (exit 2).
        error: RunnerError = ConfigError(
            f"{ended}: a person must log in to the workflow's MCP server in CodeMie "
            f"(as the user the scheduler runs as) before the workflow can run"
        )
    elif status == INTERRUPTED:
        error = RunFailedError(
            f"{ended}: the execution waits for input in CodeMie (human in the loop); "
            f"resume or abort it there"
        )
    else:
        error = RunFailedError(f"{ended}{why}")
    if details:
        error.message += f" ({details})"
    error.execution_id = execution_id
    error.output = state.output if state and status in (FAILED, ABORTED) else ""
    return error
