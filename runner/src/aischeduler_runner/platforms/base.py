"""What every platform returns, and helpers to read platform answers defensively."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

import httpx

from ..errors import RunFailedError
from ..http import body_excerpt


@dataclass(frozen=True)
class Outcome:
    """A successful run: the full answer and what the platform said about the run."""

    output: str
    execution_id: str | None = None
    conversation_id: str | None = None
    tokens_used: int | None = None
    # Something the user should know although the run succeeded.
    note: str = ""


class Platform(Protocol):
    def run(self) -> Outcome:
        """Call the target once; raise RunnerError subclasses when it does not succeed."""
        ...

    def abandon(self) -> str:
        """Stop what `run` left running on the platform; a note for the message, or "".

        Called when the run ends without a result (deadline, SIGTERM, giving up): bounded
        in time and never raising, so the real reason still reaches the result.
        """
        ...


def parse_json_object(response: httpx.Response, what: str) -> dict[str, Any]:
    """The response body as a JSON object, or RunFailedError with a message saying what came."""
    try:
        body = json.loads(response.content)
    # ValueError also covers integers longer than Python converts; RecursionError, arrays
    # nested deeper than the parser recurses.
    except (ValueError, RecursionError) as exc:
        raise RunFailedError(
            f"{what}: HTTP {response.status_code} with a body that is not valid JSON "
            f"({exc}); body starts: {body_excerpt(response, 120)!r}"
        ) from exc
    if not isinstance(body, dict):
        raise RunFailedError(
            f"{what}: expected a JSON object, got {type(body).__name__}: "
            f"{body_excerpt(response, 120)!r}"
        )
    return body


# Counts beyond this are no real count, and the operator stores `tokensUsed` in a field
# the apiserver keeps as a 64-bit integer (and JSON readers as a double).
MAX_COUNT = 2**53 - 1


def as_int(value: Any) -> int | None:
    """A count (tokens, pages) from an answer; None when absent, negative, absurdly large or
    not a whole number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, int) and 0 <= value <= MAX_COUNT:
        return value
    return None


def as_text(value: Any) -> str | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None
