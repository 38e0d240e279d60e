"""Pod workers: one thread per pod, so a slow pod never holds up the others.

Everything that should make the kubelet look at a pod again -- the pod changed
in the API, one of its containers died (PLEG), a probe flipped, a back-off ran
out, or simply time passed (``--sync-frequency``) -- only *wakes* that pod's
worker.  The worker then runs one sync with the newest copy of the pod.  Wake-ups
that arrive during a sync collapse into one more sync: like a controller, the
worker is level-triggered and looks at the state, not at the events.

A worker ends once its pod is terminated and gone from the API.

On hollow nodes (scale tests) the workers share the LoopRunner of the process:
a hollow sync is a few microseconds of bookkeeping and at most a status write,
and 100 pods on each of 1,000 nodes would otherwise be 100,000 threads.
"""
from __future__ import annotations

import logging
import threading

from .loop import Loop
from .runtime.base import RuntimeUnavailable

log = logging.getLogger(__name__)

RUNTIME_DOWN_RETRY = 2.0      # seconds between syncs while the runtime is unreachable
MAX_ERROR_DELAY = 30.0


class PodWorker:
    """Runs ``sync(pod, removed) -> (done, next delay)`` for one pod, again and again.

    The worker is a Loop (loop.py): a thread of its own, or -- on hollow nodes, given a
    LoopRunner -- an entry in a shared lane's timetable, so that 100,000 hollow pods are
    not 100,000 threads.
    """

    def __init__(self, uid: str, pod: dict, sync, on_exit, idle_delay: float, runner=None):
        self.uid = uid
        self.pod = pod
        self.removed = False           # the pod is gone from the API (or was never there)
        self.sync = sync
        self.on_exit = on_exit
        self.idle_delay = idle_delay
        self._lock = threading.Lock()
        self._errors = 0
        meta = pod.get("metadata") or {}
        self.loop = Loop(f"pod-{meta.get('namespace')}/{meta.get('name')}", self._step, idle_delay,
                         runner=runner)
        self.syncs = 0

    def start(self) -> None:
        self.loop.start()

    def update(self, pod: dict | None = None, removed: bool = False, wake: bool = True) -> None:
        """Hand the worker a newer pod (or tell it the pod is gone) and wake it."""
        with self._lock:
            if pod is not None:
                self.pod = pod
            if removed:
                self.removed = True
        if wake or removed:
            self.loop.wake()

    def wake(self) -> None:
        self.loop.wake()

    def stop(self) -> None:
        """Stop the worker (the pod's containers are left as they are)."""
        self.loop.finish()

    def join(self, timeout: float) -> None:
        self.loop.join(timeout)

    def _step(self) -> float:
        """One sync with the newest copy of the pod; the seconds until the next."""
        with self._lock:
            pod, removed = self.pod, self.removed
        try:
            self.syncs += 1
            done, delay = self.sync(pod, removed)
            self._errors = 0
        except RuntimeUnavailable as e:
            log.info("pod %s: runtime unavailable (%s); retrying", self.uid[:8], e)
            done, delay = False, RUNTIME_DOWN_RETRY
        except Exception:  # noqa: BLE001 - a bug in one pod must not stop the kubelet
            self._errors += 1
            delay = min(MAX_ERROR_DELAY, 0.5 * 2 ** self._errors)
            log.exception("pod %s: sync failed (retry in %.1fs)", self.uid[:8], delay)
            done = False
        if done:
            with self._lock:
                if self.removed or removed:
                    self.loop.finish()             # terminated and gone: the worker ends
                    self.on_exit(self)
                    return 0.0
            delay = self.idle_delay        # terminated; wait for the API to let go
        return self.idle_delay if delay is None else delay


class PodWorkers:
    """The set of pod workers of one kubelet, by pod uid."""

    def __init__(self, sync, idle_delay: float = 60.0, runner=None):
        self.sync = sync
        self.runner = runner
        self.idle_delay = idle_delay
        self._lock = threading.Lock()
        self._workers: dict[str, PodWorker] = {}
        self._stopped = False

    def update(self, pod: dict, removed: bool = False, wake: bool = True) -> None:
        """Start a worker for a new pod, or pass the newer pod to its worker.

        ``wake=False`` only hands over the newer copy (e.g. after a status-only change).
        """
        uid = pod["metadata"]["uid"]
        with self._lock:
            if self._stopped:
                return
            worker = self._workers.get(uid)
            if worker is None:
                worker = PodWorker(uid, pod, self.sync, self._exited, self.idle_delay, self.runner)
                worker.removed = removed
                self._workers[uid] = worker
                worker.start()
                return
        worker.update(pod, removed, wake)

    def wake(self, uid: str) -> None:
        with self._lock:
            worker = self._workers.get(uid)
        if worker is not None:
            worker.wake()

    def wake_all(self) -> None:
        with self._lock:
            workers = list(self._workers.values())
        for w in workers:
            w.wake()

    def uids(self) -> set[str]:
        with self._lock:
            return set(self._workers)

    def get(self, uid: str) -> PodWorker | None:
        with self._lock:
            return self._workers.get(uid)

    def _exited(self, worker: PodWorker) -> None:
        with self._lock:
            if self._workers.get(worker.uid) is worker:
                del self._workers[worker.uid]

    def stop(self, timeout: float = 5.0) -> None:
        with self._lock:
            self._stopped = True
            workers = list(self._workers.values())
        for w in workers:
            w.stop()
        for w in workers:
            w.join(timeout)
