"""Operator settings from the environment, and the generated CRD."""

from __future__ import annotations

from typing import Any

import pytest

from aischeduler_operator import crd
from aischeduler_operator.settings import SettingsError, load_settings


def test_defaults_and_parsing() -> None:
    s = load_settings(
        {
            "AISCHED_DEFAULT_PLATFORM_TYPE": "openai",
            "AISCHED_DEFAULT_TIME_ZONE": "Europe/Berlin",
            "AISCHED_WATCH_NAMESPACES": "team-a, team-b,,",
            "AISCHED_RUNNER_RESOURCES": '{"limits": {"memory": "128Mi"}}',
            "AISCHED_LOG_LEVEL": "debug",
            "AISCHED_METRICS_PORT": "9090",
        }
    )
    assert s.platform_type == "openai"
    assert s.time_zone == "Europe/Berlin"
    assert s.watch_namespaces == ("team-a", "team-b")
    assert s.runner_resources == {"limits": {"memory": "128Mi"}}
    assert s.log_level == "DEBUG"
    assert s.metrics_port == 9090
    assert load_settings({}).time_zone == "UTC"


@pytest.mark.parametrize(
    ("env", "variable"),
    [
        ({"AISCHED_DEFAULT_TIME_ZONE": "Mars/Olympus"}, "AISCHED_DEFAULT_TIME_ZONE"),
        ({"AISCHED_DEFAULT_PLATFORM_TYPE": "bard"}, "AISCHED_DEFAULT_PLATFORM_TYPE"),
        ({"AISCHED_METRICS_PORT": "70000"}, "AISCHED_METRICS_PORT"),
        ({"AISCHED_DEFAULT_PLATFORM_URL": "ftp://x"}, "AISCHED_DEFAULT_PLATFORM_URL"),
        ({"AISCHED_RUNNER_RESOURCES": "{not json"}, "AISCHED_RUNNER_RESOURCES"),
        ({"AISCHED_LOG_FORMAT": "xml"}, "AISCHED_LOG_FORMAT"),
    ],
)
def test_bad_settings_name_the_variable(env: dict[str, str], variable: str) -> None:
    with pytest.raises(SettingsError, match=variable):
        load_settings(env)


def test_committed_crds_are_generated_from_the_models() -> None:
    assert crd.main(["--check"]) == 0


def _walk(node: Any) -> list[str]:
    keys: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            keys.append(key)
            keys.extend(_walk(value))
    elif isinstance(node, list):
        for item in node:
            keys.extend(_walk(item))
    return keys


def test_crd_schema_is_structural_and_carries_the_rules() -> None:
    doc = crd.build_crd()
    version = doc["spec"]["versions"][0]
    schema = version["schema"]["openAPIV3Schema"]
    assert not {"$ref", "anyOf", "allOf", "title", "$defs"} & set(_walk(schema))
    spec = schema["properties"]["spec"]
    assert [r["rule"] for r in spec["x-kubernetes-validations"]] == [
        "has(self.assistant) != has(self.workflow)",
        "has(self.schedule) != has(self.runAt)",
    ]
    assert spec["properties"]["input"]["maxLength"] == 32768
    assert spec["properties"]["concurrencyPolicy"]["default"] == "Forbid"
    assert spec["properties"]["historyLimit"]["maximum"] == 100
    assert version["subresources"] == {"status": {}}
    columns = [c["name"] for c in version["additionalPrinterColumns"] if not c.get("priority")]
    assert columns == [
        "Target",
        "Schedule",
        "TimeZone",
        "Suspend",
        "Last Result",
        "Last Run",
        "Next Run",
        "Phase",
        "Age",
    ]
    assert doc["spec"]["names"]["shortNames"] == ["asched"]
