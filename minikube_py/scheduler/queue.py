"""The scheduling queue: which pending pod to try next, and when to try again.

Three places a pending pod can wait, as in kube-scheduler's PriorityQueue:

* **activeQ** -- ready to be tried now; a heap ordered by ``spec.priority``
  (highest first), then by age (first seen first).
* **backoffQ** -- failed recently; waits ``initial * 2**(attempts-1)`` seconds
  (1 s, 2 s, 4 s ... capped at 10 s by default) so a pod that keeps failing
  cannot hog the scheduler. When its time is up it moves to activeQ.
* **unschedulable** -- fitted nowhere. Trying again is pointless until the
  cluster changes, so it waits here until :meth:`move_all_to_active_or_backoff`
  is called for an event that may help (a node added or changed, a pod
  deleted), or until it has waited ``max_unschedulable`` seconds (5 min).

A pod being scheduled is *in flight*. If the cluster changes while it is in
flight, its failure may already be stale: such a pod goes to backoffQ instead of
unschedulable, so the event is not lost (kube's "move request cycle").
Updates to a waiting pod replace the stored object; an update that changes more
than the status moves an unschedulable pod back into play (the user may have
fixed it, e.g. added a toleration).
"""
from __future__ import annotations

import heapq
import itertools
import threading
import time
from typing import Callable, Optional

from .framework import pod_key

__all__ = ["SchedulingQueue", "QueuedPodInfo"]

ACTIVE, BACKOFF, UNSCHEDULABLE, IN_FLIGHT = "active", "backoff", "unschedulable", "in-flight"


def _priority(pod: dict) -> int:
    prio = (pod.get("spec") or {}).get("priority") or 0
    return prio if isinstance(prio, int) else 0


def _without_status(pod: dict) -> dict:
    md = {k: v for k, v in (pod.get("metadata") or {}).items()
          if k not in ("resourceVersion", "managedFields", "generation")}
    return {**{k: v for k, v in pod.items() if k != "status"}, "metadata": md}


def spec_changed(old: dict, new: dict) -> bool:
    """Did anything but status (and bookkeeping metadata) change?"""
    return _without_status(old) != _without_status(new)


class QueuedPodInfo:
    """A pod in the queue, with what the queue needs to know about its past."""

    __slots__ = ("pod", "key", "priority", "first_seen", "timestamp", "attempts", "where",
                 "entry", "cycle", "deleted")

    def __init__(self, pod: dict, now: float):
        self.pod = pod
        self.key = pod_key(pod)
        self.priority = _priority(pod)
        self.first_seen = now      # for "oldest first"
        self.timestamp = now       # when it last entered the queue (back-off counts from here)
        self.attempts = 0          # scheduling attempts so far
        self.where: Optional[str] = None
        self.entry = 0             # id of its current heap entry (older entries are stale)
        self.cycle = 0             # the scheduling cycle that last popped it
        self.deleted = False       # the pod went away while in flight

    def __repr__(self) -> str:
        return f"QueuedPodInfo({self.key!r}, {self.where}, attempts={self.attempts})"


