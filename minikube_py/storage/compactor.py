"""Compaction: etcd forgets history older than one interval, as kube-apiserver has it do.

etcd keeps every revision of every key until it is told to forget them. Nothing else
frees that space: a cluster whose kubelets renew 1,000 Leases every 10 s writes 100
revisions a second, and etcd's database grows until it is slow and then full.
kube-apiserver runs a compactor (`--etcd-compaction-interval`, 5 minutes): each round
it compacts to the revision it saw one round earlier. So the newest interval of history
stays -- a watch resumed from a recent resourceVersion, or a continue token a few
minutes old, still works -- and anything older answers 410 Gone ("too old resource
version"), which clients handle by listing again.

Several apiservers may share one etcd (the compose lab runs two). Only one of them
compacts in a round: a round starts with a transaction on the key `compact_rev_key`,
"if its version is still the one I saw last round, write it". Writing bumps the version,
so of the apiservers racing, one wins and compacts; the others learn the new version
and try again next round.

Compaction frees space inside etcd's file for reuse; the file itself only shrinks when
someone defragments it (`etcdctl defrag`), which kube-apiserver does not do either.
"""
from __future__ import annotations

import logging
import threading

from .store import RevisionCompacted, StorageError

log = logging.getLogger(__name__)

DEFAULT_INTERVAL = 300.0        # kube-apiserver's --etcd-compaction-interval (5m)


class Compactor:
    """Every `interval` seconds, compact etcd to the revision seen one interval ago."""

    def __init__(self, store, interval: float = DEFAULT_INTERVAL):
        self.store = store
        self.interval = interval
        self.seen_version = 0       # compact_rev_key's version after our last round
        self.last_revision = 0      # etcd's revision at our last round: compacted next round
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def round(self) -> int | None:
        """One round; returns the revision compacted to, or None when this round did not compact
        (our first round, another apiserver won it, or etcd was compacted that far already)."""
        won, self.seen_version, revision = self.store.claim_compaction(self.seen_version,
                                                                       str(self.last_revision))
        target, self.last_revision = self.last_revision, revision
        if not won or not target:       # lost the race, or our first round: nothing seen yet
            return None
        try:
            self.store.compact(target, physical=False)
        except RevisionCompacted:       # someone compacted at least this far already
            return None
        log.info("etcd: compacted to revision %d", target)
        return target

    def start(self) -> "Compactor":
        if self.interval > 0 and self._thread is None:
            self._thread = threading.Thread(target=self._loop, name="etcd-compactor", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.round()
            except StorageError as err:      # etcd away for now: the next round tries again
                log.warning("etcd compaction: %s", err)
