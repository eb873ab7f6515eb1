"""The runner contract, across the boundary: the environment the operator writes into the
runner's pod, resolved as the kubelet would, is read back by the runner's own settings
loader into the settings the schedule asked for."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from objects import schedule

from aischeduler_operator import manifests
from aischeduler_operator.resolve import Resolved, resolve
from aischeduler_operator.settings import Settings as OperatorSettings
from aischeduler_runner.contract import EXIT_CONFIG, Env
from aischeduler_runner.errors import ConfigError
from aischeduler_runner.policy import RunPolicy
from aischeduler_runner.settings import (
    Credentials,
    Keycloak,
    Settings,
    SettingsError,
    load_settings,
)

OPERATOR = OperatorSettings(
    platform_url="https://codemie.example.com/api",
    credentials_secret="creds",
    runner_image="registry.example.com/runner:1.2.3",
)
JOB_NAME = "daily-29551620"
INPUT = "  Summarise the week:\n- incidents\n- 🙂 答え  "


class RecordingEnviron(Mapping[str, str]):
    """The pod's environment; remembers which names the runner looked at."""

    def __init__(self, values: dict[str, str]) -> None:
        self.values = values
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> str:
        self.read.add(key)
        return self.values[key]

    def __contains__(self, key: object) -> bool:
        if isinstance(key, str):
            self.read.add(key)
        return key in self.values

    def __iter__(self) -> Iterator[str]:
        return iter(self.values)

    def __len__(self) -> int:
        return len(self.values)


def kubelet_env(
    env: list[dict[str, Any]], labels: dict[str, str], secrets: dict[str, dict[str, str]]
) -> dict[str, str]:
    """The container's environment as the kubelet resolves it (optional refs may be absent)."""
    resolved: dict[str, str] = {}
    for entry in env:
        if "value" in entry:
            resolved[entry["name"]] = entry["value"]
            continue
        source = entry["valueFrom"]
        if "fieldRef" in source:
            path = source["fieldRef"]["fieldPath"]
            label = path.removeprefix("metadata.labels['").removesuffix("']")
            resolved[entry["name"]] = labels[label]
            continue
        ref = source["secretKeyRef"]
        assert ref["optional"] is True, entry
        value = secrets.get(ref["name"], {}).get(ref["key"])
        if value is not None:
            resolved[entry["name"]] = value
    return resolved


def pod_environ(
    spec: dict[str, Any], secrets: dict[str, dict[str, str]]
) -> tuple[RecordingEnviron, Resolved]:
    body = schedule(spec)
    r = resolve(body["spec"], OPERATOR)
    assert isinstance(r, Resolved), r
    job = manifests.job_spec(r, body["metadata"], "Scheduled", r.spec.input)
    template = job["template"]
    labels = {**template["metadata"]["labels"], "batch.kubernetes.io/job-name": JOB_NAME}
    (container,) = template["spec"]["containers"]
    return RecordingEnviron(kubelet_env(container["env"], labels, secrets)), r


def expected(r: Resolved, **fields: Any) -> Settings:
    values: dict[str, Any] = {
        "target_kind": r.target_kind,
        "target_id": r.target_id,
        "input": INPUT,
        "platform_type": r.platform_type,
        "platform_url": r.platform_url,
        "timeout_seconds": float(manifests.runner_timeout(r.spec.timeout_seconds)),
        "schedule": "team-a/daily",
        "run_id": JOB_NAME,
        "credentials_secret": r.credentials_secret,
        "credentials": Credentials(),
        "keycloak": None,
        "backoff_base_seconds": 1.0,
        "backoff_max_seconds": 30.0,
        "max_attempts": 5,
        # a CronJob's run: the runner reads its scheduled time from the Job's name
        "policy": RunPolicy(
            cronjob="daily", time_zone=ZoneInfo(r.time_zone_name), trigger="Scheduled"
        ),
    }
    return Settings(**{**values, **fields})


