"""After a relist, the cached objects the API no longer has are dropped — except those
the cache heard of after the read began."""

from __future__ import annotations

from aischeduler_operator.relist import Cached, Listings, ghosts

KEY = ("team", "daily")


def cached(uid: str, seen: float) -> Cached:
    return Cached(KEY, "team", f"job-{uid}", uid, seen)


def test_objects_the_read_does_not_return_are_ghosts() -> None:
    kept, gone = cached("a", 1.0), cached("b", 1.0)
    assert ghosts([kept, gone], live={"a"}, read_started=5.0) == [gone]


def test_an_object_heard_of_after_the_read_began_is_kept() -> None:
    # Created (or changed) while the read was on its way: the read could not show it.
    fresh = cached("new", 6.0)
    assert ghosts([fresh], live=set(), read_started=5.0) == []


def test_nothing_is_a_ghost_when_everything_is_live() -> None:
    items = [cached(u, 1.0) for u in "abc"]
    assert ghosts(items, live={"a", "b", "c"}, read_started=5.0) == []


def test_a_recreated_object_of_the_same_name_is_a_new_uid() -> None:
    # The old object of that name went; one of the same name exists now: the old uid goes.
    old = Cached(KEY, "team", "daily", "uid-1", 1.0)
    assert ghosts([old], live={"uid-2"}, read_started=5.0) == [old]


def test_the_first_listing_of_each_kind_needs_no_sweep() -> None:
    # At start-up the caches were empty before the listing: nothing in them can be a ghost.
    listings = Listings()
    for kind in ("schedules", "cronjobs", "schedules", "jobs", "pods"):
        listings.heard(kind)
    assert listings.settled() is False
    # A kind listed for the first time later (its first listing came in a later burst).
    listings.heard("pods")  # listed before: a relist
    assert listings.settled() is True


def test_a_kind_listed_again_after_its_first_listing_calls_for_a_sweep() -> None:
    listings = Listings()
    listings.heard("cronjobs")
    assert listings.settled() is False
    listings.heard("jobs")  # first listing of jobs, in a later burst
    assert listings.settled() is False
    listings.heard("cronjobs")  # its watch could not resume: kopf listed it again
    listings.heard("jobs")
    assert listings.settled() is True
    assert listings.settled() is False  # one sweep per burst


def test_a_write_answered_404_calls_for_a_sweep() -> None:
    listings = Listings()
    listings.heard("schedules")
    listings.heard(None)  # during the first listing: still swept
    assert listings.settled() is True
    listings.heard(None)
    assert listings.settled() is True
