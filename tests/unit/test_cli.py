"""`kubectl asched`: rendering, states, DST notes and the offline commands (no cluster)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from aischeduler_operator.cli import views
from aischeduler_operator.cli.app import main
from aischeduler_operator.hashcron import resolve_hash
from aischeduler_operator.schedule import load_time_zone, parse_schedule

NOW = datetime(2026, 3, 27, 12, 0, tzinfo=UTC)
BERLIN = load_time_zone("Europe/Berlin")


def schedule_obj(status: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "daily", "namespace": "team-a", "generation": 2},
        "spec": {"assistant": {"id": "asst-1"}, "schedule": "0 9 * * 1-5", **spec},
        "status": {"observedGeneration": 2, **(status or {})},
    }


def ready(reason: str = "Reconciled", status: str = "True") -> dict[str, Any]:
    return {"type": "Ready", "status": status, "reason": reason, "message": "m"}


@pytest.mark.parametrize(
    ("status", "generation", "want"),
    [
        ({"phase": "Active", "conditions": [ready()]}, 2, "active"),
        ({"phase": "Suspended", "conditions": [ready()]}, 2, "suspended"),
        ({"phase": "Completed", "conditions": [ready()]}, 2, "completed"),
        (
            {"phase": "Invalid", "conditions": [ready("InvalidSchedule", "False")]},
            2,
            "invalid: InvalidSchedule",
        ),
        (
            {
                "phase": "Paused",
                "conditions": [{"type": "Paused", "status": "True", "reason": "TooManyFailures"}],
            },
            2,
            "paused: TooManyFailures",
        ),
        ({"phase": "Active", "conditions": [ready()]}, 3, "pending"),
        ({"conditions": [ready("ReconcileError", "False")]}, 2, "not ready: ReconcileError"),
    ],
)
def test_state(status: dict[str, Any], generation: int, want: str) -> None:
    obj = schedule_obj(status)
    obj["metadata"]["generation"] = generation
    assert views.state_of(obj) == want


@pytest.mark.parametrize(
    ("seconds", "want"),
    [(3 * 3600 + 59, "in 3h"), (-300, "5m ago"), (45, "in 45s"), (-2 * 86400, "2d ago")],
)
def test_relative(seconds: int, want: str) -> None:
    assert views.relative(NOW + timedelta(seconds=seconds), NOW) == want


def test_summary_success_rate_counts_runs_not_misses() -> None:
    history = [
        {
            "job": "a",
            "trigger": "Scheduled",
            "result": "Failed",
            "startTime": "2026-03-27T08:00:00Z",
        },
        {"job": "b", "trigger": "Scheduled", "result": "Missed"},
        {"job": "c", "trigger": "Manual", "result": "Succeeded"},
        {"job": "d", "trigger": "Scheduled", "result": "Succeeded"},
    ]
    s = views.summarize(
        schedule_obj(
            {
                "phase": "Active",
                "timeZone": "Europe/Berlin",
                "lastResult": "Failed",
                "history": history,
                "nextRunTime": "2026-03-30T07:00:00Z",
                "target": "assistant/asst-1",
            }
        )
    )
    assert (s.succeeded, s.finished, s.success_rate) == (2, 3, "2/3")
    assert s.last_run == datetime(2026, 3, 27, 8, 0, tzinfo=UTC)
    row = views.list_rows([s], NOW, namespaces=True)
    header, line = row.splitlines()
    assert header.split()[:3] == ["NAMESPACE", "NAME", "TARGET"]
    assert "2026-03-30 09:00 CEST (in 2d)" in line
    assert "Failed 4h ago" in line
    assert line.rstrip().endswith("2/3")


def test_list_sorted_by_next_run_with_none_last() -> None:
    def at(name: str, when: str | None) -> views.Summary:
        obj = schedule_obj({"phase": "Active", "nextRunTime": when})
        obj["metadata"]["name"] = name
        return views.summarize(obj)

    order = sorted(
        [at("none", None), at("late", "2026-04-01T00:00:00Z"), at("soon", "2026-03-28T00:00:00Z")],
        key=views.sort_key_next,
    )
    assert [s.name for s in order] == ["soon", "late", "none"]


def test_dst_notes_for_a_skipped_and_a_repeated_wall_time() -> None:
    # 02:30 does not exist in Berlin on 2026-03-29; 02:30 happens twice on 2026-10-25.
    # The CronJob controller (robfig) has no run on 03-29 and runs once on 10-25.
    spring = views.upcoming("30 2 * * *", "Europe/Berlin", NOW, 3)
    notes = {t.astimezone(BERLIN).strftime("%m-%d %H:%M"): note for t, note in spring}
    assert notes == {
        "03-28 02:30": "",
        "03-30 02:30": "DST starts 2026-03-29: 02:30 does not exist and is not run",
        "03-31 02:30": "",
    }
    autumn = views.upcoming("30 2 25 10 *", "Europe/Berlin", NOW, 1)
    assert autumn[0][1] == "DST ends: 02:30 happens twice that day; it runs once"


def test_no_dst_note_when_the_gap_holds_no_scheduled_time() -> None:
    daily = views.upcoming("0 9 * * *", "Europe/Berlin", NOW, 4)
    assert [note for _, note in daily] == ["", "", "", ""]
    cron = parse_schedule("30 2 * * 1")  # Mondays only: Sunday's missing 02:30 is no run
    start, end = datetime(2026, 3, 28, tzinfo=UTC), datetime(2026, 3, 31, tzinfo=UTC)
    assert views.skipped_by_dst(cron, BERLIN, start, end) == ""


def test_history_rows_and_failed_filter() -> None:
    history = [
        {
            "job": "j2",
            "trigger": "Manual",
            "result": "Failed",
            "durationSeconds": 75.4,
            "startTime": "2026-03-27T08:00:00Z",
            "message": "HTTP 500\nfrom the platform",
            "tokensUsed": 12,
        },
        {
            "job": "j1",
            "trigger": "Scheduled",
            "result": "Succeeded",
            "scheduledTime": "2026-03-26T08:00:00Z",
        },
    ]
    text = views.history_rows(history, BERLIN)
    lines = text.splitlines()
    assert lines[0].split() == [
        "JOB",
        "TRIGGER",
        "SCHEDULED",
        "STARTED",
        "DURATION",
        "RESULT",
        "TOKENS",
        "MESSAGE",
    ]
    assert "0:01:15" in lines[1] and "HTTP 500 from the platform" in lines[1]
    assert "2026-03-27 09:00 CET" in lines[1]
    assert [h["job"] for h in views.failed_only(history)] == ["j2"]


def test_show_text_has_conditions_next_runs_and_history() -> None:
    obj = schedule_obj(
        {
            "phase": "Active",
            "timeZone": "Europe/Berlin",
            "conditions": [ready()],
            "runs": {"total": 3, "succeeded": 2, "failed": 1},
            "history": [{"job": "j1", "trigger": "Scheduled", "result": "Succeeded"}],
        },
        timeZone="Europe/Berlin",
    )
    text = views.show_text(obj, NOW)
    assert "Runs:        3 total, 2 succeeded, 1 failed" in text
    assert "Ready   True" in text
    assert "Next 10 runs:" in text and "2026-03-30 09:00 CEST" in text
    assert text.count("CEST") >= 10
    assert "History (1):" in text


def test_show_text_has_the_policies_and_keeps_next_runs_inside_the_window() -> None:
    obj = schedule_obj(
        {
            "phase": "Active",
            "conditions": [ready()],
            "runs": {"total": 4, "succeeded": 3, "failed": 1, "failedInARow": 1, "backfill": 2},
            "tokens": {"period": "2026-03-25", "used": 1200},
            "backfill": {
                "value": "2026-03-01T00:00:00Z/2026-03-03T00:00:00Z",
                "total": 2,
                "started": 2,
                "succeeded": 2,
                "failed": 0,
                "message": "done: 2 succeeded, 0 failed",
            },
        },
        startTime="2026-04-01T00:00:00Z",
        endTime="2026-04-03T00:00:00Z",
        maxRuns=5,
        pauseAfterFailures=3,
        tokenBudget={"tokens": 5000, "per": "Day"},
    )
    text = views.show_text(obj, NOW)
    assert "Window:      from 2026-04-01T00:00:00Z until 2026-04-03T00:00:00Z" in text
    assert "maxRuns 5 (2 finished)" in text
    assert "pause after 3 failures (1 in a row)" in text
    assert "1200 of 5000 tokens per Day (2026-03-25)" in text
    assert "Backfill:    2026-03-01T00:00:00Z/2026-03-03T00:00:00Z: 2 of 2 started" in text
    upcoming = text.split("Next 10 runs:")[1].split("History")[0]
    assert "2026-04-01" in upcoming and "2026-04-02" in upcoming
    assert "2026-03-3" not in upcoming and "2026-04-03" not in upcoming


def test_show_text_resolves_h_for_the_schedule() -> None:
    effective = resolve_hash("H 9 * * 1-5", "team-a/daily")
    obj = schedule_obj(
        {"phase": "Active", "conditions": [ready()], "effectiveSchedule": effective},
        schedule="H 9 * * 1-5",
    )
    obj["spec"].update(jitterSeconds=30, maxTokensPerRun=800)
    text = views.show_text(obj, NOW)
    assert f"Schedule:    H 9 * * 1-5 → {effective} (UTC)" in text
    assert ", history 10, jitter 30s, max 800 tokens/run" in text
    assert f" 09:{int(effective.split()[0]):02d} UTC " in text  # the next runs, resolved


def test_show_text_for_a_suspended_schedule_lists_no_times() -> None:
    text = views.show_text(schedule_obj({"phase": "Suspended"}), NOW)
    assert "none while suspended" in text


# --------------------------------------------------------------------------- offline commands


def test_next_prints_times_in_the_zone(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["next", "0 9 * * 1-5", "--tz", "Europe/Berlin", "-n", "3", "-o", "json"]) == 0
    times = json.loads(capsys.readouterr().out)
    assert len(times) == 3
    for t in times:
        local = datetime.fromisoformat(t["time"].replace("Z", "+00:00")).astimezone(BERLIN)
        assert (local.hour, local.minute) == (9, 0) and local.weekday() < 5


def test_next_resolves_h_for_the_named_schedule(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["next", "H 9 * * *", "--tz", "Europe/Berlin", "--for", "team-a/report"]) == 0
    out = capsys.readouterr().out
    effective = resolve_hash("H 9 * * *", "team-a/report")
    assert out.startswith(f"effective schedule for team-a/report: {effective}\n")
    assert f" 09:{int(effective.split()[0]):02d} CE" in out  # CET or CEST


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["next", "0 9 * *"], "expected exactly 5 fields"),
        (["next", "0 9 * * *", "--tz", "Mars/Olympus"], "unknown time zone"),
        (["next", "H 9 * * *"], "add --for NAMESPACE/NAME"),
        (["next", "H(9-1) 9 * * *", "--for", "a/b"], "H(9-1)"),
    ],
)
def test_next_rejects_bad_input_with_the_operators_message(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and "Traceback" not in err


SCHEDULES = """\
apiVersion: aischeduler.io/v1alpha1
kind: AssistantSchedule
metadata: {name: good}
spec:
  assistant: {id: a}
  schedule: "0 9 * * 1-5"
  timeZone: Europe/Berlin
  platform: {url: "https://codemie.example.com", credentialsSecretRef: {name: creds}}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: ignored}
