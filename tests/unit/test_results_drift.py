"""Termination message parsing and the drift test (pure helpers of the reconcile)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from aischeduler_operator.drift import contains, cronjob_patch
from aischeduler_operator.results import MAX_OUTPUT_CHARS, parse_termination_message
from aischeduler_runner.contract import RunResult, encode_result


@pytest.mark.parametrize(
    ("message", "result", "fragment"),
    [
        (None, None, "no termination message"),
        ("   ", None, "no termination message"),
        ('{"result": "Succ', None, "not valid JSON"),
        ("[1, 2]", None, "not a JSON object"),
        ('{"result": "Failed", "message": "boom", "tokensUsed": "many"}', "Failed", "boom"),
        ('{"unexpected": true}', None, "did not match the result format"),
    ],
)
def test_bad_messages_still_give_a_record(
    message: str | None, result: str | None, fragment: str
) -> None:
    report = parse_termination_message(message)
    assert report.result == result
    assert fragment in report.message


def test_runner_encoding_round_trips_through_the_operator_parser() -> None:
    big = RunResult(
        result="Succeeded",
        message="ok",
        output="🙂 答え " * 2000,
        executionId="e",
        conversationId="c",
        tokensUsed=7,
        durationSeconds=1.25,
        attempts=2,
    )
    report = parse_termination_message(encode_result(big).decode())
    assert report.result == "Succeeded"
    assert report.tokens_used == 7
    assert report.execution_id == "e" and report.conversation_id == "c"
    assert report.duration_seconds == 1.25
    assert report.attempts == 2
    assert 0 < len(report.output) <= MAX_OUTPUT_CHARS
    assert report.output.startswith("🙂 答え")


SERVER_CRONJOB: dict[str, Any] = {
    "metadata": {
        "name": "daily",
        "labels": {"app.kubernetes.io/managed-by": "aischeduler", "extra": "kept"},
        "ownerReferences": [{"kind": "AssistantSchedule", "name": "daily", "uid": "u"}],
        "resourceVersion": "42",
    },
    "spec": {
        "schedule": "0 * * * *",
        "suspend": False,
        "jobTemplate": {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": "runner",
                                "resources": {"requests": {"cpu": "1"}},
                                "terminationMessagePath": "/dev/termination-log",
                            }
                        ]
                    }
                }
            }
        },
    },
}
DESIRED: dict[str, Any] = {
    "metadata": {
        "labels": {"app.kubernetes.io/managed-by": "aischeduler"},
        "ownerReferences": [{"kind": "AssistantSchedule", "name": "daily", "uid": "u"}],
    },
    "spec": {
        "schedule": "0 * * * *",
        "suspend": False,
        "jobTemplate": {
            "spec": {
                "template": {
                    "spec": {
                        "containers": [{"name": "runner", "resources": {"requests": {"cpu": 1}}}]
                    }
                }
            }
        },
    },
}


def test_server_defaults_and_quantity_strings_are_not_drift() -> None:
    assert cronjob_patch(SERVER_CRONJOB, DESIRED) is None


@pytest.mark.parametrize(
    "mutate",
    [
        lambda cj: cj["spec"].update(schedule="5 * * * *"),
        lambda cj: cj["spec"].update(suspend=True),
        lambda cj: cj["metadata"]["labels"].pop("app.kubernetes.io/managed-by"),
        lambda cj: cj["spec"]["jobTemplate"]["spec"]["template"]["spec"]["containers"].append({}),
    ],
)
def test_manual_edits_are_drift_and_the_patch_restores_them(mutate: Any) -> None:
    edited = json.loads(json.dumps(SERVER_CRONJOB))
    mutate(edited)
    patch = cronjob_patch(edited, DESIRED)
    assert patch is not None
    assert patch["spec"] == DESIRED["spec"]


def test_contains_requires_equal_list_lengths_and_nested_values() -> None:
    assert contains({"a": [1, {"b": 2, "c": 3}]}, {"a": [1, {"b": 2}]})
    assert not contains({"a": [1]}, {"a": [1, 2]})
    assert not contains({"a": None}, {"a": {"b": 1}})
    assert contains({"a": None}, {"a": None})
    assert contains(
        {"env": [{"name": "AISCHED_INPUT"}]}, {"env": [{"name": "AISCHED_INPUT", "value": ""}]}
    )
    assert not contains({"env": [{"name": "X"}]}, {"env": [{"name": "X", "value": "y"}]})
