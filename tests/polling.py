"""Waiting for what a test expects, with a deadline (tests poll; they never assert on timing)."""
from __future__ import annotations

import time

import requests

from minikube_py.client import errors


def wait_for(fn, timeout=60.0, what="condition", interval=0.2, retry_on=(errors.NotFound,)):
    """Call fn until it returns something truthy (an exception in `retry_on` counts as
    "not yet": NotFound, or requests' errors while a component restarts); return that."""
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = fn()
        except retry_on:
            last = None
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"timed out waiting for {what}; last: {last!r}")


def wait_through_restart(fn, what, timeout=30.0):
    """wait_for, while etcd or the apiserver restarts: a refused or dropped connection
    counts as "not yet" too."""
    return wait_for(fn, timeout=timeout, what=what, retry_on=(requests.RequestException,))
