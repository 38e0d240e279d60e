"""A background loop: call a function every few seconds until stopped (Kubernetes' ``wait.Until``).

The kubelet is full of them: the node Lease heartbeat, the NodeStatus reporter,
the PLEG relist, housekeeping.  Each is one daemon thread that runs its step,
sleeps, and runs it again until ``stop()``; ``wake()`` cuts a sleep short (post
the node status *now*).

Hollow nodes (scale tests) share threads instead: a process of 625 hollow nodes
would hold some 1,900 loop threads that mostly sleep, wake, send one request and
sleep again -- the thread handoffs cost more than the work, and each request
reaches the apiserver alone on a connection gone idle.  Given a ``LoopRunner``,
a loop is one entry in the timetable of one of the runner's few threads (a
*lane*), which runs whichever of its loops is due, one after the other, on the
same keep-alive connection.  The loop's behaviour (period, ``wake()``,
``woken``, ``wait_first``) is the same.
"""
from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from typing import Callable, Optional

log = logging.getLogger(__name__)


class Loop:
    """Run ``step()`` in a daemon thread; sleep ``period`` seconds (or what ``step`` returns).

    ``wait_first``: sleep before the first step.  ``woken`` tells a step whether
    ``wake()`` ended the sleep before it.  ``runner``: run on a LoopRunner's shared
    threads instead of a thread of its own.
    """

    def __init__(self, name: str, step: Callable[[], Optional[float]], period: float, *,
                 wait_first: bool = False, runner: "LoopRunner | None" = None):
        self.name = name
        self.step = step
        self.period = period
        self.wait_first = wait_first
        self.woken = False
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._runner = runner
        self._lane: _Lane | None = None
        self._entry = 0                 # the lane's timetable entry that is current

    def start(self) -> "Loop":
        if self._runner is not None:
            self._lane = self._runner.lane()
            self._lane.schedule(self, self.period if self.wait_first else 0.0)
            return self
        self._thread = threading.Thread(target=self._run, daemon=True, name=self.name)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5) -> None:
        self.finish()
        self.join(timeout)

    def finish(self) -> None:
        """No more steps after the one running now (if any); from a step too."""
        self._stop.set()
        self._wake.set()

    def join(self, timeout: float = 5) -> None:
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def wake(self) -> None:
        self._wake.set()
        if self._lane is not None and not self._stop.is_set():
            self._lane.schedule(self, 0.0)

    def _sleep(self, seconds: float) -> None:
        self.woken = self._wake.wait(seconds)
        self._wake.clear()

    def _run(self) -> None:
        if self.wait_first:
            self._sleep(self.period)
        while not self._stop.is_set():
            delay = self.step()
            self._sleep(self.period if delay is None else delay)

    def _run_once(self) -> float:
        """One step on a lane; the seconds until the next."""
        self.woken = self._wake.is_set()
        self._wake.clear()
        delay = self.step()
        return 0.0 if self._wake.is_set() else (self.period if delay is None else delay)


class LoopRunner:
    """A few threads that run the steps of many loops: each loop gets one lane, in turn."""

    def __init__(self, threads: int = 4, name: str = "loops"):
        self._lanes = [_Lane(f"{name}-{i}") for i in range(max(1, threads))]
        self._turn = itertools.cycle(self._lanes)
        self._lock = threading.Lock()

    def lane(self) -> "_Lane":
        with self._lock:
            return next(self._turn)


class _Lane:
    """One thread and its timetable: a heap of (due time, entry number, loop).

    Rescheduling a loop (``wake()``) pushes a new entry; the loop's older entries
    are skipped when they come up, so no entry ever has to be found and removed.
    """

    def __init__(self, name: str):
        self.name = name
        self._cond = threading.Condition()
        self._heap: list[tuple[float, int, Loop]] = []
        self._numbers = itertools.count(1)
        self._thread: threading.Thread | None = None

    def schedule(self, loop: Loop, delay: float) -> None:
        with self._cond:
            loop._entry = next(self._numbers)
            heapq.heappush(self._heap, (time.monotonic() + delay, loop._entry, loop))
            self._cond.notify()
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True, name=self.name)
                self._thread.start()

    def _next_due(self) -> Loop:
        with self._cond:
            while True:
                if not self._heap:
                    self._cond.wait()
                    continue
                due, entry, loop = self._heap[0]
                if entry != loop._entry or loop._stop.is_set():
                    heapq.heappop(self._heap)          # rescheduled since, or stopped
                    continue
                wait = due - time.monotonic()
                if wait > 0:
                    self._cond.wait(wait)
                    continue
                heapq.heappop(self._heap)
                loop._entry = 0                        # running: a wake() now schedules anew
                return loop

    def _run(self) -> None:
        while True:
            loop = self._next_due()
            try:
                delay = loop._run_once()
            except Exception:  # noqa: BLE001 - one loop's bug must not stop the others
                log.exception("loop %s failed", loop.name)
                delay = loop.period
            if not loop._stop.is_set() and loop._entry == 0:   # not woken meanwhile
                self.schedule(loop, delay)
