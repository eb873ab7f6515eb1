"""Dated inputs end to end: the CronJob controller of the control plane makes a Job, and the
runner — given exactly the environment the kubelet would give that Job's pod (values,
downward API labels, Secret keys read from the API) — renders the input for the time the
Job was scheduled, in the schedule's zone, and sends maxTokensPerRun to an OpenAI-compatible
platform (the platform double). A run-now Job renders its own trigger time instead."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from kubernetes import client
from schedules import TRIGGER_LABEL, Schedules, body, env_of, parse, runner_result, sim

from platformdouble import API_KEY, DoubleServer
from waiting import wait_for

pytestmark = pytest.mark.simulated

RUNNER = Path(sys.executable).with_name("aischeduler-runner")
# UTC+14: its date is ahead of UTC's for ten hours a day, so a wrong zone shows.
ZONE = "Pacific/Kiritimati"
INPUT = 'Report for {{ .Date "-1d" }} / {{ .Week }} / {{ .ScheduledTime }} / {{ .Trigger }}'


@pytest.fixture
def double() -> Iterator[DoubleServer]:
    server = DoubleServer(("127.0.0.1", 0)).start()
    yield server
    server.stop()


def kubelet_env(s: Schedules, pod: dict[str, Any]) -> dict[str, str]:
    """The runner container's environment as the kubelet resolves it for this pod."""
    resolved: dict[str, str] = {}
    for name, entry in env_of(pod["spec"]).items():
        if "value" in entry:
            resolved[name] = entry["value"]
            continue
        source = entry["valueFrom"]
        if "fieldRef" in source:
            label = source["fieldRef"]["fieldPath"].removeprefix("metadata.labels['")[:-2]
            resolved[name] = pod["metadata"]["labels"][label]
            continue
        ref = source["secretKeyRef"]
        secret = s.core.read_namespaced_secret(ref["name"], s.namespace)
        value = (secret.string_data or {}).get(ref["key"]) or (secret.data or {}).get(ref["key"])
        if value is not None:
            resolved[name] = base64.b64decode(value).decode()
    return resolved


def run_runner(env: dict[str, str], tmp_path: Path) -> dict[str, Any]:
    result = tmp_path / "termination-log"
    proc = subprocess.run(
        [str(RUNNER)],
        env={**env, "AISCHED_RESULT_PATH": str(result), "PATH": ""},
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout.decode()[-3000:] + proc.stderr.decode()[-2000:]
    started = next(
        json.loads(line) for line in proc.stdout.splitlines() if b'"run.started"' in line
    )
    return {"result": json.loads(result.read_bytes()), "started": started}


def rendered(when: datetime, trigger: str) -> str:
    local = when.astimezone(ZoneInfo(ZONE))
    day = local.date() - timedelta(days=1)
    year, week, _ = local.date().isocalendar()
    return f"Report for {day} / {year}-W{week:02d} / {local.isoformat()} / {trigger}"


def the_pod(s: Schedules, job: str) -> dict[str, Any]:
    pods = wait_for(lambda: s.pods(job), timeout=60, what=f"the pod of Job {job}")
    pod: dict[str, Any] = pods[0]
    return pod


def create_dated(s: Schedules, double: DoubleServer, name: str, **spec: Any) -> None:
    """A schedule calling the OpenAI double with the dated INPUT, and its Secret."""
    s.core.create_namespaced_secret(
        s.namespace,
        client.V1Secret(metadata=client.V1ObjectMeta(name="llm"), string_data={"api-key": API_KEY}),
    )
    platform = {
        "type": "openai",
        "url": f"{double.url}/openai",
        "credentialsSecretRef": {"name": "llm"},
    }
    s.create(
        body(
            name,
            assistant="gpt-4o-mini",
            input=INPUT,
            timeZone=ZONE,
            platform=platform,
            pod=sim(message=runner_result()),
            **spec,
        )
    )
    s.wait_ready(name)


def test_cronjob_run_renders_its_scheduled_time(
    s: Schedules, double: DoubleServer, tmp_path: Path
) -> None:
    create_dated(s, double, "dated", schedule="* * * * *", jitterSeconds=1, maxTokensPerRun=64)
    job = wait_for(
        lambda: [
            j for j in s.jobs("dated") if j["metadata"]["labels"][TRIGGER_LABEL] == "Scheduled"
        ],
        timeout=100,
        what="the CronJob controller to make a Job",
    )[0]
    # The controller says when it was scheduled (on the Job only, which no pod can read).
    scheduled = parse(
        job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"]
    )
    env = kubelet_env(s, the_pod(s, job["metadata"]["name"]))
    assert "AISCHED_SCHEDULED_TIME" not in env and env["AISCHED_JITTER_SECONDS"] == "1"

    ran = run_runner(env, tmp_path)

    (call,) = [c for c in double.state.calls if c.path == "/openai/v1/chat/completions"]
    assert call.body["messages"][0]["content"] == rendered(scheduled, "Scheduled")
    assert call.body["max_tokens"] == 64
    assert ran["started"]["scheduledTimeFrom"] == "job-name"
    assert ran["result"]["result"] == "Succeeded"
    # and the operator records the same scheduled time for the run
    status = s.wait_runs("dated", 1, timeout=60)
    recorded = [h for h in status["history"] if h["job"] == job["metadata"]["name"]]
    assert recorded and parse(recorded[0]["scheduledTime"]) == scheduled


def test_run_now_renders_its_trigger_time(
    s: Schedules, double: DoubleServer, tmp_path: Path
) -> None:
    create_dated(s, double, "dated-now", suspend=True, jitterSeconds=600)
    before = datetime.now(UTC).replace(microsecond=0)
    s.run_now("dated-now", "now-1")
    (job,) = wait_for(lambda: s.jobs("dated-now"), timeout=30, what="the run-now Job")
    env = kubelet_env(s, the_pod(s, job["metadata"]["name"]))
    given = parse(env["AISCHED_SCHEDULED_TIME"])
    assert before <= given <= datetime.now(UTC)
    assert "AISCHED_JITTER_SECONDS" not in env  # nobody waits on a manual run for jitter
    assert "AISCHED_MAX_TOKENS" not in env

    ran = run_runner(env, tmp_path)

    (call,) = [c for c in double.state.calls if c.path == "/openai/v1/chat/completions"]
    assert call.body["messages"][0]["content"] == rendered(given, "Manual")
    assert "max_tokens" not in call.body
    assert ran["started"]["scheduledTimeFrom"] == "given"
