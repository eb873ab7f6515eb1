"""Generates the AssistantSchedule CRD from the pydantic models — the one source of truth.

``python -m aischeduler_operator.crd --write`` rewrites ``crds/`` and the chart's copy;
``--check`` fails when either is stale (run by the tests)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

from aischeduler_operator.models import (
    GROUP,
    KIND,
    PLURAL,
    SHORT_NAME,
    VERSION,
    AssistantScheduleSpec,
    AssistantScheduleStatus,
)

CRD_FILE = f"{GROUP}_{PLURAL}.yaml"
ROOT = Path(__file__).resolve().parents[3]
TARGETS = (ROOT / "crds" / CRD_FILE, ROOT / "charts" / "aischeduler" / "crds" / CRD_FILE)

# Rules a per-field schema cannot say. The messages are what `kubectl apply` shows.
SPEC_RULES = [
    {
        "rule": "has(self.assistant) != has(self.workflow)",
        "message": "exactly one of spec.assistant or spec.workflow must be set",
    },
    {
        "rule": "has(self.schedule) != has(self.runAt)",
        "message": "exactly one of spec.schedule or spec.runAt must be set",
    },
]
RESERVED_LABELS = ("app.kubernetes.io/managed-by", "aischeduler.io/schedule")
ROOT_RULES = [
    {
        # The name is the value of the aischeduler.io/schedule label, which is <= 63 chars.
        "rule": "self.metadata.name.size() <= 63",
        "message": "metadata.name must be at most 63 characters (it is used as a label value)",
    }
]

_KEEP = {
    "type",
    "properties",
    "items",
    "additionalProperties",
    "enum",
    "default",
    "description",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "pattern",
    "required",
    "format",
    "x-kubernetes-int-or-string",
}


def structural(schema: dict[str, Any], defs: dict[str, Any]) -> dict[str, Any]:
    """Turns a pydantic JSON schema into a Kubernetes structural schema: refs inlined,
    optional (``anyOf [X, null]``) collapsed to X, titles dropped."""
    if "$ref" in schema:
        target = defs[schema["$ref"].rsplit("/", 1)[-1]]
        merged = {**target, **{k: v for k, v in schema.items() if k != "$ref"}}
        return structural(merged, defs)
    if "anyOf" in schema:
        options = [s for s in schema["anyOf"] if s.get("type") != "null"]
        rest = {k: v for k, v in schema.items() if k != "anyOf"}
        if len(options) == 1:
            return structural({**options[0], **rest}, defs)
        if rest.get("x-kubernetes-int-or-string"):
            return {"x-kubernetes-int-or-string": True}
        raise ValueError(f"cannot express anyOf {options} in a structural schema")
    out: dict[str, Any] = {}
    for key, value in schema.items():
        if key not in _KEEP:
            continue
        if key == "properties":
            out[key] = {name: structural(sub, defs) for name, sub in value.items()}
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = structural(value, defs)
        elif key == "default" and value in (None, {}, []):
            continue  # absent means "operator default"; the apiserver need not store it
        else:
            out[key] = value
    if out.get("x-kubernetes-int-or-string"):
        return {"x-kubernetes-int-or-string": True}
    return out


def _model_schema(model: type[AssistantScheduleSpec] | type[AssistantScheduleStatus]) -> Any:
    raw = model.model_json_schema(by_alias=True, mode="validation")
    return structural(raw, raw.get("$defs", {}))


def build_crd() -> dict[str, Any]:
    spec = _model_schema(AssistantScheduleSpec)
    spec["x-kubernetes-validations"] = SPEC_RULES
    runner_labels = spec["properties"]["runner"]["properties"]["podLabels"]
    runner_labels["x-kubernetes-validations"] = [
        {
            "rule": " && ".join(f"!('{label}' in self)" for label in RESERVED_LABELS),
            "message": "podLabels cannot set the operator's own labels: "
            + ", ".join(RESERVED_LABELS),
        }
    ]
    status = _model_schema(AssistantScheduleStatus)
    date = "date"
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {
            "name": f"{PLURAL}.{GROUP}",
            "labels": {"app.kubernetes.io/part-of": "aischeduler"},
        },
        "spec": {
            "group": GROUP,
            "scope": "Namespaced",
            "names": {
                "kind": KIND,
                "listKind": f"{KIND}List",
                "plural": PLURAL,
                "singular": KIND.lower(),
                "shortNames": [SHORT_NAME],
                "categories": ["all", "aischeduler"],
            },
            "versions": [
                {
                    "name": VERSION,
                    "served": True,
                    "storage": True,
                    "subresources": {"status": {}},
                    "additionalPrinterColumns": [
                        {"name": "Target", "type": "string", "jsonPath": ".status.target"},
                        {"name": "Schedule", "type": "string", "jsonPath": ".spec.schedule"},
                        {
                            # spec.schedule with H resolved: the CronJob's schedule
                            "name": "Effective",
                            "type": "string",
                            "jsonPath": ".status.effectiveSchedule",
                            "priority": 1,
                        },
                        {
                            "name": "RunAt",
                            "type": "string",
                            "jsonPath": ".spec.runAt",
                            "priority": 1,
                        },
                        {"name": "TimeZone", "type": "string", "jsonPath": ".status.timeZone"},
                        {"name": "Suspend", "type": "boolean", "jsonPath": ".spec.suspend"},
                        {"name": "Last Result", "type": "string", "jsonPath": ".status.lastResult"},
                        {"name": "Last Run", "type": date, "jsonPath": ".status.lastScheduleTime"},
                        {"name": "Next Run", "type": "string", "jsonPath": ".status.nextRunTime"},
                        # Active, Suspended, Paused, Completed or Invalid.
                        {"name": "Phase", "type": "string", "jsonPath": ".status.phase"},
                        {
                            "name": "Tokens",
                            "type": "integer",
                            "jsonPath": ".status.tokens.used",
                            "priority": 1,
                        },
                        {
                            "name": "Backfilled",
                            "type": "integer",
                            "jsonPath": ".status.backfill.started",
                            "priority": 1,
                        },
                        {"name": "Age", "type": date, "jsonPath": ".metadata.creationTimestamp"},
                    ],
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "description": "Schedules runs of an AI assistant or workflow.",
                            "required": ["spec"],
                            "x-kubernetes-validations": ROOT_RULES,
                            "properties": {
                                "apiVersion": {"type": "string"},
                                "kind": {"type": "string"},
                                "metadata": {"type": "object"},
                                "spec": spec,
                                "status": status,
                            },
                        }
                    },
                }
            ],
        },
    }


class _NoAliasDumper(yaml.SafeDumper):
    def ignore_aliases(self, data: Any) -> bool:
        return True


def render() -> str:
    header = "# Generated by `make crds` from operator/src/aischeduler_operator/models.py.\n"
    body = yaml.dump(build_crd(), Dumper=_NoAliasDumper, sort_keys=False, width=100)
    return header + body


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--write", action="store_true", help="rewrite the CRD files")
    mode.add_argument("--check", action="store_true", help="fail if a CRD file is stale")
    mode.add_argument("--print", action="store_true", help="print the CRD")
    args = parser.parse_args(argv)
    text = render()
    if args.print:
        sys.stdout.write(text)
        return 0
    stale = [p for p in TARGETS if not p.exists() or p.read_text() != text]
    if args.check:
        for p in stale:
            print(f"{p} is stale: run `make crds`", file=sys.stderr)
        return 1 if stale else 0
    for p in TARGETS:
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
