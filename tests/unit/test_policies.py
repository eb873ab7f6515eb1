"""Schedule policies (spec §7) in the pure core, table-driven: the active window, maxRuns,
pauseAfterFailures with the resume annotation, the token budget and backfill."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from decisions import Plan, decide_on
from objects import NOW, job, pod, result, schedule

from aischeduler_operator import backfill, names, policy
from aischeduler_operator.actions import CreateCronJob, PatchCronJob
from aischeduler_operator.plan import status_patch
from aischeduler_operator.resolve import Resolved, resolve
from aischeduler_operator.schedule import load_time_zone
from aischeduler_operator.settings import Settings
from aischeduler_operator.times import rfc3339
from argocd_lua import ArgoCD

SETTINGS = Settings(platform_url="https://codemie.example.com/api", credentials_secret="creds")
HOUR = NOW.replace(minute=0, second=0)  # 12:00, the newest hourly time before NOW
Objects = Sequence[dict[str, Any]]


def run(
    cr: dict[str, Any],
    jobs: Objects = (),
    pods: Objects = (),
    now: datetime = NOW,
    cronjob: dict[str, Any] | None = None,
) -> Plan:
    return decide_on(cr, jobs, pods, settings=SETTINGS, now=now, cronjob=cronjob)


def settled(cr: dict[str, Any], plan: Plan) -> dict[str, Any]:
    return {**cr, "status": plan.status}


def cronjob_suspended(plan: Plan) -> bool | None:
    """The CronJob's suspend as the decision writes it (None: not written)."""
    for action in plan.decision.actions:
        if isinstance(action, CreateCronJob):
            return bool(action.manifest["spec"]["suspend"])
        if isinstance(action, PatchCronJob):
            return bool(action.patch["spec"]["suspend"])
    return None


def stored_cronjob(plan: Plan) -> dict[str, Any]:
    """The CronJob a decision created, as the cache then holds it."""
    assert plan.cronjob_manifest is not None
    return plan.cronjob_manifest


def condition(plan: Plan, kind: str) -> dict[str, Any]:
    return next((c for c in plan.status["conditions"] if c["type"] == kind), {})


def reasons(plan: Plan) -> list[str]:
    return [e.reason for e in plan.events]


def resolved(spec: dict[str, Any]) -> Resolved:
    r = resolve(schedule(spec)["spec"], SETTINGS)
    assert isinstance(r, Resolved), r
    return r


# --------------------------------------------------------------------------- window


# An hourly schedule whose window starts at 09:30 UTC on 2026-03-12.
WAITING = policy.Gate(
    open=False,
    done=False,
    first=datetime(2026, 3, 12, 10, tzinfo=UTC),
    wake_at=datetime(2026, 3, 12, 9, 5, 5, tzinfo=UTC),
)


@pytest.mark.parametrize(
    ("spec", "now", "gate"),
    [
        # Before the window: opens once 09:00 (the last time before 09:30) is past its
        # 300 s deadline, so it can never start late; the first run is 10:00.
        (
            {"startTime": "2026-03-12T09:30:00Z"},
            NOW,
            WAITING,
        ),
        # Denser than the deadline: the controller starts the newest time it missed when
        # it opens (09:05), so that is the first run, not 09:01.
        (
            {"schedule": "* * * * *", "startTime": "2026-03-12T09:00:30Z"},
            NOW,
            policy.Gate(
                open=False,
                done=False,
                first=datetime(2026, 3, 12, 9, 5, tzinfo=UTC),
                wake_at=datetime(2026, 3, 12, 9, 5, 5, tzinfo=UTC),
            ),
        ),
        # Inside: closes a little before the first time at or after endTime (13:00).
        (
            {"startTime": "2026-03-01T00:00:00Z", "endTime": "2026-03-10T13:00:00Z"},
            NOW,
            policy.Gate(
                open=True, done=False, wake_at=datetime(2026, 3, 10, 12, 59, 55, tzinfo=UTC)
            ),
        ),
        # ... or at endTime when that comes first.
        (
            {"endTime": "2026-03-10T12:30:00Z"},
            NOW,
            policy.Gate(open=True, done=False, wake_at=datetime(2026, 3, 10, 12, 30, tzinfo=UTC)),
        ),
        (
            {"endTime": "2026-03-10T13:00:00Z"},
            HOUR.replace(minute=59, second=56),
            policy.Gate(False, True),
        ),
        # Offset-less times are read in timeZone: 10:30 Berlin (CET) is 09:30 UTC.
        (
            {"startTime": "2026-03-12T10:30:00", "timeZone": "Europe/Berlin"},
            NOW,
            WAITING,
        ),
    ],
)
def test_window_gate(spec: dict[str, Any], now: datetime, gate: policy.Gate) -> None:
    assert policy.window_gate(resolved(spec), now) == gate


