"""Which of the resources the operator serves the apiserver's discovery lists now.

kopf resolves the resources to watch once, at start-up, from discovery, and looks again
only when a CRD changes. An operator that starts while the apiserver is still coming up
(a cluster booting, an apiserver restarting) can find batch/v1 or our CRD not listed
yet, and would then never watch them. So start-up waits until all are listed. Pure."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from aischeduler_operator.models import GROUP, PLURAL, VERSION

NEEDED: dict[str, tuple[str, ...]] = {
    "v1": ("pods",),
    "batch/v1": ("cronjobs", "jobs"),
    f"{GROUP}/{VERSION}": (PLURAL,),
}


def missing(served: Mapping[str, Collection[str]]) -> list[str]:
    """``group/version resource`` of each needed resource that discovery does not list."""
    return [
        f"{group_version} {name}"
        for group_version, names in NEEDED.items()
        for name in names
        if name not in served.get(group_version, ())
    ]


def retry_delay(attempt: int) -> float:
    """Seconds before asking discovery again: 1, 2, 4, 8, then every 10."""
    return float(min(10, 2 ** max(0, attempt)))
