"""The disruption controller: how many pods may a PodDisruptionBudget lose right now?

An eviction (`kubectl drain`) spends one of a budget's ``status.disruptionsAllowed``
(apiserver/eviction.py); this controller is what fills it, from the pods the budget
selects (kube-controller-manager's "disruption" controller, pkg/controller/disruption):

1. **expectedPods** and **desiredHealthy**, from the spec:
   - ``minAvailable: 3`` -> desiredHealthy 3, expectedPods = the pods selected;
   - ``minAvailable: "50%"`` or ``maxUnavailable`` -> expectedPods is the *scale* of the
     pods' controllers (a Deployment's replicas, not how many pods happen to exist now),
     and desiredHealthy is that share of it (rounded up), or expectedPods - maxUnavailable.
     Pods with no controller can't be scaled: they are left out, with a warning event.
2. **currentHealthy**: selected pods that are Ready and not being deleted -- and not
   already evicted: an eviction writes the pod into ``status.disruptedPods``, and until the
   pod's deletion shows (or 2 minutes pass) it is not counted healthy, so two evictions in
   a row cannot both count it.
3. **disruptionsAllowed** = max(0, currentHealthy - desiredHealthy), and the condition
   DisruptionAllowed (SufficientPods / InsufficientPods). ``observedGeneration`` tells the
   eviction code that the numbers belong to the current spec.

If anything fails, the budget fails safe: no disruption allowed (reason SyncFailed).

    watches  poddisruptionbudgets, pods
    reads    the scale of the pods' controllers (deployments, replicasets, ... /scale)
    writes   poddisruptionbudgets/status, events
"""
from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone
from typing import Optional

from ..api import meta
from ..api.conditions import set_condition
from ..api.selectors import LabelSelector
from ..client import errors
from ..client.informer import index_by_namespace, split_key
from .base import Controller, event_recorder
from .podutil import is_pod_ready

COMPONENT = "controllermanager"
NAMESPACE_INDEX = "namespace"
DELETION_TIMEOUT = timedelta(minutes=2)     # an evicted pod must show its deletion within this


def selected_pods(pdb: dict, pods: list[dict]) -> list[dict]:
    """The pods a budget's selector picks; a budget without a selector picks none."""
    selector = (pdb.get("spec") or {}).get("selector")
    if selector is None:
        return []
    sel = LabelSelector.from_dict(selector)
    return [p for p in pods if sel.matches(p["metadata"].get("labels") or {})]


def scaled_value(value, total: int) -> int:
    """An int as it is; "N%" of total, rounded up (intstr.GetScaledValueFromIntOrPercent)."""
    if isinstance(value, int):
        return value
    return math.ceil(int(value.rstrip("%")) * total / 100)


def desired_healthy(spec: dict, selected: int, scale: Optional[int]) -> tuple[int, int]:
    """(expectedPods, desiredHealthy) for a budget's spec; ``scale`` is the controllers' replicas."""
    if spec.get("maxUnavailable") is not None:
        return scale, max(0, scale - scaled_value(spec["maxUnavailable"], scale))
    min_available = spec.get("minAvailable")
    if isinstance(min_available, int):
        return selected, min_available
    if min_available is not None:          # a percentage of the controllers' scale
        return scale, scaled_value(min_available, scale)
    return selected, 0


def needs_scale(spec: dict) -> bool:
    return spec.get("maxUnavailable") is not None or isinstance(spec.get("minAvailable"), str)


def live_disruptions(disrupted: dict, pods: list[dict], now: datetime) -> tuple[dict, Optional[float]]:
    """The disruptedPods entries still pending, and in how many seconds the first one expires.

    An entry goes once its pod is being deleted (the eviction worked), is gone, or has
    been waiting longer than DELETION_TIMEOUT (the delete never came).
    """
    by_name = {p["metadata"]["name"]: p for p in pods}
    kept, recheck = {}, None
    for name, when in (disrupted or {}).items():
        pod = by_name.get(name)
        if pod is None or pod["metadata"].get("deletionTimestamp"):
            continue
        expires = meta.parse_time(when) + DELETION_TIMEOUT
        if expires <= now:
            continue
        kept[name] = when
        left = (expires - now).total_seconds()
        recheck = left if recheck is None else min(recheck, left)
    return kept, recheck


def count_healthy(pods: list[dict], disrupted: dict) -> int:
    return sum(1 for p in pods if not p["metadata"].get("deletionTimestamp")
               and p["metadata"]["name"] not in disrupted and is_pod_ready(p))


def allowed_condition(allowed: int, generation, reason: Optional[str] = None, message: str = "") -> dict:
    return {"type": "DisruptionAllowed", "status": "True" if allowed > 0 else "False",
            "reason": reason or ("SufficientPods" if allowed > 0 else "InsufficientPods"),
            "message": message, "observedGeneration": generation, "lastTransitionTime": meta.now_rfc3339()}


