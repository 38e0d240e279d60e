"""WorkQueue: the rate-limited queue between informers and a controller's sync.

Informer handlers do not reconcile anything themselves; they only put the
object's key (``namespace/name``) on a queue, and worker threads take keys
off and call ``sync(key)``.  The queue gives three guarantees, the same as
client-go's ``workqueue``:

* **Dedup** -- a key is queued once however many times it is added while it
  waits: ten events about one pod cause one sync, which reads the latest
  state anyway (controllers are level-triggered).
* **No two workers on one key** -- a key being processed is not handed out
  again; if it is added meanwhile it is marked *dirty* and re-queued when the
  worker calls ``done(key)``.
* **Back-off** -- ``add_rate_limited(key)`` re-queues a failed key after
  ``base * 2**failures`` (5 ms, 10 ms, 20 ms, ... capped at 1000 s);
  ``forget(key)`` resets the count after a success.

Delayed keys wait in a heap; they are moved onto the queue by whoever looks
next (``get``, ``add``, ``len``), so no extra timer thread is needed.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections import deque
from typing import Callable, Hashable, Optional

log = logging.getLogger(__name__)


class WorkQueue:
    """A dedup'ing, rate-limited FIFO of keys; safe to share between threads."""

    def __init__(self, name: str = "", base_delay: float = 0.005, max_delay: float = 1000.0):
        self.name = name
        self.base_delay = base_delay
        self.max_delay = max_delay

        self._lock = threading.Lock()
        self._cond = threading.Condition(self._lock)
        self._queue: deque = deque()   # keys ready to hand out, in order
        self._dirty: set = set()       # keys that need processing (queued or re-added)
        self._processing: set = set()  # keys a worker holds right now
        self._waiting: list = []       # heap of (ready_at, seq, key) for add_after
        self._ready_at: dict = {}      # key -> earliest ready_at in the heap
        self._seq = itertools.count()  # tie-breaker so the heap never compares keys
        self._failures: dict = {}      # key -> consecutive failures (for back-off)
        self._shutting_down = False
        self.adds = 0                  # keys queued (a key already waiting is not counted)
        self.retries = 0               # keys queued again after a failure (add_rate_limited)

    # -------------------------------------------------------------- adding

    def add(self, key: Hashable) -> None:
        """Queue a key (a no-op if it is already waiting to be processed)."""
        with self._lock:
            self._add_locked(key)

    def _add_locked(self, key: Hashable) -> None:
        if self._shutting_down or key in self._dirty:
            return
        self._dirty.add(key)
        self.adds += 1
        if key in self._processing:
            return  # done(key) will put it back on the queue
        self._queue.append(key)
        self._cond.notify()

    def add_after(self, key: Hashable, delay: float) -> None:
        """Queue a key once ``delay`` seconds have passed."""
        if delay <= 0:
            self.add(key)
            return
        with self._lock:
            if self._shutting_down:
                return
            ready_at = time.monotonic() + delay
            if key in self._ready_at and self._ready_at[key] <= ready_at:
                return  # already due sooner
            self._ready_at[key] = ready_at
            heapq.heappush(self._waiting, (ready_at, next(self._seq), key))
            # Wake getters so they shorten their wait to the new due time.
            self._cond.notify_all()

    def add_rate_limited(self, key: Hashable) -> None:
        """Re-queue a key after its exponential back-off delay."""
        self.retries += 1
        self.add_after(key, self.when(key))

    def when(self, key: Hashable) -> float:
        """The next back-off delay for a key (and count one more failure)."""
        with self._lock:
            failures = self._failures.get(key, 0)
            self._failures[key] = failures + 1
        # Cap the exponent too, so 2**failures cannot grow without bound.
        return min(self.base_delay * (2 ** min(failures, 64)), self.max_delay)

    def forget(self, key: Hashable) -> None:
        """The key succeeded: reset its back-off."""
        with self._lock:
            self._failures.pop(key, None)

    def num_requeues(self, key: Hashable) -> int:
        """How many times the key has failed since it was last forgotten."""
        with self._lock:
            return self._failures.get(key, 0)

    # ------------------------------------------------------------ processing

    def _promote_due_locked(self) -> Optional[float]:
        """Move due delayed keys onto the queue; return seconds until the next one."""
        now = time.monotonic()
        while self._waiting:
            ready_at, _, key = self._waiting[0]
            if ready_at > now:
                return ready_at - now
            heapq.heappop(self._waiting)
            if self._ready_at.get(key) == ready_at:  # skip superseded entries
                del self._ready_at[key]
                self._add_locked(key)
        return None

    def get(self, timeout: Optional[float] = None) -> Optional[Hashable]:
        """Take the next key, blocking until one is ready.

        Returns None on timeout, or once the queue is shut down and empty.
        The caller must call ``done(key)`` when finished with it.
        """
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while True:
                next_due = self._promote_due_locked()
                if self._queue:
                    key = self._queue.popleft()
                    self._dirty.discard(key)
                    self._processing.add(key)
                    return key
                if self._shutting_down:
                    return None
                wait = next_due
                if deadline is not None:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        return None
                    wait = remaining if wait is None else min(wait, remaining)
                self._cond.wait(wait)

    def done(self, key: Hashable) -> None:
        """The worker has finished with the key; re-queue it if it was re-added."""
        with self._lock:
            self._processing.discard(key)
            if key in self._dirty:
                self._queue.append(key)
                self._cond.notify()

    def shutdown(self) -> None:
        """Stop accepting keys; ``get`` returns None once the queue drains."""
        with self._lock:
            self._shutting_down = True
            self._waiting.clear()
            self._ready_at.clear()
            self._cond.notify_all()

    @property
    def shutting_down(self) -> bool:
        with self._lock:
            return self._shutting_down

    def __len__(self) -> int:
        """Keys ready to be handed out (not counting delayed or in-process ones)."""
        with self._lock:
            self._promote_due_locked()
            return len(self._queue)


def process_next(queue: WorkQueue, sync: Callable[[Hashable], None],
                 timeout: Optional[float] = None) -> bool:
    """Take one key and sync it; return False when the queue is shut down.

    On failure the key goes back with back-off; on success its back-off is
    forgotten.  Either way ``done`` releases it for the next worker.
    """
    key = queue.get(timeout=timeout)
    if key is None:
        return not queue.shutting_down
    try:
        sync(key)
    except Exception:
        log.exception("%s: sync %r failed (retry %d)", queue.name or "workqueue", key,
                      queue.num_requeues(key) + 1)
        queue.add_rate_limited(key)
    else:
        queue.forget(key)
    finally:
        queue.done(key)
    return True


def run_workers(queue: WorkQueue, sync: Callable[[Hashable], None], n: int = 1,
                stop_event: Optional[threading.Event] = None) -> list[threading.Thread]:
    """Start ``n`` daemon worker threads calling ``sync(key)``; return them.

    When ``stop_event`` is set the queue is shut down, which ends the
    workers once the keys already queued are processed.
    """
    stop_event = stop_event or threading.Event()

    def worker():
        while not stop_event.is_set() and process_next(queue, sync):
            pass

    def shut_down_on_stop():
        stop_event.wait()
        queue.shutdown()

    prefix = queue.name or "workqueue"
    threading.Thread(target=shut_down_on_stop, name=f"{prefix}-stopper", daemon=True).start()
    threads = []
    for i in range(n):
        t = threading.Thread(target=worker, name=f"{prefix}-worker-{i}", daemon=True)
        t.start()
        threads.append(t)
    return threads
