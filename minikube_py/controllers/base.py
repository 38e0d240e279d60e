"""What every controller is made of: shared informers, a work queue, and `sync(key)`.

A controller never acts on an event itself. Event handlers only put a key
("namespace/name") on the queue; workers take keys off and call `sync(key)`, which
reads the *current* desired and actual state from the informers' caches and makes
one step toward the desired state. That is what makes controllers level-triggered:
missing an event, or seeing one twice, changes nothing, because sync looks at the
state, not at the event.
"""
from __future__ import annotations

import logging
import threading

from ..client.informer import Informer, meta_key
from ..client.workqueue import WorkQueue, run_workers


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

    def __init__(self, client, informers: SharedInformers):
        self.client = client
        self.informers = informers
        self.queue = WorkQueue(self.name)
        self.log = logging.getLogger(f"minikube_py.controllers.{self.name}")

    def enqueue(self, obj: dict):
        self.queue.add(meta_key(obj))

    def sync(self, key: str) -> None:
        raise NotImplementedError

    def run(self, stop: threading.Event):
        """Start the workers; they stop when `stop` is set."""
        return run_workers(self.queue, self.sync, self.workers, stop)