---
apiVersion: aischeduler.io/v1alpha1
kind: AssistantSchedule
metadata: {name: bad-cron}
spec:
  assistant: {id: a}
  schedule: "61 9 * * *"
  platform: {url: "https://codemie.example.com", credentialsSecretRef: {name: creds}}
---
apiVersion: aischeduler.io/v1alpha1
kind: AssistantSchedule
metadata: {name: Bad_Name}
spec: {assistant: {id: a}, schedule: "@daily"}
---
apiVersion: aischeduler.io/v1alpha1
kind: AssistantSchedule
metadata: {name: both}
spec: {assistant: {id: a}, workflow: {id: w}, schedule: "@daily"}
---
apiVersion: aischeduler.io/v1alpha1
kind: AssistantSchedule
metadata: {name: no-url}
spec: {assistant: {id: a}, schedule: "@daily", timeZone: Nowhere/City}
"""


def test_validate_reports_each_problem_on_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for var in ("AISCHED_DEFAULT_PLATFORM_URL", "AISCHED_DEFAULT_CREDENTIALS_SECRET"):
        monkeypatch.delenv(var, raising=False)
    path = tmp_path / "schedules.yaml"
    path.write_text(SCHEDULES)
    assert main(["validate", str(path)]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[-1] == "5 AssistantSchedule(s) checked, 4 problem(s)"
    by_name = {line.split(": ")[1]: line for line in lines[:-1]}
    assert set(by_name) == {"bad-cron", "Bad_Name", "both", "no-url"}
    assert "InvalidSchedule" in by_name["bad-cron"] and "61" in by_name["bad-cron"]
    assert "RFC 1123" in by_name["Bad_Name"]
    assert "exactly one of spec.assistant or spec.workflow" in by_name["both"]
    assert "InvalidTimeZone" in by_name["no-url"]
    assert all(line.startswith(f"{path}: ") for line in lines[:-1])


def test_validate_uses_the_operator_defaults(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "s.yaml"
    path.write_text(
        "apiVersion: aischeduler.io/v1alpha1\nkind: AssistantSchedule\nmetadata: {name: s}\n"
        "spec: {assistant: {id: a}, schedule: '@daily'}\n"
    )
    for var in ("AISCHED_DEFAULT_PLATFORM_URL", "AISCHED_DEFAULT_CREDENTIALS_SECRET"):
        monkeypatch.delenv(var, raising=False)
    assert main(["validate", str(path)]) == 1
    assert "no default platform URL" in capsys.readouterr().out
    assert main(["validate", "--assume-operator-defaults", str(path)]) == 0
    monkeypatch.setenv("AISCHED_DEFAULT_PLATFORM_URL", "https://codemie.example.com")
    monkeypatch.setenv("AISCHED_DEFAULT_CREDENTIALS_SECRET", "creds")
    assert main(["validate", str(path)]) == 0
    assert (
        capsys.readouterr().out.splitlines()[-1] == "1 AssistantSchedule(s) checked, 0 problem(s)"
    )


def test_validate_reports_unreadable_files(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken.yaml"
    broken.write_text("kind: [unclosed\n")
    assert main(["validate", str(broken), str(tmp_path / "missing.yaml")]) == 1
    out = capsys.readouterr().out
    assert f"{broken}: -: not valid YAML" in out
    assert "missing.yaml: -: cannot read" in out


def test_examples_are_valid(capsys: pytest.CaptureFixture[str]) -> None:
    examples = sorted(str(p) for p in (Path(__file__).parents[2] / "examples").glob("*.yaml"))
    assert main(["validate", "--assume-operator-defaults", *examples]) == 0, capsys.readouterr().out


def test_usage_errors_exit_2_and_no_cluster_is_one_clear_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["frobnicate"]) == 2
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(
        "apiVersion: v1\nkind: Config\ncurrent-context: c\n"
        "clusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\n"
        "users: [{name: u, user: {token: t}}]\n"
        "contexts: [{name: c, context: {cluster: c, user: u}}]\n"
    )
    capsys.readouterr()
    assert main(["list", "--kubeconfig", str(kubeconfig)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot reach the cluster at https://127.0.0.1:1")
    assert err.count("\n") == 1
    assert main(["list", "--kubeconfig", str(kubeconfig), "--context", "other"]) == 2
    assert "context 'other' is not in the kubeconfig" in capsys.readouterr().err
