"""A watch-fed copy of one kind, by namespace, for admission plugins.

Quota and LimitRanger admission look at a namespace's ResourceQuotas and LimitRanges on
every create. Reading them from etcd each time would put an etcd read on the hot path of
every pod create, so, as kube-apiserver's admission plugins read informer listers, this
keeps them in memory: one list, then the kind's watch cache (storage/watchcache.py)
pushes every change. A copy may be a moment behind etcd; the quota's compare-and-swap
(resourcequota.py) is what makes that harmless.
"""
from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)


class NamespaceLister:
    """The objects of one kind, indexed by namespace, kept current by a watch.

    ``keep`` (optional) cuts each object down to the part its reader needs, which is all
    this lister then holds: the metrics scraper keeps a pod's name and labels, not the
    pod (metadata.name, .namespace and .resourceVersion must stay in what it returns).
    """

    trigger_value = None            # a Sink of the watch cache (see storage/watchcache.py)

    def __init__(self, store, cache, rt, keep=None):
        self.store, self.cache, self.rt = store, cache, rt
        self.keep = keep
        self.key_prefix = rt.etcd_prefix()
        self.lock = threading.Lock()
        self.by_namespace: dict[str, dict[str, dict]] = {}
        self.stopped = False

    def start(self) -> "NamespaceLister":
        self._relist()
        return self

    def stop(self):
        self.stopped = True
        self.cache.remove(self)

    def _relist(self):
        delay = 0.1
        while not self.stopped:
            try:
                items, rev = self.store.list(self.key_prefix)
                index: dict[str, dict[str, dict]] = {}
                if self.keep is not None:
                    items = [self.keep(obj) for obj in items]
                for obj in items:
                    md = obj["metadata"]
                    index.setdefault(md.get("namespace") or "", {})[md["name"]] = obj
                with self.lock:
                    self.by_namespace = index
                self.cache.watch(rev, self)          # every change after the list
                return
            except Exception as err:                 # noqa: BLE001 - etcd away, window moved: again
                log.debug("lister %s: relist failed: %s", self.rt.plural, err)
                time.sleep(delay)
                delay = min(delay * 2, 2.0)

    # --- the watch cache's Sink ----------------------------------------------------
    def push(self, ev) -> None:
        if ev is None:              # the cache's etcd watch broke: list again once it is back
            if not self.stopped:
                threading.Thread(target=self._relist, daemon=True, name=f"lister-{self.rt.plural}").start()
            return
        if ev.type == "DELETED":
            md = ev.object["metadata"]
            with self.lock:
                self.by_namespace.get(md.get("namespace") or "", {}).pop(md["name"], None)
        else:
            self.observe(ev.object)

    def idle(self) -> bool:
        return True

    # --- readers -------------------------------------------------------------------
    def observe(self, obj: dict) -> None:
        """Keep `obj` if it is newer than the copy held (a writer's own result, or an event)."""
        if self.keep is not None:
            obj = self.keep(obj)
        md = obj["metadata"]
        with self.lock:
            objs = self.by_namespace.setdefault(md.get("namespace") or "", {})
            held = objs.get(md["name"])
            if held is None or int(held["metadata"]["resourceVersion"]) <= int(md["resourceVersion"]):
                objs[md["name"]] = obj

    def forget(self, namespace: str, name: str) -> None:
        """A writer found the object gone from etcd: drop it before its DELETED event comes."""
        with self.lock:
            self.by_namespace.get(namespace or "", {}).pop(name, None)

    def get(self, namespace: str, name: str) -> dict | None:
        with self.lock:
            return self.by_namespace.get(namespace or "", {}).get(name)

    def all(self) -> list[dict]:
        """Every object, in no particular order (shared, as in_namespace's)."""
        with self.lock:
            return [obj for objs in self.by_namespace.values() for obj in objs.values()]

    def in_namespace(self, namespace: str) -> list[dict]:
        """The namespace's objects, sorted by name; shared: copy one before changing it.

        A namespace with none answers without the lock: admission asks for the ResourceQuotas
        and LimitRanges of every write's namespace, usually none, and 5,000 nodes' Lease writes
        queued on this lock -- a thread that held it lost the GIL, and every request thread
        waited behind it (82% of the stacks sampled in that apiserver, sampler.py).
        """
        if not self.by_namespace.get(namespace):     # one dict read: atomic under the GIL
            return []
        with self.lock:
            objs = self.by_namespace.get(namespace)
            return [objs[name] for name in sorted(objs)] if objs else []


class NamespaceObjects:
    """A namespace's objects of one kind, as admission reads them: from the lister once
    the apiserver has started one (`lister`), from etcd before that (a Registry alone)."""

    def __init__(self, registry, rt):
        self.registry, self.rt = registry, rt
        self.lister: NamespaceLister | None = None

    def __call__(self, namespace: str) -> list[dict]:
        if self.lister is not None:
            return self.lister.in_namespace(namespace)
        return self.registry.list(self.rt, namespace)["items"]
