"""`kubectl asched validate`: the checks the apiserver and the operator make, run on
files with no cluster, with the operator's own messages. Pure apart from reading files."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from aischeduler_operator.models import GROUP, KIND
from aischeduler_operator.resolve import Invalid, resolve
from aischeduler_operator.settings import Settings

# metadata.name of a namespaced custom resource: a DNS subdomain (RFC 1123).
_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_NAME_LIMIT = 253


@dataclass(frozen=True)
class Problem:
    file: str
    name: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.name}: {self.message}"


def _documents(path: Path) -> Iterator[Any]:
    with path.open(encoding="utf-8") as f:
        for doc in yaml.safe_load_all(f):
            if isinstance(doc, dict) and doc.get("kind") == "List":
                yield from doc.get("items") or []
            elif doc is not None:
                yield doc


def _is_schedule(doc: Any) -> bool:
    return (
        isinstance(doc, dict)
        and doc.get("kind") == KIND
        and str(doc.get("apiVersion", "")).startswith(f"{GROUP}/")
    )


def check_object(doc: dict[str, Any], settings: Settings) -> str | None:
    """The first problem the apiserver or the operator would report, or None."""
    name = (doc.get("metadata") or {}).get("name")
    if not isinstance(name, str) or not name:
        return "metadata.name is required"
    if len(name) > _NAME_LIMIT or not _NAME.fullmatch(name):
        return (
            f"metadata.name {name!r} must be a lower-case RFC 1123 subdomain of at most "
            f"{_NAME_LIMIT} characters"
        )
    spec = doc.get("spec")
    if not isinstance(spec, dict):
        return "spec is required"
    namespace = (doc.get("metadata") or {}).get("namespace") or "default"
    resolved = resolve(spec, settings, f"{namespace}/{name}")
    if isinstance(resolved, Invalid):
        return f"{resolved.reason}: {resolved.message}"
    return None


def validate_files(paths: list[Path], settings: Settings) -> tuple[int, list[Problem]]:
    """(schedules checked, problems) over all AssistantSchedules in the files."""
    checked = 0
    problems: list[Problem] = []
    for path in paths:
        try:
            docs = list(_documents(path))
        except (OSError, UnicodeDecodeError) as e:
            problems.append(Problem(str(path), "-", f"cannot read: {e}"))
            continue
        except yaml.YAMLError as e:
            problems.append(Problem(str(path), "-", f"not valid YAML: {e}"))
            continue
        for doc in filter(_is_schedule, docs):
            checked += 1
            problem = check_object(doc, settings)
            if problem is not None:
                name = (doc.get("metadata") or {}).get("name") or "<no name>"
                problems.append(Problem(str(path), str(name), problem))
    return checked, problems
