"""Masks secret values wherever they could surface: logs, messages, echoed error bodies."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "***"


class Redactor:
    """Replaces every known secret, and its JSON- and URL-escaped spellings, with `MASK`.

    Secrets are added as they become known: the credentials at start, and each access
    token obtained from Keycloak later.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._needles: list[str] = []
        for secret in secrets:
            self.add(secret)

    def add(self, secret: str) -> None:
        if not secret:
            return
        escaped = json.dumps(secret)[1:-1]
        variants = {
            secret,
            secret.strip(),
            escaped,
            json.dumps(escaped)[1:-1],  # a JSON string inside a JSON string (echoed bodies)
            json.dumps(secret, ensure_ascii=False)[1:-1],
            quote_plus(secret),
            quote(secret, safe=""),
        }
        self._needles.extend(v for v in variants if v and v not in self._needles)
        # Longest first, so a secret containing another one is masked whole.
        self._needles.sort(key=len, reverse=True)

    def text(self, value: str) -> str:
        for needle in self._needles:
            if needle in value:
                value = value.replace(needle, MASK)
        return value

    def scrub(self, value: Any) -> Any:
        """Redact every string inside a JSON-like value."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.scrub(k): self.scrub(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [self.scrub(v) for v in value]
        return value
