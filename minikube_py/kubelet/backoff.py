"""Restart back-off: why a crashing container is restarted after 10 s, 20 s, 40 s ... 5 min.

A container that keeps crashing must not be restarted in a tight loop (it would
burn the node's CPU and flood the logs).  The kubelet keeps, per container, a
delay that starts at ``initial`` (10 s), doubles on every restart up to ``maximum``
(5 min), and is forgotten when the container has run quietly for twice the
maximum.  While a container waits out its delay its status says
``waiting: {reason: CrashLoopBackOff, message: "back-off 20s restarting failed ..."}``.

The same class paces image pulls (``ImagePullBackOff``).  It mirrors client-go's
``flowcontrol.Backoff`` as the kubelet uses it:

* ``in_backoff_since(key, t)``: is ``t`` (when the container finished) still
  inside the current delay?  -> do not restart yet;
* ``next(key, t)``: we are restarting now; the next delay doubles.

So the first crash restarts at once, the second waits 10 s, the third 20 s ...
"""
from __future__ import annotations

import threading
import time


class Backoff:
    """Per-key exponential back-off (thread-safe)."""

    def __init__(self, initial: float = 10.0, maximum: float = 300.0, clock=time.time):
        self.initial = float(initial)
        self.maximum = float(max(maximum, initial))
        self.clock = clock
        self._lock = threading.Lock()
        self._entries: dict = {}      # key -> [delay, last_update]

    def _expired(self, event_time: float, last_update: float) -> bool:
        """An entry is stale when the event is more than 2 x maximum after its last use."""
        return event_time - last_update > 2 * self.maximum

    def get(self, key) -> float:
        """The current delay for ``key`` (0 when there is none)."""
        with self._lock:
            entry = self._entries.get(key)
            return entry[0] if entry else 0.0

    def next(self, key, event_time: float) -> float:
        """Record a restart at ``event_time``: start at ``initial`` or double; return the delay."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or self._expired(event_time, entry[1]):
                entry = self._entries[key] = [self.initial, 0.0]
            else:
                entry[0] = min(entry[0] * 2, self.maximum)
            entry[1] = self.clock()
            return entry[0]

    def in_backoff_since(self, key, event_time: float) -> bool:
        """True while less than the current delay has passed since ``event_time``."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None or self._expired(event_time, entry[1]):
                return False
            return self.clock() - event_time < entry[0]

    def remaining(self, key, event_time: float) -> float:
        """Seconds until the delay that started at ``event_time`` is over (>= 0)."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return 0.0
            return max(0.0, entry[0] - (self.clock() - event_time))

    def forget(self, key) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def forget_prefix(self, prefix: tuple) -> None:
        """Forget every key whose first elements are ``prefix`` (e.g. all of one pod)."""
        n = len(prefix)
        with self._lock:
            for key in [k for k in self._entries if isinstance(k, tuple) and k[:n] == prefix]:
                del self._entries[key]

    def gc(self) -> None:
        """Drop entries unused for more than 2 x maximum."""
        now = self.clock()
        with self._lock:
            for key in [k for k, e in self._entries.items() if self._expired(now, e[1])]:
                del self._entries[key]


def format_duration(seconds: float) -> str:
    """Go's time.Duration text, as the kubelet prints back-off delays: 10s, 1m20s, 5m0s."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, secs = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{secs}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes}m{secs}s"
