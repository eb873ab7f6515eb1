"""The small steps of plan.decide, each on its own, table-driven; and decide's handling of
a schedule that is gone or backing off after a failure."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from decisions import decide_on
from objects import NOW, job, schedule

from aischeduler_operator import manifests, names
from aischeduler_operator.actions import CreateCronJob, DeleteCronJob, PatchCronJob, PatchJob
from aischeduler_operator.due import MAX_DEADLINE, deadline_of
from aischeduler_operator.observe import ErrorFact, project_cronjob, project_job, project_schedule
from aischeduler_operator.plan import cronjob_actions, release, run_now
from aischeduler_operator.resolve import Invalid, Resolved, resolve
from aischeduler_operator.runs import view_job
from aischeduler_operator.settings import Settings

SETTINGS = Settings(platform_url="https://codemie.example.com/api", credentials_secret="creds")
CR = schedule({"schedule": "30 2 * * *"})
FACTS = project_schedule(CR)
RESOLVED = resolve(CR["spec"], SETTINGS)
assert isinstance(RESOLVED, Resolved)
DESIRED = manifests.cronjob(RESOLVED, FACTS.meta, SETTINGS)


def stored(**changes: Any) -> dict[str, Any]:
    """Our CronJob as the API would return it, with ``changes`` to its metadata/spec."""
    body = {"metadata": dict(DESIRED["metadata"]), "spec": dict(DESIRED["spec"])}
    for where, value in changes.items():
        body[where] = {**body[where], **value}
    return body


FOREIGN = {"metadata": {"name": "daily", "labels": {"team": "x"}}, "spec": {}}


@pytest.mark.parametrize(
    ("wanted", "cached", "kinds", "conflict"),
    [
        ("apply", None, [CreateCronJob], False),
        ("apply", stored(), [], False),
        ("apply", stored(spec={"suspend": True}), [PatchCronJob], False),
        ("apply", FOREIGN, [], True),
        ("delete", stored(), [DeleteCronJob], False),
        ("delete", FOREIGN, [], False),
        ("delete", None, [], False),
        ("keep", stored(), [], False),
    ],
    ids=[
        "create",
        "in-sync",
        "drifted",
        "foreign-conflict",
        "delete-ours",
        "never-delete-foreign",
        "nothing-to-delete",
        "invalid-keeps",
    ],
)
def test_cronjob_actions(
    wanted: Any, cached: dict[str, Any] | None, kinds: list[type], conflict: bool
) -> None:
    facts = project_cronjob(cached) if cached is not None else None
    actions, why = cronjob_actions(wanted, DESIRED, facts, FACTS)
    assert [type(a) for a in actions] == kinds
    assert (why is not None) == conflict
    if why is not None:
        assert "exists and is not managed by this schedule" in why


@pytest.mark.parametrize(
    ("annotations", "last", "expect_job", "warning"),
    [
        ({}, None, False, None),
        ({names.RUN_NOW_ANNOTATION: "v1"}, None, True, None),
        ({names.RUN_NOW_ANNOTATION: "v1"}, names.digest("v1", 16), False, None),
        (
            {names.RUN_NOW_ANNOTATION: "v2", names.RUN_NOW_INPUT_ANNOTATION: "x" * 40000},
            None,
            False,
            "longer than",
        ),
        (
            {names.RUN_NOW_ANNOTATION: "v3", names.RUN_NOW_INPUT_ANNOTATION: "{{ .Today }}"},
            None,
            False,
            "placeholder {{ .Today }} is not known",
        ),
        (
            {names.RUN_NOW_ANNOTATION: "v4", names.RUN_NOW_INPUT_ANNOTATION: "{{ .Date }}"},
            None,
            True,
            None,
        ),
    ],
    ids=["none", "new-value", "same-value", "input-too-long", "bad-placeholder", "placeholder"],
)
def test_run_now(
    annotations: dict[str, str], last: str | None, expect_job: bool, warning: str | None
) -> None:
    facts = project_schedule(schedule(annotations=annotations))
    step = run_now(facts, RESOLVED, last)
    assert (step.job is not None) == expect_job
    if warning is None:
        assert step.warning is None
    else:
        assert step.warning is not None and warning in step.warning


def test_run_now_on_invalid_spec_warns_and_moves_the_token() -> None:
    facts = project_schedule(schedule(annotations={names.RUN_NOW_ANNOTATION: "v1"}))
    step = run_now(facts, Invalid("InvalidSpec", "bad"), None)
    assert step.job is None and step.token == names.digest("v1", 16)
    assert step.warning is not None and "invalid" in step.warning


def test_release_labels_the_job_and_drops_an_old_finalizer_with_a_test() -> None:
    view = view_job(project_job(job("daily-1", state="Succeeded", finalizer=True)), [])
    patch = release(view)
    assert isinstance(patch, PatchJob) and patch.why == "release"
    assert [op["op"] for op in patch.operations] == ["test", "replace", "add"]
    assert patch.operations[1]["value"] == []
    plain = release(view_job(project_job(job("daily-1", state="Succeeded")), []))
    assert [op["op"] for op in plain.operations] == ["add"]


def test_gone_schedule_releases_its_held_jobs_and_forgets() -> None:
    held, free = job("daily-1", state="Succeeded", finalizer=True), job("daily-2")
    plan = decide_on(None, [held, free], settings=SETTINGS, now=NOW)
    assert plan.decision.gone
    assert plan.finalize_jobs == ["daily-1"]


def test_a_failure_is_reported_then_retried_after_its_back_off() -> None:
    error = ErrorFact("API error 500: boom", failures=2, at=NOW)
    inside = decide_on(CR, settings=SETTINGS, now=NOW + timedelta(seconds=1), error=error)
    assert inside.decision.backing_off
    assert inside.cronjob == "keep" and inside.create_jobs == []
    assert inside.status_patch is not None
    ready = inside.status_patch.patch["conditions"][0]
    assert (ready["reason"], ready["message"]) == ("ReconcileError", "API error 500: boom")
    assert inside.wake_at == NOW + timedelta(seconds=4)
    after = decide_on(CR, settings=SETTINGS, now=NOW + timedelta(seconds=4), error=error)
    assert not after.decision.backing_off
    assert after.cronjob == "apply"


def test_a_visible_name_conflict_fails_the_decision() -> None:
    plan = decide_on(CR, settings=SETTINGS, now=NOW, cronjob=FOREIGN)
    assert plan.decision.failed is not None
    assert plan.decision.actions == ()


@pytest.mark.parametrize(
    ("runner", "says"),
    [
        ({"podLabels": {"bad key": "v"}}, "spec.runner.podLabels: key 'bad key' is not valid"),
        ({"podLabels": {"cost": "v" * 64}}, "the value of 'cost' is not a valid label value"),
        ({"podLabels": {"Bad.Prefix/x": "v"}}, "its prefix must be a DNS subdomain"),
        ({"podAnnotations": {"a/b/c": "v"}}, "spec.runner.podAnnotations: key 'a/b/c'"),
    ],
)
def test_pod_labels_and_annotations_the_apiserver_would_refuse_are_invalid(
    runner: dict[str, Any], says: str
) -> None:
    spec = {"assistant": {"id": "a"}, "schedule": "@daily", "runner": runner}
    got = resolve(spec, Settings(platform_url="https://p.example", credentials_secret="c"))
    assert isinstance(got, Invalid) and got.reason == "InvalidSpec", got
    assert says in got.message


def test_valid_pod_labels_and_annotations_resolve() -> None:
    runner = {
        "podLabels": {"cost.example.com/team": "a-1", "empty": ""},
        "podAnnotations": {"sidecar.istio.io/inject": "false, with any value: ok"},
    }
    spec = {"assistant": {"id": "a"}, "schedule": "@daily", "runner": runner}
    got = resolve(spec, Settings(platform_url="https://p.example", credentials_secret="c"))
    assert not isinstance(got, Invalid), got


def test_a_huge_starting_deadline_is_clamped_not_an_overflow() -> None:
    spec = {"assistant": {"id": "a"}, "schedule": "@daily", "startingDeadlineSeconds": 2**62}
    got = resolve(spec, Settings(platform_url="https://p.example", credentials_secret="c"))
    assert not isinstance(got, Invalid)
    assert deadline_of(got) == MAX_DEADLINE
