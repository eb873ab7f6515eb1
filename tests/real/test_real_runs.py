"""The real tier: runs of the real runner image in real pods on the local cluster's real
node (kubelet, containerd, runc), calling the platform doubles over the pod network, and
what the operator records from them. Nothing here is simulated."""

from __future__ import annotations

import json
import time
from typing import Any

import pytest
from schedules import Schedules, body, condition

from conftest import Cluster
from platformdouble import TOKEN, DoubleServer
from waiting import wait_for

# Time for a real run: pod start, the runner's start-up, the call, the operator's record.
RUN_TIMEOUT = 90


def real_body(
    name: str,
    image: str,
    platform: str,
    url: str,
    secret: str,
    *,
    assistant: str | None = "answer",
    workflow: str | None = None,
    runner: dict[str, Any] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    return body(
        name,
        assistant=None if workflow else assistant,
        workflow=workflow,
        platform={"type": platform, "url": url, "credentialsSecretRef": {"name": secret}},
        runner={"image": image, **(runner or {})},
        **spec,
    )


def codemie(double: DoubleServer) -> str:
    return f"{double.url}/codemie"


def run_now(rs: Schedules, name: str, timeout: float = RUN_TIMEOUT) -> dict[str, Any]:
    """Starts a run-now and returns the history entry the operator recorded for it."""
    rs.wait_ready(name)
    rs.run_now(name, f"real-{time.time()}")
    status = rs.wait_runs(name, 1, timeout=timeout)
    entry: dict[str, Any] = status["history"][0]
    return entry


def pods_of(rs: Schedules, entry: dict[str, Any]) -> list[dict[str, Any]]:
    return rs.pods(entry["job"])


def terminated(pod: dict[str, Any]) -> dict[str, Any]:
    state: dict[str, Any] = pod["status"]["containerStatuses"][0]["state"]["terminated"]
    return state


def test_run_now_codemie_assistant_for_real(
    rs: Schedules, runner_image: str, double: DoubleServer, cluster: Cluster, real_node: Any
) -> None:
    rs.create(
        real_body(
            "codemie",
            runner_image,
            "codemie",
            codemie(double),
            "codemie-credentials",
            input="What happened yesterday?",
        )
    )
    rs.wait_ready("codemie")
    started = time.monotonic()
    rs.run_now("codemie", "now")
    status = rs.wait_runs("codemie", 1, timeout=RUN_TIMEOUT)
    recorded_after = time.monotonic() - started
    (entry,) = status["history"]
    assert entry["result"] == "Succeeded", entry
    assert entry["trigger"] == "Manual"
    assert (
        entry["output"] == "Answer from the platform double (answer) to: What happened yesterday?"
    )
    assert entry["tokensUsed"] == 321
    assert len(entry["conversationId"]) == 36  # the uuid the runner sent
    (pod,) = pods_of(rs, entry)
    assert pod["spec"]["nodeName"] == real_node["name"]
    assert pod["status"]["phase"] == "Succeeded"
    assert terminated(pod)["exitCode"] == 0
    assert json.loads(terminated(pod)["message"])["result"] == "Succeeded"
    # The double really was called, with the token, from the pod network.
    calls = [c for c in double.state.calls if c.path == "/codemie/v1/assistants/answer/model"]
    assert calls and calls[-1].body["conversation_id"] == entry["conversationId"]

    # kubectl logs: the runner's JSON lines, the full answer, and no credential.
    logs = cluster.kubectl("logs", "-n", rs.namespace, pod["metadata"]["name"])
    lines = [json.loads(line) for line in logs.splitlines() if line.strip()]
    assert lines, "no log lines"
    assert TOKEN not in logs
    assert entry["output"] in logs

    created = pod["metadata"]["creationTimestamp"]
    print(
        f"\nreal run: run-now -> history entry in {recorded_after:.1f}s "
        f"(pod created {created}, finished {terminated(pod)['finishedAt']}, "
        f"recorded {entry['completionTime']})"
    )


def test_scheduled_run_openai_fired_by_the_cronjob_controller(
    rs: Schedules, runner_image: str, double: DoubleServer
) -> None:
    rs.create(
        real_body(
            "openai",
            runner_image,
            "openai",
            f"{double.url}/openai",
            "openai-credentials",
            assistant="gpt-double",
            schedule="* * * * *",
            input="Ping",
        )
    )
    # The CronJob controller fires at the next full minute.
    status = rs.wait_runs("openai", 1, timeout=60 + RUN_TIMEOUT)
    entry = status["history"][0]
    assert entry["trigger"] == "Scheduled"
    assert entry["result"] == "Succeeded", entry
    assert entry["output"] == "Answer from the platform double (gpt-double) to: Ping"
    assert entry["tokensUsed"] == 50


def test_codemie_workflow_polled_with_a_keycloak_token(
    rs: Schedules, runner_image: str, double: DoubleServer
) -> None:
    rs.core.create_namespaced_secret(
        rs.namespace,
        {
            "metadata": {"name": "keycloak"},
            "stringData": {
                "auth-server-url": f"{double.url}/keycloak",
                "realm": "codemie",
                "client-id": "scheduler",
                "client-secret": "double-client-secret",
            },
        },
    )
    rs.create(
        real_body(
            "workflow",
            runner_image,
            "codemie",
            codemie(double),
            "keycloak",
            workflow="wf-answer",
            input="Summarise",
        )
    )
    entry = run_now(rs, "workflow")
    assert entry["result"] == "Succeeded", entry
    assert entry["executionId"]
    assert entry["output"] == "Answer from the platform double (wf-answer) to: Summarise"
    assert entry["tokensUsed"] == 121
    polls = [c for c in double.state.calls if c.path.endswith(entry["executionId"])]
    assert len(polls) >= 3  # In Progress twice, then Succeeded
    assert any(c.path.endswith("/protocol/openid-connect/token") for c in double.state.calls)


def test_missing_secret_key_fails_at_once_with_exit_2(
    rs: Schedules, runner_image: str, double: DoubleServer
) -> None:
    # The openai Secret has no `api-key` for... a codemie target: no token at all.
    rs.create(real_body("nokey", runner_image, "codemie", codemie(double), "openai-credentials"))
    entry = run_now(rs, "nokey")
    assert entry["result"] == "Failed"
    assert "not retried" in entry["message"]
    assert "token" in entry["message"]
    (pod,) = pods_of(rs, entry)  # no retry
    assert terminated(pod)["exitCode"] == 2
    job = rs.job(entry["job"])
    assert job is not None
    assert condition(job["status"], "Failed").get("reason") == "PodFailurePolicy"


def test_platform_500_is_a_failed_run(
    rs: Schedules, runner_image: str, double: DoubleServer
) -> None:
    rs.create(
        real_body(
            "boom",
            runner_image,
            "codemie",
            codemie(double),
            "codemie-credentials",
            assistant="status-500",
            retries=0,
        )
    )
    entry = run_now(rs, "boom")
    assert entry["result"] == "Failed"
    assert "500" in entry["message"]
    (pod,) = pods_of(rs, entry)
    assert terminated(pod)["exitCode"] == 1


def test_rate_limited_then_answered_is_succeeded_after_two_attempts(
    rs: Schedules, runner_image: str, double: DoubleServer
) -> None:
    """429 with Retry-After: the runner waits as asked, sends again, and the run succeeds;
    the history records both attempts."""
    rs.create(
        real_body(
            "busy",
            runner_image,
            "codemie",
            codemie(double),
            "codemie-credentials",
            assistant="ratelimited-1",
            retries=0,
        )
    )
    entry = run_now(rs, "busy")
    assert entry["result"] == "Succeeded", entry
    assert entry["attempts"] == 2
    assert entry["output"].startswith("Answer from the platform double (ratelimited-1)")
    calls = [
        c for c in double.state.calls if c.path == "/codemie/v1/assistants/ratelimited-1/model"
    ]
    assert len(calls) == 2
    assert calls[1].at - calls[0].at >= 1.0  # Retry-After: 1 was honoured
    (pod,) = pods_of(rs, entry)  # one pod: the runner retried, not the Job
    assert terminated(pod)["exitCode"] == 0


def test_deadline_fails_the_run_with_the_timeout(
    rs: Schedules, runner_image: str, double: DoubleServer
) -> None:
    rs.create(
        real_body(
            "slow",
            runner_image,
            "codemie",
            codemie(double),
            "codemie-credentials",
            assistant="slow-120",
            timeoutSeconds=8,
            retries=0,
        )
    )
    entry = run_now(rs, "slow")
    assert entry["result"] == "Failed"
    assert "timeout" in entry["message"].lower() or "deadline" in entry["message"].lower()


def test_oom_killed_runner_is_failed_with_the_reason(
    rs: Schedules, runner_image: str, double: DoubleServer
) -> None:
    # 16 MiB: the interpreter and pydantic do not fit, the kernel kills the runner.
    small = {"limits": {"memory": "16Mi", "cpu": "500m"}, "requests": {"memory": "16Mi"}}
    rs.create(
        real_body(
            "oom",
            runner_image,
            "codemie",
            codemie(double),
            "codemie-credentials",
            runner={"resources": small},
            retries=0,
        )
    )
    entry = run_now(rs, "oom")
    assert entry["result"] == "Failed"
    (pod,) = pods_of(rs, entry)
    assert terminated(pod)["reason"] == "OOMKilled"
    assert "OOMKilled" in entry["message"]


def test_image_that_does_not_exist_is_a_failed_run_within_seconds(
    rs: Schedules, double: DoubleServer
) -> None:
    rs.create(
        real_body(
            "noimage",
            "localhost/aischeduler/does-not-exist:0",
            "codemie",
            codemie(double),
            "codemie-credentials",
        )
    )
    started = time.monotonic()
    entry = run_now(rs, "noimage", timeout=60)
    assert entry["result"] == "Failed"
    assert "ErrImagePull" in entry["message"] or "ImagePullBackOff" in entry["message"]
    assert time.monotonic() - started < 60


def test_restricted_pod_runs_as_65532_with_a_read_only_root(
    rs: Schedules, runner_image: str, cluster: Cluster
) -> None:
    """The kubelet, not only admission, enforces the runner's security context: the image's
    user is 65532 and writing to the root filesystem fails."""
    probe = (
        "import os\n"
        "try:\n    open('/probe', 'w'); ro = 'writable'\n"
        "except OSError as e:\n    ro = e.strerror\n"
        "open('/dev/termination-log', 'w').write(f'{os.getuid()}:{os.getgid()}:{ro}')\n"
    )
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "probe"},
        "spec": {
            "restartPolicy": "Never",
            "automountServiceAccountToken": False,
            "securityContext": {"runAsNonRoot": True, "seccompProfile": {"type": "RuntimeDefault"}},
            "containers": [
                {
                    "name": "probe",
                    "image": runner_image,
                    "command": ["python3", "-c", probe],
                    "securityContext": {
                        "allowPrivilegeEscalation": False,
                        "readOnlyRootFilesystem": True,
                        "capabilities": {"drop": ["ALL"]},
                    },
                }
            ],
        },
    }
    rs.core.create_namespaced_pod(rs.namespace, pod)
    done = wait_for(
        lambda: rs.core.read_namespaced_pod("probe", rs.namespace).to_dict(),
        lambda p: p["status"]["phase"] in ("Succeeded", "Failed"),
        timeout=RUN_TIMEOUT,
        what="the probe pod to finish",
    )
    assert done["status"]["phase"] == "Succeeded", done["status"]
    state = done["status"]["container_statuses"][0]["state"]["terminated"]
    uid, _gid, write = state["message"].split(":")
    # The uid is the image's (65532): the pod sets none. (Its gid is 0: with runAsNonRoot
    # and no runAsUser the kubelet passes only the image's uid on; runner pods set both.)
    assert (uid, write) == ("65532", "Read-only file system")

    # Admission (restricted) refuses a pod that may run as root before any kubelet sees it.
    root_pod = json.loads(json.dumps(pod))
    root_pod["metadata"]["name"] = "root"
    del root_pod["spec"]["securityContext"]["runAsNonRoot"]
    out = cluster.kubectl(
        "apply", "-n", rs.namespace, "-f", "-", input=json.dumps(root_pod), check=False
    )
    assert "violates PodSecurity" in out


@pytest.mark.parametrize("platform", ["codemie", "openai", "webhook"])
def test_run_now_against_each_double(
    rs: Schedules, runner_image: str, double: DoubleServer, platform: str
) -> None:
    url, secret = {
        "codemie": (codemie(double), "codemie-credentials"),
        "openai": (f"{double.url}/openai", "openai-credentials"),
        "webhook": (f"{double.url}/webhook/answer", "webhook-credentials"),
    }[platform]
    rs.create(real_body("each", runner_image, platform, url, secret, input="Hello"))
    entry = run_now(rs, "each")
    assert entry["result"] == "Succeeded", entry
    assert "Answer from the platform double" in entry["output"]
