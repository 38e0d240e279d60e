"""Serving the kinds CustomResourceDefinitions declare: at once, on every apiserver, until deleted.

kube-apiserver runs apiextensions-apiserver inside itself; its parts, here in one module:

  serving      a CRD becomes one `Kind` per served version (api/kinds/customresource.py),
               registered in SCHEME: discovery, routes, storage and watch read SCHEME, so
               the kind is served like a built-in one. The apiserver that stores the CRD
               registers it in the same request (the Registry hook below); every apiserver
               on the same etcd -- this one included -- also follows the CRDs' watch cache,
               and registers at start every CRD already stored.
  naming       a CRD whose plural, kind or short names another CRD of its group already
               serves is not served: NamesAccepted=False, as kube's naming controller says.
  status       NamesAccepted and Established conditions, status.acceptedNames.
  cleanup      deleting a CRD first gives it the finalizer
               `customresourcecleanup.apiextensions.k8s.io`; this controller then deletes
               every object of the kind, waits until none is left (objects may have
               finalizers of their own), and removes the finalizer. The CRD goes, and with
               it the kind: no longer served, open watches on it end.
  scale        `/scale` of a custom kind reads and writes the paths its CRD names.

Every apiserver runs the controller; what it writes is idempotent (a status that is
already right is not written again, a delete of a deleted object is a 404).
"""
from __future__ import annotations

import copy
import logging
import queue
import threading
import time

from ..api import meta
from ..api.kinds import SCHEME
from ..api.kinds.apiextensions import CLEANUP_FINALIZER, CUSTOM_RESOURCE_DEFINITION as CRD
from ..api.kinds.customresource import CustomResourceKind, get_path, kinds_of, set_path, storage_version
from ..storage.store import RevisionCompacted, StorageError
from . import errors
from .registry import apply_patch
from .storagehook import StorageHook
from .subresources import PATCH_RETRIES, scale_replicas

log = logging.getLogger(__name__)

RETRY = 1.0     # seconds before a cleanup waiting for objects (or a conflicted write) looks again


class _QueueSink:
    """A watch on the CRDs' watch cache whose events go into the controller's queue."""
    trigger_value = None

    def __init__(self, q: queue.Queue):
        self.key_prefix = CRD.etcd_prefix()
        self.q = q
        self.ended = threading.Event()

    def push(self, event):
        if event is None:
            self.ended.set()
        self.q.put(event)

    def idle(self) -> bool:
        return True


