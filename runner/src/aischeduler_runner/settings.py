"""Runner settings from the AISCHED_* environment (spec §4), validated up front.

Every problem is reported at once, so one failed run shows everything to fix.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, cast, get_args
from urllib.parse import quote, urlsplit

from .contract import (
    CREDENTIAL_VARIABLES,
    DEFAULT_RESULT_PATH,
    SECRET_VARIABLES,
    Env,
    PlatformType,
    TargetKind,
)
from .errors import ConfigError
from .policy import RunPolicy, load_policy

KeycloakGrant = Literal["client_credentials", "password"]

# The CodeMie SDK's public Keycloak client, used for the password grant without a client-id.
DEFAULT_PASSWORD_GRANT_CLIENT_ID = "codemie-sdk"  # noqa: S105 - a public client id


class SettingsError(ConfigError):
    """Missing or invalid settings (exit 2)."""


@dataclass(frozen=True)
class Credentials:
    """The credentials Secret's keys, each None when absent or empty."""

    token: str | None = None
    auth_server_url: str | None = None
    realm: str | None = None
    client_id: str | None = None
    client_secret: str | None = None
    username: str | None = None
    password: str | None = None
    api_key: str | None = None
    signing_secret: str | None = None


@dataclass(frozen=True)
class Keycloak:
    """How to obtain CodeMie access tokens from Keycloak."""

    token_url: str
    grant: KeycloakGrant
    client_id: str
    client_secret: str | None
    username: str | None = None
    password: str | None = None


@dataclass(frozen=True)
class Settings:
    target_kind: TargetKind
    target_id: str
    input: str
    platform_type: PlatformType
    platform_url: str
    timeout_seconds: float
    schedule: str
    run_id: str
    credentials_secret: str
    credentials: Credentials
    # CodeMie only: a static bearer token (`credentials.token`) or Keycloak.
    keycloak: Keycloak | None
    backoff_base_seconds: float
    backoff_max_seconds: float
    max_attempts: int
    policy: RunPolicy = field(default_factory=RunPolicy)


def result_path(environ: Mapping[str, str]) -> Path:
    """Where the result goes; known even when the other settings are invalid."""
    return Path(environ.get(Env.RESULT_PATH) or DEFAULT_RESULT_PATH)


def secret_values(environ: Mapping[str, str]) -> list[str]:
    return [environ[name] for name in SECRET_VARIABLES if environ.get(name)]


