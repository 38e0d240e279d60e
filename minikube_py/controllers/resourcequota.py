"""The resource quota controller: what each ResourceQuota's namespace really uses.

Admission (apiserver/resourcequota.py) adds to a quota's `status.used` as objects are
created, but nothing there takes anything off: a pod that finishes or is deleted, a
Service deleted, a charge whose object was never stored. This controller
(kube-controller-manager's "resourcequota", pkg/controller/resourcequota) recounts a
quota in full from the informers' caches and writes `status.hard` (the spec's) and
`status.used`:

- when a quota appears or its spec changes (until then admission ignores it: a quota
  limits nothing before its status.hard is written);
- when an object it counts is deleted, or changes what it uses (a pod reaching
  Succeeded/Failed stops using cpu and memory) -- "replenishment";
- for every quota every `resource_quota_sync_period` (5 minutes), as a safety net.

A create is *not* a reason to recount: admission has charged it already.

A recount that would give something back waits until the quota has gone uncharged for
CHARGE_SETTLE seconds, then counts again from the apiserver rather than the caches. And
every decision is taken on a copy of the quota that is etcd's (one GET a sync): charges
are no reason to sync, so a decision taken on an older copy would not be taken again.
Admission charges a quota *before* it stores the object, so for a moment a charged pod is
in no cache (and a loaded informer may lag further); a recount in that moment would undo
its charge and let one pod too many in. Upstream lives with that window; here a busy
quota's used stays high (stricter, never looser) until its creates pause.

    watches  resourcequotas; pods, services, configmaps, secrets, replicationcontrollers,
             resourcequotas, persistentvolumeclaims; and each kind a quota counts as
             count/<resource>.<group>
    reads    the quota (GET, is the cache current?); the counted kinds of a namespace (LIST),
             before a recount gives anything back
    writes   resourcequotas/status
"""
from __future__ import annotations

import threading
import time
from fractions import Fraction

from ..client.informer import index_by_namespace, meta_key, split_key
from ..quota import resources
from ..quota.evaluators import PodEvaluator, evaluator_for, resource_of, usage_of_all
from .base import Controller

NAMESPACE_INDEX = "namespace"
# watched from the start; other kinds when a quota first names them
CORE_COUNTED = (("", "pods"), ("", "services"), ("", "configmaps"), ("", "secrets"),
                ("", "replicationcontrollers"), ("", "resourcequotas"), ("", "persistentvolumeclaims"))
SYNC_WAIT = 10.0                  # seconds to wait for a new kind's informer to list
CHARGE_SETTLE = 2.0               # seconds a quota goes uncharged before a recount lowers its used
CACHE_CATCH_UP = 0.5              # seconds to give a quota cache that is behind etcd


def went_up(before: dict | None, after: dict | None) -> bool:
    """Does any amount of `after` exceed the same amount in `before` (missing counts as 0)?"""
    b, a = resources.parse(before), resources.parse(after)
    return any(v > b.get(k, 0) for k, v in a.items())


def informer_name(group: str, plural: str) -> str:
    return f"{plural}.{group}" if group else plural


