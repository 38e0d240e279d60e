"""Client-side rate limiting: a token bucket, as client-go's flowcontrol package has.

A client that may send more requests than the apiserver should take from it
(events above all) takes a token before each: ``burst`` tokens at first, then
``qps`` new ones a second. kube-scheduler's event client, for one, is limited to
50 requests/s with a burst of 100 (its clientConnection defaults).
"""
from __future__ import annotations

import threading
import time


class TokenBucket:
    """``burst`` tokens, refilled at ``qps`` a second; ``wait()`` takes one."""

    def __init__(self, qps: float, burst: int, clock=time.monotonic, sleep=time.sleep):
        if qps <= 0 or burst < 1:
            raise ValueError("a token bucket needs qps > 0 and burst >= 1")
        self.qps, self.burst = float(qps), int(burst)
        self._clock, self._sleep = clock, sleep
        self._tokens = float(burst)
        self._last = clock()
        self._lock = threading.Lock()

    def _take(self) -> float:
        """Take a token: 0.0 if one was there, else how long until the next one is."""
        with self._lock:
            now = self._clock()
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.qps)
            self._last = now
            if self._tokens >= 1:
                self._tokens -= 1
                return 0.0
            return (1 - self._tokens) / self.qps

    @property
    def last_used(self) -> float:
        """When a token was last asked for (on the bucket's clock)."""
        return self._last

    def try_accept(self) -> bool:
        """Take a token if one is there now."""
        return self._take() == 0.0

    def wait(self, stop: threading.Event | None = None) -> bool:
        """Block until a token is taken (True), or until ``stop`` is set (False)."""
        while (delay := self._take()) > 0:
            if stop is not None:
                if stop.wait(delay):
                    return False
            else:
                self._sleep(delay)
        return True
