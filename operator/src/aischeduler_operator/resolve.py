"""Validation of a spec beyond what the CRD schema can check, and the effective run
configuration: the spec with the operator's defaults filled in. Pure."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from aischeduler_operator.hashcron import resolve_hash
from aischeduler_operator.models import AssistantScheduleSpec
from aischeduler_operator.schedule import (
    CronSchedule,
    ScheduleError,
    TimeZoneError,
    load_time_zone,
    parse_run_at,
    parse_schedule,
)
from aischeduler_operator.settings import Settings
from aischeduler_runner.contract import PlatformType, TargetKind
from aischeduler_runner.placeholders import PlaceholderError, check

InvalidReason = Literal["InvalidSpec", "InvalidSchedule", "InvalidTimeZone"]


@dataclass(frozen=True)
class Invalid:
    reason: InvalidReason
    message: str


@dataclass(frozen=True)
class Resolved:
    """Everything needed to build manifests and compute times for one schedule."""

    spec: AssistantScheduleSpec
    target_kind: TargetKind
    target_id: str
    time_zone_name: str
    time_zone: ZoneInfo
    cron: CronSchedule | None  # recurring
    effective_schedule: str | None  # recurring: spec.schedule with H resolved
    run_at: datetime | None  # one-time (UTC)
    window: Window  # spec.startTime / spec.endTime (UTC)
    platform_type: PlatformType
    platform_url: str
    credentials_secret: str
    image: str
    resources: dict[str, Any]
    service_account: str

    @property
    def target(self) -> str:
        return f"{self.target_kind}/{self.target_id}"


@dataclass(frozen=True)
class Window:
    """The active window: scheduled times in [start, end) run."""

    start: datetime | None = None
    end: datetime | None = None

    def holds(self, when: datetime) -> bool:
        return (self.start is None or when >= self.start) and (self.end is None or when < self.end)


def _window(spec: AssistantScheduleSpec, zone: ZoneInfo) -> Window | str:
    """The active window, or why it is not valid."""
    start = end = None
    try:
        if spec.start_time is not None:
            start = parse_run_at(spec.start_time, zone, "spec.startTime").replace(microsecond=0)
        if spec.end_time is not None:
            end = parse_run_at(spec.end_time, zone, "spec.endTime").replace(microsecond=0)
    except ScheduleError as e:
        return str(e)
    if start is not None and end is not None and end <= start:
        return f"spec.endTime {spec.end_time!r} must be after spec.startTime {spec.start_time!r}"
    return Window(start, end)


def _recurring_only(spec: AssistantScheduleSpec) -> str | None:
    """Policies that only mean something for a recurring schedule, set on a runAt one."""
    if spec.run_at is None:
        return None
    for field, value in (
        ("startTime", spec.start_time),
        ("endTime", spec.end_time),
        ("maxRuns", spec.max_runs),
        ("pauseAfterFailures", spec.pause_after_failures),
    ):
        if value is not None:
            return f"spec.{field} applies to a recurring schedule (spec.schedule); runAt runs once"
    return None


def _first_error(e: ValidationError) -> str:
    err = e.errors()[0]
    where = ".".join(str(p) for p in err["loc"])
    return f"spec.{where}: {err['msg']}" if where else err["msg"]


def _platform_problem(
    platform_type: PlatformType, url: str, secret: str, kind: TargetKind
) -> str | None:
    """Why the effective platform settings cannot work, or None."""
    if platform_type == "openai" and kind == "workflow":
        return "workflows cannot run on the openai platform; use an assistant"
    if not url:
        return "spec.platform.url is not set and the operator has no default platform URL"
    if not secret and platform_type != "webhook":
        return (
            f"spec.platform.credentialsSecretRef is not set and the operator has no default "
            f"credentials Secret; the {platform_type} platform needs one"
        )
    return None


# Label and annotation syntax as the apiserver checks it (apimachinery validation):
# an optional DNS-subdomain prefix and a name of at most 63 characters.
_QUALIFIED_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")
_PREFIX = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def _key_problem(key: str) -> str | None:
    prefix, slash, name = key.rpartition("/")
    if slash and (not prefix or len(prefix) > 253 or not _PREFIX.fullmatch(prefix)):
        return "its prefix must be a DNS subdomain (lower case, at most 253 characters)"
    if len(name) > 63 or not _QUALIFIED_NAME.fullmatch(name):
        return (
            "its name must be at most 63 characters of letters, digits, '-', '_' and '.', "
            "starting and ending with a letter or digit"
        )
    return None


def _pod_meta_problem(spec: AssistantScheduleSpec) -> str | None:
    """The first podLabels/podAnnotations entry the apiserver would refuse in the CronJob."""
    for field, values in (
        ("podLabels", spec.runner.pod_labels or {}),
        ("podAnnotations", spec.runner.pod_annotations or {}),
    ):
        for key, value in values.items():
            why = _key_problem(key)
            if why is not None:
                return f"spec.runner.{field}: key {key!r} is not valid: {why}"
            if (
                field == "podLabels"
                and value
                and (len(value) > 63 or not _QUALIFIED_NAME.fullmatch(value))
            ):
                return (
                    f"spec.runner.podLabels: the value of {key!r} is not a valid label value: "
                    "at most 63 characters of letters, digits, '-', '_' and '.', starting and "
                    "ending with a letter or digit"
                )
    return None


def _input_problem(text: str) -> str | None:
    """The first placeholder in spec.input the runner could not render."""
    try:
        check(text)
    except PlaceholderError as e:
        return f"spec.input: {e}"
    return None


def resolve(
    raw_spec: dict[str, Any], settings: Settings, schedule_id: str = ""
) -> Resolved | Invalid:
    """``schedule_id`` is ``namespace/name``, which an ``H`` in the schedule derives from."""
    try:
        spec = AssistantScheduleSpec.model_validate(raw_spec)
    except ValidationError as e:
        return Invalid("InvalidSpec", _first_error(e))

    for first, second, a, b in (
        ("assistant", "workflow", spec.assistant, spec.workflow),
        ("schedule", "runAt", spec.schedule, spec.run_at),
    ):
        if (a is None) == (b is None):
            return Invalid(
                "InvalidSpec", f"exactly one of spec.{first} or spec.{second} must be set"
            )

    zone_name = spec.time_zone or settings.time_zone
    try:
        zone = load_time_zone(zone_name)
    except TimeZoneError as e:
        return Invalid("InvalidTimeZone", str(e))

    cron = run_at = effective = None
    try:
        if spec.schedule is not None:
            effective = resolve_hash(spec.schedule, schedule_id)
            cron = parse_schedule(effective)
        elif spec.run_at is not None:
            run_at = parse_run_at(spec.run_at, zone)
    except ScheduleError as e:
        return Invalid("InvalidSchedule", str(e))

    platform_type = spec.platform.type or settings.platform_type
    platform_url = spec.platform.url or settings.platform_url
    secret_ref = spec.platform.credentials_secret_ref
    secret = secret_ref.name if secret_ref is not None else settings.credentials_secret
    kind: TargetKind = "assistant" if spec.assistant else "workflow"
    target = spec.assistant or spec.workflow
    assert target is not None  # noqa: S101 - checked above

    window = _window(spec, zone)
    problem = (
        (window if isinstance(window, str) else None)
        or _recurring_only(spec)
        or _platform_problem(platform_type, platform_url, secret, kind)
        or _pod_meta_problem(spec)
        or _input_problem(spec.input)
    )
    if problem is not None or isinstance(window, str):
        return Invalid("InvalidSpec", problem or "")

    resources = (
        spec.runner.resources.model_dump(exclude_none=True)
        if spec.runner.resources is not None
        else settings.runner_resources
    )
    return Resolved(
        spec=spec,
        target_kind=kind,
        target_id=target.id,
        time_zone_name=zone_name,
        time_zone=zone,
        cron=cron,
        effective_schedule=effective,
        run_at=run_at,
        window=window,
        platform_type=platform_type,
        platform_url=platform_url,
        credentials_secret=secret,
        image=spec.runner.image or settings.runner_image,
        resources=resources,
        service_account=spec.runner.service_account_name or settings.runner_service_account,
    )