CASES = {
    "codemie workflow, static token": (
        {"workflow": {"id": "wf-1"}, "assistant": None, "timeoutSeconds": 600},
        {"creds": {"token": "t0k"}},
        {"credentials": Credentials(token="t0k")},
    ),
    "codemie assistant, Keycloak client credentials": (
        {},
        {
            "creds": {
                "auth-server-url": "https://sso.example.com/auth",
                "realm": "codemie prod",
                "client-id": "scheduler",
                "client-secret": "s3cr3t",
            }
        },
        {
            "credentials": Credentials(
                auth_server_url="https://sso.example.com/auth",
                realm="codemie prod",
                client_id="scheduler",
                client_secret="s3cr3t",
            ),
            "keycloak": Keycloak(
                token_url="https://sso.example.com/auth/realms/codemie%20prod/protocol/openid-connect/token",
                grant="client_credentials",
                client_id="scheduler",
                client_secret="s3cr3t",
            ),
        },
    ),
    "openai with its own Secret": (
        {
            "assistant": {"id": "gpt-4o-mini"},
            "platform": {
                "type": "openai",
                "url": "https://llm.example.com",
                "credentialsSecretRef": {"name": "llm"},
            },
        },
        {"llm": {"api-key": "sk-1"}, "creds": {"api-key": "not this one"}},
        {"credentials": Credentials(api_key="sk-1")},
    ),
    "openai with schedule policies (spec 7)": (
        {
            "assistant": {"id": "gpt-4o-mini"},
            "platform": {"type": "openai", "url": "https://llm.example.com"},
            "timeZone": "Europe/Berlin",
            "jitterSeconds": 30,
            "maxTokensPerRun": 500,
        },
        {"creds": {"api-key": "sk-1"}},
        {
            "credentials": Credentials(api_key="sk-1"),
            "policy": RunPolicy(
                cronjob="daily",
                time_zone=ZoneInfo("Europe/Berlin"),
                trigger="Scheduled",
                jitter_seconds=30,
                max_tokens=500,
            ),
        },
    ),
    "webhook with a signing secret and no token": (
        {"platform": {"type": "webhook", "url": "https://n8n.example.com/hook/x"}},
        {"creds": {"signing-secret": "hmac-key"}},
        {"credentials": Credentials(signing_secret="hmac-key")},
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_operator_env_reads_back_as_the_schedule_settings(case: str) -> None:
    spec, secrets, fields = CASES[case]
    environ, r = pod_environ({"input": INPUT, **spec}, secrets)

    assert load_settings(environ) == expected(r, **fields)
    # Every variable the operator sets is one the runner reads: none is lost on the way.
    assert set(environ.values) <= environ.read, set(environ.values) - environ.read


def test_a_run_the_operator_starts_carries_its_scheduled_time() -> None:
    body = schedule({"timeZone": "Asia/Tokyo", "jitterSeconds": 30})
    r = resolve(body["spec"], OPERATOR)
    assert isinstance(r, Resolved)
    when = datetime(2026, 3, 1, 15, 30, tzinfo=UTC)
    job = manifests.job(
        r,
        body["metadata"],
        name="daily-now-1",
        trigger="Manual",
        scheduled_time=when,
        input_text="x",
    )
    template = job["spec"]["template"]
    labels = {**template["metadata"]["labels"], "batch.kubernetes.io/job-name": "daily-now-1"}
    (container,) = template["spec"]["containers"]
    environ = RecordingEnviron(kubelet_env(container["env"], labels, {"creds": {"token": "t"}}))
    policy = load_settings(environ).policy
    # no jitter for a run someone is waiting for; the time is given, not in the Job's name
    assert policy == RunPolicy(
        scheduled_time=when, time_zone=ZoneInfo("Asia/Tokyo"), trigger="Manual"
    )
    assert set(environ.values) <= environ.read, set(environ.values) - environ.read


def test_a_missing_secret_key_is_a_configuration_error_naming_secret_and_key() -> None:
    environ, _ = pod_environ({}, {"creds": {"realm": "only a realm"}})

    with pytest.raises(SettingsError) as caught:
        load_settings(environ)

    assert isinstance(caught.value, ConfigError)
    assert caught.value.exit_code == EXIT_CONFIG
    assert "Secret 'creds'" in str(caught.value) and Env.CREDENTIALS_SECRET in str(caught.value)
    assert "keys present: realm" in str(caught.value)


def test_the_job_fails_at_once_on_the_runners_configuration_exit_code() -> None:
    body = schedule({})
    r = resolve(body["spec"], OPERATOR)
    assert isinstance(r, Resolved)
    (rule,) = manifests.job_spec(r, body["metadata"], "Manual", "")["podFailurePolicy"]["rules"]
    assert rule["onExitCodes"]["values"] == [ConfigError.exit_code]
