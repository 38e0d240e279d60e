"""Informer: a local, always-current copy of one resource, plus change callbacks.

Polling the apiserver for "what changed?" does not scale; instead every
controller keeps a cache fed by one watch, as client-go's SharedInformer does:

1. **List** the resource; the List's ``resourceVersion`` says "as of revision N".
   The first list asks ``resourceVersion=0`` (any state), a re-list the revision
   last seen (not older than it), as client-go's reflector does: the apiserver
   serves both from its watch cache, not etcd -- 5,000 kubelets listing their
   pods must not each read every pod in etcd.
2. **Watch** from N: every change after the list arrives, in order, once.
3. When the stream ends (server timeout, dropped connection) **resume** the
   watch from the last resourceVersion seen -- nothing is missed.
4. If that revision has been compacted away the server answers 410 Expired:
   **re-list**, and tell the handlers what changed while we were away by
   diffing the new list against the cache.

The cache (:class:`Store`) is keyed ``namespace/name`` and can be indexed
(e.g. pods by node) so controllers read it instead of the apiserver.  The
handlers are called on the informer's thread; they should be quick -- the
usual handler only puts a key on a :class:`~.workqueue.WorkQueue`.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Any, Callable, Iterable, Optional

from .errors import Expired

log = logging.getLogger(__name__)

IndexFunc = Callable[[dict], Any]  # returns a value, a list of values, or None


def meta_key(obj: dict) -> str:
    """The cache key of an object: ``namespace/name``, or ``name`` if cluster-scoped."""
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{ns}/{meta['name']}" if ns else meta["name"]


def split_key(key: str) -> tuple[Optional[str], str]:
    """The inverse of :func:`meta_key`: ``(namespace or None, name)``."""
    ns, _, name = key.rpartition("/")
    return (ns or None), name


def index_by_namespace(obj: dict) -> Optional[str]:
    """An index function: the object's namespace."""
    return (obj.get("metadata") or {}).get("namespace")


def ensure_index(informer, name: str, fn: IndexFunc) -> None:
    """Give a shared informer's cache the index `name` unless another controller did:
    several controllers look pods up by namespace, and one index serves them all."""
    try:
        informer.by_index(name, None)
    except KeyError:
        informer.add_index(name, fn)


def _resource_version(obj: dict) -> Optional[str]:
    return (obj.get("metadata") or {}).get("resourceVersion")


class Store:
    """A thread-safe ``key -> object`` map with secondary indexes.

    ``add_index("byNode", lambda pod: pod["spec"].get("nodeName"))`` lets a
    caller ask ``by_index("byNode", "node-1")`` without scanning every pod.
    """

    def __init__(self, key_func: Callable[[dict], str] = meta_key):
        self._key_func = key_func
        self._lock = threading.RLock()
        self._items: dict[str, dict] = {}
        self._index_funcs: dict[str, IndexFunc] = {}
        self._indices: dict[str, dict[Any, set]] = {}  # index -> value -> keys

    @staticmethod
    def _values(fn: IndexFunc, obj: dict) -> list:
        value = fn(obj)
        if value is None:
            return []
        if isinstance(value, (list, tuple, set)):
            return list(value)
        return [value]

    def add_index(self, name: str, fn: IndexFunc) -> None:
        """Add (and build) an index; ``fn(obj)`` gives the values to index it under."""
        with self._lock:
            self._index_funcs[name] = fn
            self._indices[name] = {}
            for key, obj in self._items.items():
                for v in self._values(fn, obj):
                    self._indices[name].setdefault(v, set()).add(key)

    def _unindex(self, key: str, obj: dict) -> None:
        for name, fn in self._index_funcs.items():
            for v in self._values(fn, obj):
                keys = self._indices[name].get(v)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del self._indices[name][v]

    def _index(self, key: str, obj: dict) -> None:
        for name, fn in self._index_funcs.items():
            for v in self._values(fn, obj):
                self._indices[name].setdefault(v, set()).add(key)

    def add(self, obj: dict) -> Optional[dict]:
        """Insert or replace an object; return the previous version, if any."""
        key = self._key_func(obj)
        with self._lock:
            old = self._items.get(key)
            if old is not None:
                self._unindex(key, old)
            self._items[key] = obj
            self._index(key, obj)
            return old

    update = add

    def delete(self, obj_or_key: Any) -> Optional[dict]:
        """Remove an object (given it or its key); return what was stored."""
        key = obj_or_key if isinstance(obj_or_key, str) else self._key_func(obj_or_key)
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None:
                self._unindex(key, old)
            return old

    def replace(self, objs: Iterable[dict]) -> None:
        """Swap the whole content (after a list)."""
        with self._lock:
            self._items = {}
            for name in self._indices:
                self._indices[name] = {}
            for obj in objs:
                self.add(obj)

    def get(self, key: str) -> Optional[dict]:
        with self._lock:
            return self._items.get(key)

    def get_by_name(self, name: str, namespace: Optional[str] = None) -> Optional[dict]:
        return self.get(f"{namespace}/{name}" if namespace else name)

    def list(self) -> list[dict]:
        with self._lock:
            return list(self._items.values())

    def keys(self) -> list[str]:
        with self._lock:
            return list(self._items)

    def by_index(self, name: str, value: Any) -> list[dict]:
        """Objects whose index function ``name`` produced ``value``."""
        with self._lock:
            if name not in self._indices:
                raise KeyError(f"no index named {name!r}")
            return [self._items[k] for k in self._indices[name].get(value, ())]

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)

    def __contains__(self, key: str) -> bool:
        with self._lock:
            return key in self._items


