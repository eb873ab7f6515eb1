"""Deterministic names, labels and annotations of everything the operator creates."""

from __future__ import annotations

import hashlib

MANAGED_BY_LABEL = "app.kubernetes.io/managed-by"
MANAGED_BY = "aischeduler"
SCHEDULE_LABEL = "aischeduler.io/schedule"
TRIGGER_LABEL = "aischeduler.io/trigger"
# Copied from a schedule onto what it owns, for sharding by label selector.
SHARD_LABEL = "aischeduler.io/shard"
# Set on a Job once its run is in status.history (with the job name there, it makes
# recording exactly-once across operator restarts).
RECORDED_LABEL = "aischeduler.io/recorded"
# The finalizer operator 0.1 put on each Job until its run was recorded; dropped from any
# Job still carrying it (no Job gets one now: see plan.py on why none is needed).
RUN_FINALIZER = "aischeduler.io/run-record"
RUN_NOW_ANNOTATION = "aischeduler.io/run-now"
RUN_NOW_INPUT_ANNOTATION = "aischeduler.io/run-now-input"
SCHEDULED_TIME_ANNOTATION = "aischeduler.io/scheduled-time"
# Set by the CronJob controller on the Jobs it creates.
CRONJOB_SCHEDULED_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"
RUNNER_CONTAINER = "runner"

CRONJOB_NAME_LIMIT = 52  # the CronJob controller appends "-<minutes>" to reach 63
NAME_LIMIT = 63


def digest(value: str, length: int = 8) -> str:
    return hashlib.sha256(value.encode()).hexdigest()[:length]


def derived_name(base: str, suffix: str = "", limit: int = NAME_LIMIT) -> str:
    """``base + suffix`` if it fits in ``limit``, else ``base`` shortened with a stable hash."""
    if len(base) + len(suffix) <= limit:
        return base + suffix
    keep = limit - len(suffix) - 9
    return f"{base[:keep].rstrip('-')}-{digest(base)}{suffix}"


def cronjob_name(schedule: str) -> str:
    return derived_name(schedule, limit=CRONJOB_NAME_LIMIT)


def manual_job_name(schedule: str, run_now_value: str) -> str:
    return derived_name(schedule, f"-now-{digest(run_now_value)}")


def one_time_job_name(schedule: str, run_at: str) -> str:
    return derived_name(schedule, f"-at-{digest(run_at)}")


def scheduled_job_name(schedule: str, unix_seconds: int) -> str:
    """The name the CronJob controller gives the Job of a scheduled time."""
    return f"{cronjob_name(schedule)}-{unix_seconds // 60}"


def owned_labels(schedule: str) -> dict[str, str]:
    return {MANAGED_BY_LABEL: MANAGED_BY, SCHEDULE_LABEL: schedule}
