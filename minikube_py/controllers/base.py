"""What every controller is made of: shared informers, a work queue, and `sync(key)`.

A controller never acts on an event itself. Event handlers only put a key
("namespace/name") on the queue; workers take keys off and call `sync(key)`, which
reads the *current* desired and actual state from the informers' caches and makes
one step toward the desired state. That is what makes controllers level-triggered:
missing an event, or seeing one twice, changes nothing, because sync looks at the
state, not at the event.

Also here, for every controller: the retry policy for the failures a sync expects
(``sync_quietly``) and the event recorder with the controller-manager's spam filter.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable

import requests

from ..client import errors
from ..client.events import EventRecorder
from ..client.informer import Informer, meta_key
from ..client.workqueue import WorkQueue, run_workers
from .config import ControllerConfig


class SharedInformers:
    """One informer per resource, shared by every controller in the process.

    Like client-go's SharedInformerFactory: ten controllers watching pods cost one
    watch, not ten.
    """

    def __init__(self, client):
        self.client = client
        self._informers: dict[str, Informer] = {}
        self._started: set[str] = set()
        self._lock = threading.Lock()

    def get(self, resource: str) -> Informer:
        with self._lock:
            inf = self._informers.get(resource)
            if inf is None:
                inf = self._informers[resource] = Informer(self.client, resource)
            return inf

    def start(self):
        """Start every informer asked for so far (ones already running are left alone)."""
        with self._lock:
            new = [inf for name, inf in self._informers.items() if name not in self._started]
            self._started.update(self._informers)
        for inf in new:
            inf.start()

    def wait_for_sync(self, timeout: float = 30.0) -> bool:
        with self._lock:
            informers = list(self._informers.values())
        return all(inf.wait_for_sync(timeout) for inf in informers)

    def stop(self):
        for inf in list(self._informers.values()):
            inf.stop()


class Controller:
    """Base class: subclasses set `name`, register handlers in `__init__`, implement `sync`."""

    name = "controller"
    workers = 2
    # True: a 409 Conflict or an unreachable apiserver is retried without a stack trace
    # (see sync_quietly); otherwise the work queue logs the error and backs off.
    quiet_retries = False

    def __init__(self, client, informers: SharedInformers):
        self.client = client
        self.informers = informers
        self.config = ControllerConfig()      # the manager gives each controller its own
        self.queue = WorkQueue(self.name)
        self.log = logging.getLogger(f"minikube_py.controllers.{self.name}")

    def enqueue(self, obj: dict):
        self.queue.add(meta_key(obj))

    def sync(self, key: str) -> None:
        raise NotImplementedError

    def run(self, stop: threading.Event):
        """Start the workers; they stop when `stop` is set."""
        sync = self._sync_quietly if self.quiet_retries else self.sync
        return run_workers(self.queue, sync, self.workers, stop)

    def _sync_quietly(self, key: str) -> None:
        sync_quietly(self.queue, key, self.sync, self.log)


def sync_quietly(queue, key: str, fn: Callable[[str], None], logger: logging.Logger) -> None:
    """Run one sync; the two failures every controller expects are retried without a
    stack trace in the log:

    - 409 Conflict: the cache was behind the apiserver. The newer object is on its
      way (and will queue the key again); try again shortly anyway.
    - the apiserver cannot be reached (restarting): try again in a second; the
      informers reconnect on their own meanwhile.

    Anything else propagates, and the work queue retries it with growing back-off.
    """
    try:
        fn(key)
    except errors.Conflict as err:
        logger.info("%s: %s; retrying", key, err.message)
        queue.add_after(key, 0.05)
    except requests.ConnectionError as err:
        logger.warning("%s: apiserver unreachable (%s); retrying in 1s", key, type(err).__name__)
        queue.add_after(key, 1.0)


def write_status(client, resource: str, obj: dict, status: dict) -> None:
    """Write `status` to obj's status subresource, unless it already says that.

    A 409 means the cached copy was behind. While the spec is the same (same
    generation) the status computed from it still holds, so it goes onto the fresh
    copy; a changed spec raises the conflict and the next sync computes again. An
    object deleted meanwhile is left alone.
    """
    if status == (obj.get("status") or {}):
        return
    try:
        client.update_status(resource, dict(obj, status=status))
    except errors.NotFound:
        pass
    except errors.Conflict:
        md = obj["metadata"]
        fresh = client.get(resource, md["name"], namespace=md.get("namespace"))
        if fresh["metadata"].get("generation") != md.get("generation"):
            raise
        client.update_status(resource, dict(fresh, status=status))


# kube-controller-manager's spam filter (client-go's EventCorrelator defaults): per object
# 25 events, then one every 5 minutes. Scaling a ReplicaSet to 500 records 25 "Created
# pod" events, not 500 -- 475 requests the apiserver does not have to serve.
EVENT_SPAM_BURST, EVENT_SPAM_REFILL = 25, 300.0


def event_recorder(client, component: str) -> EventRecorder:
    """A controller's recorder (client/events.py) with the controller-manager's spam filter."""
    return EventRecorder(client, component, spam_burst=EVENT_SPAM_BURST, spam_refill=EVENT_SPAM_REFILL)

