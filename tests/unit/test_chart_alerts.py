"""The chart's PrometheusRule (metrics.prometheusRule): off by default; when on, its rules
read only metrics the operator exports, with the labels it exports, pass
``promtool check rules``, and fire — and only fire — in ``promtool test rules`` scenarios
built from those metrics. promtool is taken from Debian's
``prometheus`` package by tools/promtool.sh."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY
from test_chart import find, helm, one, render  # noqa: F401 - helm is a fixture

from aischeduler_operator import metrics

ALERTS = {
    "AIScheduleFailing",
    "AIScheduleRunsMissed",
    "AISchedulePaused",
    "AISchedulerReconcileErrors",
}
JOB = 'job="rel-aischeduler-metrics"'
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def promtool() -> str:
    """promtool from Debian's prometheus package (tools/promtool.sh); a failure to get it
    fails the tests that need it."""
    out = subprocess.run(
        ["bash", str(ROOT / "tools" / "promtool.sh")], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, f"tools/promtool.sh failed:\n{out.stderr[-4000:]}"
    return out.stdout.strip().splitlines()[-1]


def rule_groups(helm_bin: str, tmp_path: Path, values: dict[str, Any] | None = None) -> Any:
    rule = {"metrics": {"prometheusRule": {"enabled": True, **(values or {})}}}
    return one(render(helm_bin, tmp_path, rule), "PrometheusRule")["spec"]["groups"]


def exported() -> dict[str, set[str]]:
    """Sample name → label names, for every aischeduler_* series the operator exports."""
    metrics.set_phase(("ns", "probe"), "Active")  # per-schedule series exist once seen
    metrics.set_consecutive_failures(("ns", "probe"), 0)
    try:
        return {
            sample.name: set(sample.labels)
            for family in REGISTRY.collect()
            if family.name.startswith("aischeduler_")
            for sample in family.samples
        }
    finally:
        metrics.set_phase(("ns", "probe"), None)


def test_off_by_default(helm: str, tmp_path: Path) -> None:  # noqa: F811
    assert not find(render(helm, tmp_path), "PrometheusRule")


def test_rules_read_what_the_operator_exports(helm: str, tmp_path: Path) -> None:  # noqa: F811
    groups = rule_groups(helm, tmp_path, {"labels": {"release": "prom"}})
    rules = [r for g in groups for r in g["rules"]]
    assert {r["alert"] for r in rules} == ALERTS
    series = exported()
    for rule in rules:
        used = set(re.findall(r"\baischeduler_\w+", rule["expr"]))
        assert used, rule
        for name in used:
            assert name in series, f"{rule['alert']} reads {name}, not exported"
            grouped = re.findall(r"by \(([^)]*)\)", rule["expr"])
            for by in grouped:
                labels = {label.strip() for label in by.split(",")}
                assert labels <= series[name], f"{rule['alert']}: {labels} not on {name}"
        assert JOB in rule["expr"], rule["expr"]
        assert rule["labels"]["severity"] == "warning"
        assert rule["annotations"]["summary"] and rule["annotations"]["description"]
        assert "runbook_url" not in rule["annotations"]
    # every alert has its runbook section in the README
    readme = (ROOT / "README.md").read_text()
    for alert in ALERTS:
        assert f"### {alert}\n" in readme


def test_values_shape_the_rules(helm: str, tmp_path: Path) -> None:  # noqa: F811
    values = {
        "selector": 'namespace="ops",service="sched"',
        "failingRuns": 5,
        "missedWindow": "1d",
        "severity": "page",
        "runbookUrl": "https://wiki.example/aischeduler",
    }
    rules = {r["alert"]: r for g in rule_groups(helm, tmp_path, values) for r in g["rules"]}
    assert rules["AIScheduleFailing"]["expr"].endswith(
        'aischeduler_schedule_consecutive_failures{namespace="ops",service="sched"}) >= 5'
    )
    assert "[1d]" in rules["AIScheduleRunsMissed"]["expr"]
    assert rules["AISchedulePaused"]["labels"]["severity"] == "page"
    assert (
        rules["AISchedulePaused"]["annotations"]["runbook_url"]
        == "https://wiki.example/aischeduler#aischedulepaused"
    )


@pytest.mark.parametrize(
    "values",
    [
        {"missedWindow": "six hours"},
        {"failingRuns": 0},
        {"selector": "{job='x'}"},
        {"runbookUrl": "wiki"},
        {"unknown": 1},
    ],
)
def test_schema_refuses_bad_values(helm: str, tmp_path: Path, values: dict[str, Any]) -> None:  # noqa: F811
    from test_chart import template  # noqa: PLC0415

    rule = {"metrics": {"prometheusRule": {"enabled": True, **values}}}
    out = template(helm, tmp_path, rule)
    assert out.returncode != 0
    assert "prometheusRule" in out.stderr


def test_promtool_checks_the_rules(helm: str, promtool: str, tmp_path: Path) -> None:  # noqa: F811
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(yaml.safe_dump({"groups": rule_groups(helm, tmp_path)}))
    out = subprocess.run(
        [promtool, "check", "rules", str(rules_file)], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS: 4 rules found" in out.stdout + out.stderr


def series(name: str, values: str, **labels: str) -> dict[str, str]:
    text = ",".join(f'{k}="{v}"' for k, v in {**labels}.items())
    return {"series": f"{name}{{{JOB},{text}}}" if text else f"{name}{{{JOB}}}", "values": values}


SCHEDULE = {"namespace": "team-a", "schedule": "digest"}
FIRING = {"severity": "warning", **SCHEDULE}

SCENARIOS: list[dict[str, Any]] = [
    {
        # three failures in a row: fires once it held for a minute, not before
        "interval": "1m",
        "input_series": [
            series("aischeduler_schedule_consecutive_failures", "0 1 2 3 3 3 0", **SCHEDULE)
        ],
        "alert_rule_test": [
            {"eval_time": "3m", "alertname": "AIScheduleFailing", "exp_alerts": []},
            {
                "eval_time": "5m",
                "alertname": "AIScheduleFailing",
                "exp_alerts": [
                    {
                        "exp_labels": FIRING,
                        "exp_annotations": {
                            "summary": "AssistantSchedule team-a/digest failed 3 runs in a row",
                            "description": "The last 3 runs of team-a/digest ended Failed or "
                            "Missed. See status.history and the LastRunSucceeded condition: "
                            "kubectl asched history digest -n team-a --failed",
                        },
                    }
                ],
            },
            {"eval_time": "6m", "alertname": "AIScheduleFailing", "exp_alerts": []},
        ],
    },
    {
        # counters start at 0 (the operator creates them with the schedule), so the first
        # Missed run counts; two in six hours fire, one does not
        "interval": "10m",
        "input_series": [
            series("aischeduler_schedule_runs_total", "0 0 1 1 1 2 2", result="Missed", **SCHEDULE),
            series(
                "aischeduler_schedule_runs_total",
                "0 1 2 3 4 5 6",
                result="Succeeded",
                namespace="team-b",
                schedule="ok",
            ),
        ],
        "alert_rule_test": [
            {"eval_time": "40m", "alertname": "AIScheduleRunsMissed", "exp_alerts": []},
            {
                "eval_time": "60m",
                "alertname": "AIScheduleRunsMissed",
                "exp_alerts": [
                    {
                        "exp_labels": FIRING,
                        "exp_annotations": {
                            "summary": "AssistantSchedule team-a/digest missed scheduled runs",
                            "description": "2 scheduled runs of team-a/digest were Missed (not "
                            "started within startingDeadlineSeconds) in the last 6h.",
                        },
                    }
                ],
            },
        ],
    },
    {
        "interval": "5m",
        "input_series": [
            series("aischeduler_schedule_phase", "1x10", phase="Paused", **SCHEDULE),
            series(
                "aischeduler_schedule_phase",
                "1x10",
                phase="Active",
                namespace="team-b",
                schedule="ok",
            ),
        ],
        "alert_rule_test": [
            {"eval_time": "10m", "alertname": "AISchedulePaused", "exp_alerts": []},
            {
                "eval_time": "20m",
                "alertname": "AISchedulePaused",
                "exp_alerts": [
                    {
                        "exp_labels": FIRING,
                        "exp_annotations": {
                            "summary": "AssistantSchedule team-a/digest is paused",
                            "description": "team-a/digest stopped firing (condition Paused: "
                            "TooManyFailures or BudgetExceeded). kubectl describe asched digest "
                            "-n team-a shows why.",
                        },
                    }
                ],
            },
        ],
    },
    {
        # errors that keep coming for 15 minutes fire; a burst that stops does not
        "interval": "1m",
        "input_series": [series("aischeduler_reconcile_errors_total", "0+1x40")],
        "alert_rule_test": [
            {"eval_time": "10m", "alertname": "AISchedulerReconcileErrors", "exp_alerts": []},
            {
                "eval_time": "20m",
                "alertname": "AISchedulerReconcileErrors",
                "exp_alerts": [
                    {
                        "exp_labels": {"severity": "warning"},
                        "exp_annotations": {
                            "summary": "The aischeduler operator keeps failing to reconcile",
                            "description": "10 reconciles failed in the last 10 minutes, for a "
                            "while now. Schedules with Ready=False reason ReconcileError say "
                            "why; the operator log has the details.",
                        },
                    }
                ],
            },
        ],
    },
    {
        "interval": "1m",
        "input_series": [series("aischeduler_reconcile_errors_total", "0 5 5x40")],
        "alert_rule_test": [
            {"eval_time": "30m", "alertname": "AISchedulerReconcileErrors", "exp_alerts": []},
        ],
    },
]


def test_promtool_alert_scenarios(helm: str, promtool: str, tmp_path: Path) -> None:  # noqa: F811
    rules_file = tmp_path / "rules.yaml"
    rules_file.write_text(yaml.safe_dump({"groups": rule_groups(helm, tmp_path)}))
    tests_file = tmp_path / "tests.yaml"
    tests_file.write_text(
        yaml.safe_dump({"rule_files": [str(rules_file)], "tests": SCENARIOS}, sort_keys=False)
    )
    out = subprocess.run(
        [promtool, "test", "rules", str(tests_file)], capture_output=True, text=True, check=False
    )
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout + out.stderr
