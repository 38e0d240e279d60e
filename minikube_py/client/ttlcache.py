"""A small thread-safe cache whose entries expire: the answers of TokenReviews and
SubjectAccessReviews that a webhook authenticator/authorizer keeps for a while (the
kubelet's API, the dashboard), as kube's webhook plugins cache theirs."""
from __future__ import annotations

import threading
import time


class TTLCache:
    """key -> value for `ttl` seconds each; at `max_entries` it starts over (a flood of
    distinct tokens cannot grow it without bound)."""

    def __init__(self, max_entries: int = 10000):
        self.max_entries = max_entries
        self.entries: dict = {}
        self.lock = threading.Lock()

    def get(self, key):
        with self.lock:
            hit = self.entries.get(key)
        if hit is None or hit[1] < time.monotonic():
            return None
        return hit[0]

    def put(self, key, value, ttl: float) -> None:
        with self.lock:
            if len(self.entries) >= self.max_entries:
                self.entries.clear()
            self.entries[key] = (value, time.monotonic() + ttl)