class SchedulingQueue:
    def __init__(self, initial_backoff: float = 1.0, max_backoff: float = 10.0,
                 max_unschedulable: float = 300.0, flush_interval: float = 30.0,
                 clock: Callable[[], float] = time.monotonic):
        self.initial_backoff = initial_backoff
        self.max_backoff = max_backoff
        self.max_unschedulable = max_unschedulable
        self.flush_interval = min(flush_interval, max_unschedulable)
        self.clock = clock
        self._cond = threading.Condition()
        self._pods: dict[str, QueuedPodInfo] = {}       # every pod the queue holds, any state
        self._active: list = []                         # heap of (-priority, first_seen, entry, qpi)
        self._backoff: list = []                        # heap of (ready_at, entry, qpi)
        self._unschedulable: dict[str, QueuedPodInfo] = {}
        self._entries = itertools.count(1)
        self._next_flush = clock() + self.flush_interval
        self.scheduling_cycle = 0
        self.move_request_cycle = -1
        self.closed = False

    # ------------------------------------------------------------------ placing
    def _push_active(self, qpi: QueuedPodInfo) -> None:
        qpi.where, qpi.entry = ACTIVE, next(self._entries)
        heapq.heappush(self._active, (-qpi.priority, qpi.first_seen, qpi.entry, qpi))
        self._cond.notify()

    def _push_backoff(self, qpi: QueuedPodInfo) -> None:
        qpi.where, qpi.entry = BACKOFF, next(self._entries)
        heapq.heappush(self._backoff, (self.backoff_expiry(qpi), qpi.entry, qpi))
        self._cond.notify()

    def _park(self, qpi: QueuedPodInfo) -> None:
        qpi.where = UNSCHEDULABLE
        self._unschedulable[qpi.key] = qpi

    def _take_out(self, qpi: QueuedPodInfo) -> None:
        """Remove from wherever it is (heap entries just become stale)."""
        if qpi.where == UNSCHEDULABLE:
            self._unschedulable.pop(qpi.key, None)
        qpi.where = None

    def backoff_duration(self, qpi: QueuedPodInfo) -> float:
        exponent = max(qpi.attempts - 1, 0)
        return min(self.initial_backoff * (2 ** min(exponent, 32)), self.max_backoff)

    def backoff_expiry(self, qpi: QueuedPodInfo) -> float:
        return qpi.timestamp + self.backoff_duration(qpi)

    def _backing_off(self, qpi: QueuedPodInfo, now: float) -> bool:
        return qpi.attempts > 0 and self.backoff_expiry(qpi) > now

    def _activate(self, qpi: QueuedPodInfo, now: float) -> None:
        self._take_out(qpi)
        if self._backing_off(qpi, now):
            self._push_backoff(qpi)
        else:
            self._push_active(qpi)

    # ------------------------------------------------------------------ informer side
    def add(self, pod: dict) -> None:
        """A new pending pod (or one seen again after a re-list)."""
        with self._cond:
            qpi = self._pods.get(pod_key(pod))
            if qpi is not None:
                self._update_locked(qpi, qpi.pod, pod)
                return
            qpi = QueuedPodInfo(pod, self.clock())
            self._pods[qpi.key] = qpi
            self._push_active(qpi)

    def update(self, old: dict, new: dict) -> None:
        with self._cond:
            qpi = self._pods.get(pod_key(new))
            if qpi is None:
                qpi = QueuedPodInfo(new, self.clock())
                self._pods[qpi.key] = qpi
                self._push_active(qpi)
                return
            self._update_locked(qpi, old, new)

    def _update_locked(self, qpi: QueuedPodInfo, old: dict, new: dict) -> None:
        qpi.pod = new
        if qpi.where == UNSCHEDULABLE and spec_changed(old, new):
            self._activate(qpi, self.clock())

    def delete(self, pod: dict) -> None:
        """The pod is gone, or bound: stop trying to schedule it."""
        with self._cond:
            qpi = self._pods.pop(pod_key(pod), None)
            if qpi is not None:
                if qpi.where == IN_FLIGHT:
                    qpi.deleted = True
                self._take_out(qpi)

    def move_all_to_active_or_backoff(self, event: str = "") -> int:
        """The cluster changed in a way that may help: give unschedulable pods another go."""
        with self._cond:
            now = self.clock()
            moved = list(self._unschedulable.values())
            for qpi in moved:
                self._activate(qpi, now)
            self.move_request_cycle = self.scheduling_cycle
            return len(moved)

    # ------------------------------------------------------------------ scheduler side
    def _flush_locked(self, now: float) -> Optional[float]:
        """Move due pods to activeQ; return when something is next due."""
        while self._backoff:
            ready_at, entry, qpi = self._backoff[0]
            if qpi.entry != entry or qpi.where != BACKOFF:
                heapq.heappop(self._backoff)            # stale entry
                continue
            if ready_at > now:
                break
            heapq.heappop(self._backoff)
            self._push_active(qpi)
        if now >= self._next_flush:
            for qpi in [q for q in self._unschedulable.values()
                        if now - q.timestamp >= self.max_unschedulable]:
                self._activate(qpi, now)
            self._next_flush = now + self.flush_interval
        due = self._next_flush
        if self._backoff:
            due = min(due, self._backoff[0][0])
        return due

    def pop(self, timeout: Optional[float] = None) -> Optional[QueuedPodInfo]:
        """The next pod to schedule (it is then in flight), or None on timeout/close."""
        deadline = None if timeout is None else self.clock() + timeout
        with self._cond:
            while not self.closed:
                now = self.clock()
                due = self._flush_locked(now)
                while self._active:
                    _, _, entry, qpi = heapq.heappop(self._active)
                    if qpi.entry == entry and qpi.where == ACTIVE:
                        qpi.where = IN_FLIGHT
                        qpi.attempts += 1
                        self.scheduling_cycle += 1
                        qpi.cycle = self.scheduling_cycle
                        return qpi
                wait = due - now
                if deadline is not None:
                    if now >= deadline:
                        return None
                    wait = min(wait, deadline - now)
                self._cond.wait(max(wait, 0.001))
            return None

    def done(self, qpi: QueuedPodInfo) -> None:
        """The pod was scheduled and bound: the queue forgets it."""
        with self._cond:
            if self._pods.get(qpi.key) is qpi:
                del self._pods[qpi.key]
            qpi.where = None

    def requeue(self, qpi: QueuedPodInfo, unschedulable: bool = True) -> bool:
        """Put back a pod whose attempt failed. Returns False if it was dropped.

        ``unschedulable``: it fitted nowhere (wait for a cluster change); else it
        hit an error (bind failed, ...) and just backs off.
        """
        with self._cond:
            if qpi.deleted or self._pods.get(qpi.key) is not qpi:
                return False        # deleted or bound meanwhile
            qpi.timestamp = self.clock()
            if unschedulable and self.move_request_cycle < qpi.cycle:
                self._park(qpi)
            else:
                self._push_backoff(qpi)
            return True

    def close(self) -> None:
        with self._cond:
            self.closed = True
            self._cond.notify_all()

    # ------------------------------------------------------------------ introspection
    def __contains__(self, key: str) -> bool:
        with self._cond:
            return key in self._pods

    def where(self, key: str) -> Optional[str]:
        with self._cond:
            qpi = self._pods.get(key)
            return qpi.where if qpi else None

    def counts(self) -> dict[str, int]:
        with self._cond:
            out = {ACTIVE: 0, BACKOFF: 0, UNSCHEDULABLE: 0, IN_FLIGHT: 0}
            for qpi in self._pods.values():
                if qpi.where in out:
                    out[qpi.where] += 1
            return out

    def __len__(self) -> int:
        with self._cond:
            return len(self._pods)
