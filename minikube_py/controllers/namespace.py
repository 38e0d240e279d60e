"""Namespace controller: empties a namespace that is being deleted, then lets it go.

``kubectl delete namespace lab`` does not delete anything inside. The apiserver only
marks the namespace: ``deletionTimestamp`` set, ``status.phase: Terminating``, and the
object stays because ``spec.finalizers`` holds "kubernetes". That finalizer is this
controller's promise to clean up:

1. Find every namespaced resource type (discovery, as the garbage collector does).
2. Delete everything of each type in the namespace (one ``deletecollection`` request
   per type; dependents go through the garbage collector as usual).
3. List again. Pods stop gracefully and objects may carry finalizers, so content may
   remain for a while: say so in the namespace's conditions (NamespaceContentRemaining,
   NamespaceFinalizersRemaining) and look again shortly.
4. When nothing is left, remove "kubernetes" from ``spec.finalizers`` with
   ``PUT /api/v1/namespaces/{name}/finalize`` (the only way to change that field).
   With no finalizer left the apiserver deletes the namespace; if it did not, DELETE
   it once more.
"""
from __future__ import annotations

import copy
import logging
from collections import Counter
from datetime import datetime, timezone

from ..api.conditions import condition
from ..api.meta import now_rfc3339, parse_time
from ..client import errors
from .base import Controller

log = logging.getLogger(__name__)

FINALIZER = "kubernetes"

# How soon to look again at a namespace whose content is still going.
MIN_REQUEUE, MAX_REQUEUE = 0.5, 5.0


def counted_condition(ctype: str, counts: Counter, reasons: tuple[str, str], listing: str,
                      item: str, done: str) -> dict:
    """True while something is left: ``listing`` then one ``item`` per count; else False, ``done``."""
    if not counts:
        return condition(ctype, False, reasons[1], done)
    return condition(ctype, True, reasons[0],
                     listing + ", ".join(item.format(k, n) for k, n in sorted(counts.items())))