def load_settings(environ: Mapping[str, str]) -> Settings:
    """Read and validate the settings; raises `SettingsError` listing every problem."""
    problems: list[str] = []

    def text(name: str, *, required: bool = False) -> str:
        value = environ.get(name, "").strip()
        if required and not value:
            problems.append(f"{name} is not set")
        return value

    def choice(name: str, allowed: tuple[str, ...]) -> str:
        value = text(name, required=True)
        if value and value not in allowed:
            problems.append(f"{name} must be one of {', '.join(allowed)} (got {value!r})")
        return value

    def number(name: str, default: float | None, *, positive: bool) -> float:
        raw = text(name, required=default is None)
        if not raw:
            return default or 0.0
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not math.isfinite(value) or value < 0 or (positive and value == 0):
            kind = "a positive" if positive else "a non-negative"
            problems.append(f"{name} must be {kind} number of seconds (got {raw!r})")
            return default or 0.0
        return value

    def integer(name: str, default: int) -> int:
        raw = text(name)
        if not raw:
            return default
        if not raw.isdigit() or int(raw) < 1:
            problems.append(f"{name} must be a whole number of at least 1 (got {raw!r})")
            return default
        return int(raw)

    def url(name: str, *, required: bool) -> str:
        value = text(name, required=required)
        parts = urlsplit(value)
        if value and (parts.scheme not in ("http", "https") or not parts.hostname):
            problems.append(f"{name} must be an http:// or https:// URL (got {value!r})")
        return value.rstrip("/")

    target_kind = choice(Env.TARGET_KIND, get_args(TargetKind))
    target_id = text(Env.TARGET_ID, required=True)
    platform_type = choice(Env.PLATFORM_TYPE, get_args(PlatformType))
    platform_url = url(Env.PLATFORM_URL, required=True)
    timeout_seconds = number(Env.TIMEOUT_SECONDS, None, positive=True)
    backoff_base = number(Env.BACKOFF_BASE_SECONDS, 1.0, positive=False)
    backoff_max = number(Env.BACKOFF_MAX_SECONDS, 30.0, positive=False)
    max_attempts = integer(Env.MAX_ATTEMPTS, 5)
    url(CREDENTIAL_VARIABLES["auth-server-url"], required=False)
    if platform_type == "openai" and target_kind == "workflow":
        problems.append(
            "platform 'openai' runs assistants only; a workflow needs platform codemie or webhook"
        )
    policy = load_policy(environ, problems)
    if problems:
        raise SettingsError("invalid runner settings: " + "; ".join(problems))

    secret_name = text(Env.CREDENTIALS_SECRET)
    credentials = Credentials(
        **{
            key.replace("-", "_"): text(variable) or None
            for key, variable in CREDENTIAL_VARIABLES.items()
        }
    )
    keycloak = _check_credentials(platform_type, credentials, secret_name)
    return Settings(
        target_kind=cast(TargetKind, target_kind),
        target_id=target_id,
        input=environ.get(Env.INPUT, ""),
        platform_type=cast(PlatformType, platform_type),
        platform_url=platform_url,
        timeout_seconds=timeout_seconds,
        schedule=text(Env.SCHEDULE),
        run_id=text(Env.RUN_ID) or str(uuid.uuid4()),
        credentials_secret=secret_name,
        credentials=credentials,
        keycloak=keycloak,
        backoff_base_seconds=backoff_base,
        backoff_max_seconds=max(backoff_max, backoff_base),
        max_attempts=max_attempts,
        policy=policy,
    )


def _check_credentials(
    platform_type: str, credentials: Credentials, secret_name: str
) -> Keycloak | None:
    """Make sure the platform's credentials are there; say which keys were looked for."""
    if platform_type == "openai" and not credentials.api_key:
        raise SettingsError(_missing(secret_name, "key 'api-key'", ["api-key"], credentials))
    if platform_type != "codemie" or credentials.token:
        return None
    c = credentials
    if c.auth_server_url and c.realm:
        server, realm = c.auth_server_url.rstrip("/"), quote(c.realm, safe="")
        token_url = f"{server}/realms/{realm}/protocol/openid-connect/token"
        if c.username and c.password:
            return Keycloak(
                token_url=token_url,
                grant="password",
                client_id=c.client_id or DEFAULT_PASSWORD_GRANT_CLIENT_ID,
                client_secret=c.client_secret,
                username=c.username,
                password=c.password,
            )
        if c.client_id and c.client_secret:
            return Keycloak(
                token_url=token_url,
                grant="client_credentials",
                client_id=c.client_id,
                client_secret=c.client_secret,
            )
    wanted = (
        "key 'token', or keys 'auth-server-url' + 'realm' with either "
        "'client-id' + 'client-secret' or 'username' + 'password'"
    )
    keys = [
        "token",
        "auth-server-url",
        "realm",
        "client-id",
        "client-secret",
        "username",
        "password",
    ]
    raise SettingsError(_missing(secret_name, wanted, keys, credentials))


def _missing(secret_name: str, wanted: str, keys: list[str], credentials: Credentials) -> str:
    secret = f"Secret {secret_name!r}" if secret_name else "the credentials Secret"
    found = [k for k in keys if getattr(credentials, k.replace("-", "_"))]
    variables = ", ".join(CREDENTIAL_VARIABLES[k] for k in keys)
    return (
        f"missing credentials: {secret} ({Env.CREDENTIALS_SECRET}) needs {wanted} "
        f"(environment {variables}); keys present: {', '.join(found) or 'none'}"
    )
