"""HTTP calls with retries: exponential backoff with jitter, Retry-After, one deadline.

What is retried depends on the request's `Effect` (spec §4.1): a read is sent again after
any transient failure (connection error, timeout, 408, 425, 429, 5xx); a request that
starts work only when the platform certainly did not act on it (the connection was never
made, 429, 503). 401/403 and 404 are configuration errors (exit 2); any other status
fails the run (exit 1).
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import Enum
from http import HTTPStatus
from http.cookiejar import CookieJar, DefaultCookiePolicy
from typing import Any, Protocol

import httpx

from .contract import Env
from .deadline import Deadline, format_seconds
from .errors import ConfigError, DeadlineError, MaybeStartedError, RunFailedError, RunnerError
from .logs import JsonLog

# Statuses that mean "this request, as configured, cannot work": never retried.
CONFIG_STATUSES = frozenset({401, 403, 404})
RETRY_STATUSES = frozenset({408, 425, 429})
# Statuses that say the request was refused before any work began: 429 (rate limit) and
# 503 (not accepting requests). 500/502/504 may come after the work started.
NOTHING_STARTED_STATUSES = frozenset({429, 503})
# Failures before a single byte was sent: refused connection, DNS or TLS failure (all
# ConnectError), no connection in time. A read timeout or a dropped connection may come
# after the platform got the request.
NOT_SENT_ERRORS: tuple[type[httpx.TransportError], ...] = (httpx.ConnectError, httpx.ConnectTimeout)
# A response that arrived but cannot be read (its Content-Encoding does not decode): httpx
# raises DecodingError, which is no TransportError, yet it is a failure of the exchange.
EXCHANGE_ERRORS: tuple[type[httpx.RequestError], ...] = (httpx.TransportError, httpx.DecodingError)
# How much of an error body goes into a message.
ERROR_BODY_CHARS = 300


class _RefuseCookies(DefaultCookiePolicy):
    def set_ok(self, cookie: Any, request: Any) -> bool:
        return False


def cookie_jar() -> CookieJar:
    """A jar that keeps no cookie: the runner needs none, and httpx builds the follow-up
    request of every redirect (followed or not) with the stored cookies, which fails on a
    cookie that is not ASCII."""
    return CookieJar(policy=_RefuseCookies())


class Effect(Enum):
    """What sending a request does on the platform, which decides when it is sent again."""

    # No effect worth worrying about (GET polls and states, token requests): resend on any
    # transient failure.
    READ = "read"
    # Starts a run (assistant call, workflow execution, chat completion, webhook): resend
    # only when the platform certainly did not start anything, else a run could happen
    # twice or leave an orphan execution behind.
    STARTS_WORK = "starts work"


def may_resend(effect: Effect, failure: int | httpx.RequestError) -> bool:
    """Whether a request that failed with this status or transport error may be sent again."""
    if isinstance(failure, httpx.RequestError):
        return effect is Effect.READ or isinstance(failure, NOT_SENT_ERRORS)
    if effect is Effect.STARTS_WORK:
        return failure in NOTHING_STARTED_STATUSES
    return failure in RETRY_STATUSES or failure >= 500


def is_transient(status: int) -> bool:
    """A status that a read would retry: the request as such is not wrong."""
    return may_resend(Effect.READ, status)


class Authenticator(Protocol):
    def headers(self) -> dict[str, str]:
        """Authorization headers for the next request (may fetch a token)."""
        ...

    def refresh(self) -> bool:
        """Forget the current credential after a 401; True if a new one can be fetched."""
        ...


@dataclass(frozen=True)
class Backoff:
    base_seconds: float
    max_seconds: float
    max_attempts: int

    def delay(self, attempt: int, rng: random.Random) -> float:
        """Exponential delay after failed `attempt` (1-based), with "equal jitter"."""
        ceiling = min(self.max_seconds, self.base_seconds * 2.0 ** (attempt - 1))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), or None."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        # "nan" parses as a float but is no delay (and time.sleep refuses it).
        return max(seconds, 0.0) if not math.isnan(seconds) else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def response_text(response: httpx.Response) -> str:
    """The body as text in its declared charset, else UTF-8; never raises.

    httpx's `Response.text` raises for charsets that name no text codec (`base64`,
    `rot13`, `idna`'s error handling) or for UTF-16 without a byte-order mark, and a
    platform's answer must not turn into an internal error.
    """
    charset = response.charset_encoding or "utf-8"
    try:
        return response.content.decode(charset, errors="replace")
    except (LookupError, UnicodeError, TypeError, ValueError):
        return response.content.decode("utf-8", errors="replace")


def body_excerpt(response: httpx.Response, limit: int = ERROR_BODY_CHARS) -> str:
    text = " ".join(response_text(response).split())
    return text if len(text) <= limit else text[:limit] + "…"


def describe_transport_error(exc: httpx.RequestError) -> str:
    if isinstance(exc, httpx.TimeoutException):
        return f"timed out ({type(exc).__name__})"
    return f"connection error ({type(exc).__name__}: {exc})"


def describe_status(response: httpx.Response) -> str:
    try:
        phrase = HTTPStatus(response.status_code).phrase
    except ValueError:
        phrase = ""
    status = f"HTTP {response.status_code} {phrase}".rstrip()
    excerpt = body_excerpt(response)
    return f"{status}: {excerpt}" if excerpt else status


# Why a send failed, and how long the platform asked to wait (Retry-After) if it did.
_Retry = tuple[str, float | None]


@dataclass
class _Call:
    """One request, as `Http.request` was asked for it, and how its sends went so far."""

    method: str
    url: str
    what: str
    effect: Effect
    headers: dict[str, str]
    body: dict[str, Any]  # httpx's json / data / content
    auth: Authenticator | None
    config_statuses: frozenset[int]
    inspect: Callable[[httpx.Response], None] | None
    attempt: int = 0
    refreshed: bool = False  # a 401 already got a fresh token
    # Whether the platform may have acted on the last send (it got the request and did
    # not say it refused it).
    maybe_started: bool = False

    @property
    def name(self) -> str:
        return f"{self.what} ({self.method} {self.url})"


class Http:
    """Sends requests inside the run's deadline and retries what is worth retrying."""

    def __init__(
        self,
        client: httpx.Client,
        deadline: Deadline,
        backoff: Backoff,
        log: JsonLog,
        *,
        secret_name: str = "",
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.client = client
        self.secret_name = secret_name
        self.deadline = deadline
        self.backoff = backoff
        self.log = log
        self.sleep = sleep
        self.rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        # Sends of the request that starts the run (reported as `attempts`).
        self.attempts = 0

    def request(
        self,
        method: str,
        url: str,
        *,
        what: str,
        effect: Effect,
        json_body: Any = None,
        form: Mapping[str, str] | None = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        auth: Authenticator | None = None,
        config_statuses: frozenset[int] = CONFIG_STATUSES,
        inspect: Callable[[httpx.Response], None] | None = None,
    ) -> httpx.Response:
        """Return the first 2xx response, or raise ConfigError / RunFailedError / DeadlineError.

        `what` names the call in logs and messages. `effect` decides what is retried (see
        `may_resend`); the sends of a request that starts work are the result's `attempts`.
        A request that starts work and may have reached the platform raises
        MaybeStartedError instead of being sent again. `inspect` sees every response,
        whatever its status, before anything quotes its body (to learn secrets in it).
        """
        call = _Call(
            method,
            url,
            what,
            effect,
            dict(headers or {}),
            {"json": json_body, "data": form, "content": content},
            auth,
            config_statuses,
            inspect,
        )
        try:
            while True:
                call.attempt += 1
                if effect is Effect.STARTS_WORK:
                    self.attempts += 1
                outcome = self._send(call)
                if isinstance(outcome, httpx.Response):
                    return outcome
                if outcome is not None:
                    self._wait_before_retry(what, call.attempt, *outcome)
        except DeadlineError as exc:
            # Also the deadline's alarm, which can strike anywhere in the exchange.
            if effect is Effect.STARTS_WORK and call.maybe_started:
                raise MaybeStartedError(exc.message) from exc
            raise

    def _send(self, call: _Call) -> httpx.Response | _Retry | None:
        """One send: the 2xx response, a reason to retry (after a wait), None to send
        again at once (with a fresh token), or an exception that ends the call."""
        request_headers = dict(call.headers)
        if call.auth is not None:
            request_headers.update(call.auth.headers())  # may fetch a token first
        self.deadline.activity = call.what
        if self.deadline.expired():
            raise self.deadline.error()
        remaining = self.deadline.remaining()
        self.log.info(
            f"{call.what}: {call.method} {call.url}",
            event="http.request",
            attempt=call.attempt,
            method=call.method,
            url=call.url,
        )
        call.maybe_started = True
        try:
            response = self.client.request(
                call.method,
                call.url,
                **call.body,
                headers=request_headers,
                timeout=httpx.Timeout(remaining),
            )
        except EXCHANGE_ERRORS as exc:
            return self._transport_failure(call, exc)
        return self._answered(call, response)

    def _transport_failure(self, call: _Call, exc: httpx.RequestError) -> _Retry:
        call.maybe_started = not may_resend(Effect.STARTS_WORK, exc)
        if isinstance(exc, httpx.TimeoutException) and self.deadline.remaining() <= 0.01:
            raise self.deadline.error(f"no answer from {call.url}") from exc
        problem = describe_transport_error(exc)
        if not may_resend(call.effect, exc):
            raise MaybeStartedError(f"{call.name} failed: {problem}") from exc
        return problem, None

    def _answered(self, call: _Call, response: httpx.Response) -> httpx.Response | _Retry | None:
        status = response.status_code
        self.log.info(
            f"{call.what}: HTTP {status}",
            event="http.response",
            status=status,
            elapsedSeconds=round(response.elapsed.total_seconds(), 3),
        )
        if call.inspect is not None:
            call.inspect(response)
        if 200 <= status < 300:
            return response
        # 4xx, 429 and 503 say the work was not done; 500/502/504 may come after it began.
        call.maybe_started = is_transient(status) and status not in NOTHING_STARTED_STATUSES
        if status == 401 and call.auth is not None and not call.refreshed and call.auth.refresh():
            call.refreshed = True
            call.attempt -= 1
            self.log.info(f"{call.what}: HTTP 401, fetching a new token", event="auth.refresh")
            return None
        problem = describe_status(response)
        if status in call.config_statuses:
            raise ConfigError(f"{call.name} was refused: {problem}{self._hint(status)}")
        if not is_transient(status):
            raise RunFailedError(f"{call.name} failed: {problem}")
        if not may_resend(call.effect, status):
            raise MaybeStartedError(f"{call.name} failed: {problem}")
        return problem, parse_retry_after(response.headers.get("Retry-After"))

    def send_once(
        self, method: str, url: str, *, what: str, auth: Authenticator | None, seconds: float
    ) -> str | None:
        """One request outside the run's deadline, for clean-up; the problem, or None if 2xx.

        Never raises: it runs while the run is already ending and must not replace the
        reason it ends with another.
        """
        self.log.info(f"{what}: {method} {url}", event="http.request", attempt=1, url=url)
        try:
            headers = auth.headers() if auth is not None else {}
            response = self.client.request(
                method, url, headers=headers, timeout=httpx.Timeout(seconds)
            )
        except EXCHANGE_ERRORS as exc:
            return describe_transport_error(exc)
        except RunnerError as exc:  # e.g. no token could be fetched
            return exc.message
        self.log.info(f"{what}: HTTP {response.status_code}", event="http.response")
        return None if response.is_success else describe_status(response)

    def _hint(self, status: int) -> str:
        if status == 404:
            return " (unknown id, or wrong URL?)"
        if status in (401, 403):
            secret = f"Secret {self.secret_name!r}" if self.secret_name else "credentials Secret"
            return f" (check the credentials in {secret})"
        return ""

    def _wait_before_retry(
        self, what: str, attempt: int, problem: str, retry_after: float | None
    ) -> None:
        if attempt >= self.backoff.max_attempts:
            raise RunFailedError(f"{what} failed after {attempt} attempts; last error: {problem}")
        delay = self.backoff.delay(attempt, self.rng) if retry_after is None else retry_after
        asked = " as asked by Retry-After" if retry_after is not None else ""
        if delay >= self.deadline.remaining():
            raise RunFailedError(
                f"{what} failed: {problem}; not retrying, because the next attempt "
                f"(in {format_seconds(round(delay, 3))}{asked}) would start after the deadline "
                f"of {format_seconds(self.deadline.seconds)} ({Env.TIMEOUT_SECONDS})"
            )
        self.log.warning(
            f"{what}: {problem}; retrying in {format_seconds(round(delay, 3))}{asked}",
            event="http.retry",
            attempt=attempt,
            delaySeconds=round(delay, 3),
        )
        self.sleep(delay)
