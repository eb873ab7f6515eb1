"""The runner contract (spec §4): what the operator and the runner must agree on, defined once.

The operator imports this module to build the runner's environment and to read its result;
the runner imports it to read its settings and to write that result. It therefore depends on
pydantic and the standard library only (no httpx, no kopf), and every name here is part of
the contract: change one side, and both sides change with it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

TargetKind = Literal["assistant", "workflow"]
PlatformType = Literal["codemie", "openai", "webhook"]
Outcome = Literal["Succeeded", "Failed"]


class Env:
    """The runner's environment variables (spec §4)."""

    TARGET_KIND: Final = "AISCHED_TARGET_KIND"
    TARGET_ID: Final = "AISCHED_TARGET_ID"
    INPUT: Final = "AISCHED_INPUT"
    PLATFORM_TYPE: Final = "AISCHED_PLATFORM_TYPE"
    PLATFORM_URL: Final = "AISCHED_PLATFORM_URL"
    TIMEOUT_SECONDS: Final = "AISCHED_TIMEOUT_SECONDS"
    SCHEDULE: Final = "AISCHED_SCHEDULE"
    RUN_ID: Final = "AISCHED_RUN_ID"
    CREDENTIALS_SECRET: Final = "AISCHED_CREDENTIALS_SECRET"  # noqa: S105 - the Secret's name
    RESULT_PATH: Final = "AISCHED_RESULT_PATH"
    # Retry tuning: the operator leaves them at the runner's defaults; tests shorten them.
    BACKOFF_BASE_SECONDS: Final = "AISCHED_BACKOFF_BASE_SECONDS"
    BACKOFF_MAX_SECONDS: Final = "AISCHED_BACKOFF_MAX_SECONDS"
    MAX_ATTEMPTS: Final = "AISCHED_MAX_ATTEMPTS"
    # Schedule policies (spec §7). The run's scheduled time, for the input's placeholders:
    # given for the runs the operator starts (run-now, one-time); for a CronJob's runs the
    # runner reads it from RUN_ID, which the CronJob controller names <CRONJOB>-<Unix minutes>.
    SCHEDULED_TIME: Final = "AISCHED_SCHEDULED_TIME"
    CRONJOB: Final = "AISCHED_CRONJOB"
    TIME_ZONE: Final = "AISCHED_TIME_ZONE"
    TRIGGER: Final = "AISCHED_TRIGGER"
    JITTER_SECONDS: Final = "AISCHED_JITTER_SECONDS"
    MAX_TOKENS: Final = "AISCHED_MAX_TOKENS"


# Credentials Secret key -> environment variable (spec §4.3); each comes from the Secret
# through an optional secretKeyRef.
CREDENTIAL_VARIABLES: Final[dict[str, str]] = {
    "token": "AISCHED_TOKEN",
    "auth-server-url": "AISCHED_AUTH_SERVER_URL",
    "realm": "AISCHED_AUTH_REALM",
    "client-id": "AISCHED_CLIENT_ID",
    "client-secret": "AISCHED_CLIENT_SECRET",
    "username": "AISCHED_USERNAME",
    "password": "AISCHED_PASSWORD",
    "api-key": "AISCHED_API_KEY",
    "signing-secret": "AISCHED_SIGNING_SECRET",
}
# Values that must never be shown anywhere.
SECRET_VARIABLES: Final = (
    "AISCHED_TOKEN",
    "AISCHED_CLIENT_SECRET",
    "AISCHED_PASSWORD",
    "AISCHED_API_KEY",
    "AISCHED_SIGNING_SECRET",
)

# Exit codes (spec §4.1). The operator's Job fails at once on EXIT_CONFIG (no retry).
EXIT_SUCCEEDED: Final = 0
EXIT_FAILED: Final = 1
EXIT_CONFIG: Final = 2

# The numeric non-root user the runner image runs as and its pods are given.
RUNNER_UID: Final = 65532

# Where the result goes (the kubelet's termination message path) and how large it may be:
# Kubernetes keeps at most 4096 bytes of a container's termination message.
DEFAULT_RESULT_PATH: Final = Path("/dev/termination-log")
RESULT_LIMIT_BYTES: Final = 4096

# Appended to a text that had to be cut.
TRUNCATION_MARK: Final = "…"


def clip(text: str, limit: int, mark: str = TRUNCATION_MARK) -> str:
    """`text` if it has at most `limit` characters, else its longest prefix that, with
    `mark` appended, has exactly `limit` characters (the one truncation routine)."""
    if len(text) <= limit:
        return text
    if limit <= len(mark):
        return mark[: max(0, limit)]
    return text[: limit - len(mark)] + mark


class RunReport(BaseModel):
    """What a run reports about itself; the operator's history entry derives from it.

    Attribute names are Python's, the aliases are the JSON keys (camelCase on purpose).
    `durationSeconds` and `attempts` are always written by the runner; they are None only
    in a result read back from a damaged termination message.
    """

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    message: str = ""
    output: str = Field(default="", description="An excerpt of the answer.")
    execution_id: str | None = Field(default=None, alias="executionId")
    conversation_id: str | None = Field(default=None, alias="conversationId")
    tokens_used: int | None = Field(default=None, alias="tokensUsed")
    duration_seconds: float | None = Field(default=None, ge=0, alias="durationSeconds")
    attempts: int | None = Field(
        default=None, ge=0, description="How often the runner sent the request that starts the run."
    )


class RunResult(RunReport):
    """The one JSON object the runner writes to its termination message path (spec §4.1).

    `result` is None only when read back from a message that did not say.
    """

    result: Outcome | None = None


_TEXT_FIELDS = ("output", "message")
_ID_FIELDS = ("executionId", "conversationId")
# Longer ids are cut before any text (real ids are far shorter).
_MAX_ID_CHARS = 256


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
    # `result` first, as in spec §4.1, so a cut message still reads well in `kubectl describe`.
    dumped = r.model_dump(by_alias=True)
    ordered = {"result": dumped.pop("result"), **dumped}
    fields = {key: _valid_text(value) for key, value in ordered.items()}
    encoded = _dump(fields)
    if len(encoded) <= limit:
        return encoded
    for key in _ID_FIELDS:
        if isinstance(fields[key], str):
            fields[key] = clip(fields[key], _MAX_ID_CHARS, mark="")
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
    """Clip `fields[key]` to the most characters that fit; empties it when nothing fits."""
    value = fields[key]
    current = _dump(fields)
    if not value or len(current) <= limit:
        return current

    def encoded_with(chars: int) -> bytes:
        return _dump({**fields, key: clip(value, chars, mark)})

    # Every character takes at least one byte, so no clip longer than `limit` can fit;
    # the encoded size grows with the clip's length, so a binary search finds the longest.
    low, high = len(mark), min(len(value) - 1, limit)
    if len(encoded_with(low)) > limit:
        fields[key] = "" if key in _TEXT_FIELDS else None
        return _dump(fields)
    while low < high:
        middle = (low + high + 1) // 2
        if len(encoded_with(middle)) <= limit:
            low = middle
        else:
            high = middle - 1
    fields[key] = clip(value, low, mark)
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
