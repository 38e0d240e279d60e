"""Events in the background: ``Scheduled`` and ``FailedScheduling``, best effort.

Events are for people (``kubectl describe pod``, ``kubectl get events``), not for
the control loop, so -- as client-go's event broadcaster does -- they are written
by a background thread from a bounded queue and dropped (with a count in the
log) when the apiserver cannot keep up. Scheduling never waits for an event.

Like kube-scheduler's event client, the writer sends at most ``qps`` events a
second after a ``burst`` (its clientConnection defaults: 50 and 100), and at most
``max_pending`` events wait (client-go's maxQueuedEvents, 1000). So in a burst of
thousands of pods, most ``Scheduled`` events are dropped, as in Kubernetes: events
never cost the apiserver more than a small, fixed rate.

More than that, events give way to bindings: given a ``busy()`` test (true
while the scheduler is binding pods) the writer holds each event until it is
false, but never longer than ``max_defer`` seconds. In a burst of pods the
apiserver spends its time binding them, and the events follow when it is over.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from typing import Callable, Optional

from ..client.errors import ApiError
from ..client.flowcontrol import TokenBucket

__all__ = ["EventRecorder"]

log = logging.getLogger(__name__)


class EventRecorder:
    POLL = 0.05     # how often a held event looks whether the scheduler is still busy

    QPS, BURST, MAX_PENDING = 50.0, 100, 1000

    def __init__(self, client, component: str, max_pending: int = MAX_PENDING, workers: int = 1,
                 busy: Optional[Callable[[], bool]] = None, max_defer: float = 2.0,
                 qps: float = QPS, burst: int = BURST):
        self.client = client
        self.component = component
        self.busy = busy
        self.max_defer = max_defer
        self._stopping = threading.Event()
        self._bucket = TokenBucket(qps, burst)
        self._queue: queue.Queue = queue.Queue(maxsize=max_pending)
        self.dropped = 0
        self.written = 0
        self._threads = [threading.Thread(target=self._run, daemon=True, name=f"events-{i}")
                         for i in range(workers)]
        for t in self._threads:
            t.start()

    def event(self, obj: dict, type: str, reason: str, message: str) -> None:
        """Queue one Event about ``obj`` (the pod); never blocks."""
        try:
            self._queue.put_nowait((obj, type, reason, message))
        except queue.Full:
            self.dropped += 1
            if self.dropped % 1000 == 1:
                log.warning("event queue full: %d events dropped so far", self.dropped)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            obj, type_, reason, message = item
            if self.busy is not None:               # let bindings go first
                deadline = time.monotonic() + self.max_defer
                while self.busy() and time.monotonic() < deadline and not self._stopping.is_set():
                    time.sleep(self.POLL)
            if not self._bucket.wait(self._stopping):
                self._queue.task_done()
                continue
            try:
                self.client.create_event(obj, reason, message, type=type_,
                                         component=self.component)
                self.written += 1
            except ApiError as err:      # e.g. the namespace is being deleted
                log.debug("event %s about %s not written: %s", reason,
                          (obj.get("metadata") or {}).get("name"), err)
            except Exception as err:     # apiserver down: events are best effort
                log.warning("event %s not written: %s", reason, err)
            finally:
                self._queue.task_done()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until queued events are written (tests, shutdown)."""
        done = threading.Event()

        def waiter():
            self._queue.join()
            done.set()
        threading.Thread(target=waiter, daemon=True).start()
        return done.wait(timeout)

    def stop(self) -> None:
        self._stopping.set()
        for _ in self._threads:
            try:
                self._queue.put_nowait(None)
            except queue.Full:
                pass
