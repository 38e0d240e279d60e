"""A background loop: call a function every few seconds until stopped (Kubernetes' ``wait.Until``).

The kubelet is full of them: the node Lease heartbeat, the NodeStatus reporter,
the PLEG relist.  Each is one daemon thread that runs its step, sleeps, and
runs it again until ``stop()``; ``wake()`` cuts a sleep short (post the node
status *now*).
"""
from __future__ import annotations

import threading
from typing import Callable, Optional


class Loop:
    """Run ``step()`` in a daemon thread; sleep ``period`` seconds (or what ``step`` returns).

    ``wait_first``: sleep before the first step.  ``woken`` tells a step whether
    ``wake()`` ended the sleep before it.
    """

    def __init__(self, name: str, step: Callable[[], Optional[float]], period: float, *,
                 wait_first: bool = False):
        self.name = name
        self.step = step
        self.period = period
        self.wait_first = wait_first
        self.woken = False
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "Loop":
        self._thread = threading.Thread(target=self._run, daemon=True, name=self.name)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def wake(self) -> None:
        self._wake.set()

    def _sleep(self, seconds: float) -> None:
        self.woken = self._wake.wait(seconds)
        self._wake.clear()

    def _run(self) -> None:
        if self.wait_first:
            self._sleep(self.period)
        while not self._stop.is_set():
            delay = self.step()
            self._sleep(self.period if delay is None else delay)
