"""The runner's termination message → history fields. Tolerant: a missing, truncated or
non-JSON message still yields a record, with a message saying what was wrong."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from aischeduler_runner.result import RunResult, decode_result

# Bounds for what goes into status.history (the full answer is in the pod's log).
MAX_OUTPUT_CHARS = 2000
MAX_MESSAGE_CHARS = 1000


@dataclass(frozen=True)
class RunnerReport:
    result: str | None  # Succeeded | Failed as the runner saw it; None when unreadable
    message: str
    output: str = ""
    execution_id: str | None = None
    conversation_id: str | None = None
    tokens_used: int | None = None
    duration_seconds: float | None = None


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _from_result(r: RunResult) -> RunnerReport:
    return RunnerReport(
        result=r.result,
        message=clip(r.message, MAX_MESSAGE_CHARS),
        output=clip(r.output, MAX_OUTPUT_CHARS),
        execution_id=r.executionId,
        conversation_id=r.conversationId,
        tokens_used=r.tokensUsed,
        duration_seconds=r.durationSeconds,
    )


def _salvage(data: dict[str, Any]) -> RunnerReport:
    """Keeps the readable fields of a result that does not match the model."""

    def text(key: str) -> str:
        value = data.get(key)
        return value if isinstance(value, str) else ""

    tokens = data.get("tokensUsed")
    duration = data.get("durationSeconds")
    message = text("message") or "runner result did not match the result format"
    return RunnerReport(
        result=data.get("result") if data.get("result") in ("Succeeded", "Failed") else None,
        message=clip(message, MAX_MESSAGE_CHARS),
        output=clip(text("output"), MAX_OUTPUT_CHARS),
        execution_id=text("executionId") or None,
        conversation_id=text("conversationId") or None,
        tokens_used=tokens if isinstance(tokens, int) and not isinstance(tokens, bool) else None,
        duration_seconds=float(duration) if isinstance(duration, int | float) else None,
    )


def parse_termination_message(message: str | None) -> RunnerReport:
    if message is None or not message.strip():
        return RunnerReport(
            result=None, message="the runner left no result (no termination message)"
        )
    try:
        return _from_result(decode_result(message))
    except ValidationError:
        pass
    try:
        data = json.loads(message)
    except json.JSONDecodeError:
        excerpt = clip(message.strip(), 200)
        return RunnerReport(result=None, message=f"the runner result is not valid JSON: {excerpt}")
    if not isinstance(data, dict):
        return RunnerReport(result=None, message="the runner result is not a JSON object")
    return _salvage(data)
