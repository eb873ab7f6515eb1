"""What a decision asks the executor to do: typed, immutable, in the order to do it.

The executor (``reconcile.py``) carries these out one by one and decides nothing: every
choice — which object, which patch, which status, when to look again — is made in
``plan.decide``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from aischeduler_operator.models import HistoryEntry, Phase


@dataclass(frozen=True)
class CreateCronJob:
    manifest: dict[str, Any]


@dataclass(frozen=True)
class PatchCronJob:
    name: str
    patch: dict[str, Any]  # merge patch restoring what drifted


@dataclass(frozen=True)
class DeleteCronJob:
    name: str


@dataclass(frozen=True)
class CreateJob:
    manifest: dict[str, Any]


@dataclass(frozen=True)
class PatchJob:
    """A JSON patch of a Job's metadata: release labels the Job recorded (and drops the run
    finalizer of operator 0.1, with a ``test`` operation that fails if our cache was
    stale). "adopt" is no longer decided."""

    name: str
    operations: tuple[dict[str, Any], ...]
    why: Literal["adopt", "release"]


@dataclass(frozen=True)
class DeleteJob:
    name: str  # a stuck run (recorded as failed), or a recorded one beyond jobsHistoryLimit


@dataclass(frozen=True)
class PatchStatus:
    """Merge patch of status, conditional on the version the decision read."""

    patch: dict[str, Any]
    resource_version: str
    status: dict[str, Any]  # the whole new status (what the patch leaves stored)


@dataclass(frozen=True)
class PostEvent:
    type: Literal["Normal", "Warning"]
    reason: str
    message: str


@dataclass(frozen=True)
class Recorded:
    """Runs that reached status.history with the status patch before it (for metrics)."""

    entries: tuple[HistoryEntry, ...]
    counts: tuple[tuple[str, int], ...] = ()  # runs an entry stands for, where not 1


Action = (
    CreateCronJob
    | PatchCronJob
    | DeleteCronJob
    | CreateJob
    | PatchJob
    | DeleteJob
    | PatchStatus
    | PostEvent
    | Recorded
)


@dataclass(frozen=True)
class Decision:
    """The actions, the phase for the gauge (None: the schedule is gone) and when to look
    again whatever happens meanwhile (None: only when something changes)."""

    actions: tuple[Action, ...] = ()
    phase: Phase | None = None
    status: dict[str, Any] = field(default_factory=dict)
    requeue_at: datetime | None = None
    gone: bool = False  # no schedule any more: forget its per-key state afterwards
    failed: str | None = None  # cannot proceed (e.g. a name conflict): back off and retry
    backing_off: bool = False  # a decision inside the back-off of an earlier failure
