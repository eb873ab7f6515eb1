"""Catch-up after a long absence is bounded and honest: three days of a `*/5` schedule
without a run become one Missed history entry and one Warning event that say how many
times between when and when, with exact counters; and an event that repeats counts up
on the Event already posted instead of adding objects."""

from __future__ import annotations

import hashlib
import re
from datetime import UTC, datetime, timedelta
from typing import Any

from schedules import GROUP, PLURAL, VERSION, Schedules, body, parse

from conftest import OperatorProcess
from waiting import wait_for

FIVE_MINUTES = timedelta(minutes=5)


def slots(after: datetime, until: datetime) -> int:
    """How many */5 times lie in (after, until] (UTC)."""
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return (until - epoch) // FIVE_MINUTES - (after - epoch) // FIVE_MINUTES


def events_about(s: Schedules, name: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = s.core.list_namespaced_event(
        s.namespace, field_selector=f"involvedObject.name={name}"
    ).to_dict()["items"]
    return items


def test_three_days_away_is_one_entry_and_one_event(
    s: Schedules, restartable: OperatorProcess
) -> None:
    s.create(body("five", schedule="*/5 * * * *"))
    s.wait_ready("five")
    restartable.stop()
    # As if the operator had last looked three days ago (the status kept, no Jobs).
    now = datetime.now(UTC)
    away = now - timedelta(days=3) - timedelta(seconds=now.timestamp() % 300)
    watermark = away.strftime("%Y-%m-%dT%H:%M:%SZ")
    s.custom.patch_namespaced_custom_object_status(
        GROUP, VERSION, s.namespace, PLURAL, "five", {"status": {"scheduleWatermark": watermark}}
    )
    before = {e["metadata"]["name"] for e in events_about(s, "five")}
    restartable.start()

    status = s.wait(
        "five",
        lambda cr: (cr.get("status") or {}).get("runs", {}).get("missed", 0) > 0,
        "the times of the absence to be accounted for",
        timeout=60,
    )
    (entry,) = [h for h in status["history"] if h["result"] == "Missed"]
    found = re.match(
        r"(\d+) scheduled times between (\S+) and (\S+) were not run: ", entry["message"]
    )
    assert found is not None, entry["message"]
    count, first, last = found.groups()
    assert parse(first) == away + FIVE_MINUTES
    assert int(count) == slots(away, parse(last)) > 800
    runs = status["runs"]
    assert runs["missed"] == int(count)
    assert runs["total"] == runs["missed"] + runs["succeeded"] + runs["failed"]
    s.wait_event("five", "Warning", "RunMissed")
    new = [e for e in events_about(s, "five") if e["metadata"]["name"] not in before]
    missed = [e for e in new if e["reason"] == "RunMissed"]
    assert len(missed) == 1 and missed[0]["message"] == entry["message"]
    assert len(new) <= 5
    print(f"\n3 days of */5 away: {count} missed times -> 1 history entry, {len(new)} event(s)")


def test_a_repeated_event_counts_up_on_one_event(s: Schedules) -> None:
    s.create(body("typo", schedule="0 25 * * *"))
    s.wait_event("typo", "Warning", "InvalidSpec")
    for value in ("first", "second", "third"):
        s.run_now("typo", value)  # refused each time with the same warning
        token = hashlib.sha256(value.encode()).hexdigest()[:16]
        s.wait(
            "typo",
            lambda cr, token=token: (cr.get("status") or {}).get("lastRunNow") == token,
            f"run-now {value} to be taken",
        )

    def ignored() -> list[dict[str, Any]]:
        return [e for e in events_about(s, "typo") if e["message"].startswith("run-now ignored")]

    (event,) = wait_for(
        ignored,
        lambda found: len(found) == 1 and found[0]["count"] == 3,
        what="one run-now warning counted 3 times",
    )
    assert event["type"] == "Warning" and event["reason"] == "InvalidSpec"
    assert event["last_timestamp"] >= event["first_timestamp"]
