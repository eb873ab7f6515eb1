"""The echo of the CronJob a decision just created needs no decision of its own: it is
recognised only when it is that CronJob, as stored (with the apiserver's defaults), and
nothing else changed."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

from objects import NOW, schedule

from aischeduler_operator.actions import CreateCronJob
from aischeduler_operator.observe import Observed, observe
from aischeduler_operator.plan import decide, own_cronjob_echo
from aischeduler_operator.settings import Settings

SETTINGS = Settings(platform_url="https://codemie.example.com/api", credentials_secret="creds")


def created() -> tuple[Observed, dict[str, Any]]:
    """A new schedule's snapshot and the CronJob its decision creates."""
    o = observe(schedule(), None, [], [], SETTINGS, NOW)
    manifest = next(a.manifest for a in decide(o).actions if isinstance(a, CreateCronJob))
    return o, manifest


def stored(manifest: dict[str, Any], **status: Any) -> dict[str, Any]:
    """As the API returns it: with defaults the manifest did not set, and a status."""
    body = copy.deepcopy(manifest)
    body["metadata"]["uid"] = "cronjob-uid"
    body["spec"]["jobTemplate"]["spec"]["template"]["spec"]["dnsPolicy"] = "ClusterFirst"
    body["status"] = status
    return body


def echo(cronjob: dict[str, Any]) -> Observed:
    return observe(schedule(), cronjob, [], [], SETTINGS, NOW)


def test_the_created_cronjob_as_stored_is_our_echo() -> None:
    o, manifest = created()
    assert own_cronjob_echo(o, echo(stored(manifest)), manifest)


def test_not_an_echo_without_a_creation_or_a_settled_snapshot() -> None:
    o, manifest = created()
    seen = echo(stored(manifest))
    assert not own_cronjob_echo(o, seen, None)
    assert not own_cronjob_echo(None, seen, manifest)


def test_a_cronjob_that_differs_from_the_one_created_is_decided_on() -> None:
    o, manifest = created()
    changed = stored(manifest)
    changed["spec"]["schedule"] = "5 4 * * *"  # someone edited it already
    assert not own_cronjob_echo(o, echo(changed), manifest)
    foreign = stored(manifest)
    foreign["metadata"]["ownerReferences"] = []
    assert not own_cronjob_echo(o, echo(foreign), manifest)


def test_a_cronjob_that_has_run_is_decided_on() -> None:
    o, manifest = created()
    ran = stored(manifest, lastScheduleTime="2026-03-10T12:00:00Z")
    assert not own_cronjob_echo(o, echo(ran), manifest)


def test_any_other_change_is_decided_on() -> None:
    o, manifest = created()
    seen = echo(stored(manifest))
    assert own_cronjob_echo(o, seen, manifest)
    assert seen.schedule is not None
    edited = replace(seen, schedule=replace(seen.schedule, generation=2))
    assert not own_cronjob_echo(o, edited, manifest)
