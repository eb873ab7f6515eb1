"""Operator settings from the environment (set by the Helm chart's values), validated at
start-up: a bad value stops the operator with a message naming the variable."""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from aischeduler_operator.models import DNS_SUBDOMAIN
from aischeduler_operator.schedule import TimeZoneError, load_time_zone
from aischeduler_runner.contract import PlatformType

# variable name -> field name
ENV = {
    "AISCHED_DEFAULT_PLATFORM_TYPE": "platform_type",
    "AISCHED_DEFAULT_PLATFORM_URL": "platform_url",
    "AISCHED_DEFAULT_CREDENTIALS_SECRET": "credentials_secret",
    "AISCHED_DEFAULT_TIME_ZONE": "time_zone",
    "AISCHED_RUNNER_IMAGE": "runner_image",
    "AISCHED_RUNNER_RESOURCES": "runner_resources",
    "AISCHED_RUNNER_SERVICE_ACCOUNT": "runner_service_account",
    "AISCHED_WATCH_NAMESPACES": "watch_namespaces",
    "AISCHED_METRICS_PORT": "metrics_port",
    "AISCHED_HEALTH_PORT": "health_port",
    "AISCHED_LOG_LEVEL": "log_level",
    "AISCHED_LOG_FORMAT": "log_format",
    "AISCHED_PEERING": "peering",
    "AISCHED_JOBS_HISTORY_LIMIT": "jobs_history_limit",
    "AISCHED_SCHEDULE_SELECTOR": "schedule_selector",
}

DEFAULT_RUNNER_RESOURCES: dict[str, Any] = {
    "requests": {"cpu": "50m", "memory": "64Mi"},
    "limits": {"memory": "256Mi"},
}


class SettingsError(ValueError):
    pass


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    platform_type: PlatformType = "codemie"
    platform_url: str = Field(default="", pattern=r"^(https?://.*)?$")
    credentials_secret: str = Field(default="", pattern=rf"^$|{DNS_SUBDOMAIN}")
    time_zone: str = "UTC"
    runner_image: str = Field(default="ghcr.io/aischeduler/runner:0.1.0", min_length=1)
    runner_resources: dict[str, Any] = Field(default_factory=lambda: DEFAULT_RUNNER_RESOURCES)
    runner_service_account: str = Field(default="", pattern=rf"^$|{DNS_SUBDOMAIN}")
    watch_namespaces: tuple[str, ...] = ()
    metrics_port: int = Field(default=8080, ge=0, le=65535)
    health_port: int = Field(default=8081, ge=0, le=65535)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    log_format: Literal["json", "text"] = "json"
    peering: str = ""
    jobs_history_limit: int = Field(default=3, ge=1, le=100)
    # A label selector on AssistantSchedules (server-side): several operators, each with
    # its own selector on the aischeduler.io/shard label (e.g. aischeduler.io/shard=a),
    # serve disjoint shards. The same selector picks their CronJobs, Jobs and Pods.
    schedule_selector: str = Field(default="", max_length=1024, pattern=r"^$|aischeduler\.io/shard")

    @field_validator("time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            load_time_zone(value)
        except TimeZoneError as e:
            raise ValueError(str(e)) from e
        return value

    @field_validator("watch_namespaces", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(ns.strip() for ns in value.split(",") if ns.strip())
        return value

    @field_validator("runner_resources", mode="before")
    @classmethod
    def _json(cls, value: Any) -> Any:
        if isinstance(value, str):
            return json.loads(value)
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value


def load_settings(environ: Mapping[str, str] | None = None) -> Settings:
    env = os.environ if environ is None else environ
    values = {field: env[var] for var, field in ENV.items() if env.get(var, "") != ""}
    try:
        return Settings(**values)
    except (ValidationError, json.JSONDecodeError) as e:
        names = {field: var for var, field in ENV.items()}
        if isinstance(e, json.JSONDecodeError):
            raise SettingsError(f"AISCHED_RUNNER_RESOURCES is not valid JSON: {e}") from e
        problems = [
            f"{names.get(str(err['loc'][0]), err['loc'][0])}: {err['msg']}" for err in e.errors()
        ]
        raise SettingsError("invalid operator settings: " + "; ".join(problems)) from e