class DisruptionController(Controller):
    name = "disruption"
    workers = 2
    quiet_retries = True

    def __init__(self, client, informers):
        super().__init__(client, informers)
        self.pdbs = informers.get("poddisruptionbudgets")
        self.pods = informers.get("pods")
        for inf in (self.pdbs, self.pods):
            inf.add_index(NAMESPACE_INDEX, index_by_namespace)
        self.recorder = event_recorder(client, COMPONENT)
        self.pdbs.add_handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new))
        self.pods.add_handler(on_add=self._pod_changed, on_update=lambda old, new: self._pod_changed(new),
                              on_delete=self._pod_changed)

    def _pod_changed(self, pod: dict):
        """Every budget in the pod's namespace that selects it has new numbers."""
        for pdb in self.pdbs.by_index(NAMESPACE_INDEX, pod["metadata"].get("namespace")):
            if selected_pods(pdb, [pod]):
                self.enqueue(pdb)

    # ------------------------------------------------------------ sync
    def sync(self, key: str) -> None:
        pdb = self.pdbs.get(key)
        if pdb is None or pdb["metadata"].get("deletionTimestamp"):
            return
        namespace, _ = split_key(key)
        pods = selected_pods(pdb, self.pods.by_index(NAMESPACE_INDEX, namespace))
        spec, old = pdb.get("spec") or {}, pdb.get("status") or {}
        generation = pdb["metadata"].get("generation")
        try:
            scale = self.expected_scale(pdb, pods) if needs_scale(spec) else None
        except errors.ApiError as err:
            self.recorder.event(pdb, "Warning", "CalculateExpectedPodCountFailed",
                                f"Failed to calculate the number of expected pods: {err}")
            self._write(pdb, dict(old, disruptionsAllowed=0, observedGeneration=generation),
                        allowed_condition(0, generation, "SyncFailed", str(err)))
            raise
        now = datetime.now(timezone.utc)
        disrupted, recheck = live_disruptions(old.get("disruptedPods"), pods, now)
        expected, desired = desired_healthy(spec, len(pods), scale)
        healthy = count_healthy(pods, disrupted)
        allowed = max(0, healthy - desired)
        status = {"observedGeneration": generation, "disruptionsAllowed": allowed, "currentHealthy": healthy,
                  "desiredHealthy": desired, "expectedPods": expected}
        if disrupted:
            status["disruptedPods"] = disrupted
        if old.get("conditions"):
            status["conditions"] = old["conditions"]
        self._write(pdb, status, allowed_condition(allowed, generation))
        if recheck is not None:
            self.queue.add_after(key, recheck)      # an eviction's pod that never went: look again

    def expected_scale(self, pdb: dict, pods: list[dict]) -> int:
        """Sum of the replicas of the controllers behind the pods, each controller once.

        A ReplicaSet that a Deployment controls counts as the Deployment (its scale is
        what the user set); every other controller is asked for its ``scale`` subresource.
        """
        seen, total, unmanaged = set(), 0, []
        for pod in pods:
            ref = meta.owner_of(pod)
            if ref is None:
                unmanaged.append(pod["metadata"]["name"])
                continue
            ref = self._top_controller(pod["metadata"]["namespace"], ref)
            if ref["uid"] in seen:
                continue
            seen.add(ref["uid"])
            kind = self.client.mapper.kind_for(ref["apiVersion"], ref["kind"])
            if kind is None:
                raise errors.NotFound({"code": 404, "reason": "NotFound",
                                       "message": f"no kind {ref['kind']} in {ref['apiVersion']}"})
            scale = self.client.get(kind, ref["name"], pod["metadata"]["namespace"], subresource="scale")
            total += (scale.get("spec") or {}).get("replicas", 0)
        if unmanaged:
            self.recorder.event(pdb, "Warning", "UnmanagedPods",
                                f"Pods selected by this PodDisruptionBudget (selector: "
                                f"{LabelSelector.from_dict(pdb['spec'].get('selector')).to_string()}) were found to "
                                "be unmanaged. As a result, the status of the PDB cannot be calculated correctly, "
                                "which may result in undefined behavior. To account for these pods please set "
                                "\".spec.minAvailable\" field of the PDB to an integer value.")
        return total

    def _top_controller(self, namespace: str, ref: dict) -> dict:
        """A ReplicaSet's own controller when that is a Deployment, else the ref itself."""
        if ref.get("kind") != "ReplicaSet":
            return ref
        try:
            rs = self.client.get("replicasets", ref["name"], namespace)
        except errors.NotFound:
            return ref
        owner = meta.owner_of(rs)
        return owner if owner is not None and owner.get("kind") == "Deployment" else ref

    def _write(self, pdb: dict, status: dict, cond: dict) -> None:
        set_condition(status, cond)
        if status == (pdb.get("status") or {}):
            return
        try:
            self.client.update_status("poddisruptionbudgets", dict(pdb, status=status))
        except errors.NotFound:
            pass


__all__ = ["DisruptionController", "desired_healthy", "live_disruptions", "scaled_value", "selected_pods"]
