"""The runner's termination message → its `RunResult`, bounded for status.history.

Tolerant: a missing, truncated or non-JSON message still yields a result (with `result`
None and a message saying what was wrong); a message that does not match the model keeps
the fields that do."""

from __future__ import annotations

import json
from typing import Any

from pydantic import ValidationError

from aischeduler_runner.contract import RunResult, clip

# Bounds for what goes into status.history (the full answer is in the pod's log).
MAX_OUTPUT_CHARS = 2000
MAX_MESSAGE_CHARS = 1000


def _bounded(r: RunResult) -> RunResult:
    return r.model_copy(
        update={
            "message": clip(r.message, MAX_MESSAGE_CHARS),
            "output": clip(r.output, MAX_OUTPUT_CHARS),
        }
    )


def _salvage(data: dict[str, Any]) -> RunResult:
    """The fields that match the model, one by one (all of them in a well-formed result)."""
    kept: dict[str, Any] = {}
    for name, field in RunResult.model_fields.items():
        key = field.alias or name
        if key not in data:
            continue
        try:
            RunResult.model_validate({key: data[key]})
        except ValidationError:
            continue
        kept[key] = data[key]
    if not kept:
        return RunResult(message="runner result did not match the result format")
    return RunResult.model_validate(kept)


def _read(message: str | None) -> RunResult:
    if message is None or not message.strip():
        return RunResult(message="the runner left no result (no termination message)")
    try:
        data = json.loads(message)
    except json.JSONDecodeError:
        excerpt = clip(message.strip(), 200)
        return RunResult(message=f"the runner result is not valid JSON: {excerpt}")
    if not isinstance(data, dict):
        return RunResult(message="the runner result is not a JSON object")
    return _salvage(data)


def parse_termination_message(message: str | None) -> RunResult:
    return _bounded(_read(message))
