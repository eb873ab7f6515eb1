"""Does an object on the server still carry everything we asked for? Pure.

The server adds defaults (dnsPolicy, terminationMessagePath, ...), so "equal" would
never hold; "every field we set is there with our value" is the drift test. A no-op
reconcile therefore sends no write."""

from __future__ import annotations

from typing import Any

from aischeduler_operator import names


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


def foreign_owner(existing: dict[str, Any], cr_meta: dict[str, Any]) -> str | None:
    """Why an object that has the name we derive is not ours to change, or None if it is
    ours (owned by this schedule, or labelled as its own with the owner reference lost)."""
    meta = existing.get("metadata") or {}
    owners = meta.get("ownerReferences") or []
    if any(o.get("uid") == cr_meta["uid"] for o in owners):
        return None
    controller = next((o for o in owners if o.get("controller")), None)
    if controller is not None:
        return f"it is controlled by {controller.get('kind')} {controller.get('name')}"
    labels = meta.get("labels") or {}
    if names.owned_labels(cr_meta["name"]).items() <= labels.items():
        return None
    return "it was not created by the operator"
