"""ResourceQuota admission: charge a namespace's quotas before an object is stored.

kube-apiserver's ResourceQuota plugin (plugin/pkg/admission/resourcequota) runs last,
after validation. For an object being created (or a Service being updated) it:

1. finds the namespace's quotas that apply: one of the object's resources is in the
   quota's `status.hard` (a quota the controller has not counted yet limits nothing)
   and the object is in the quota's scopes;
2. refuses (403) a pod that leaves out cpu or memory a quota covers:
   `failed quota: <name>: must specify limits.cpu for: app`;
3. adds what the object uses to each quota's `status.used` and refuses (403) when that
   would go over `status.hard`:
   `exceeded quota: <name>, requested: pods=1, used: pods=10, limited: pods=10`;
4. writes the new `status.used` with a compare-and-swap on the quota's resourceVersion
   *before* the object is stored. Two creates racing for the last pod can't both win:
   the second one's write conflicts, it reads the quota again and is refused. That holds
   across apiservers too, since the swap is etcd's.

A charge whose object then fails to store is given back (Charge.release); one that is
never given back (the apiserver died in between) is corrected by the quota controller's
next recount, as upstream. The quotas are read from a watch-fed lister (lister.py),
so a namespace without quotas costs a dict lookup.
"""
from __future__ import annotations

import copy
import random
import time

from ..api.kinds.quota import RESOURCE_QUOTA
from ..quota import resources
from ..quota.evaluators import evaluator_for
from ..storage.store import KeyNotFound, RevisionConflict
from . import errors
from .lister import NamespaceObjects

RETRIES = 200                  # compare-and-swap attempts on one quota before giving up
TIMEOUT = 10.0                 # seconds (upstream: "resource quota evaluation timed out")


class Charge:
    """What one write took from its quotas, to give back if the write fails."""

    def __init__(self, plugin: "QuotaAdmission", namespace: str):
        self.plugin, self.namespace = plugin, namespace
        self.taken: list[tuple[str, dict]] = []      # (quota name, amounts added)

    def release(self) -> None:
        for name, amounts in self.taken:
            try:
                self.plugin.give_back(self.namespace, name, amounts)
            except Exception:       # noqa: BLE001 - the controller's recount corrects it
                pass
        self.taken = []


NO_CHARGE = Charge(None, "")


def _hard(quota) -> dict:
    return (quota.get("status") or {}).get("hard") or {}


class QuotaAdmission:
    def __init__(self, registry):
        self.registry = registry
        self.quotas = NamespaceObjects(registry, RESOURCE_QUOTA)

    def charge(self, rt, obj: dict, old: dict | None = None, dry_run: bool = False) -> Charge:
        """Check `obj` against its namespace's quotas and charge them; raises 403 when over."""
        if not rt.namespaced:
            return NO_CHARGE
        namespace = obj["metadata"]["namespace"]
        quotas = self.quotas(namespace)
        if not quotas:
            return NO_CHARGE
        evaluator = evaluator_for(rt.group, rt.plural)
        if old is not None and not evaluator.handles_update():
            return NO_CHARGE
        name = obj["metadata"].get("name", "")
        applicable = []
        for quota in quotas:
            restricted = evaluator.matching(_hard(quota))
            if not restricted or not evaluator.in_scope(quota, obj):
                continue
            problem = evaluator.constraints(restricted, obj)
            if problem:
                raise errors.forbidden(rt, name, f"failed quota: {quota['metadata']['name']}: {problem}")
            used = (quota.get("status") or {}).get("used") or {}
            unknown = sorted(r for r in restricted if r not in used)
            if unknown:
                raise errors.forbidden(rt, name, f"status unknown for quota: {quota['metadata']['name']}, "
                                                 f"resources: {','.join(unknown)}")
            applicable.append(quota)
        if not applicable:
            return NO_CHARGE
        usage = evaluator.usage(obj)
        if old is not None:
            usage = resources.subtract_nonnegative(usage, evaluator.usage(old))
        if resources.is_zero(usage):
            return NO_CHARGE
        charge = Charge(self, namespace)
        try:
            for quota in applicable:
                taken = self._charge_one(rt, name, quota, usage, dry_run)
                if taken:
                    charge.taken.append((quota["metadata"]["name"], taken))
        except BaseException:
            charge.release()
            raise
        return charge

    def _charge_one(self, rt, obj_name: str, quota: dict, usage: dict, dry_run: bool) -> dict:
        """Add `usage` to one quota's status.used with a compare-and-swap; what was added."""
        namespace, qname = quota["metadata"]["namespace"], quota["metadata"]["name"]
        key = RESOURCE_QUOTA.etcd_key(namespace, qname)
        current, fresh = quota, False
        deadline = time.monotonic() + TIMEOUT
        for _ in range(RETRIES):
            status = current.get("status") or {}
            hard, used = resources.parse(status.get("hard")), resources.parse(status.get("used"))
            requested = resources.mask(usage, hard)
            if resources.is_zero(requested):
                return {}
            new_used = resources.add(used, requested)
            over = resources.exceeded(resources.mask(new_used, requested), hard)
            if over:
                if fresh:
                    raise errors.forbidden(rt, obj_name, (
                        f"exceeded quota: {qname}, requested: {resources.pretty(resources.mask(requested, over))}, "
                        f"used: {resources.pretty(resources.mask(used, over))}, "
                        f"limited: {resources.pretty(resources.mask(hard, over))}"))
                # a cached copy may be behind a recount that freed some: decide on etcd's
            elif dry_run:
                return {}
            else:
                updated = copy.deepcopy(current)
                text = updated.setdefault("status", {}).setdefault("used", {})
                for name in requested:
                    text[name] = resources.format_amount(name, new_used[name])
                try:
                    written = self.registry.store.update(key, updated, int(current["metadata"]["resourceVersion"]))
                    if self.quotas.lister is not None:
                        self.quotas.lister.observe(written)
                    return requested
                except RevisionConflict:
                    time.sleep(random.uniform(0, 0.002))     # another write won: spread the retries
                except KeyNotFound:
                    if self.quotas.lister is not None:
                        self.quotas.lister.forget(namespace, qname)
                    return {}                                 # the quota is gone: nothing to charge
            if time.monotonic() > deadline:
                break
            try:
                current, fresh = self.registry.store.get(key), True
            except KeyNotFound:
                return {}
        raise errors.APIError(500, "InternalError", "Internal error occurred: resource quota evaluation timed out")

    def give_back(self, namespace: str, qname: str, amounts: dict) -> None:
        """Subtract a charge whose object was not stored (compare-and-swap, retried)."""
        key = RESOURCE_QUOTA.etcd_key(namespace, qname)
        for _ in range(RETRIES):
            try:
                current = self.registry.store.get(key)
            except KeyNotFound:
                return
            used = resources.parse((current.get("status") or {}).get("used"))
            left = resources.subtract_nonnegative(resources.mask(used, amounts), amounts)
            current.setdefault("status", {}).setdefault("used", {}).update(resources.to_strings(left))
            try:
                written = self.registry.store.update(key, current, int(current["metadata"]["resourceVersion"]))
                if self.quotas.lister is not None:
                    self.quotas.lister.observe(written)
                return
            except RevisionConflict:
                continue
            except KeyNotFound:
                return