class CustomResources(StorageHook):
    def __init__(self, server):
        self.server = server
        self.lock = threading.RLock()
        self.served: dict[str, list[CustomResourceKind]] = {}   # CRD name -> its kinds
        self.seen: dict[str, dict] = {}          # CRD name -> the spec it is served with
        self.conflicts: dict[str, tuple] = {}    # CRD name -> (reason, message) of its names
        self.terminating: set[str] = set()
        self.deleted: set[str] = set()           # uids of CRDs gone: a late event must not revive one
        self.queue: queue.Queue = queue.Queue()
        self.retry_at: dict[str, float] = {}
        self.thread = None

    @property
    def registry(self):
        return self.server.registry

    # ------------------------------------------------------------ the Registry hook on CRDs
    def after_write(self, rt, old, written):
        """This apiserver stored a CRD: serve it before answering, so the next request may use it."""
        self.sync(written)
        self.queue.put(("reconcile", written["metadata"]["name"]))

    def after_delete(self, rt, deleted):
        self.forget(deleted["metadata"]["name"], deleted["metadata"].get("uid"))

    def deletion_finalizers(self, rt, obj) -> list:
        """The first DELETE of a CRD only marks it: its objects are deleted first (cleanup)."""
        return [] if obj["metadata"].get("deletionTimestamp") else [CLEANUP_FINALIZER]

    # ------------------------------------------------------------ serving
    def sync(self, crd: dict) -> None:
        """Serve what `crd` declares now (and stop serving what it no longer does)."""
        name = crd["metadata"]["name"]
        with self.lock:
            if crd["metadata"].get("uid") in self.deleted:
                return
            if crd["metadata"].get("deletionTimestamp"):
                self.terminating.add(name)
            else:
                self.terminating.discard(name)
            if self.seen.get(name) == crd.get("spec") and name in self.served:
                return
            conflict = self._name_conflict(crd)
            kinds = [] if conflict else kinds_of(crd)
            self.conflicts[name] = conflict
            old = self.served.get(name, [])
            wanted = {(k.group, k.version, k.plural) for k in kinds}
            for k in old:
                if (k.group, k.version, k.plural) not in wanted:
                    SCHEME.unregister(k.group, k.version, k.plural)
            for k in kinds:
                SCHEME.register(k)
                self.registry.hooks[(k.group, k.plural)] = _InstanceHook(self, name)
            if old and (not kinds or old[0].etcd_prefix() != kinds[0].etcd_prefix()):
                self._stop_serving(old[0])
            self.served[name] = kinds
            self.seen[name] = copy.deepcopy(crd.get("spec"))
        if kinds:
            log.info("serving %s (%s)", name, ", ".join(k.api_version for k in kinds))

    def forget(self, name: str, uid: str | None = None) -> None:
        """The CRD is gone: its kind is no longer served."""
        with self.lock:
            if uid:
                self.deleted.add(uid)
            kinds = self.served.pop(name, [])
            self.seen.pop(name, None)
            self.conflicts.pop(name, None)
            self.terminating.discard(name)
            for k in kinds:
                SCHEME.unregister(k.group, k.version, k.plural)
            if kinds:
                self._stop_serving(kinds[0])
            for other, conflict in self.conflicts.items():
                if conflict:            # a name it held may be free now
                    self.seen.pop(other, None)
                    self.queue.put(("reconcile", other))
        if kinds:
            log.info("no longer serving %s", name)

    def _stop_serving(self, kind: CustomResourceKind) -> None:
        self.registry.hooks.pop((kind.group, kind.plural), None)
        self.server.drop_cache(kind)

    def _name_conflict(self, crd: dict):
        """(reason, message) when another CRD of the group already serves one of its names."""
        spec = crd["spec"]
        names = spec["names"]
        mine = crd["metadata"]["name"]
        for other, kinds in self.served.items():
            if other == mine or not kinds or kinds[0].group != spec["group"]:
                continue
            k = kinds[0]
            if names["plural"] == k.plural:
                return "PluralConflict", f'"{names["plural"]}" is already in use'
            if names["kind"] == k.kind:
                return "KindConflict", f'"{names["kind"]}" is already in use'
            taken = set(k.short_names) | {k.plural, k.singular}
            for short in names.get("shortNames") or []:
                if short in taken:
                    return "ShortNamesConflict", f'"{short}" is already in use'
        return None

    # ------------------------------------------------------------ following every CRD
    def start(self):
        """Serve every stored CRD now; then follow CRD changes in the background."""
        rev = self.resync()
        self.thread = threading.Thread(target=self.run, args=(rev,), daemon=True, name="crd-controller")
        self.thread.start()

    def resync(self) -> int:
        self._drop_stale_events()
        lst = self.registry.list(CRD)
        stored = {c["metadata"]["name"] for c in lst["items"]}
        with self.lock:
            gone = [n for n in self.served if n not in stored]
        for name in gone:
            self.forget(name)
        # Accepted CRDs first: they keep their names against newer ones.
        for crd in sorted(lst["items"], key=lambda c: (not _accepted(c), c["metadata"].get("creationTimestamp", ""))):
            self.sync(crd)
            self.queue.put(("reconcile", crd["metadata"]["name"]))
        return int(lst["metadata"]["resourceVersion"])

    def _drop_stale_events(self):
        """Watch events still queued from before a (re)list are older than it: drop them."""
        keep = []
        while True:
            try:
                item = self.queue.get_nowait()
            except queue.Empty:
                break
            if isinstance(item, tuple):
                keep.append(item)
        for item in keep:
            self.queue.put(item)

    def run(self, rev: int):
        stopping = self.server.stopping
        while not stopping.is_set():
            sink = _QueueSink(self.queue)
            try:
                self.server.cache_for(CRD).watch(rev, sink)
            except (RevisionCompacted, StorageError, errors.APIError) as err:
                log.info("CRD watch from %s: %s; listing again", rev, err)
                stopping.wait(RETRY)
                rev = self._try_resync(rev)
                continue
            while not stopping.is_set() and not sink.ended.is_set():
                self._step()
            self.server.cache_for(CRD).remove(sink)
            if not stopping.is_set():
                stopping.wait(RETRY)
                rev = self._try_resync(rev)

    def _try_resync(self, rev: int) -> int:
        try:
            return self.resync()
        except (StorageError, errors.APIError) as err:
            log.info("CRD list failed: %s", err)
            return rev

    def _step(self):
        try:
            item = self.queue.get(timeout=0.5)
        except queue.Empty:
            item = None
        now = time.monotonic()
        due = [n for n, t in list(self.retry_at.items()) if t <= now]
        for name in due:
            self.retry_at.pop(name, None)
            self._reconcile_name(name)
        if item is None:
            return
        try:
            if isinstance(item, tuple):
                self._reconcile_name(item[1])
            elif item.type == "DELETED":
                self.forget(item.object["metadata"]["name"], item.object["metadata"].get("uid"))
            else:
                self.sync(item.object)
                self.reconcile(copy.deepcopy(item.object))
        except Exception:       # noqa: BLE001 - one bad CRD must not stop the controller
            log.exception("CRD controller")

    def _reconcile_name(self, name: str):
        try:
            crd = self.registry.get(CRD, None, name)
        except errors.APIError as err:
            if err.code == 404:
                self.forget(name)
                return
            raise
        except StorageError:
            self.retry_at[name] = time.monotonic() + RETRY
            return
        self.sync(crd)
        self.reconcile(crd)

    def reconcile(self, crd: dict):
        try:
            if crd["metadata"].get("deletionTimestamp"):
                self.cleanup(crd)
            else:
                self.write_status(crd)
        except (errors.APIError, StorageError) as err:
            if getattr(err, "code", None) != 404:
                log.info("CRD %s: %s; trying again", crd["metadata"]["name"], err)
                self.retry_at[crd["metadata"]["name"]] = time.monotonic() + RETRY

    # ------------------------------------------------------------ status
    def write_status(self, crd: dict):
        name = crd["metadata"]["name"]
        with self.lock:
            conflict = self.conflicts.get(name)
        if conflict:
            conds = [("NamesAccepted", "False", conflict[0], conflict[1]),
                     ("Established", "False", "NotAccepted", "not all names are accepted")]
        else:
            conds = [("NamesAccepted", "True", "NoConflicts", "no conflicts found"),
                     ("Established", "True", "InitialNamesAccepted", "the initial names have been accepted")]
        status = copy.deepcopy(crd.get("status") or {})
        before = {c.get("type"): c for c in status.get("conditions") or []}
        changed = False
        for type_, value, reason, message in conds:
            old = before.get(type_) or {}
            if (old.get("status"), old.get("reason"), old.get("message")) != (value, reason, message):
                changed = True
                before[type_] = {"type": type_, "status": value, "reason": reason, "message": message,
                                 "lastTransitionTime": old.get("lastTransitionTime") if old.get("status") == value
                                 else meta.now_rfc3339()}
        accepted = status.get("acceptedNames") or {}
        if not conflict:
            names = crd["spec"]["names"]
            accepted = {k: v for k, v in names.items() if v}
        if not changed and accepted == (status.get("acceptedNames") or {}):
            return
        status["conditions"] = list(before.values())
        status["acceptedNames"] = accepted
        new = {**crd, "status": status}
        self.registry.update(CRD, None, name, new, subresource="status")

    def _set_condition(self, crd: dict, type_: str, value: str, reason: str, message: str):
        status = copy.deepcopy(crd.get("status") or {})
        conds = [c for c in status.get("conditions") or [] if c.get("type") != type_]
        old = next((c for c in status.get("conditions") or [] if c.get("type") == type_), {})
        if (old.get("status"), old.get("reason"), old.get("message")) == (value, reason, message):
            return
        conds.append({"type": type_, "status": value, "reason": reason, "message": message,
                      "lastTransitionTime": meta.now_rfc3339()})
        status["conditions"] = conds
        written = self.registry.update(CRD, None, crd["metadata"]["name"], {**crd, "status": status},
                                       subresource="status")
        crd["metadata"]["resourceVersion"] = written["metadata"]["resourceVersion"]
        crd["status"] = written["status"]

    # ------------------------------------------------------------ cleanup
    def cleanup(self, crd: dict):
        """Delete every object of a CRD being deleted; then let the CRD go."""
        name = crd["metadata"]["name"]
        if CLEANUP_FINALIZER not in (crd["metadata"].get("finalizers") or []):
            return
        self._set_condition(crd, "Terminating", "True", "InstanceDeletionInProgress",
                            "CustomResource deletion is in progress")
        storage = self._storage_kind(crd)
        left = self.registry.list(storage)["items"]
        for obj in left:
            md = obj["metadata"]
            if md.get("deletionTimestamp"):
                continue
            try:
                self.registry.delete(storage, md.get("namespace"), md["name"], {})
            except errors.APIError as err:
                if err.code != 404:
                    raise
        if self.registry.list(storage)["items"]:
            self.retry_at[name] = time.monotonic() + RETRY    # objects with finalizers: wait for them
            return
        new = copy.deepcopy(crd)
        new["metadata"]["finalizers"] = [f for f in crd["metadata"]["finalizers"] if f != CLEANUP_FINALIZER]
        self.registry.update(CRD, None, name, new)       # the last finalizer gone: the CRD is deleted
        log.info("deleted every object of %s", name)

    def _storage_kind(self, crd: dict) -> CustomResourceKind:
        """Where the CRD's objects are stored, whether or not its kind is served."""
        with self.lock:
            served = self.served.get(crd["metadata"]["name"])
        if served:
            return served[0]
        spec, names = crd["spec"], crd["spec"]["names"]
        return CustomResourceKind(group=spec["group"], version=storage_version(crd) or "v1", kind=names["kind"],
                                  plural=names["plural"], namespaced=spec.get("scope") == "Namespaced",
                                  crd=crd["metadata"]["name"])

    # ------------------------------------------------------------ /scale
    def scale(self, rt: CustomResourceKind, namespace, name, method, body=None, patch_type=None):
        if method == "GET":
            return scale_of(rt, self.registry.get(rt, namespace, name))
        if method == "PUT":
            return self.update_scale(rt, namespace, name, body)
        if method == "PATCH":
            for attempt in range(PATCH_RETRIES):
                obj = self.registry.get(rt, namespace, name)
                new = apply_patch(scale_of(rt, obj), body, patch_type)
                try:
                    return self.update_scale(rt, namespace, name, new, base=obj)
                except errors.APIError as err:
                    if err.reason != "Conflict" or (body.get("metadata") or {}).get("resourceVersion"):
                        raise
            raise errors.conflict(rt, name)
        raise errors.method_not_allowed()

    def update_scale(self, rt, namespace, name, scale, base=None):
        replicas = scale_replicas(rt, name, scale)
        obj = base or self.registry.get(rt, namespace, name)
        rv = (scale.get("metadata") or {}).get("resourceVersion")
        new = copy.deepcopy(obj)
        set_path(new, rt.scale_paths[0], replicas)
        written = self.registry.write(rt, obj, new, int(rv or obj["metadata"]["resourceVersion"]), None)
        return scale_of(rt, written)


class _InstanceHook(StorageHook):
    """The Registry hook on a custom kind: no new objects while its CRD is being deleted."""

    def __init__(self, owner: CustomResources, crd_name: str):
        self.owner, self.crd_name = owner, crd_name

    def take(self, rt, obj, old=None):
        if old is None and self.crd_name in self.owner.terminating:
            raise errors.method_not_allowed("create not allowed while custom resource definition is terminating")
        return ()


def _accepted(crd: dict) -> bool:
    return any(c.get("type") == "NamesAccepted" and c.get("status") == "True"
               for c in (crd.get("status") or {}).get("conditions") or [])


def scale_of(rt: CustomResourceKind, obj: dict) -> dict:
    """autoscaling/v1 Scale of a custom object, from the paths its CRD names."""
    spec_path, status_path, selector_path = rt.scale_paths
    md = obj["metadata"]
    status = {"replicas": get_path(obj, status_path) or 0}
    selector = get_path(obj, selector_path) if selector_path else None
    if selector:
        status["selector"] = selector
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: md[k] for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
                         if k in md},
            "spec": {"replicas": get_path(obj, spec_path) or 0}, "status": status}
