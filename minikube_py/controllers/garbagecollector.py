"""Garbage collector: deletes objects whose owners are gone, following ownerReferences.

An object names its owners in ``metadata.ownerReferences`` (a Pod names its
ReplicaSet, a ReplicaSet its Deployment, a node Lease its Node)::

    ownerReferences:
    - {apiVersion: apps/v1, kind: ReplicaSet, name: web-5d4f, uid: 3f2c..., controller: true,
       blockOwnerDeletion: true}

The apiserver never cascades a delete. It only records *how* the client wants the
dependents treated (``propagationPolicy``) and leaves the work to this controller:

* **Background** (the default): the owner goes at once; the collector then finds
  dependents whose owner is gone and deletes them (and their dependents, in turn).
* **Foreground**: the owner stays, with a ``deletionTimestamp`` and the finalizer
  ``foregroundDeletion``, while the collector deletes its dependents; once no
  dependent with ``blockOwnerDeletion: true`` is left, it removes the finalizer and
  the apiserver deletes the owner. The owner goes last.
* **Orphan**: the owner stays with the finalizer ``orphan`` until the collector has
  removed the ownerReference to it from every dependent; then the finalizer goes,
  and so does the owner. The dependents live on, ownerless.

The ownership graph: Kubernetes' GraphBuilder keeps its own uid → node graph. Here
every informer cache gets an index "owner uid → objects", so walking from an owner to
its dependents is a lookup in each cache, and walking up is reading ownerReferences.

Absence is proven, never assumed: an informer may lag behind the apiserver, so before
deleting a dependent because its owner "is not in the cache" the collector GETs the
owner from the apiserver and compares the uid (a new object with the old name is not
the owner). Deletes carry a uid precondition, so they never hit a newer namesake.

Which resources? Whatever discovery lists with list, watch and delete verbs (events
excepted: they are many, short-lived and never own anything). Discovery is read again
every ``gc_discovery_period`` seconds, so a resource served later is picked up.
"""
from __future__ import annotations

import logging
import threading
from collections import OrderedDict
from typing import Iterable, Optional

from ..api.kinds import Kind
from ..client import errors
from ..client.informer import meta_key
from .base import Controller

log = logging.getLogger(__name__)

ORPHAN = "orphan"
FOREGROUND = "foregroundDeletion"

# Resources the collector does not watch: many, short-lived, never owners.
IGNORED_RESOURCES = {"events"}

OWNER_INDEX = "gc:owner-uid"   # the index every cache gets: owner uid -> dependents

COMPONENT = "garbage-collector-controller"

ABSENT_CACHE_SIZE = 1000   # owner uids proven gone (Kubernetes' absentOwnerCache)


# ------------------------------------------------------------------ discovery

def discover_resources(client, need_verbs: Iterable[str] = ("list", "watch", "delete")) -> list[Kind]:
    """The served resources that support all of ``need_verbs`` (the client's RESTMapper
    reads discovery and learns them, so ``client.list(plural)`` works for each)."""
    need = set(need_verbs)
    return [kind for kind in client.mapper.discover() if need <= set(kind.verbs)]


# ------------------------------------------------------------------ helpers

def owner_refs(obj: dict) -> list[dict]:
    return (obj.get("metadata") or {}).get("ownerReferences") or []


def owner_uids(obj: dict) -> list[str]:
    """Index function: the uids of an object's owners."""
    return [ref["uid"] for ref in owner_refs(obj) if ref.get("uid")]


def finalizers(obj: dict) -> list[str]:
    return (obj.get("metadata") or {}).get("finalizers") or []


def being_deleted(obj: dict) -> bool:
    return bool((obj.get("metadata") or {}).get("deletionTimestamp"))


def deleting_dependents(obj: dict) -> bool:
    """Foreground deletion in progress: the owner waits for its dependents."""
    return being_deleted(obj) and FOREGROUND in finalizers(obj)


def orphaning(obj: dict) -> bool:
    return being_deleted(obj) and ORPHAN in finalizers(obj)


def group_of(api_version: str) -> str:
    """"apps/v1" -> "apps", "v1" -> "" (the core group)."""
    return api_version.rpartition("/")[0] if "/" in (api_version or "") else ""


def choose_policy(obj: dict, owners_waiting: bool, has_dependents: bool) -> str:
    """How to delete an object whose owners are all gone or going.

    An owner being deleted in the foreground waits for this object, so if this object
    has dependents of its own they must go first: Foreground. Otherwise the object's
    own finalizers say what its deleter asked for; Background by default.
    """
    if owners_waiting and has_dependents:
        return "Foreground"
    if ORPHAN in finalizers(obj):
        return "Orphan"
    if FOREGROUND in finalizers(obj):
        return "Foreground"
    return "Background"