def test_before_the_window_cronjob_is_suspended_and_next_run_is_the_first_inside() -> None:
    cr = schedule({"startTime": "2026-03-12T09:30:00Z"})
    plan = run(cr)
    assert cronjob_suspended(plan) is True
    assert plan.status["phase"] == "Active"
    assert plan.status["nextRunTime"] == "2026-03-12T10:00:00Z"
    assert plan.status["nextRunTimes"][:2] == ["2026-03-12T10:00:00Z", "2026-03-12T11:00:00Z"]
    assert plan.wake_at == datetime(2026, 3, 12, 9, 5, 5, tzinfo=UTC)


def test_window_opens_without_recording_times_before_it_as_missed() -> None:
    cr = schedule({"startTime": "2026-03-12T09:30:00Z"})
    first = run(cr)
    opens = datetime(2026, 3, 12, 9, 5, 5, tzinfo=UTC)
    later = run(settled(cr, first), now=opens, cronjob=stored_cronjob(first))
    assert cronjob_suspended(later) is False
    assert later.status["runs"]["missed"] == 0
    # A day on, with nothing run: only times inside the window (10:00 ...) are Missed.
    cr = settled(cr, later)
    opened = stored_cronjob(first)
    opened = {**opened, "spec": {**opened["spec"], "suspend": False}}
    day = run(cr, now=opens + timedelta(hours=3), cronjob=opened)
    missed = [h["scheduledTime"] for h in day.status["history"]]
    assert missed and all(t >= "2026-03-12T09:30:00Z" for t in missed)