class _Handler:
    def __init__(self, on_add, on_update, on_delete):
        self.on_add, self.on_update, self.on_delete = on_add, on_update, on_delete


class Informer:
    """List + watch one resource into a :class:`Store` and call handlers on changes.

    >>> pods = Informer(client, "pods", field_selector="spec.nodeName=node-1")
    >>> pods.add_handler(on_add=lambda p: queue.add(meta_key(p)))
    >>> pods.start(); pods.wait_for_sync(10)
    """

    # Back-off between failed list/watch attempts (seconds), as client-go's
    # reflector does, so a down apiserver is not hammered.
    MIN_BACKOFF = 0.2
    MAX_BACKOFF = 30.0

    def __init__(self, client, resource: str, namespace: Optional[str] = None,
                 label_selector: Optional[str] = None, field_selector: Optional[str] = None,
                 resync_period: Optional[float] = None, watch_timeout: Optional[int] = None):
        self.client = client
        self.resource = resource
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector
        self.resync_period = resync_period
        # The server ends each watch after this many seconds; a random value
        # (5-10 min, as client-go picks) spreads reconnects from many clients.
        self.watch_timeout = watch_timeout
        self.store = Store()

        self._handlers: list[_Handler] = []
        self._handlers_lock = threading.Lock()
        self._synced = threading.Event()
        self._stopped = threading.Event()
        self._lock = threading.Lock()   # guards _watch
        self._watch = None              # the open Watch, closed by stop()
        self._threads: list[threading.Thread] = []
        self.last_resource_version: Optional[str] = None
        self._relist_from: Optional[str] = None   # after 410: list not older than this

    def __repr__(self) -> str:
        return f"Informer({self.resource!r}, namespace={self.namespace!r})"

    # ------------------------------------------------------------ public API

    def add_handler(self, on_add: Optional[Callable[[dict], None]] = None,
                    on_update: Optional[Callable[[dict, dict], None]] = None,
                    on_delete: Optional[Callable[[dict], None]] = None) -> None:
        """Register callbacks. A handler added after sync first gets an add per cached object."""
        handler = _Handler(on_add, on_update, on_delete)
        with self._handlers_lock:
            self._handlers.append(handler)
            if self._synced.is_set() and on_add:
                for obj in self.store.list():
                    self._call(on_add, obj)

    def add_index(self, name: str, fn: IndexFunc) -> None:
        self.store.add_index(name, fn)

    def by_index(self, name: str, value: Any) -> list[dict]:
        return self.store.by_index(name, value)

    def get(self, key: str) -> Optional[dict]:
        return self.store.get(key)

    def list(self) -> list[dict]:
        return self.store.list()

    def start(self) -> "Informer":
        """Run the list/watch loop (and resync, if asked) in daemon threads."""
        if self._threads:
            return self
        self._threads.append(threading.Thread(target=self.run, daemon=True,
                                              name=f"informer-{self.resource}"))
        if self.resync_period:
            self._threads.append(threading.Thread(target=self._resync_loop, daemon=True,
                                                  name=f"informer-{self.resource}-resync"))
        for t in self._threads:
            t.start()
        return self

    def has_synced(self) -> bool:
        """True once the first list has been loaded into the cache."""
        return self._synced.is_set()

    def wait_for_sync(self, timeout: Optional[float] = None) -> bool:
        return self._synced.wait(timeout)

    def stop(self, timeout: float = 5.0) -> None:
        """Stop watching; closes the open stream so the thread ends at once."""
        self._stopped.set()
        with self._lock:
            watch, self._watch = self._watch, None
        if watch is not None:
            watch.close()
        for t in self._threads:
            if t is not threading.current_thread():
                t.join(timeout)

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    # ------------------------------------------------------------ the loop

    def run(self) -> None:
        """List, then watch and resume, until stopped. Blocks."""
        backoff = self.MIN_BACKOFF
        while not self._stopped.is_set():
            started = time.monotonic()
            events = 0
            try:
                if self.last_resource_version is None:
                    self._list()
                events = self._watch_once()
            except Expired:
                # Our resourceVersion was compacted: forget it and re-list now.
                log.info("%r: watch expired, re-listing", self)
                self._relist_from = self.last_resource_version
                self.last_resource_version = None
                continue
            except Exception as exc:
                if self._stopped.is_set():
                    break
                log.warning("%r: list/watch failed (%s); retrying in %.1fs", self, exc, backoff)
                self._stopped.wait(backoff)
                backoff = min(backoff * 2, self.MAX_BACKOFF)
                continue
            # The stream ended normally. Resume at once, unless it ended
            # suspiciously fast and empty: then wait, never spin.
            if events == 0 and time.monotonic() - started < 1.0:
                self._stopped.wait(backoff)
                backoff = min(backoff * 2, self.MAX_BACKOFF)
            else:
                backoff = self.MIN_BACKOFF

    def _list(self) -> None:
        """List and load the cache; on a re-list, report the difference."""
        result = self.client.list(self.resource, namespace=self.namespace,
                                  label_selector=self.label_selector,
                                  field_selector=self.field_selector,
                                  resource_version=self._relist_from or "0")
        items = result.get("items") or []
        kind = result.get("kind", "")
        if kind.endswith("List"):
            # List items usually lack kind/apiVersion; fill them in so cached
            # objects look like the ones a watch delivers.
            for item in items:
                item.setdefault("kind", kind[: -len("List")])
                if result.get("apiVersion"):
                    item.setdefault("apiVersion", result["apiVersion"])

        old = {key: self.store.get(key) for key in self.store.keys()}
        self.store.replace(items)
        new_keys = set()
        for obj in items:
            key = meta_key(obj)
            new_keys.add(key)
            before = old.get(key)
            if before is None:
                self._dispatch("add", obj)
            elif _resource_version(before) != _resource_version(obj):
                self._dispatch("update", before, obj)
        for key, before in old.items():
            if key not in new_keys:
                self._dispatch("delete", before)

        self.last_resource_version = (result.get("metadata") or {}).get("resourceVersion")
        self._synced.set()

    def _watch_once(self) -> int:
        """Watch from the last resourceVersion until the stream ends; return #events."""
        timeout = self.watch_timeout or random.randint(300, 600)
        watch = self.client.watch(self.resource, namespace=self.namespace,
                                  resource_version=self.last_resource_version,
                                  label_selector=self.label_selector,
                                  field_selector=self.field_selector,
                                  timeout_seconds=timeout, allow_bookmarks=True)
        with self._lock:
            if self._stopped.is_set():
                watch.close()
                return 0
            self._watch = watch
        count = 0
        try:
            for etype, obj in watch:
                if self._stopped.is_set():
                    break
                count += 1
                self._handle_event(etype, obj)
        finally:
            with self._lock:
                if self._watch is watch:
                    self._watch = None
            watch.close()
        return count

    def _handle_event(self, etype: str, obj: dict) -> None:
        rv = _resource_version(obj)
        if etype in ("ADDED", "MODIFIED"):
            old = self.store.add(obj)
            if old is None:
                self._dispatch("add", obj)
            else:
                self._dispatch("update", old, obj)
        elif etype == "DELETED":
            old = self.store.delete(obj)
            self._dispatch("delete", obj if obj.get("metadata") else old)
        elif etype != "BOOKMARK":  # a bookmark only moves our resourceVersion on
            log.warning("%r: unknown watch event type %r", self, etype)
        if rv:
            self.last_resource_version = rv

    # ------------------------------------------------------------ handlers

    def _dispatch(self, what: str, *objs: dict) -> None:
        with self._handlers_lock:
            handlers = list(self._handlers)
        for h in handlers:
            fn = {"add": h.on_add, "update": h.on_update, "delete": h.on_delete}[what]
            if fn is not None:
                self._call(fn, *objs)

    def _call(self, fn: Callable, *args) -> None:
        try:
            fn(*args)
        except Exception:  # one buggy handler must not kill the informer
            log.exception("%r: event handler %r failed", self, fn)

    def _resync_loop(self) -> None:
        """Every resync_period, replay each cached object as an update.

        That gives a level-triggered controller a periodic second look even
        when nothing changed (e.g. to retry something outside the cluster).
        """
        while not self._stopped.wait(self.resync_period):
            if self._synced.is_set():
                for obj in self.store.list():
                    self._dispatch("update", obj, obj)