class ResourceQuotaController(Controller):
    name = "resourcequota"
    workers = 2
    quiet_retries = True

    def __init__(self, client, informers):
        super().__init__(client, informers)
        self.quotas = informers.get("resourcequotas")
        self.quotas.add_index(NAMESPACE_INDEX, index_by_namespace)
        self.quotas.add_handler(on_add=self.enqueue, on_update=self._quota_updated, on_delete=self._quota_deleted)
        self._watched: dict[tuple[str, str], object] = {}
        self._lock = threading.Lock()
        self._charged_at: dict[str, float] = {}      # quota key -> when its used last went up
        for group, plural in CORE_COUNTED:
            self._watch(group, plural)

    # ------------------------------------------------------------ events
    def _quota_updated(self, old: dict, new: dict):
        """A spec change, or a status that doesn't cover the spec, needs a recount;
        admission's own charges (status.used) do not, but they are noted (CHARGE_SETTLE)."""
        if went_up((old.get("status") or {}).get("used"), (new.get("status") or {}).get("used")):
            with self._lock:
                self._charged_at[meta_key(new)] = time.monotonic()
        spec_hard = (new.get("spec") or {}).get("hard") or {}
        if (old.get("spec") or {}) != (new.get("spec") or {}) \
                or ((new.get("status") or {}).get("hard") or {}) != spec_hard \
                or set(spec_hard) - set((new.get("status") or {}).get("used") or {}):
            self.enqueue(new)

    def _quota_deleted(self, quota: dict):
        with self._lock:
            self._charged_at.pop(meta_key(quota), None)

    def _watch(self, group: str, plural: str):
        """Follow one counted kind: its deletes and usage changes replenish its namespace's quotas."""
        with self._lock:
            if (group, plural) in self._watched:
                return self._watched[(group, plural)]
            inf = self.informers.get(informer_name(group, plural))
            self._watched[(group, plural)] = inf
        inf.add_index(NAMESPACE_INDEX, index_by_namespace)
        evaluator = evaluator_for(group, plural)

        def updated(old, new):
            if evaluator.usage(old) != evaluator.usage(new):
                self._replenish(new)
        inf.add_handler(on_update=updated, on_delete=self._replenish)
        return inf

    def _replenish(self, obj: dict):
        namespace = (obj.get("metadata") or {}).get("namespace")
        if namespace:
            for quota in self.quotas.by_index(NAMESPACE_INDEX, namespace):
                self.enqueue(quota)

    def run(self, stop: threading.Event):
        threading.Thread(target=self._resync, args=(stop,), daemon=True, name="resourcequota-resync").start()
        return super().run(stop)

    def _resync(self, stop: threading.Event):
        period = float(getattr(self.config, "resource_quota_sync_period", 300.0) or 300.0)
        while not stop.wait(period):
            for quota in self.quotas.list():
                self.enqueue(quota)

    # ------------------------------------------------------------ sync
    def _objects(self, group: str, plural: str, namespace: str, live: bool = False) -> list[dict] | None:
        """The namespace's objects of a counted kind, from an informer (started when new),
        or with `live` from the apiserver (etcd); None for a kind the server does not serve."""
        if live:
            try:
                return self.client.list(informer_name(group, plural), namespace=namespace)["items"]
            except KeyError:
                return None
        with self._lock:
            inf = self._watched.get((group, plural))
        if inf is None:
            try:
                self.client.mapper.resource_for(informer_name(group, plural))
            except KeyError:
                return None
            inf = self._watch(group, plural)
            self.informers.start()
        if not inf.wait_for_sync(SYNC_WAIT):
            raise RuntimeError(f"{informer_name(group, plural)}: informer not synced yet")
        return inf.by_index(NAMESPACE_INDEX, namespace)

    def usage(self, quota: dict, live: bool = False) -> dict[str, Fraction]:
        """Recount a quota from the caches (or, `live`, from the apiserver): every resource
        of spec.hard, 0 when nothing uses it."""
        namespace = quota["metadata"]["namespace"]
        hard = (quota.get("spec") or {}).get("hard") or {}
        kinds = {("", "pods")} if PodEvaluator().matching(hard) else set()
        kinds |= {resource_of(name) for name in hard if resource_of(name)}
        used = {name: Fraction(0) for name in hard}
        for group, plural in sorted(kinds):
            objects = self._objects(group, plural, namespace, live)
            if objects:
                counted = usage_of_all(evaluator_for(group, plural), quota, objects)
                used.update(resources.mask(counted, hard))
        return used

    def sync(self, key: str) -> None:
        quota = self.quotas.get(key)
        if quota is None:
            return
        namespace, name = split_key(key)
        # Decide only on a copy of the quota that has seen every charge: charges are no
        # reason to sync, so a decision taken on an older copy would not be taken again.
        current = self.client.get("resourcequotas", name, namespace=namespace)
        if current["metadata"].get("resourceVersion") != quota["metadata"].get("resourceVersion"):
            self.queue.add_after(key, CACHE_CATCH_UP)
            return
        spec_hard = (quota.get("spec") or {}).get("hard") or {}
        used = self.usage(quota)
        old = quota.get("status") or {}
        self.log.debug("%s at %s: used %s, recounted %s", key, quota["metadata"].get("resourceVersion"),
                       old.get("used"), resources.to_strings(used))
        if went_up(resources.to_strings(used), old.get("used")):
            with self._lock:
                settle = self._charged_at.get(key, 0.0) + CHARGE_SETTLE - time.monotonic()
            if settle > 0:
                self.log.debug("%s: would give back; charged %.1fs ago, waiting", key, CHARGE_SETTLE - settle)
                self.queue.add_after(key, settle)   # a charged object may still be on its way
                return
            # Giving back: count from etcd, not from caches that may lag behind the charges,
            # and write even what looks unchanged: the write's resourceVersion check then
            # says whether a charge came in meanwhile (Conflict: decide again).
            used = self.usage(quota, live=True)
            live = True
        else:
            live = False
        status = {"hard": dict(spec_hard), "used": resources.to_strings(used)}
        if not live and resources.parse(old.get("hard")) == resources.parse(spec_hard) \
                and resources.parse(old.get("used")) == resources.parse(status["used"]):
            return          # nothing changed: no write
        self.client.update_status("resourcequotas", {**quota, "status": status})
        self.log.info("resourcequota %s/%s: used %s", namespace, name, resources.pretty(resources.parse(status["used"])))
