"""`aischeduler-runner`: run one assistant or workflow, write the result, exit 0 / 1 / 2."""

from __future__ import annotations

import os
import random
import signal
import sys
import time
import traceback
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import BinaryIO

import httpx

from . import __version__
from .auth import KeycloakBearer, StaticBearer
from .contract import EXIT_FAILED, EXIT_SUCCEEDED, Env, RunResult, encode_result
from .deadline import Deadline
from .errors import RunnerError, TerminatedError
from .http import Authenticator, Backoff, Http, cookie_jar
from .logs import JsonLog
from .placeholders import PlaceholderError, rfc3339_local
from .platforms.base import Outcome, Platform
from .platforms.codemie import CodeMie
from .platforms.openai import OpenAI
from .platforms.webhook import Webhook
from .policy import dated_input
from .redact import Redactor
from .runtime import ScheduledTime, jitter_delay
from .settings import Settings, SettingsError, load_settings, result_path, secret_values


def main() -> None:
    raise SystemExit(run(os.environ, sys.stdout.buffer))


def run(environ: Mapping[str, str], stdout: BinaryIO) -> int:
    """Do one run and return the exit code; the result file is written in every case."""
    started = time.monotonic()
    redactor = Redactor(secret_values(environ))
    log = JsonLog(stdout, redactor, schedule=environ.get(Env.SCHEDULE, "").strip())
    previous_sigterm = signal.signal(signal.SIGTERM, _on_sigterm)
    attempts = 0
    try:
        settings, when = _dated(load_settings(environ))
        log.info(
            f"running {settings.target_kind} {settings.target_id!r} on {settings.platform_type}",
            event="run.started",
            version=__version__,
            platform=settings.platform_type,
            url=settings.platform_url,
            targetKind=settings.target_kind,
            targetId=settings.target_id,
            timeoutSeconds=settings.timeout_seconds,
            inputChars=len(settings.input),
            scheduledTime=rfc3339_local(when.when),
            scheduledTimeFrom=when.source,
        )
        _note_token_limit(settings, log)
        deadline = Deadline(settings.timeout_seconds)
        _start_jitter(settings, log)
        backoff = Backoff(
            settings.backoff_base_seconds, settings.backoff_max_seconds, settings.max_attempts
        )
        with httpx.Client(
            headers={"User-Agent": f"aischeduler-runner/{__version__}"}, cookies=cookie_jar()
        ) as client:
            http = Http(client, deadline, backoff, log, secret_name=settings.credentials_secret)
            platform = _platform(settings, http, redactor, log)
            try:
                with deadline.enforced():
                    outcome = platform.run()
            except RunnerError as exc:
                # Nothing may cut the clean-up short; the alarm is off once out of enforced().
                signal.signal(signal.SIGTERM, signal.SIG_IGN)
                exc.message += platform.abandon()
                raise
            finally:
                attempts = http.attempts
        result = _succeeded(settings, outcome, started, attempts)
        code = EXIT_SUCCEEDED
    except RunnerError as exc:
        result = _failed(exc, started, attempts)
        code = exc.exit_code
    except Exception as exc:  # a bug must still produce a result, never a silent crash
        log.error(repr(exc), event="run.internal_error", traceback=traceback.format_exc())
        result = _failed(RunnerError(f"internal error: {exc!r}"), started, attempts)
        code = EXIT_FAILED
    # From here on a SIGTERM must not cut the result file short.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    if result.output:
        log.info("the full answer", event="run.answer", output=result.output)
    result = result.model_copy(
        update={"message": redactor.text(result.message), "output": redactor.text(result.output)}
    )
    _write_result(result_path(environ), result, log)
    log_fields = result.model_dump(by_alias=True, exclude={"output", "result", "message"})
    finish = log.info if code == EXIT_SUCCEEDED else log.error
    finish(result.message, event="run.finished", outcome=result.result, exitCode=code, **log_fields)
    signal.signal(signal.SIGTERM, previous_sigterm)
    return code


def _dated(settings: Settings) -> tuple[Settings, ScheduledTime]:
    """The settings with the input rendered for this run's scheduled time."""
    try:
        text, when = dated_input(
            settings.input, settings.schedule, settings.run_id, settings.policy, datetime.now(UTC)
        )
    except PlaceholderError as exc:
        raise SettingsError(f"{Env.INPUT}: {exc}") from None
    return replace(settings, input=text), when


def _note_token_limit(settings: Settings, log: JsonLog) -> None:
    limit = settings.policy.max_tokens
    if limit is not None and settings.platform_type != "openai":
        log.info(
            f"maxTokensPerRun ({limit}) not applied: the {settings.platform_type} platform "
            "takes no token limit",
            event="run.token_limit_not_applied",
            maxTokens=limit,
        )


def _start_jitter(settings: Settings, log: JsonLog) -> None:
    """Waits the random start delay (jitterSeconds); a SIGTERM meanwhile ends the run with
    its result written, as anywhere else."""
    jitter = settings.policy.jitter_seconds
    if not jitter:
        return
    delay = jitter_delay(jitter, settings.timeout_seconds, random.SystemRandom().random())
    log.info(
        f"waiting {delay:.1f} s before calling the platform (jitterSeconds {jitter})",
        event="run.jitter",
        delaySeconds=round(delay, 3),
        jitterSeconds=jitter,
    )
    time.sleep(delay)


def _platform(settings: Settings, http: Http, redactor: Redactor, log: JsonLog) -> Platform:
    c = settings.credentials
    if settings.platform_type == "openai":
        return OpenAI(settings, http, StaticBearer(c.api_key or ""))
    if settings.platform_type == "webhook":
        return Webhook(settings, http, StaticBearer(c.token) if c.token else None)
    auth: Authenticator
    if settings.keycloak is not None:
        auth = KeycloakBearer(http, settings.keycloak, redactor)
    else:
        auth = StaticBearer(c.token or "")
    return CodeMie(settings, http, auth, log)


def _succeeded(settings: Settings, outcome: Outcome, started: float, attempts: int) -> RunResult:
    elapsed = time.monotonic() - started
    message = f"{settings.target_kind} {settings.target_id!r} on {settings.platform_type} succeeded"
    if outcome.note:
        message += f" ({outcome.note})"
    return RunResult(
        result="Succeeded",
        message=message,
        output=outcome.output,
        execution_id=outcome.execution_id,
        conversation_id=outcome.conversation_id,
        tokens_used=outcome.tokens_used,
        duration_seconds=round(elapsed, 3),
        attempts=attempts,
    )


def _failed(exc: RunnerError, started: float, attempts: int) -> RunResult:
    return RunResult(
        result="Failed",
        message=exc.result_message(),
        output=exc.output,
        execution_id=exc.execution_id,
        conversation_id=exc.conversation_id,
        tokens_used=exc.tokens_used,
        duration_seconds=round(time.monotonic() - started, 3),
        attempts=attempts,
    )


def _write_result(path: Path, result: RunResult, log: JsonLog) -> None:
    try:
        path.write_bytes(encode_result(result))
    except OSError as exc:
        log.error(f"could not write the result to {path}: {exc}", event="run.result_not_written")


def _on_sigterm(_signum: int, _frame: FrameType | None) -> None:
    raise TerminatedError("terminated by SIGTERM before the run finished (pod deleted or deadline)")
