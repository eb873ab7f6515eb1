"""Does an object on the server still carry everything we asked for? Pure.

The server adds defaults (dnsPolicy, terminationMessagePath, ...), so "equal" would
never hold; "every field we set is there with our value" is the drift test. A no-op
reconcile therefore sends no write."""

from __future__ import annotations

from typing import Any


def contains(actual: Any, desired: Any) -> bool:
    if isinstance(desired, dict):
        return isinstance(actual, dict) and all(
            contains(actual.get(key), value) for key, value in desired.items()
        )
    if isinstance(desired, list):
        return (
            isinstance(actual, list)
            and len(actual) == len(desired)
            and all(contains(a, d) for a, d in zip(actual, desired, strict=True))
        )
    if desired is None:
        return actual is None
    if actual is None:
        # The API omits empty values (omitempty): "" / false / 0 come back absent.
        return desired in ("", False, 0)
    # The API returns quantities and int-or-strings as strings ("1" for cpu: 1).
    return bool(actual == desired or str(actual) == str(desired))


def cronjob_patch(existing: dict[str, Any], desired: dict[str, Any]) -> dict[str, Any] | None:
    """A merge patch that restores ``desired`` on ``existing``, or None when nothing drifted."""
    wanted_meta = {
        "labels": desired["metadata"]["labels"],
        "ownerReferences": desired["metadata"]["ownerReferences"],
    }
    if contains(existing.get("metadata"), wanted_meta) and contains(
        existing.get("spec"), desired["spec"]
    ):
        return None
    return {"metadata": wanted_meta, "spec": desired["spec"]}
