"""Expectations: what a controller has asked the apiserver for but not yet seen.

Kubernetes' ControllerExpectations (pkg/controller/controller_utils.go): the guard
that keeps a controller whose informer cache lags behind from creating pods twice.
"""
from __future__ import annotations

import logging
import threading
import time
from typing import Callable, Iterable

import requests

from ..client import errors

log = logging.getLogger(__name__)


def is_ambiguous(err: BaseException) -> bool:
    """An error after which we cannot know whether the write happened.

    A connection reset or a timeout may come after the apiserver wrote to etcd; so may
    a 5xx. A 4xx answer is definite: nothing was written.
    """
    return isinstance(err, (requests.RequestException, errors.ServerError))


class _Record:
    __slots__ = ("adds", "deletes", "uncertain", "timestamp")

    def __init__(self, now: float):
        self.adds = 0                 # pods created, not yet seen in the informer
        self.deletes: set = set()     # keys of pods deleted, not yet seen gone
        self.uncertain = False        # a write failed ambiguously: check the server
        self.timestamp = now


class Expectations:
    """What a controller has asked for and is still waiting to see, per controller key.

    The informer cache lags the apiserver. Right after a ReplicaSet creates 10 pods,
    its cache may still show none of them; a sync that trusted the cache would create
    10 more. So before creating, the controller writes down "expect 10 creations";
    each pod ADD the informer delivers counts one down; until the count reaches zero,
    ``satisfied`` is False and sync only updates status. Deletions are tracked by pod
    key, so a pod seen first with a deletionTimestamp and later DELETED counts once.

    An expectation that never completes (a watch event lost for good) expires after
    ``ttl`` seconds, five minutes as in Kubernetes. A write that failed *ambiguously*
    (connection reset: did the pod get created?) marks the key ``uncertain``; the
    controller then compares its cache with a fresh list from the apiserver before it
    trusts the cache again (see ReplicaSetController.confirm_cache).
    """

    def __init__(self, ttl: float = 300.0, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.clock = clock
        self._records: dict[str, _Record] = {}
        self._lock = threading.Lock()

    def _record(self, key: str) -> _Record:
        rec = self._records.get(key)
        if rec is None:
            rec = self._records[key] = _Record(self.clock())
        return rec

    def expect_creations(self, key: str, count: int) -> None:
        with self._lock:
            rec = self._record(key)
            rec.adds, rec.timestamp = count, self.clock()

    def expect_deletions(self, key: str, pod_keys: Iterable[str]) -> None:
        with self._lock:
            rec = self._record(key)
            rec.deletes, rec.timestamp = set(pod_keys), self.clock()

    def add_deletions(self, key: str, pod_keys: Iterable[str]) -> None:
        """Expect these deletions too (one sync deleting in several steps)."""
        with self._lock:
            rec = self._record(key)
            rec.deletes |= set(pod_keys)
            rec.timestamp = self.clock()

    def creation_observed(self, key: str) -> None:
        with self._lock:
            rec = self._records.get(key)
            if rec is not None and rec.adds > 0:
                rec.adds -= 1

    def lower_creations(self, key: str, count: int) -> None:
        """``count`` creates failed for sure: stop waiting for them."""
        with self._lock:
            rec = self._records.get(key)
            if rec is not None:
                rec.adds = max(0, rec.adds - count)

    def deletion_observed(self, key: str, pod_key: str) -> None:
        with self._lock:
            rec = self._records.get(key)
            if rec is not None:
                rec.deletes.discard(pod_key)

    def mark_uncertain(self, key: str) -> None:
        with self._lock:
            rec = self._record(key)
            rec.uncertain, rec.timestamp = True, self.clock()

    def is_uncertain(self, key: str) -> bool:
        with self._lock:
            rec = self._records.get(key)
            return bool(rec and rec.uncertain)

    def pending(self, key: str) -> tuple[int, int]:
        """(creations, deletions) still expected, for logs and tests."""
        with self._lock:
            rec = self._records.get(key)
            return (rec.adds, len(rec.deletes)) if rec else (0, 0)

    def satisfied(self, key: str) -> bool:
        """True when the cache can be trusted for this key: nothing pending, or expired."""
        with self._lock:
            rec = self._records.get(key)
            if rec is None:
                return True
            if rec.adds <= 0 and not rec.deletes and not rec.uncertain:
                return True
            if self.clock() - rec.timestamp > self.ttl:
                log.info("expectations of %s expired (adds %d, deletes %d)", key, rec.adds,
                         len(rec.deletes))
                return True
            return False

    def reset(self, key: str) -> None:
        """The cache has been confirmed against the apiserver: nothing is pending."""
        with self._lock:
            self._records.pop(key, None)

    delete = reset
