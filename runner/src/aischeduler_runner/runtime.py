"""When a run is "about": its scheduled time (for the input's placeholders) and the random
start delay (jitterSeconds). Pure, the clock and the random draw passed in."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

Source = Literal["given", "job-name", "start"]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MINUTES = re.compile(r"[0-9]{1,12}", re.ASCII)


@dataclass(frozen=True)
class ScheduledTime:
    when: datetime  # aware, in the schedule's time zone
    source: Source


def from_job_name(job: str, cronjob: str) -> datetime | None:
    """The scheduled time the CronJob controller encoded in the name of a Job it made:
    ``<cronjob>-<scheduled time in Unix minutes>`` (pkg/controller/cronjob,
    ``getJobName``). None for any other name (e.g. ``kubectl create job --from``)."""
    prefix = f"{cronjob}-"
    if not cronjob or not job.startswith(prefix):
        return None
    minutes = job[len(prefix) :]
    if not _MINUTES.fullmatch(minutes):
        return None
    return _EPOCH + timedelta(minutes=int(minutes))


def scheduled_time(
    given: datetime | None, job: str, cronjob: str, zone: ZoneInfo, now: datetime
) -> ScheduledTime:
    """The run's scheduled time in ``zone``: as given by the operator (run-now, one-time and
    backfill Jobs), else from the CronJob controller's Job name, else the run's start."""
    if given is not None:
        return ScheduledTime(given.astimezone(zone), "given")
    from_name = from_job_name(job, cronjob)
    if from_name is not None:
        return ScheduledTime(from_name.astimezone(zone), "job-name")
    return ScheduledTime(now.astimezone(zone), "start")


def jitter_delay(jitter_seconds: float, timeout_seconds: float, draw: float) -> float:
    """A start delay of up to ``jitter_seconds`` (``draw`` in [0, 1)), never more than half
    the run's deadline, so the platform call keeps at least the other half."""
    return max(0.0, min(jitter_seconds, timeout_seconds / 2)) * draw
