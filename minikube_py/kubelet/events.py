"""Events the kubelet records (Pulled, Created, Started, Killing, BackOff, Unhealthy ...).

``kubectl describe pod`` shows them.  Two rules keep them from flooding the
apiserver, as client-go's EventRecorder does:

* **aggregation**: the same event (same object, reason and message) seen again
  within ``AGGREGATE_WINDOW`` is not a new Event object; the existing one gets
  ``count + 1`` and a new ``lastTimestamp`` ("BackOff  (x7 over 3m)").
* **spam filter**: each object has a token bucket (``BURST`` events, then one
  per ``REFILL_SECONDS``); events beyond it are dropped and counted in the log.

Events are sent by one background thread, so a slow apiserver never delays a
pod worker.
"""
from __future__ import annotations

import logging
import queue
import threading
import time

from ..api.meta import now_rfc3339
from ..client import errors

log = logging.getLogger(__name__)

AGGREGATE_WINDOW = 600.0     # seconds: repeat within this -> count++ on the same Event
BURST = 25                   # events per object before the spam filter kicks in
REFILL_SECONDS = 10.0        # one more token per object every this many seconds
MAX_QUEUE = 1000             # events waiting to be sent; beyond that they are dropped


def pod_ref(pod: dict, field_path: str | None = None) -> dict:
    """An ObjectReference to a pod (optionally to one container: ``spec.containers{web}``)."""
    meta = pod.get("metadata") or {}
    ref = {"kind": "Pod", "apiVersion": "v1", "name": meta.get("name"),
           "namespace": meta.get("namespace", "default"), "uid": meta.get("uid")}
    if field_path:
        ref["fieldPath"] = field_path
    return ref


def container_field_path(pod: dict, container_name: str) -> str:
    """``spec.containers{name}`` or ``spec.initContainers{name}``, as Kubernetes names them."""
    for c in (pod.get("spec") or {}).get("initContainers") or []:
        if c.get("name") == container_name:
            return f"spec.initContainers{{{container_name}}}"
    return f"spec.containers{{{container_name}}}"


class EventRecorder:
    """Records core/v1 Events for one node (``source.component`` kubelet, ``source.host`` node)."""

    def __init__(self, client, host: str, component: str = "kubelet", clock=time.monotonic):
        self.client = client
        self.host = host
        self.component = component
        self.clock = clock
        self._queue: queue.Queue = queue.Queue(MAX_QUEUE)
        self._seen: dict = {}        # (uid, fieldPath, type, reason, message) -> [name, ns, count, t]
        self._buckets: dict = {}     # object uid -> [tokens, last refill]
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.dropped = 0

    # ------------------------------------------------------------ public
    def event(self, ref: dict, type_: str, reason: str, message: str) -> None:
        """Queue an event about ``ref`` (an ObjectReference, see ``pod_ref``)."""
        if not self._allow(ref.get("uid") or ref.get("name")):
            self.dropped += 1
            log.debug("event dropped by the spam filter: %s %s %s", ref.get("name"), reason, message)
            return
        try:
            self._queue.put_nowait((ref, type_, reason, message))
        except queue.Full:
            self.dropped += 1

    def normal(self, ref: dict, reason: str, message: str) -> None:
        self.event(ref, "Normal", reason, message)

    def warning(self, ref: dict, reason: str, message: str) -> None:
        self.event(ref, "Warning", reason, message)

    def start(self) -> "EventRecorder":
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, daemon=True,
                                            name=f"events-{self.host}")
            self._thread.start()
        return self

    def stop(self, flush_timeout: float = 2.0) -> None:
        """Send what is queued (for up to ``flush_timeout`` s), then stop."""
        deadline = time.monotonic() + flush_timeout
        while not self._queue.empty() and time.monotonic() < deadline:
            time.sleep(0.02)
        self._stop.set()
        if self._thread is not None:
            self._thread.join(2)

    # ------------------------------------------------------------ spam filter
    def _allow(self, obj_key) -> bool:
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(obj_key, (BURST, now))
            tokens = min(BURST, tokens + (now - last) / REFILL_SECONDS)
            if tokens < 1:
                self._buckets[obj_key] = (tokens, now)
                return False
            self._buckets[obj_key] = (tokens - 1, now)
            if len(self._buckets) > 10000:        # forget objects long gone
                self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 600}
            return True

    # ------------------------------------------------------------ sending
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                item = self._queue.get(timeout=0.5)
            except queue.Empty:
                continue
            try:
                self._send(*item)
            except Exception as e:  # noqa: BLE001 - events are best effort
                log.debug("could not record event %s: %s", item[2], e)

    def _send(self, ref: dict, type_: str, reason: str, message: str) -> None:
        key = (ref.get("uid"), ref.get("fieldPath"), type_, reason, message)
        now = self.clock()
        with self._lock:
            seen = self._seen.get(key)
        if seen is not None and now - seen[3] < AGGREGATE_WINDOW:
            name, ns, count, _ = seen
            try:
                self.client.patch("events", name, {"count": count + 1,
                                                    "lastTimestamp": now_rfc3339()},
                                  namespace=ns)
                with self._lock:
                    self._seen[key] = [name, ns, count + 1, now]
                return
            except errors.NotFound:
                pass                                  # deleted meanwhile: create anew
        created = self.client.create_event(ref, reason, message, type=type_,
                                           component=self.component, host=self.host)
        meta = created.get("metadata") or {}
        with self._lock:
            self._seen[key] = [meta.get("name"), meta.get("namespace"), 1, now]
            if len(self._seen) > 5000:
                self._seen = {k: v for k, v in self._seen.items()
                              if now - v[3] < AGGREGATE_WINDOW}
