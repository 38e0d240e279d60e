"""Waiting for what a test expects, with a deadline (tests poll; they never assert on timing)."""
from __future__ import annotations

import time

from minikube_py.client import errors


def wait_for(fn, timeout=60.0, what="condition", interval=0.2):
    """Call fn until it returns something truthy (NotFound counts as "not yet"); return that."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = fn()
        except errors.NotFound:
            last = None
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")
