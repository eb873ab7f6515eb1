"""The chart's alerts in a real Prometheus (2.42, from Debian's package, on loopback) that
scrapes the operator of this session: a schedule whose runs are Missed fires
AIScheduleRunsMissed and AIScheduleFailing, labelled with its namespace and name — so the
rules, the metrics the operator serves and the scrape settings the chart documents
(honor_labels) fit together."""

from __future__ import annotations

import json
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from schedules import Schedules, body

from conftest import ROOT, Cluster, OperatorProcess
from localcluster.cluster import free_port
from waiting import wait_for

pytestmark = pytest.mark.simulated

JOB = "aischeduler-operator"


def rule_groups(cluster: Cluster) -> Any:
    values = {
        "metrics": {
            "prometheusRule": {
                "enabled": True,
                "selector": f'job="{JOB}"',
                "failingRuns": 1,
                "missedRuns": 1,
                "missedWindow": "10m",
            }
        }
    }
    out = subprocess.run(
        [
            cluster.tool("helm"),
            "template",
            "rel",
            str(ROOT / "charts" / "aischeduler"),
            "--show-only",
            "templates/prometheusrule.yaml",
            "-f",
            "-",
        ],
        input=yaml.safe_dump(values),
        capture_output=True,
        text=True,
        check=True,
    )
    return yaml.safe_load(out.stdout)["spec"]["groups"]


@pytest.fixture
def prometheus(cluster: Cluster, operator: OperatorProcess, tmp_path: Path) -> Iterator[str]:
    tools = subprocess.run(
        ["bash", str(ROOT / "tools" / "promtool.sh")], capture_output=True, text=True, check=False
    )
    assert tools.returncode == 0, tools.stderr[-3000:]
    binary = Path(tools.stdout.strip().splitlines()[-1]).with_name("prometheus")
    (tmp_path / "rules.yaml").write_text(yaml.safe_dump({"groups": rule_groups(cluster)}))
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(tmp_path / "rules.yaml")],
        "scrape_configs": [
            {
                "job_name": JOB,
                "honor_labels": True,
                "static_configs": [{"targets": [f"127.0.0.1:{operator.metrics_port}"]}],
            }
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = (tmp_path / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            str(binary),
            f"--config.file={tmp_path / 'prometheus.yml'}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def firing(url: str, namespace: str) -> dict[str, dict[str, str]]:
    with urllib.request.urlopen(f"{url}/api/v1/alerts", timeout=5) as resp:
        alerts = json.load(resp)["data"]["alerts"]
    return {
        a["labels"]["alertname"]: a["labels"]
        for a in alerts
        if a["state"] == "firing" and a["labels"].get("namespace") == namespace
    }


def test_missed_runs_fire_the_alerts(s: Schedules, prometheus: str) -> None:
    # With no starting slack the CronJob controller never starts a run: each minute is Missed.
    s.create(body("never-starts", schedule="* * * * *", startingDeadlineSeconds=0))
    s.wait_ready("never-starts")
    alerts = wait_for(
        lambda: firing(prometheus, s.namespace),
        lambda got: {"AIScheduleRunsMissed", "AIScheduleFailing"} <= got.keys(),
        timeout=240,
        interval=2,
        what="AIScheduleRunsMissed and AIScheduleFailing for never-starts",
    )
    for labels in alerts.values():
        assert labels["schedule"] == "never-starts" and labels["severity"] == "warning"
