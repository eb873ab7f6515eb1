"""The reconcile decision, table-driven, no cluster: plan.decide on a snapshot of
(schedule, CronJob, Jobs, Pods, settings, now), read back as actions by kind."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest
from decisions import Plan, decide_on
from objects import NOW, job, pod, result, schedule

from aischeduler_operator import names
from aischeduler_operator.plan import error_status, load_status
from aischeduler_operator.schedule import load_time_zone, next_times, parse_schedule
from aischeduler_operator.settings import Settings
from aischeduler_operator.times import rfc3339

SETTINGS = Settings(platform_url="https://codemie.example.com/api", credentials_secret="creds")


Objects = Sequence[dict[str, Any]]


def run(cr: dict[str, Any], jobs: Objects = (), pods: Objects = (), now: datetime = NOW) -> Plan:
    return decide_on(cr, jobs, pods, settings=SETTINGS, now=now)


def decide(cr: dict[str, Any], settings: Settings) -> Plan:
    return decide_on(cr, settings=settings, now=NOW)


def settle(
    cr: dict[str, Any], jobs: Objects = (), pods: Objects = (), now: datetime = NOW
) -> tuple[dict[str, Any], Plan]:
    """Decide, store the status as the API would, decide again: the second plan."""
    first = run(cr, jobs, pods, now)
    cr = {**cr, "status": first.status}
    return cr, run(cr, jobs, pods, now)


def reasons(plan: Plan) -> list[str]:
    return [e.reason for e in plan.events]


def condition(plan: Plan, kind: str) -> dict[str, Any]:
    return next(c for c in plan.status["conditions"] if c["type"] == kind)


# --------------------------------------------------------------------------- validity


def test_valid_recurring_schedule_applies_cronjob_and_reports_next_times() -> None:
    plan = run(schedule({"schedule": "30 2 * * *", "timeZone": "Europe/Berlin"}))
    assert plan.cronjob == "apply"
    assert plan.cronjob_manifest is not None
    assert plan.cronjob_manifest["spec"]["schedule"] == "30 2 * * *"
    assert plan.cronjob_manifest["spec"]["timeZone"] == "Europe/Berlin"
    expected = next_times(parse_schedule("30 2 * * *"), load_time_zone("Europe/Berlin"), NOW, 5)
    assert plan.status["nextRunTimes"] == [rfc3339(t) for t in expected]
    assert plan.status["nextRunTime"] == rfc3339(expected[0])
    assert plan.status["phase"] == "Active"
    assert plan.status["target"] == "assistant/abc"
    ready = condition(plan, "Ready")
    assert (ready["status"], ready["reason"], ready["observedGeneration"]) == (
        "True",
        "Reconciled",
        1,
    )
    assert reasons(plan) == ["Scheduled"]
    assert plan.create_jobs == []


@pytest.mark.parametrize(
    ("spec", "reason", "fragment"),
    [
        ({"schedule": "0 0 * * 7"}, "InvalidSchedule", "above maximum"),
        ({"schedule": "@every 5m"}, "InvalidSchedule", "@every"),
        ({"schedule": "TZ=UTC 0 0 * * *"}, "InvalidSchedule", "timeZone"),
        ({"timeZone": "Mars/Olympus"}, "InvalidTimeZone", "Mars/Olympus"),
        ({"schedule": None, "runAt": "tomorrow"}, "InvalidSchedule", "runAt"),
        ({"workflow": {"id": "w"}}, "InvalidSpec", "exactly one of spec.assistant"),
        (
            {"assistant": None, "workflow": {"id": "w"}, "platform": {"type": "openai"}},
            "InvalidSpec",
            "openai",
        ),
        ({"retries": 99}, "InvalidSpec", "spec.retries"),
    ],
)
def test_invalid_spec_reports_reason_and_creates_nothing(
    spec: dict[str, Any], reason: str, fragment: str
) -> None:
    cr = schedule({k: v for k, v in spec.items() if v is not None})
    for key in [k for k, v in spec.items() if v is None]:
        cr["spec"].pop(key)
    plan = run(cr)
    ready = condition(plan, "Ready")
    assert (ready["status"], ready["reason"]) == ("False", reason)
    assert fragment in ready["message"]
    assert plan.status["phase"] == "Invalid"
    assert "nextRunTime" not in plan.status
    assert plan.cronjob == "keep"
    assert plan.create_jobs == [] and plan.adopt_jobs == []
    assert [(e.type, e.reason) for e in plan.events] == [("Warning", "InvalidSpec")]
    # The same invalid spec again: no new event, the same status (no write).
    _, again = settle(cr)
    assert again.events == []


def test_missing_platform_url_and_secret_are_invalid_without_defaults() -> None:
    bare = Settings()
    plan = decide(schedule(), bare)
    assert condition(plan, "Ready")["reason"] == "InvalidSpec"
    assert "platform.url" in condition(plan, "Ready")["message"]
    with_url = Settings(platform_url="https://x.example.com")
    plan = decide(schedule(), with_url)
    assert "credentials" in condition(plan, "Ready")["message"]
    webhook = schedule({"platform": {"type": "webhook"}})
    assert decide(webhook, with_url).status["phase"] == "Active"


# --------------------------------------------------------------------------- idempotence


def test_second_reconcile_with_nothing_new_changes_nothing() -> None:
    cr = schedule()
    jobs = [
        job(
            "daily-1",
            scheduled=NOW.replace(minute=0, second=0),
            state="Succeeded",
            recorded=True,
            finalizer=False,
        )
    ]
    first = run(cr, jobs)
    cr, second = settle(cr, jobs)
    assert second.status == cr["status"] == first.status
    assert second.events == []
    assert second.create_jobs == second.adopt_jobs == second.finalize_jobs == []
    assert second.delete_jobs == []
    # Recurring schedules look again shortly after the next time (13:00 + slack), so a run
    # that never starts is noticed even though it makes no event of its own.
    assert second.wake_at == NOW.replace(hour=13, minute=0, second=15)


def test_condition_transition_time_kept_while_status_unchanged() -> None:
    cr, _ = settle(schedule())
    since = condition(run(cr), "Ready")["lastTransitionTime"]
    later = run(cr, now=NOW + timedelta(minutes=5))
    assert condition(later, "Ready")["lastTransitionTime"] == since


# --------------------------------------------------------------------------- runs


def test_succeeded_job_is_recorded_once_with_runner_output() -> None:
    scheduled = NOW - timedelta(minutes=1)
    jobs = [job("daily-1", scheduled=scheduled, state="Succeeded")]
    pods = [pod("daily-1", message=result(output="All good", tokensUsed=42, executionId="e-1"))]
    cr = schedule()
    plan = run(cr, jobs, pods)
    (entry,) = plan.status["history"]
    assert entry["job"] == "daily-1"
    assert entry["trigger"] == "Scheduled"
    assert entry["result"] == "Succeeded"
    assert entry["output"] == "All good"
    assert entry["tokensUsed"] == 42
    assert entry["executionId"] == "e-1"
    assert entry["durationSeconds"] == 2.5
    assert entry["scheduledTime"] == rfc3339(scheduled)
    assert plan.status["runs"] == {
        "total": 1,
        "succeeded": 1,
        "failed": 0,
        "missed": 0,
        "consecutiveFailures": 0,
    }
    assert plan.status["lastResult"] == "Succeeded"
    assert condition(plan, "LastRunSucceeded")["status"] == "True"
    assert plan.finalize_jobs == ["daily-1"]
    assert "RunSucceeded" in reasons(plan)
    # Status stored, Job not yet released (crash in between): not counted again.
    cr, again = settle(cr, jobs, pods)
    assert again.status["runs"]["total"] == 1
    assert len(again.status["history"]) == 1
    assert again.finalize_jobs == ["daily-1"]
    assert "RunSucceeded" not in reasons(again)


@pytest.mark.parametrize(
    ("reason", "exit_code", "fragment"),
    [
        ("PodFailurePolicy", 2, "configuration error (runner exit code 2)"),
        ("DeadlineExceeded", 1, "exceeded timeoutSeconds (3600s)"),
        ("BackoffLimitExceeded", 1, "failed after 1 attempt(s)"),
    ],
)
def test_failed_job_message_says_why(reason: str, exit_code: int, fragment: str) -> None:
    jobs = [job("daily-1", state="Failed", reason=reason)]
    pods = [
        pod(
            "daily-1",
            exit_code=exit_code,
            message=result(result="Failed", message="401 from platform"),
        )
    ]
    plan = run(schedule(), jobs, pods)
    entry = plan.status["history"][0]
    assert entry["result"] == "Failed"
    assert fragment in entry["message"]
    assert "401 from platform" in entry["message"]
    assert condition(plan, "LastRunSucceeded")["reason"] == "Failed"
    assert condition(plan, "Ready")["status"] == "True"  # a failed run is not a broken schedule
    assert [e.type for e in plan.events if e.reason == "RunFailed"] == ["Warning"]


def test_oom_killed_runner_says_so() -> None:
    jobs = [job("daily-1", state="Failed", reason="BackoffLimitExceeded")]
    killed = pod("daily-1", exit_code=137, message="")
    killed["status"]["containerStatuses"][0]["state"]["terminated"]["reason"] = "OOMKilled"
    entry = run(schedule(), jobs, [killed]).status["history"][0]
    assert entry["result"] == "Failed"
    assert "runner OOMKilled (exit code 137)" in entry["message"]


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (None, "no termination message"),
        ('{"result": "Succeeded", "mess', "not valid JSON"),
    ],
)
def test_unreadable_result_still_records_the_run(message: str | None, expected: str) -> None:
    jobs = [job("daily-1", state="Succeeded")]
    pods = [pod("daily-1", message=message if message is not None else "")]
    entry = run(schedule(), jobs, pods).status["history"][0]
    assert entry["result"] == "Succeeded"
    assert expected in entry["message"]


def test_consecutive_failures_count_and_reset() -> None:
    status: dict[str, Any] = {}
    cr = schedule(status=status)
    for i, state in enumerate(["Failed", "Failed", "Succeeded", "Failed"]):
        jobs = [
            job(
                f"daily-{i}",
                state=state,
                reason="BackoffLimitExceeded",
                completed=NOW + timedelta(seconds=i),
            )
        ]
        cr["status"] = run(cr, jobs).status
    assert cr["status"]["runs"] == {
        "total": 4,
        "succeeded": 1,
        "failed": 3,
        "missed": 0,
        "consecutiveFailures": 1,
        "failedInARow": 1,
    }


def test_running_job_from_cronjob_is_announced_once_and_listed_active() -> None:
    jobs = [job("daily-1", started=NOW - timedelta(seconds=5))]
    cr = schedule()
    plan = run(cr, jobs, [pod("daily-1")])
    assert reasons(plan) == ["RunStarted", "Scheduled"]
    assert plan.adopt_jobs == []  # no finalizer: nothing but the operator deletes Jobs
    assert plan.status["active"] == [
        {"job": "daily-1", "startTime": rfc3339(NOW - timedelta(seconds=5))}
    ]
    _, again = settle(cr, jobs, [pod("daily-1")])
    assert again.events == []


def test_job_not_started_yet_changes_nothing_until_the_job_controller_starts_it() -> None:
    # The Job controller sets startTime when it first syncs a Job. Before that the run is
    # not running: not active, not announced, not the last schedule time. Once started,
    # all of that changes together: one status write per start, not two.
    cr, idle = settle(schedule())
    started = job("daily-1", scheduled=NOW - timedelta(seconds=5))
    unstarted = {**started, "status": {}}
    before = run(cr, [unstarted], [pod("daily-1")])
    assert before.status_patch is None
    assert before.events == []
    after = run(cr, [started], [pod("daily-1")])
    changed = {k for k, v in after.status.items() if cr["status"].get(k) != v}
    assert changed == {"active", "lastScheduleTime"}
    assert after.status["active"] == [
        {"job": "daily-1", "startTime": rfc3339(NOW - timedelta(seconds=5))}
    ]
    assert reasons(after) == ["RunStarted"]
    assert idle.status_patch is None


def test_run_whose_job_vanished_while_active_is_counted_failed() -> None:
    # Listed active, then its Job was deleted (by hand, while the operator was down)
    # before it finished or was recorded: counted once, as a failed run, never Missed.
    scheduled = NOW.replace(minute=0, second=0)
    job_name = names.scheduled_job_name("daily", int(scheduled.timestamp()))
    cr = schedule(status={"observedGeneration": 1, "scheduleWatermark": rfc3339(scheduled)})
    cr["status"]["active"] = [{"job": job_name, "startTime": rfc3339(scheduled)}]
    cr, plan = settle(cr, [], now=NOW + timedelta(minutes=10))
    (entry,) = plan.status["history"]
    assert (entry["job"], entry["trigger"], entry["result"]) == (job_name, "Scheduled", "Failed")
    assert entry["scheduledTime"] == rfc3339(scheduled)
    assert "the Job was deleted" in entry["message"]
    assert plan.status["active"] == []
    assert plan.status["runs"]["total"] == 1
    _, again = settle(cr, [], now=NOW + timedelta(minutes=11))
    assert again.status["runs"]["total"] == 1


def test_recorded_jobs_beyond_jobs_history_limit_are_deleted_newest_kept() -> None:
    settings = Settings(
        platform_url="https://x.example.com", credentials_secret="c", jobs_history_limit=2
    )
    jobs = [
        job(
            f"daily-{i}",
            state="Succeeded",
            recorded=i < 4,
            completed=NOW - timedelta(minutes=9 - i),
        )
        for i in range(5)
    ]
    plan = decide_on(schedule(), jobs, settings=settings, now=NOW)
    # daily-4 is not recorded yet: it is recorded (status first), never deleted now.
    assert plan.delete_jobs == ["daily-0", "daily-1"]
    assert [h["job"] for h in plan.status["history"]] == ["daily-4"]
    assert plan.finalize_jobs == ["daily-4"]
    actions = [type(a).__name__ for a in plan.decision.actions]
    assert actions.index("PatchStatus") < actions.index("DeleteJob")


def test_job_with_the_old_run_finalizer_is_released() -> None:
    jobs = [job("daily-1", state="Succeeded", recorded=True, finalizer=True)]
    plan = run(schedule(), jobs)
    assert plan.finalize_jobs == ["daily-1"]
    assert plan.status["history"] == []


@pytest.mark.parametrize(
    ("pod_kwargs", "fragment"),
    [
        ({"waiting": "ImagePullBackOff"}, "ImagePullBackOff"),
        ({"waiting": "CreateContainerConfigError"}, "CreateContainerConfigError"),
        ({"unschedulable": True}, "cannot be scheduled"),
    ],
)
def test_stuck_pod_fails_the_run_at_once(pod_kwargs: dict[str, Any], fragment: str) -> None:
    plan = run(schedule(), [job("daily-1")], [pod("daily-1", **pod_kwargs)])
    entry = plan.status["history"][0]
    assert entry["result"] == "Failed"
    assert fragment in entry["message"]
    assert plan.delete_jobs == ["daily-1"]
    assert plan.status["active"] == []


def test_job_deleted_before_finishing_is_a_failed_run() -> None:
    plan = run(schedule(), [job("daily-1", deleting=True)], [])
    entry = plan.status["history"][0]
    assert entry["result"] == "Failed"
    assert "deleted" in entry["message"]
    assert plan.finalize_jobs == ["daily-1"]
    assert plan.delete_jobs == []


def test_history_is_capped_newest_first_but_counters_keep_everything() -> None:
    jobs = [
        job(f"daily-{i}", state="Succeeded", completed=NOW - timedelta(minutes=10 - i))
        for i in range(3)
    ]
    plan = run(schedule({"historyLimit": 2}), jobs)
    assert [h["job"] for h in plan.status["history"]] == ["daily-2", "daily-1"]
    assert plan.status["runs"]["total"] == 3


# --------------------------------------------------------------------------- run now


def test_run_now_starts_exactly_one_manual_run_per_value() -> None:
    cr = schedule({"suspend": True}, annotations={names.RUN_NOW_ANNOTATION: "2026-03-10T12:00"})
    plan = run(cr)
    (manifest,) = plan.create_jobs
    assert manifest["metadata"]["name"] == names.manual_job_name("daily", "2026-03-10T12:00")
    assert manifest["metadata"]["labels"][names.TRIGGER_LABEL] == "Manual"
    assert plan.status["phase"] == "Suspended"
    cr, again = settle(cr)
    assert again.create_jobs == []
    cr["metadata"]["annotations"][names.RUN_NOW_ANNOTATION] = "second"
    assert len(run(cr).create_jobs) == 1


def test_run_now_after_restart_does_not_duplicate_an_existing_job() -> None:
    value = "v1"
    cr = schedule(annotations={names.RUN_NOW_ANNOTATION: value})  # status never written
    existing = [job(names.manual_job_name("daily", value), trigger="Manual")]
    assert run(cr, existing).create_jobs == []


def test_run_now_input_override_and_limits() -> None:
    cr = schedule(
        annotations={
            names.RUN_NOW_ANNOTATION: "x",
            names.RUN_NOW_INPUT_ANNOTATION: "just this once",
        }
    )
    env = run(cr).create_jobs[0]["spec"]["template"]["spec"]["containers"][0]["env"]
    assert {"name": "AISCHED_INPUT", "value": "just this once"} in env
    cr["metadata"]["annotations"][names.RUN_NOW_INPUT_ANNOTATION] = "x" * 40000
    plan = run(cr)
    assert plan.create_jobs == []
    assert sorted(reasons(plan)) == ["InvalidSpec", "Scheduled"]


def test_run_now_on_invalid_spec_is_ignored_with_a_warning() -> None:
    cr = schedule({"schedule": "bad"}, annotations={names.RUN_NOW_ANNOTATION: "x"})
    plan = run(cr)
    assert plan.create_jobs == []
    assert any("run-now ignored" in e.message for e in plan.events)


# --------------------------------------------------------------------------- one-time


def one_time(run_at: str, **spec: Any) -> dict[str, Any]:
    cr = schedule({"runAt": run_at, **spec})
    cr["spec"].pop("schedule")
    return cr


def test_one_time_in_future_waits_with_a_timer() -> None:
    at = NOW + timedelta(minutes=10)
    plan = run(one_time(rfc3339(at)))
    assert plan.create_jobs == []
    assert plan.wake_at == at
    assert plan.status["nextRunTime"] == rfc3339(at)
    assert plan.status["phase"] == "Active"
    assert plan.cronjob == "keep"
    # A CronJob left from when the schedule was recurring goes.
    cr = one_time(rfc3339(at))
    leftover = {
        "metadata": {
            "name": "daily",
            "labels": names.owned_labels("daily"),
            "ownerReferences": [{"uid": cr["metadata"]["uid"], "controller": True}],
        },
        "spec": {},
    }
    plan = decide_on(cr, settings=SETTINGS, now=NOW, cronjob=leftover)
    assert plan.cronjob == "delete"


def test_one_time_due_starts_its_job_once_then_completes() -> None:
    at = NOW - timedelta(seconds=20)
    cr = one_time(rfc3339(at))
    plan = run(cr)
    (manifest,) = plan.create_jobs
    name = manifest["metadata"]["name"]
    assert manifest["metadata"]["labels"][names.TRIGGER_LABEL] == "OneTime"
    assert manifest["metadata"]["annotations"][names.SCHEDULED_TIME_ANNOTATION] == rfc3339(at)
    assert plan.status["phase"] == "Active"
    cr, again = settle(cr)
    assert again.create_jobs == []
    done = run(cr, [job(name, trigger="OneTime", scheduled=at, state="Succeeded")])
    assert done.status["phase"] == "Completed"
    assert done.status["history"][0]["trigger"] == "OneTime"
    assert "nextRunTime" not in done.status


def test_one_time_past_its_deadline_is_missed() -> None:
    plan = run(one_time("2026-03-09T08:00:00", timeZone="Europe/Berlin"))
    entry = plan.status["history"][0]
    assert entry["result"] == "Missed"
    assert entry["trigger"] == "OneTime"
    assert entry["scheduledTime"] == "2026-03-09T07:00:00Z"
    assert "startingDeadlineSeconds" in entry["message"]
    assert plan.status["phase"] == "Completed"
    assert plan.status["lastResult"] == "Missed"
    assert "RunMissed" in reasons(plan)
    assert plan.create_jobs == []


def test_one_time_suspended_does_not_run() -> None:
    plan = run(one_time(rfc3339(NOW - timedelta(seconds=5)), suspend=True))
    assert plan.create_jobs == []
    assert plan.status["phase"] == "Suspended"


# --------------------------------------------------------------------------- missed


def test_scheduled_times_without_a_run_are_missed_once() -> None:
    status = {"observedGeneration": 1, "scheduleWatermark": "2026-03-10T09:00:00Z"}
    cr = schedule({"schedule": "0 * * * *"}, status=status)
    ran = [
        job(
            "daily-1",
            scheduled=NOW.replace(hour=11, minute=0, second=0),
            state="Succeeded",
            recorded=True,
            finalizer=False,
        )
    ]
    plan = run(cr, ran)
    missed = [h for h in plan.status["history"] if h["result"] == "Missed"]
    assert [h["scheduledTime"] for h in missed] == ["2026-03-10T10:00:00Z"]
    assert missed[0]["job"] == names.scheduled_job_name("daily", 1773136800)
    assert "no run started within startingDeadlineSeconds (300s)" in missed[0]["message"]
    assert plan.status["scheduleWatermark"] == "2026-03-10T11:00:00Z"
    assert plan.status["runs"]["missed"] == 1
    _, again = settle(cr, ran)
    assert again.status["runs"]["missed"] == 1


def test_forbid_skip_is_explained() -> None:
    status = {"observedGeneration": 1, "scheduleWatermark": "2026-03-10T10:30:00Z"}
    cr = schedule({"schedule": "0 * * * *"}, status=status)
    long_run = [
        job(
            "daily-0",
            scheduled=NOW.replace(hour=10, minute=59),
            finalizer=True,
            started=NOW.replace(hour=10, minute=59),
        )
    ]
    plan = run(cr, long_run)
    (entry,) = plan.status["history"]
    assert entry["message"].startswith("skipped: concurrencyPolicy is Forbid and run daily-0")


def test_spec_change_restarts_missed_accounting() -> None:
    status = {"observedGeneration": 1, "scheduleWatermark": "2026-03-09T00:00:00Z"}
    plan = run(schedule(generation=2, status=status))
    assert plan.status["history"] == []
    assert plan.status["scheduleWatermark"] == rfc3339(NOW)
    assert reasons(plan) == ["Scheduled"]


def test_time_passed_without_a_run_wakes_after_its_deadline() -> None:
    now = NOW.replace(minute=1, second=0)
    status = {"observedGeneration": 1, "scheduleWatermark": rfc3339(now - timedelta(minutes=2))}
    plan = run(schedule(status=status), now=now)
    assert plan.wake_at == now.replace(minute=0) + timedelta(seconds=315)


def test_times_before_a_later_scheduled_run_are_missed_at_once() -> None:
    # Every minute; the CronJob controller was down and, on return, started only 12:00.
    status = {"observedGeneration": 1, "scheduleWatermark": "2026-03-10T11:57:00Z"}
    cr = schedule({"schedule": "* * * * *"}, status=status)
    latest = [job("daily-720", scheduled=NOW.replace(second=0), finalizer=True)]
    plan = run(cr, latest)
    missed = [h["scheduledTime"] for h in plan.status["history"]]
    assert missed == ["2026-03-10T11:59:00Z", "2026-03-10T11:58:00Z"]
    assert plan.status["scheduleWatermark"] == "2026-03-10T12:00:00Z"
    # Later, with that Job finished, gone and pushed out of history, nothing is
    # re-examined.
    cr["status"] = {**plan.status, "history": [], "active": []}
    assert run(cr, [], now=NOW + timedelta(seconds=20)).status["history"] == []


def test_huge_starting_deadline_does_not_overflow() -> None:
    plan = run(schedule({"startingDeadlineSeconds": 10**12}))
    assert plan.status["phase"] == "Active"


def test_reconcile_error_status_keeps_transition_time_and_is_not_rewritten() -> None:
    cr = schedule()

    def reported(message: str, now: datetime) -> dict[str, Any] | None:
        return error_status(load_status(cr.get("status")), 1, message, now)

    patch = reported("API error 500: boom", NOW)
    assert patch is not None
    (ready,) = patch["conditions"]
    assert (ready["status"], ready["reason"], ready["lastTransitionTime"]) == (
        "False",
        "ReconcileError",
        rfc3339(NOW),
    )
    cr["status"] = patch
    # The same error again: nothing to write; another error keeps the transition time.
    assert reported("API error 500: boom", NOW + timedelta(minutes=1)) is None
    later = reported("API error 503: busy", NOW + timedelta(minutes=2))
    assert later is not None
    assert later["conditions"][0]["lastTransitionTime"] == rfc3339(NOW)