class NamespaceController(Controller):
    name = "namespace"

    def __init__(self, client, informers):
        super().__init__(client, informers)
        self.namespaces = informers.get("namespaces")
        self.namespaces.add_handler(on_add=self._on_change,
                                    on_update=lambda old, new: self._on_change(new))
        # Pods are what usually keeps a namespace waiting (graceful stop): look again
        # as soon as one goes, rather than at the next poll.
        informers.get("pods").add_handler(on_delete=self._on_pod_deleted)

    def _on_change(self, ns: dict):
        if (ns.get("metadata") or {}).get("deletionTimestamp"):
            self.enqueue(ns)

    def _on_pod_deleted(self, pod: dict):
        name = (pod.get("metadata") or {}).get("namespace")
        ns = self.namespaces.get(name) if name else None
        if ns is not None and ns["metadata"].get("deletionTimestamp"):
            self.queue.add(name)

    # ----------------------------------------------------------- sync

    def sync(self, name: str) -> None:
        try:
            ns = self.client.get("namespaces", name)   # live: the cache may lag
        except errors.NotFound:
            return
        if not ns["metadata"].get("deletionTimestamp"):
            return
        if FINALIZER not in ((ns.get("spec") or {}).get("finalizers") or []):
            self._delete_if_stuck(ns)
            return

        conditions, remaining_seconds = self.delete_content(name)
        self._write_conditions(ns, conditions)
        blocked = [c for c in conditions if c["status"] == "True"]
        if blocked:
            delay = min(max(remaining_seconds, MIN_REQUEUE), MAX_REQUEUE)
            log.info("namespace %s: waiting %.1fs (%s)", name, delay,
                     "; ".join(c["message"] for c in blocked))
            self.queue.add_after(name, delay)
            return

        finalized = self._finalize(ns)
        log.info("namespace %s: empty, finalized", name)
        if finalized is not None:
            self._delete_if_stuck(finalized)

    def delete_content(self, namespace: str) -> tuple[list[dict], float]:
        """Delete all namespaced content; return the conditions and a wait estimate."""
        try:
            resources = [(info, set(info.verbs)) for info in self.client.mapper.discover()
                         if info.namespaced and {"list", "delete"} <= set(info.verbs)]
            discovery = condition("NamespaceDeletionDiscoveryFailure", False,
                                  "ResourcesDiscovered", "All resources successfully discovered")
        except Exception as exc:
            return [condition("NamespaceDeletionDiscoveryFailure", True, "DiscoveryFailed",
                              f"Discovery failed: {exc}")], MAX_REQUEUE

        failures, remaining, with_finalizers = [], Counter(), Counter()
        wait = 0.0
        for info, verbs in resources:
            try:
                items = self.client.list(info, namespace=namespace).get("items") or []
                if not items:
                    continue
                self._delete_all(info, verbs, namespace, items)
                left = self.client.list(info, namespace=namespace).get("items") or []
            except Exception as exc:
                failures.append(f'{info.plural}: {exc}')
                continue
            key = f"{info.plural}.{info.group}" if info.group else f"{info.plural}."
            for obj in left:
                remaining[key] += 1
                for fin in obj["metadata"].get("finalizers") or []:
                    with_finalizers[fin] += 1
                wait = max(wait, _seconds_left(obj))

        conditions = [discovery]
        conditions.append(condition(
            "NamespaceDeletionContentFailure", bool(failures),
            "ContentDeletionFailed" if failures else "ContentDeleted",
            f"Failed to delete all resource types, {len(failures)} remaining: {'; '.join(failures)}"
            if failures else "All content successfully deleted, may be waiting on finalization"))
        conditions.append(counted_condition(
            "NamespaceContentRemaining", remaining, ("SomeResourcesRemain", "ContentRemoved"),
            "Some resources are remaining: ", "{} has {} resource instances",
            "All content successfully removed"))
        conditions.append(counted_condition(
            "NamespaceFinalizersRemaining", with_finalizers,
            ("SomeFinalizersRemain", "ContentHasNoFinalizers"),
            "Some content in the namespace has finalizers remaining: ", "{} in {} resource instances",
            "All content-preserving finalizers finished"))
        return conditions, wait

    def _delete_all(self, info, verbs, namespace: str, items: list[dict]):
        """One deletecollection request where the resource allows it, else one by one."""
        options = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        if "deletecollection" in verbs:
            self.client.request("DELETE", info.path(namespace), body=options)
            return
        for obj in items:
            if obj["metadata"].get("deletionTimestamp"):
                continue
            try:
                self.client.delete(info, obj["metadata"]["name"], namespace=namespace,
                                   propagation_policy="Background")
            except errors.NotFound:
                pass

    # ----------------------------------------------------------- writes

    def _write_conditions(self, ns: dict, conditions: list[dict]):
        """Record why the namespace is still here (status.conditions), if that changed."""
        status = ns.get("status") or {}
        old = {c["type"]: c for c in status.get("conditions") or []}
        now = now_rfc3339()
        merged, changed = [], False
        for c in conditions:
            before = old.pop(c["type"], None)
            same = before is not None and all(before.get(k) == c[k]
                                              for k in ("status", "reason", "message"))
            if same:
                merged.append(before)
            else:
                merged.append(dict(c, lastTransitionTime=now))
                changed = True
        merged += old.values()
        if not changed:
            return
        new = copy.deepcopy(ns)
        new.setdefault("status", {})["conditions"] = merged
        try:
            self.client.update_status("namespaces", new)
        except (errors.Conflict, errors.NotFound):
            pass   # the next sync writes them again

    def _finalize(self, ns: dict):
        """PUT .../finalize without our finalizer; the apiserver may then delete the namespace.

        Read fresh and retry on Conflict: our own condition update, or anyone's write,
        may have moved the resourceVersion on since the sync began.
        """
        uid = ns["metadata"]["uid"]
        for _ in range(5):
            try:
                live = self.client.get("namespaces", ns["metadata"]["name"])
            except errors.NotFound:
                return None
            if live["metadata"].get("uid") != uid:
                return None
            live.setdefault("spec", {})["finalizers"] = [
                f for f in live["spec"].get("finalizers") or [] if f != FINALIZER]
            try:
                return self.client.update("namespaces", live, subresource="finalize")
            except errors.NotFound:
                return None
            except errors.Conflict:
                continue
        raise errors.Conflict({"reason": "Conflict", "code": 409,
                               "message": f"could not finalize namespace {ns['metadata']['name']}"})

    def _delete_if_stuck(self, ns: dict):
        """No finalizer left but the namespace still exists: delete it again."""
        name = ns["metadata"]["name"]
        if (ns.get("spec") or {}).get("finalizers") or ns["metadata"].get("finalizers"):
            return
        try:
            live = self.client.get("namespaces", name)
        except errors.NotFound:
            return
        if live["metadata"].get("uid") != ns["metadata"].get("uid"):
            return
        log.info("namespace %s: finalized but still present, deleting it again", name)
        try:
            self.client.delete("namespaces", name, preconditions={"uid": live["metadata"]["uid"]})
        except (errors.NotFound, errors.Conflict):
            pass


def _seconds_left(obj: dict) -> float:
    """How long a terminating object (a pod in its grace period) may still take."""
    ts = (obj.get("metadata") or {}).get("deletionTimestamp")
    if not ts:
        return 0.0
    try:
        return max((parse_time(ts) - datetime.now(timezone.utc)).total_seconds(), 0.0)
    except ValueError:
        return 0.0
