"""Dropping what a relist cannot tell us is gone.

When a watch cannot resume (410 Gone: etcd compacted the version it would resume from),
kopf lists the kind again and replays every object as a listing event, but never says
which objects vanished while it was not watching: their DELETED events were never sent,
and kopf keeps them in its indexes. Such a ghost hides real drift (a CronJob deleted
meanwhile is never recreated), holds a deleted schedule's Jobs on their finalizer, and
is memory kept forever.

So after a listing (a burst of listing events, debounced; and after a write answered
404) the operator reads each kind once and drops every cached object the read does not
show — unless the cache heard of it after the read began (created meanwhile). Pure;
``caches.Sweeper`` does the reading and dropping."""

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


def ghosts(cached: Iterable[Cached], live: set[str], read_started: float) -> list[Cached]:
    """Cached objects that a read begun at ``read_started`` (same clock as ``seen``) did
    not return (``live``: their uids) and that nothing was heard of since."""
    return [c for c in cached if c.uid not in live and c.seen < read_started]
