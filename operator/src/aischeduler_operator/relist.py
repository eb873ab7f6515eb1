"""Dropping what a relist cannot tell us is gone.

When a watch cannot resume (410 Gone: etcd compacted the version it would resume from),
kopf lists the kind again and replays every object as a listing event, but never says
which objects vanished while it was not watching: their DELETED events were never sent,
and kopf keeps them in its indexes. Such a ghost hides real drift (a CronJob deleted
meanwhile is never recreated), holds a deleted schedule's Jobs on their finalizer, and
is memory kept forever.

So after a relisting (a burst of listing events, debounced; and after a write answered
404) the operator reads each kind once and drops every cached object the read does not
show — unless the cache heard of it after the read began (created meanwhile). A kind's
first listing, at start-up, needs no such read: its cache was empty before it, so nothing
in it can be a ghost (``Listings``). Pure; ``caches.Sweeper`` does the reading and
dropping."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from aischeduler_operator.observe import Key

# Seconds without a listing event before the listing counts as over.
SETTLE_SECONDS = 2.0


@dataclass(frozen=True)
class Cached:
    """One object in a cache: where it is filed, who it is, when the cache last heard."""

    key: Key
    namespace: str
    name: str
    uid: str
    seen: float


class Listings:
    """Which bursts of listing events call for a sweep: a kind listed again after its first
    listing was over (kopf lists only at start-up and when a watch cannot resume), or a
    write answered 404. A burst is over when ``settled`` is called (the debounce fired)."""

    def __init__(self) -> None:
        self._listed: set[str] = set()  # kinds whose first listing is over
        self._first: set[str] = set()  # kinds in their first listing now
        self._sweep = False

    def heard(self, kind: str | None) -> None:
        """A listing event of ``kind``, or ``None``: a write was answered 404 (what the
        caches show is gone) or a sweep failed and must be tried again."""
        if kind is None or kind in self._listed:
            self._sweep = True
        else:
            self._first.add(kind)

    def settled(self) -> bool:
        """The burst is over: True if it calls for a sweep."""
        self._listed |= self._first
        self._first.clear()
        sweep, self._sweep = self._sweep, False
        return sweep


def ghosts(cached: Iterable[Cached], live: set[str], read_started: float) -> list[Cached]:
    """Cached objects that a read begun at ``read_started`` (same clock as ``seen``) did
    not return (``live``: their uids) and that nothing was heard of since."""
    return [c for c in cached if c.uid not in live and c.seen < read_started]
