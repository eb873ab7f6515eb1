"""Pure helpers: the retry policy, Retry-After parsing, backoff delays, redaction."""

from __future__ import annotations

import random
from datetime import UTC, datetime

import httpx
import pytest

from aischeduler_runner.http import Backoff, Effect, may_resend, parse_retry_after
from aischeduler_runner.redact import MASK, Redactor

NOW = datetime(2030, 5, 1, 12, 0, 0, tzinfo=UTC)


REQUEST = httpx.Request("POST", "https://codemie.example/v1/workflows/wf/executions")


@pytest.mark.parametrize(
    ("failure", "read", "starts_work"),
    [
        (httpx.ConnectError("[Errno 111] Connection refused", request=REQUEST), True, True),
        (httpx.ConnectTimeout("connect", request=REQUEST), True, True),
        (httpx.ReadTimeout("read", request=REQUEST), True, False),
        (httpx.WriteTimeout("write", request=REQUEST), True, False),
        (httpx.RemoteProtocolError("disconnected", request=REQUEST), True, False),
        (httpx.ReadError("reset", request=REQUEST), True, False),
        (408, True, False),
        (425, True, False),
        (429, True, True),
        (500, True, False),
        (502, True, False),
        (503, True, True),
        (504, True, False),
        (400, False, False),
        (409, False, False),
    ],
    ids=str,
)
def test_what_may_be_sent_again(
    failure: int | httpx.TransportError, read: bool, starts_work: bool
) -> None:
    assert may_resend(Effect.READ, failure) is read
    assert may_resend(Effect.STARTS_WORK, failure) is starts_work


@pytest.mark.parametrize(
    ("header", "seconds"),
    [
        (None, None),
        ("", None),
        ("0", 0.0),
        ("120", 120.0),
        ("1.5", 1.5),
        ("-3", 0.0),
        ("Wed, 01 May 2030 12:00:30 GMT", 30.0),
        ("Wed, 01 May 2030 11:00:00 GMT", 0.0),
        ("next tuesday", None),
    ],
)
def test_parse_retry_after(header: str | None, seconds: float | None) -> None:
    assert parse_retry_after(header, now=NOW) == seconds


def test_backoff_grows_exponentially_with_jitter_and_a_cap() -> None:
    backoff = Backoff(base_seconds=1.0, max_seconds=8.0, max_attempts=10)
    rng = random.Random(7)  # noqa: S311 - jitter, not cryptography
    for attempt, ceiling in [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 8.0), (9, 8.0)]:
        delays = [backoff.delay(attempt, rng) for _ in range(50)]
        assert all(ceiling / 2 <= d <= ceiling for d in delays)
        assert len(set(delays)) > 1  # jittered


@pytest.mark.parametrize(
    ("secret", "text"),
    [
        ("plain-secret", "token plain-secret here"),
        ('q"uote', 'json {"detail": "q\\"uote"}'),
        ("a+b/c&d", "form client_secret=a%2Bb%2Fc%26d&x=1"),
        ("a+b/c&d", "path /a%2Bb%2Fc%26d"),
        ("pässwörd", 'ascii json "p\\u00e4ssw\\u00f6rd"'),
        ("  padded\n", "value padded in a header"),
    ],
)
def test_redactor_masks_every_spelling(secret: str, text: str) -> None:
    redacted = Redactor([secret]).text(text)
    assert MASK in redacted
    assert secret.strip() not in redacted


def test_redactor_scrubs_nested_values_and_learns_new_secrets() -> None:
    redactor = Redactor(["s3cr3t"])
    redactor.add("kc-access-token")
    value = {"a": ["x s3cr3t", {"kc-access-token": 1}], "b": 2}
    assert redactor.scrub(value) == {"a": [f"x {MASK}", {MASK: 1}], "b": 2}
