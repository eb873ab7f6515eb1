"""Start-up waits until discovery lists every resource the operator watches."""

from __future__ import annotations

import pytest

from aischeduler_operator.discovery import missing, retry_delay

ALL = {
    "v1": {"pods", "pods/status", "namespaces"},
    "batch/v1": {"cronjobs", "jobs", "jobs/status"},
    "aischeduler.io/v1alpha1": {"assistantschedules", "assistantschedules/status"},
}


@pytest.mark.parametrize(
    ("served", "expected"),
    [
        (ALL, []),
        # An apiserver still coming up: built-in groups before the CRD, or not even those.
        ({**ALL, "aischeduler.io/v1alpha1": set()}, ["aischeduler.io/v1alpha1 assistantschedules"]),
        (
            {"v1": {"pods"}},
            ["batch/v1 cronjobs", "batch/v1 jobs", "aischeduler.io/v1alpha1 assistantschedules"],
        ),
        ({**ALL, "batch/v1": {"jobs"}}, ["batch/v1 cronjobs"]),
        (
            {},
            [
                "v1 pods",
                "batch/v1 cronjobs",
                "batch/v1 jobs",
                "aischeduler.io/v1alpha1 assistantschedules",
            ],
        ),
    ],
)
def test_missing_lists_what_discovery_does_not_serve_yet(
    served: dict[str, set[str]], expected: list[str]
) -> None:
    assert missing(served) == expected


def test_retry_delay_backs_off_to_ten_seconds() -> None:
    assert [retry_delay(a) for a in range(6)] == [1, 2, 4, 8, 10, 10]