def test_after_the_window_the_schedule_is_completed_once() -> None:
    cr = schedule({"endTime": "2026-03-10T12:00:00Z"})
    plan = run(cr)
    assert cronjob_suspended(plan) is True
    assert plan.status["phase"] == "Completed"
    assert "nextRunTime" not in plan.status and plan.status["nextRunTimes"] == []
    assert ("Normal", "Completed") in [(e.type, e.reason) for e in plan.events]
    assert "endTime" in next(e.message for e in plan.events if e.reason == "Completed")
    again = run(settled(cr, plan))
    assert "Completed" not in reasons(again)


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ({"startTime": "2026-03-12T09:00:00Z", "endTime": "2026-03-12T09:00:00Z"}, "after"),
        ({"startTime": "2026-03-13", "endTime": None}, "spec.startTime"),
        ({"endTime": "next tuesday"}, "spec.endTime"),
        ({"schedule": None, "runAt": "2026-03-11T08:00:00Z", "maxRuns": 1}, "spec.maxRuns"),
        (
            {"schedule": None, "runAt": "2026-03-11T08:00:00Z", "endTime": "2027-01-01T00:00:00"},
            "runAt",
        ),
    ],
)
def test_invalid_window_is_invalid_spec(spec: dict[str, Any], fragment: str) -> None:
    cr = schedule({k: v for k, v in spec.items() if v is not None})
    for key in [k for k, v in spec.items() if v is None]:
        cr["spec"].pop(key, None)
    plan = run(cr)
    ready = condition(plan, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", "InvalidSpec")
    assert fragment in ready["message"]


# --------------------------------------------------------------------------- maxRuns


def test_max_runs_holds_once_reached_and_completes_when_the_last_run_ends() -> None:
    cr = schedule({"maxRuns": 2}, status={"runs": {"total": 1, "succeeded": 1}})
    running = [job("daily-1", scheduled=HOUR, finalizer=True)]
    plan = run(cr, running, [pod("daily-1")])
    assert cronjob_suspended(plan) is True
    assert plan.status["phase"] == "Active"  # the second run is still going
    assert plan.status["nextRunTimes"] == []
    done = [job("daily-1", scheduled=HOUR, state="Succeeded")]
    plan = run(settled(cr, plan), done, [pod("daily-1", message=result())])
    assert plan.status["phase"] == "Completed"
    assert "maxRuns (2)" in next(e.message for e in plan.events if e.reason == "Completed")


def test_backfill_runs_do_not_count_toward_max_runs() -> None:
    runs = {"total": 3, "succeeded": 3, "backfill": 2}
    plan = run(schedule({"maxRuns": 2}, status={"runs": runs}))
    assert plan.status["phase"] == "Active"
    assert cronjob_suspended(plan) is False
    assert policy.started_runs(policy.Runs(succeeded=3, backfill=2), ()) == 1


# --------------------------------------------------------------------------- pause


def failed(name: str, minute: int) -> tuple[dict[str, Any], dict[str, Any]]:
    completed = HOUR + timedelta(minutes=minute)
    return (
        job(name, state="Failed", reason="BackoffLimitExceeded", completed=completed),
        pod(name, exit_code=1, message=result(result="Failed", message="platform said 500")),
    )


def test_pause_after_failures_holds_until_resumed_and_never_flaps() -> None:
    cr = schedule({"pauseAfterFailures": 2})
    j1, p1 = failed("daily-1", 1)
    plan = run(cr, [j1], [p1])
    assert plan.status["runs"]["failedInARow"] == 1
    assert condition(plan, "Paused")["status"] == "False"
    j2, p2 = failed("daily-2", 2)
    plan = run(settled(cr, plan), [j1, j2], [p1, p2])
    paused = condition(plan, "Paused")
    assert (paused["status"], paused["reason"]) == ("True", "TooManyFailures")
    assert "2 failed runs in a row" in paused["message"]
    assert "job daily-2" in paused["message"] and "platform said 500" in paused["message"]
    assert plan.status["phase"] == "Paused" and plan.status["nextRunTimes"] == []
    assert cronjob_suspended(plan) is True
    assert [(e.type, e.reason) for e in plan.events if e.reason == "Paused"] == [
        ("Warning", "Paused")
    ]
    cr = settled(cr, plan)
    # A success while paused (a run-now) does not unpause it: only a person does.
    ok = job("daily-3", trigger="Manual", state="Succeeded", completed=HOUR + timedelta(minutes=3))
    plan = run(cr, [ok], [pod("daily-3", message=result())])
    assert condition(plan, "Paused")["status"] == "True"
    assert "Paused" not in reasons(plan) and "Resumed" not in reasons(plan)
    cr = settled(cr, plan)
    # A new resume value clears it; failures count from zero again.
    cr["metadata"]["annotations"][names.RESUME_ANNOTATION] = "2026-03-10T12:05"
    plan = run(cr)
    resumed = condition(plan, "Paused")
    assert (resumed["status"], resumed["reason"]) == ("False", "Resumed")
    assert plan.status["phase"] == "Active" and cronjob_suspended(plan) is False
    assert "failedInARow" not in plan.status["runs"]
    assert "Resumed" in reasons(plan)
    cr = settled(cr, plan)
    # One more failure (of pauseAfterFailures 2) and the same resume value: still running.
    j4, p4 = failed("daily-4", 10)
    plan = run(cr, [j4], [p4])
    assert condition(plan, "Paused")["status"] == "False"


def test_a_spec_change_clears_the_pause() -> None:
    status = {
        "observedGeneration": 1,
        "phase": "Paused",
        "runs": {"total": 3, "failed": 3, "consecutiveFailures": 3, "failedInARow": 3},
        "conditions": [
            {
                "type": "Paused",
                "status": "True",
                "reason": "TooManyFailures",
                "message": "3 failed runs in a row",
                "lastTransitionTime": rfc3339(NOW),
            }
        ],
    }
    still = run(schedule({"pauseAfterFailures": 3}, status=status))
    assert still.status["phase"] == "Paused"
    plan = run(schedule({"pauseAfterFailures": 3}, status=status, generation=2))
    assert condition(plan, "Paused")["reason"] == "Resumed"
    assert "spec change" in condition(plan, "Paused")["message"]
    assert plan.status["phase"] == "Active"


def test_missed_runs_neither_count_nor_break_the_failure_streak() -> None:
    status = {"runs": {"total": 1, "failed": 1, "consecutiveFailures": 1, "failedInARow": 1}}
    cr = schedule({"pauseAfterFailures": 2}, status=status, created=NOW - timedelta(hours=3))
    plan = run(cr)
    assert plan.status["runs"]["missed"] > 0
    assert plan.status["runs"]["failedInARow"] == 1
    assert plan.status["phase"] == "Active"


# --------------------------------------------------------------------------- token budget


@pytest.mark.parametrize(
    ("when", "per", "zone", "key", "next_start"),
    [
        ("2026-03-10T23:30:00Z", "Day", "Europe/Berlin", "2026-03-11", "2026-03-11T23:00:00Z"),
        ("2026-03-10T12:00:00Z", "Week", "UTC", "2026-W11", "2026-03-16T00:00:00Z"),
        ("2026-03-15T23:59:00Z", "Week", "UTC", "2026-W11", "2026-03-16T00:00:00Z"),
        ("2026-12-31T12:00:00Z", "Month", "UTC", "2026-12", "2027-01-01T00:00:00Z"),
        # The day DST starts in Berlin has 23 hours.
        ("2026-03-29T12:00:00Z", "Day", "Europe/Berlin", "2026-03-29", "2026-03-29T22:00:00Z"),
    ],
)
def test_budget_periods_are_in_the_schedules_zone(
    when: str, per: Any, zone: str, key: str, next_start: str
) -> None:
    at = datetime.fromisoformat(when.replace("Z", "+00:00"))
    found, starts = policy.period_of(at, load_time_zone(zone), per)
    assert (found, rfc3339(starts)) == (key, next_start)


def test_token_budget_pauses_until_the_next_period() -> None:
    spec = {"tokenBudget": {"tokens": 100, "per": "Day"}}
    cr = schedule(spec, status={"tokens": {"period": "2026-03-10", "used": 40}})
    done = [job("daily-1", scheduled=HOUR, state="Succeeded")]
    plan = run(cr, done, [pod("daily-1", message=result(tokensUsed=70))])
    assert plan.status["tokens"] == {"period": "2026-03-10", "used": 110}
    paused = condition(plan, "Paused")
    assert (paused["status"], paused["reason"]) == ("True", "BudgetExceeded")
    assert "110 of 100 tokens" in paused["message"]
    assert plan.status["phase"] == "Paused" and cronjob_suspended(plan) is True
    assert plan.wake_at == datetime(2026, 3, 11, tzinfo=UTC)
    # The resume annotation does not lift a budget; the next period does.
    cr = settled(cr, plan)
    cr["metadata"]["annotations"][names.RESUME_ANNOTATION] = "please"
    assert run(cr, done).status["phase"] == "Paused"
    tomorrow = run(cr, done, now=datetime(2026, 3, 11, 0, 0, 1, tzinfo=UTC))
    assert tomorrow.status["tokens"] == {"period": "2026-03-11", "used": 0}
    assert condition(tomorrow, "Paused")["reason"] == "BudgetRenewed"
    assert tomorrow.status["phase"] == "Active" and "Resumed" in reasons(tomorrow)


def test_tokens_of_a_run_that_ended_in_an_earlier_period_do_not_count() -> None:
    spec = {"tokenBudget": {"tokens": 100, "per": "Day"}}
    ended = NOW - timedelta(days=1)
    late = [job("daily-1", scheduled=ended, state="Succeeded", completed=ended)]
    plan = run(schedule(spec), late, [pod("daily-1", message=result(tokensUsed=500))])
    assert plan.status["tokens"] == {"period": "2026-03-10", "used": 0}


# --------------------------------------------------------------------------- backfill

DAY = "2026-03-09T00:00:00Z/2026-03-10T00:00:00Z"


def test_backfill_starts_the_oldest_times_at_the_parallelism() -> None:
    cr = schedule({"backfillParallelism": 2}, annotations={names.BACKFILL_ANNOTATION: DAY})
    plan = run(cr)
    assert [j["metadata"]["name"] for j in plan.create_jobs] == [
        names.backfill_job_name("daily", DAY, 0),
        names.backfill_job_name("daily", DAY, 1),
    ]
    first = plan.create_jobs[0]["metadata"]
    assert first["labels"][names.TRIGGER_LABEL] == "Backfill"
    assert first["annotations"][names.SCHEDULED_TIME_ANNOTATION] == "2026-03-09T00:00:00Z"
    assert plan.create_jobs[1]["metadata"]["annotations"][names.SCHEDULED_TIME_ANNOTATION] == (
        "2026-03-09T01:00:00Z"
    )
    assert plan.status["backfill"] == {
        "value": DAY,
        "total": 24,
        "started": 2,
        "succeeded": 0,
        "failed": 0,
        "message": "running",
    }
    assert reasons(plan).count("BackfillStarted") == 1
    # Running: nothing more starts; once one ends and is recorded, the next (02:00) does.
    cr = settled(cr, plan)
    running = [
        job(names.backfill_job_name("daily", DAY, i), trigger="Backfill", scheduled=HOUR)
        for i in range(2)
    ]
    assert run(cr, running).create_jobs == []
    ended = [
        job(names.backfill_job_name("daily", DAY, 0), trigger="Backfill", state="Succeeded"),
        running[1],
    ]
    plan = run(cr, ended, [pod(ended[0]["metadata"]["name"], message=result())])
    assert [j["metadata"]["name"] for j in plan.create_jobs] == [
        names.backfill_job_name("daily", DAY, 2)
    ]
    assert plan.status["backfill"]["succeeded"] == 1
    assert plan.status["history"][0]["trigger"] == "Backfill"
    assert plan.status["runs"]["backfill"] == 1
    assert "BackfillStarted" not in reasons(plan)


def test_backfill_after_a_crash_before_its_status_repeats_only_the_same_names() -> None:
    cr = schedule(annotations={names.BACKFILL_ANNOTATION: DAY})
    first = run(cr)
    # The Job was created, the status write was lost: the same decision again.
    again = run(cr, [job(first.create_jobs[0]["metadata"]["name"], trigger="Backfill")])
    assert [j["metadata"]["name"] for j in again.create_jobs] == [
        j["metadata"]["name"] for j in first.create_jobs
    ]


def test_backfill_completes_once() -> None:
    value = "2026-03-10T09:30:00Z/2026-03-10T10:30:00Z"
    cr = schedule(annotations={names.BACKFILL_ANNOTATION: value})
    plan = run(cr)
    name = names.backfill_job_name("daily", value, 0)
    ended = [job(name, trigger="Backfill", state="Failed", reason="BackoffLimitExceeded")]
    plan = run(settled(cr, plan), ended, [pod(name, exit_code=1, message=result(result="Failed"))])
    assert plan.status["backfill"]["message"] == "done: 0 succeeded, 1 failed"
    assert reasons(plan).count("BackfillCompleted") == 1
    assert "BackfillCompleted" not in reasons(run(settled(cr, plan), ended))


@pytest.mark.parametrize(
    ("spec", "value", "fragment"),
    [
        ({"schedule": "* * * * *"}, "2026-03-10T08:00:00Z/2026-03-10T09:41:00Z", "more than 100"),
        ({}, "2026-03-10T08:00:00Z/2026-03-11T00:00:00Z", "future"),
        ({}, "yesterday", "interval"),
        ({}, "2026-03-10T08:00:00Z/2026-03-10T08:00:00Z", "empty"),
        ({}, "2026-03-10T08:00:00Z/soon", "backfill end"),
        ({"schedule": None, "runAt": "2026-03-11T08:00:00Z"}, DAY, "one-time"),
    ],
)
def test_backfill_refused_with_a_warning_once_and_nothing_runs(
    spec: dict[str, Any], value: str, fragment: str
) -> None:
    cr = schedule(
        {k: v for k, v in spec.items() if v is not None},
        annotations={names.BACKFILL_ANNOTATION: value},
    )
    for key in [k for k, v in spec.items() if v is None]:
        cr["spec"].pop(key)
    plan = run(cr)
    assert plan.create_jobs == []
    (warning,) = [e for e in plan.events if e.reason == "BackfillRejected"]
    assert warning.type == "Warning" and fragment in warning.message
    assert plan.status["backfill"]["message"].startswith("refused")
    again = run(settled(cr, plan))
    assert again.create_jobs == [] and "BackfillRejected" not in reasons(again)


def test_exactly_100_times_are_accepted() -> None:
    r = resolved({"schedule": "* * * * *"})
    found = backfill.times(r, "2026-03-10T08:00:00Z/2026-03-10T09:40:00Z", NOW)
    assert len(found) == 100 and found == sorted(found)


def test_a_paused_schedule_starts_no_backfill_runs() -> None:
    status = {
        "runs": {"total": 2, "failed": 2, "failedInARow": 2},
        "conditions": [
            {
                "type": "Paused",
                "status": "True",
                "reason": "TooManyFailures",
                "message": "2 failed runs in a row",
                "lastTransitionTime": rfc3339(NOW),
            }
        ],
        "observedGeneration": 1,
    }
    cr = schedule(
        {"pauseAfterFailures": 2}, status=status, annotations={names.BACKFILL_ANNOTATION: DAY}
    )
    plan = run(cr)
    assert plan.create_jobs == []
    assert plan.status["backfill"]["started"] == 0


def test_status_patch_removes_keys_inside_objects() -> None:
    old = {"runs": {"total": 3, "failedInARow": 3}, "tokens": {"period": "p", "used": 1}}
    new = {"runs": {"total": 3}}
    assert status_patch(old, new) == {"runs": {"total": 3, "failedInARow": None}, "tokens": None}


def test_argo_cd_health_of_the_statuses_the_core_writes(argocd: ArgoCD) -> None:
    """Argo CD's real Lua runtime over what decide() writes: paused is Degraded, a window
    not yet open is Healthy, an ended one Healthy and Completed."""
    pausing = schedule({"pauseAfterFailures": 1})
    j1, p1 = failed("daily-1", 1)
    paused = run(pausing, [j1], [p1])
    waiting = schedule({"startTime": "2026-03-12T09:30:00Z"})
    ended = schedule({"endTime": "2026-03-10T12:00:00Z"})
    health = {
        name: argocd.health(settled(cr, plan))
        for name, cr, plan in (
            ("paused", pausing, paused),
            ("waiting", waiting, run(waiting)),
            ("ended", ended, run(ended)),
        )
    }
    assert health["paused"].status == "Degraded"
    assert health["paused"].message.startswith("Paused: TooManyFailures: 1 failed run in a row")
    assert health["waiting"].status == "Healthy"
    assert (health["ended"].status, health["ended"].message[:10]) == ("Healthy", "Completed:")


@pytest.mark.parametrize(
    ("cron", "before", "expected"),
    [
        ("0 * * * *", "2026-03-10T12:00:00Z", "2026-03-10T11:00:00Z"),  # strictly before
        ("* 9 * * *", "2026-03-11T08:59:00Z", "2026-03-10T09:59:00Z"),
        ("0 3 1 1 *", "2026-03-10T00:00:00Z", "2026-01-01T03:00:00Z"),  # yearly
        ("0 0 29 2 *", "2026-03-10T00:00:00Z", "2024-02-29T00:00:00Z"),  # leap days only
    ],
)
def test_previous_time(cron: str, before: str, expected: str) -> None:
    r = resolved({"schedule": cron})
    assert r.cron is not None
    at = datetime.fromisoformat(before.replace("Z", "+00:00"))
    found = policy.previous_time(r.cron, r.time_zone, at)
    assert found is not None and rfc3339(found) == expected


def test_times_while_held_are_not_missed_when_the_schedule_reopens() -> None:
    """A day paused by the budget: its hourly times were held, not missed."""
    spec = {"tokenBudget": {"tokens": 100, "per": "Day"}}
    status = {
        "observedGeneration": 1,
        "phase": "Paused",
        "scheduleWatermark": rfc3339(NOW - timedelta(days=1)),
        "tokens": {"period": "2026-03-09", "used": 150},
        "conditions": [
            {
                "type": "Paused",
                "status": "True",
                "reason": "BudgetExceeded",
                "message": "150 of 100 tokens used this Day (2026-03-09)",
                "lastTransitionTime": rfc3339(NOW - timedelta(days=1)),
            }
        ],
    }
    cr = schedule(spec, status=status, created=NOW - timedelta(days=2))
    held = run(schedule(spec), now=NOW).cronjob_manifest
    assert held is not None
    held = {**held, "spec": {**held["spec"], "suspend": True}}
    plan = run(cr, cronjob=held)
    assert plan.status["phase"] == "Active" and cronjob_suspended(plan) is False
    assert plan.status["runs"]["missed"] == 0
    assert plan.status["scheduleWatermark"] == rfc3339(NOW)


def test_a_later_end_time_reopens_a_completed_schedule() -> None:
    cr = schedule({"endTime": "2026-03-10T12:00:00Z"})
    done = run(cr)
    assert done.status["phase"] == "Completed"
    later = schedule({"endTime": "2026-03-11T12:00:00Z"}, generation=2, status=done.status)
    plan = run(later, cronjob=stored_cronjob(done))
    assert plan.status["phase"] == "Active" and cronjob_suspended(plan) is False
    assert plan.status["nextRunTime"] == "2026-03-10T13:00:00Z"


def test_raising_the_budget_lifts_a_budget_pause_as_a_spec_change() -> None:
    spec = {"tokenBudget": {"tokens": 100, "per": "Day"}}
    cr = schedule(spec, status={"tokens": {"period": "2026-03-10", "used": 150}})
    paused = run(cr)
    assert condition(paused, "Paused")["reason"] == "BudgetExceeded"
    raised = {"tokenBudget": {"tokens": 1000, "per": "Day"}}
    plan = run(schedule(raised, generation=2, status=paused.status))
    lifted = condition(plan, "Paused")
    assert (lifted["status"], lifted["reason"]) == ("False", "Resumed")
    assert "spec change" in lifted["message"]
    assert plan.status["tokens"] == {"period": "2026-03-10", "used": 150}
    assert plan.status["phase"] == "Active"
