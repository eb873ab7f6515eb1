"""Why a run did not succeed, mapped onto the runner's exit codes (spec §4.1)."""

from __future__ import annotations

from .contract import EXIT_CONFIG, EXIT_FAILED


class RunnerError(Exception):
    """A run that ends without success; carries what is known about the run so far."""

    exit_code: int = EXIT_FAILED

    def __init__(
        self,
        message: str,
        *,
        execution_id: str | None = None,
        conversation_id: str | None = None,
        output: str = "",
        tokens_used: int | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.execution_id = execution_id
        self.conversation_id = conversation_id
        self.output = output
        self.tokens_used = tokens_used

    def result_message(self) -> str:
        """The result's `message`: `message` plus what the subclass adds."""
        return self.message


class RunFailedError(RunnerError):
    """The run failed: platform error after retries, failed workflow, deadline (exit 1)."""


class MaybeStartedError(RunFailedError):
    """A request that starts work failed after it may have reached the platform (exit 1).

    It is not sent again (the platform could run it twice); the message names the run's
    ids, when known, so a person can look it up on the platform.
    """

    def result_message(self) -> str:
        known = [
            f"{name} {value}"
            for name, value in (
                ("execution", self.execution_id),
                ("conversation", self.conversation_id),
            )
            if value
        ]
        ids = f" ({', '.join(known)})" if known else " (its id is not known)"
        return (
            f"{self.message}; the platform may have started the run{ids}, so it was not sent again"
        )


class DeadlineError(RunFailedError):
    """AISCHED_TIMEOUT_SECONDS ran out (exit 1)."""


class TerminatedError(RunFailedError):
    """The pod was asked to stop (SIGTERM) before the run finished (exit 1)."""


class ConfigError(RunnerError):
    """Configuration or authorization problem that a retry cannot fix (exit 2)."""

    exit_code = EXIT_CONFIG
