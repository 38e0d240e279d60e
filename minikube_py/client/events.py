"""Events, recorded as client-go's recorder records them: in the background, best effort.

Events are for people (``kubectl describe``, ``kubectl get events``), not for the
control loops, so a component never waits for one: ``event()`` queues it and returns,
and worker threads write it. When the apiserver cannot keep up, events are dropped
(and counted), never the component's real work. Every component records through this
one class; what differs is how much each may send, as in Kubernetes:

- **spam filter** (``spam_burst``, ``spam_refill``): per object, a bucket of events
  that refills one token every ``spam_refill`` seconds (client-go's EventCorrelator:
  25, then one per 5 minutes). Scaling a ReplicaSet to 500 records 25 "Created pod"
  events, not 500.
- **aggregation** (``aggregate_window``): the same event about the same object again
  within the window is not a new Event; the existing one gets ``count + 1`` and a new
  ``lastTimestamp`` (``BackOff (x7 over 3m)``). The kubelet does this.
- **rate limit** (``qps``, ``burst``): at most ``qps`` events a second after a burst,
  for all objects together, as kube-scheduler's event client (50, then 100).
- **giving way** (``busy``, ``max_defer``): while ``busy()`` is true each event waits,
  at most ``max_defer`` seconds. The scheduler's binds go first in a burst of pods.
- at most ``max_pending`` events wait in the queue (client-go's maxQueuedEvents, 1000).
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Callable, Optional

from . import errors
from .flowcontrol import TokenBucket
from ..api.meta import now_rfc3339

__all__ = ["EventRecorder", "object_reference"]

log = logging.getLogger(__name__)


def object_reference(obj: dict) -> dict:
    """The ObjectReference an Event names: from an object, or from a reference (its fields only)."""
    meta = obj.get("metadata") or obj
    ref = {"apiVersion": obj.get("apiVersion", "v1"), "kind": obj.get("kind"), "name": meta.get("name"),
           "namespace": meta.get("namespace"), "uid": meta.get("uid"),
           "resourceVersion": meta.get("resourceVersion"), "fieldPath": obj.get("fieldPath")}
    return {k: v for k, v in ref.items() if v}


class EventRecorder:
    """Records core/v1 Events for one component (and, for a kubelet, one host)."""

    POLL = 0.05     # how often a held event looks whether the component is still busy

    def __init__(self, client, component: str, host: Optional[str] = None, *,
                 spam_burst: Optional[int] = None, spam_refill: float = 300.0,
                 aggregate_window: Optional[float] = None,
                 qps: Optional[float] = None, burst: int = 100, max_pending: int = 1000,
                 busy: Optional[Callable[[], bool]] = None, max_defer: float = 2.0,
                 workers: int = 1, clock: Callable[[], float] = time.monotonic):
        self.client = client
        self.component = component
        self.host = host
        self.spam_burst, self.spam_refill = spam_burst, spam_refill
        self.aggregate_window = aggregate_window
        self.busy, self.max_defer = busy, max_defer
        self.clock = clock
        self._rate = TokenBucket(qps, burst) if qps else None
        self._queue: queue.Queue = queue.Queue(max_pending)
        self._spam: dict[str, TokenBucket] = {}      # object key -> its spam-filter bucket
        self._seen: dict = {}        # (uid, fieldPath, type, reason, message) -> [name, ns, count, t]
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._workers = workers
        self._threads: list[threading.Thread] = []
        self.dropped = 0
        self.written = 0

    # ------------------------------------------------------------------ recording
    def event(self, obj: dict, type_: str, reason: str, message: str) -> None:
        """Queue an Event about `obj` (an object or an ObjectReference); never blocks."""
        ref = object_reference(obj)
        if self.spam_burst is not None and not self._allow(ref.get("uid") or
                                                           f"{ref.get('namespace')}/{ref.get('name')}"):
            self.dropped += 1
            log.debug("event dropped by the spam filter: %s %s %s", ref.get("name"), reason, message)
            return
        try:
            self._queue.put_nowait((ref, type_, reason, message))
        except queue.Full:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.warning("event queue full: %d events dropped so far", self.dropped)
            return
        if not self._threads:
            self.start()

    def normal(self, obj: dict, reason: str, message: str) -> None:
        self.event(obj, "Normal", reason, message)

    def warning(self, obj: dict, reason: str, message: str) -> None:
        self.event(obj, "Warning", reason, message)

    # ------------------------------------------------------------------ life cycle
    def start(self) -> "EventRecorder":
        with self._lock:
            if not self._threads:
                self._threads = [threading.Thread(target=self._run, daemon=True,
                                                  name=f"events-{self.host or self.component}-{i}")
                                 for i in range(self._workers)]
                for t in self._threads:
                    t.start()
        return self

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until the queued events are written (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        while self._queue.unfinished_tasks and time.monotonic() < deadline:
            time.sleep(0.01)
        return not self._queue.unfinished_tasks

    def stop(self, flush_timeout: float = 2.0) -> None:
        """Write what is queued (for up to `flush_timeout` s), then stop the workers."""
        if self._threads:
            self.flush(flush_timeout)
        self._stopping.set()
        for _ in self._threads:
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                pass
        for t in self._threads:
            t.join(2)

    # ------------------------------------------------------------------ the rules
    def _allow(self, key) -> bool:
        """The spam filter: a token bucket per object, refilling one token per `spam_refill` s."""
        with self._lock:
            bucket = self._spam.get(key)
            if bucket is None:
                if len(self._spam) >= 10000:        # forget objects not heard of for long
                    now = self.clock()
                    self._spam = {k: b for k, b in self._spam.items()
                                  if now - b.last_used < self.spam_refill}
                bucket = self._spam[key] = TokenBucket(1 / self.spam_refill, self.spam_burst,
                                                       clock=self.clock)
        return bucket.try_accept()

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            try:
                if self.busy is not None:                       # let the real work go first
                    deadline = time.monotonic() + self.max_defer
                    while self.busy() and time.monotonic() < deadline and not self._stopping.is_set():
                        time.sleep(self.POLL)
                if self._rate is not None and not self._rate.wait(self._stopping):
                    continue                                    # stopping
                self._send(*item)
                self.written += 1
            except errors.ApiError as err:          # e.g. the namespace is being deleted
                log.debug("event %s about %s not written: %s", item[2], item[0].get("name"), err)
            except Exception as err:                # noqa: BLE001 - apiserver away: best effort
                log.warning("event %s not written: %s", item[2], err)
            finally:
                self._queue.task_done()

    def _send(self, ref: dict, type_: str, reason: str, message: str) -> None:
        """Write one event: a new Event, or (aggregating) count + 1 on the one seen before."""
        key = (ref.get("uid"), ref.get("fieldPath"), type_, reason, message)
        now = self.clock()
        if self.aggregate_window is not None:
            with self._lock:
                seen = self._seen.get(key)
            if seen is not None and now - seen[3] < self.aggregate_window:
                name, ns, count, _ = seen
                try:
                    self.client.patch("events", name, {"count": count + 1, "lastTimestamp": now_rfc3339()},
                                      namespace=ns)
                    with self._lock:
                        self._seen[key] = [name, ns, count + 1, now]
                    return
                except errors.NotFound:
                    pass                            # deleted meanwhile: create anew
        created = self.client.create_event(ref, reason, message, type=type_,
                                           component=self.component, host=self.host)
        if self.aggregate_window is not None:
            meta = created.get("metadata") or {}
            with self._lock:
                self._seen[key] = [meta.get("name"), meta.get("namespace"), 1, now]
                if len(self._seen) > 5000:
                    self._seen = {k: v for k, v in self._seen.items() if now - v[3] < self.aggregate_window}
