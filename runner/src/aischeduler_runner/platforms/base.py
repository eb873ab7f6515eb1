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
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
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


def as_int(value: Any) -> int | None:
    """A token count from an answer; None when absent or not a whole number."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def as_text(value: Any) -> str | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None
