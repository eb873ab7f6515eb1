"""After a relist, the cached objects the API no longer has are dropped — except those
the cache heard of after the read began."""

from __future__ import annotations

from aischeduler_operator.relist import Cached, ghosts

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