class Unresolvable(Exception):
    """An ownerReference that cannot be looked up (unknown kind, invalid namespace)."""

    def __init__(self, message: str, reason: str = "OwnerRefUnresolvable"):
        super().__init__(message)
        self.reason = reason


# ------------------------------------------------------------------ the controller

class GarbageCollector(Controller):
    """Keeps the ownership graph and deletes (or orphans) dependents as their owners go.

    Queue keys are ``(resource plural, namespace or "", name)``: one key per object,
    whatever its kind. ``sync`` looks at the object's current state and does one of:
    orphan its dependents, finish a foreground deletion, or check its owners and
    delete it if they are all gone.
    """

    name = "garbagecollector"
    workers = 4

    def __init__(self, client, informers):
        super().__init__(client, informers)
        self.resources: dict[str, Kind] = {}        # plural -> info
        self._by_kind: dict[tuple[str, str], Kind] = {}  # (group, kind) -> info
        self._lock = threading.Lock()
        self._warned: set = set()      # (dependent uid, owner uid) already reported
        self._unresolved: set = set()  # keys of objects with unresolvable owners
        self.ready = threading.Event()  # caches of every discovered resource synced
        # uids are never reused, so an owner proven gone stays gone: remembering that
        # saves one GET per dependent when an owner with many dependents is deleted.
        self._absent: OrderedDict = OrderedDict()

    # ----------------------------------------------------------- wiring up

    def run(self, stop: threading.Event):
        """Discover resources, start their informers, wait for them, then work."""
        threading.Thread(target=self._run, args=(stop,), daemon=True, name="gc-main").start()

    def _run(self, stop: threading.Event):
        backoff = 0.5
        while not stop.is_set():   # the apiserver may not answer yet
            try:
                self.sync_resources()
                break
            except Exception as exc:
                log.warning("garbage collector: discovery failed (%s); retrying", exc)
                stop.wait(backoff)
                backoff = min(backoff * 2, 10)
        while not stop.is_set() and not self._all_synced(timeout=1.0):
            pass
        if stop.is_set():
            return
        log.info("garbage collector: watching %s", ", ".join(sorted(self.resources)))
        super().run(stop)
        self.ready.set()
        period = float(getattr(self.config, "gc_discovery_period", 30) or 30)
        while not stop.wait(period):
            try:
                self.sync_resources()
            except Exception as exc:
                log.warning("garbage collector: discovery failed (%s)", exc)

    def _all_synced(self, timeout: float) -> bool:
        return all(self.informers.get(p).wait_for_sync(timeout) for p in list(self.resources))

    def sync_resources(self) -> list[str]:
        """Read discovery; watch any resource not watched yet. Returns the new ones."""
        new = []
        for info in discover_resources(self.client):
            if info.plural in IGNORED_RESOURCES:
                continue
            with self._lock:
                self._by_kind[(info.group, info.kind)] = info
                if info.plural in self.resources:
                    continue
                self.resources[info.plural] = info
            new.append(info.plural)
            self._watch(info)
        if new:
            self.informers.start()
            with self._lock:
                retry, self._unresolved = self._unresolved, set()
            for key in retry:    # an owner kind may have become known
                self.queue.add(key)
        return new

    def _watch(self, info: Kind):
        inf = self.informers.get(info.plural)
        inf.add_index(OWNER_INDEX, owner_uids)
        plural = info.plural
        inf.add_handler(on_add=lambda obj: self._on_add(plural, obj),
                        on_update=lambda old, new: self._on_update(plural, old, new),
                        on_delete=lambda obj: self._on_delete(plural, obj))

    # ----------------------------------------------------------- events

    @staticmethod
    def key_of(plural: str, obj: dict) -> tuple:
        md = obj.get("metadata") or {}
        return (plural, md.get("namespace") or "", md.get("name"))

    def _on_add(self, plural, obj):
        if owner_refs(obj) or orphaning(obj) or deleting_dependents(obj):
            self.queue.add(self.key_of(plural, obj))

    def _on_update(self, plural, old, new):
        o, n = old.get("metadata") or {}, new.get("metadata") or {}
        changed = any(o.get(f) != n.get(f) for f in
                      ("uid", "ownerReferences", "deletionTimestamp", "finalizers"))
        if changed:
            self._on_add(plural, new)
        if o.get("ownerReferences") != n.get("ownerReferences"):
            # An owner this object no longer names may be waiting for it (foreground).
            self._enqueue_owners(old, only_uids=set(owner_uids(old)) - set(owner_uids(new)))
        if deleting_dependents(new) and not deleting_dependents(old):
            # A foreground deletion began: every dependent must go.
            self._enqueue_dependents(n.get("uid"))

    def _on_delete(self, plural, obj):
        md = obj.get("metadata") or {}
        # Its dependents may now be garbage ...
        self._enqueue_dependents(md.get("uid"))
        # ... and an owner waiting for it (foreground) may now be free to go.
        self._enqueue_owners(obj)

    def _enqueue_owners(self, obj, only_uids: Optional[set] = None):
        ns = (obj.get("metadata") or {}).get("namespace") or ""
        for ref in owner_refs(obj):
            info = self._resource_for(ref)
            if info is None or (only_uids is not None and ref.get("uid") not in only_uids):
                continue
            self.queue.add((info.plural, ns if info.namespaced else "", ref.get("name")))

    def _enqueue_dependents(self, uid):
        for plural, dep in self.dependents(uid):
            self.queue.add(self.key_of(plural, dep))

    # ----------------------------------------------------------- graph queries

    def dependents(self, uid: Optional[str]) -> list[tuple[str, dict]]:
        """Every cached object that names ``uid`` as an owner, with its resource."""
        if not uid:
            return []
        out = []
        for plural in list(self.resources):
            for obj in self.informers.get(plural).by_index(OWNER_INDEX, uid):
                out.append((plural, obj))
        return out

    def _resource_for(self, ref: dict) -> Optional[Kind]:
        with self._lock:
            return self._by_kind.get((group_of(ref.get("apiVersion", "")), ref.get("kind")))

    def _cached(self, plural: str, namespace: str, name: str) -> Optional[dict]:
        key = f"{namespace}/{name}" if namespace else name
        return self.informers.get(plural).get(key)

    def find_owner(self, dependent: dict, ref: dict) -> Optional[dict]:
        """The live owner an ownerReference points to, or None if it is gone.

        The cache answers "present" when it holds an object with the right uid; any
        other answer is checked with a GET, because the cache may lag.
        """
        info = self._resource_for(ref)
        if info is None:
            raise Unresolvable(f"unknown owner kind {ref.get('kind')!r} "
                               f"(apiVersion {ref.get('apiVersion')!r})")
        dep_ns = (dependent.get("metadata") or {}).get("namespace")
        if info.namespaced and not dep_ns:
            raise Unresolvable(f"a cluster-scoped object cannot have a namespaced owner "
                               f"({ref.get('kind')} {ref.get('name')!r})", "OwnerRefInvalidNamespace")
        ns = dep_ns if info.namespaced else None
        cached = self._cached(info.plural, ns or "", ref.get("name"))
        if cached is not None and cached["metadata"].get("uid") == ref.get("uid"):
            return cached
        absent_key = (ref.get("uid"), ns)   # the same uid looked for in one namespace
        with self._lock:
            if absent_key in self._absent:
                return None
        try:
            live = self.client.get(info, ref.get("name"), namespace=ns)
        except errors.NotFound:
            live = None
        if live is not None and live["metadata"].get("uid") == ref.get("uid"):
            return live
        with self._lock:   # gone, or a new object with the owner's name: not our owner
            self._absent[absent_key] = True
            while len(self._absent) > ABSENT_CACHE_SIZE:
                self._absent.popitem(last=False)
        return None

    # ----------------------------------------------------------- sync

    def sync(self, key: tuple) -> None:
        plural, namespace, name = key
        obj = self._cached(plural, namespace, name)
        if obj is None:
            return  # gone; its deletion event enqueued whatever depended on it
        info = self.resources[plural]
        if orphaning(obj):
            self.orphan_dependents(info, obj)
        elif deleting_dependents(obj):
            self.process_deleting_dependents(info, obj)
        elif being_deleted(obj):
            return  # on its way out already
        elif owner_refs(obj):
            self.attempt_to_delete(info, obj)

    def orphan_dependents(self, info: Kind, owner: dict):
        """Orphan policy: cut every dependent's reference to the owner, then let it go."""
        uid = owner["metadata"]["uid"]
        for plural, dep in self.dependents(uid):
            self._remove_owner_refs(self.resources[plural], dep, {uid})
        self._remove_finalizer(info, owner, ORPHAN)
        log.info("orphaned the dependents of %s %s", info.kind, meta_key(owner))

    def process_deleting_dependents(self, info: Kind, owner: dict):
        """Foreground policy: delete the dependents; when none blocks, let the owner go."""
        uid = owner["metadata"]["uid"]
        blocking = []
        for plural, dep in self.dependents(uid):
            if not being_deleted(dep):
                self.queue.add(self.key_of(plural, dep))   # delete it (see attempt_to_delete)
            if any(r.get("uid") == uid and r.get("blockOwnerDeletion") for r in owner_refs(dep)):
                blocking.append(dep)
        if blocking:
            log.debug("%s %s waits for %d dependents", info.kind, meta_key(owner), len(blocking))
            return   # their deletion events bring this owner back to the queue
        self._remove_finalizer(info, owner, FOREGROUND)
        log.info("foreground deletion of %s %s: dependents gone, removing finalizer",
                 info.kind, meta_key(owner))

    def attempt_to_delete(self, info: Kind, obj: dict):
        """Check every owner; delete the object if none is left, else tidy its references."""
        solid, dangling, waiting = [], [], []
        for ref in owner_refs(obj):
            try:
                owner = self.find_owner(obj, ref)
            except Unresolvable as why:
                self._report_unresolvable(info, obj, ref, why)
                return   # never delete on a reference we cannot check
            if owner is None:
                dangling.append(ref)
            elif deleting_dependents(owner):
                waiting.append(ref)
            else:
                solid.append(ref)

        if solid:
            # Still owned. Drop references to owners that are gone, and to owners
            # waiting for us in the foreground (we are not going anywhere).
            gone = {r["uid"] for r in dangling + waiting}
            if gone:
                self._remove_owner_refs(info, obj, gone)
            return

        has_dependents = bool(self.dependents(obj["metadata"]["uid"]))
        policy = choose_policy(obj, bool(waiting), has_dependents)
        self._delete(info, obj, policy,
                     "owner is gone" if not waiting else "owner is being deleted in the foreground")

    # ----------------------------------------------------------- writes

    def _delete(self, info: Kind, obj: dict, policy: str, why: str):
        md = obj["metadata"]
        log.info("deleting %s %s (%s; propagationPolicy=%s)", info.kind, meta_key(obj), why, policy)
        try:
            self.client.delete(info, md["name"], namespace=md.get("namespace"),
                               propagation_policy=policy, preconditions={"uid": md["uid"]})
        except errors.NotFound:
            pass
        except errors.Conflict:
            pass   # uid precondition failed: a new object with this name, not our garbage

    def _read_modify_write(self, info: Kind, obj: dict, change) -> None:
        """GET, change, PUT with the resourceVersion read; retry on Conflict.

        ``change(obj)`` edits the object in place and returns False when there is
        nothing to do. The uid is checked so a newer namesake is never touched.
        """
        md = obj["metadata"]
        for _ in range(5):
            try:
                live = self.client.get(info, md["name"], namespace=md.get("namespace"))
            except errors.NotFound:
                return
            if live["metadata"].get("uid") != md.get("uid"):
                return
            if change(live) is False:
                return
            try:
                self.client.update(info, live)
                return
            except errors.NotFound:
                return
            except errors.Conflict:
                continue
        raise errors.Conflict({"reason": "Conflict", "code": 409,
                               "message": f"could not update {info.kind} {meta_key(obj)}"})

    def _remove_owner_refs(self, info: Kind, obj: dict, uids: set):
        def change(live):
            refs = owner_refs(live)
            kept = [r for r in refs if r.get("uid") not in uids]
            if len(kept) == len(refs):
                return False
            if kept:
                live["metadata"]["ownerReferences"] = kept
            else:
                live["metadata"].pop("ownerReferences", None)
        self._read_modify_write(info, obj, change)

    def _remove_finalizer(self, info: Kind, obj: dict, name: str):
        def change(live):
            fins = finalizers(live)
            if name not in fins:
                return False
            kept = [f for f in fins if f != name]
            if kept:
                live["metadata"]["finalizers"] = kept
            else:
                live["metadata"].pop("finalizers", None)
        self._read_modify_write(info, obj, change)

    def _report_unresolvable(self, info, obj, ref, why):
        md = obj["metadata"]
        key = (md.get("uid"), ref.get("uid"))
        with self._lock:
            self._unresolved.add(self.key_of(info.plural, obj))
            if key in self._warned:
                return
            self._warned.add(key)
        log.warning("%s %s: ownerReference to %s %r ignored: %s", info.kind, meta_key(obj),
                    ref.get("kind"), ref.get("name"), why)
        try:   # a Warning event, so `kubectl describe` / `get events` shows it too
            self.client.create_event(dict(obj, kind=info.kind, apiVersion=info.api_version),
                                     why.reason, f"ownerRef {ref.get('kind')}/{ref.get('name')} "
                                     f"(uid {ref.get('uid')}) cannot be resolved: {why}",
                                     type="Warning", component=COMPONENT)
        except Exception as exc:   # events are best effort
            log.debug("could not record event: %s", exc)


__all__ = ["GarbageCollector", "discover_resources", "choose_policy", "owner_uids",
           "ORPHAN", "FOREGROUND"]
