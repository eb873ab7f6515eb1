"""The run result: the one JSON object the runner writes to the termination message path.

The operator imports this module to parse termination messages, so it depends on pydantic
and the standard library only (no httpx), and its names are part of the contract.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# Kubernetes keeps at most 4096 bytes of a container's termination message.
RESULT_LIMIT_BYTES = 4096

# Appended to a text field that had to be cut.
TRUNCATION_MARK = "…"

_TEXT_FIELDS = ("output", "message")
_ID_FIELDS = ("executionId", "conversationId")
# Longer ids are cut before any text (real ids are far shorter).
_MAX_ID_CHARS = 256


class RunResult(BaseModel):
    """Outcome of one run, as written by the runner and read back by the operator.

    Field names are the JSON keys of the termination message (camelCase on purpose).
    """

    model_config = ConfigDict(frozen=True)

    result: Literal["Succeeded", "Failed"]
    message: str
    output: str = ""
    executionId: str | None = None  # noqa: N815 - the JSON key
    conversationId: str | None = None  # noqa: N815 - the JSON key
    tokensUsed: int | None = None  # noqa: N815 - the JSON key
    durationSeconds: float = Field(ge=0)  # noqa: N815 - the JSON key
    attempts: int = Field(ge=0)


def decode_result(data: str | bytes) -> RunResult:
    """Parse a termination message written by `encode_result` (raises pydantic.ValidationError)."""
    return RunResult.model_validate_json(data)


def encode_result(r: RunResult, limit: int = RESULT_LIMIT_BYTES) -> bytes:
    """Serialize `r` as compact UTF-8 JSON of at most `limit` bytes.

    When the object is too large, `output` is cut first, then `message` (after capping
    absurdly long ids), at a character boundary and marked with an ellipsis, so the bytes
    are always valid UTF-8 and valid JSON. Sizes are measured on the encoded bytes:
    JSON escaping (quotes, control characters) and multi-byte characters make the
    encoding longer than the text.
    """
    fields = {key: _valid_text(value) for key, value in r.model_dump().items()}
    encoded = _dump(fields)
    if len(encoded) <= limit:
        return encoded
    for key in _ID_FIELDS:
        if isinstance(fields[key], str):
            fields[key] = fields[key][:_MAX_ID_CHARS]
    for key in _TEXT_FIELDS:
        encoded = _shrink(fields, key, limit, TRUNCATION_MARK)
        if len(encoded) <= limit:
            return encoded
    for key in _ID_FIELDS:
        encoded = _shrink(fields, key, limit, "")
        if len(encoded) <= limit:
            return encoded
    raise ValueError(f"a run result cannot fit in {limit} bytes")


def _shrink(fields: dict[str, Any], key: str, limit: int, mark: str) -> bytes:
    """Cut `fields[key]` to the longest prefix that fits; empties it when nothing fits."""
    value = fields[key]
    current = _dump(fields)
    if not value or len(current) <= limit:
        return current

    def encoded_with(prefix_chars: int) -> bytes:
        return _dump({**fields, key: value[:prefix_chars] + mark})

    # Every character takes at least one byte, so no prefix longer than `limit` can fit;
    # encoded size grows with the prefix length, so a binary search finds the longest fit.
    low, high = 0, min(len(value), limit)
    if len(encoded_with(low)) > limit:
        fields[key] = "" if key in _TEXT_FIELDS else None
        return _dump(fields)
    while low < high:
        middle = (low + high + 1) // 2
        if len(encoded_with(middle)) <= limit:
            low = middle
        else:
            high = middle - 1
    fields[key] = value[:low] + mark
    return _dump(fields)


def _valid_text(value: Any) -> Any:
    """Replace lone surrogates (possible after JSON decoding) so the text encodes as UTF-8."""
    if isinstance(value, str):
        return value.encode("utf-8", errors="replace").decode("utf-8")
    return value


def _dump(fields: dict[str, Any]) -> bytes:
    return json.dumps(fields, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode(
        "utf-8"
    )
