"""VolumeBinding: a pod's PersistentVolumeClaims decide where it may run, and the claims
of WaitForFirstConsumer classes learn their node before the pod is bound.

As kube-scheduler's VolumeBinding plugin, in three steps:

* **pre_filter** (once per pod): a pod without ``persistentVolumeClaim`` volumes skips
  the plugin entirely -- it pays nothing. Otherwise each claim is looked up: a claim
  that does not exist, is being deleted, or is unbound while its class binds
  Immediately (the PV controller has not bound it yet) makes every node fail, with
  upstream's words (``pod has unbound immediate PersistentVolumeClaims``).
* **filter** (per node): a bound claim's volume must admit the node (its nodeAffinity:
  a local-path volume lives on one node) -- ``node(s) had volume node affinity
  conflict``; an unbound WaitForFirstConsumer claim needs an Available volume it could
  bind there, or a class with a provisioner -- ``node(s) didn't find available
  persistent volumes to bind``.
* **pre_bind** (on a bind thread, after the node is chosen, before ``pods/binding``):
  each unbound WaitForFirstConsumer claim is annotated
  ``volume.kubernetes.io/selected-node: <node>``; the PV controller then binds it to a
  volume on that node or has one provisioned there. The pod is bound only once all its
  claims are Bound (at most ``bind_timeout`` seconds; then it is tried again).

Unlike the module plugins, this one needs the claims, volumes and classes, so it is an
object holding those informers; the scheduler adds it to its profile
(``Scheduler.__init__``). Its answers depend on more than the pod and the NodeInfo, so
they are never cached (no ``CACHEABLE``).
"""
from __future__ import annotations

import time

from ...api import volumebinding as vb
from ...api.kinds.storage import claim_class

NAME = "VolumeBinding"

UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims"
NODE_CONFLICT = "node(s) had volume node affinity conflict"
NOTHING_TO_BIND = "node(s) didn't find available persistent volumes to bind"


def claim_names(pod) -> list[str]:
    """The claims a pod mounts (the cheap test every pod goes through)."""
    return [v["persistentVolumeClaim"].get("claimName") or "" for v in pod.spec.get("volumes") or ()
            if isinstance(v, dict) and v.get("persistentVolumeClaim")]


class _PodVolumes:
    """What pre_filter found for one pod: bound volumes, claims waiting for a node, or a
    problem that rules out every node."""

    __slots__ = ("problem", "bound", "waiting")

    def __init__(self):
        self.problem = None
        self.bound: list[dict] = []        # the PersistentVolumes of bound claims
        self.waiting: list[dict] = []      # unbound claims of WaitForFirstConsumer classes


class VolumeBinding:
    NAME = NAME

    def __init__(self, claims, volumes, classes, bind_timeout: float = 120.0, client=None, poll: float = 0.1):
        self.claims, self.volumes, self.classes = claims, volumes, classes
        self.client = client
        self.bind_timeout = bind_timeout
        self.poll = poll

    # ------------------------------------------------------------------ scheduling cycle
    def pre_filter(self, pod) -> bool:
        names = claim_names(pod)
        if not names:
            return False
        state = pod.memo[NAME] = _PodVolumes()
        for name in names:
            claim = self.claims.get(f"{pod.namespace}/{name}")
            if claim is None:
                state.problem = f'persistentvolumeclaim "{name}" not found'
                break
            if claim["metadata"].get("deletionTimestamp"):
                state.problem = f'persistentvolumeclaim "{name}" is being deleted'
                break
            volume_name = (claim.get("spec") or {}).get("volumeName")
            if volume_name:
                pv = self.volumes.get(volume_name)
                if pv is None:
                    state.problem = f'persistentvolume "{volume_name}" not found'
                    break
                state.bound.append(pv)
            elif self._binding_mode(claim) == "WaitForFirstConsumer":
                state.waiting.append(claim)
            else:
                state.problem = UNBOUND_IMMEDIATE
                break
        return True

    def filter(self, pod, node):
        state: _PodVolumes = pod.memo[NAME]
        if state.problem:
            return state.problem
        for pv in state.bound:
            if not vb.node_affinity_matches(pv, node.node):
                return NODE_CONFLICT
        if state.waiting:
            volumes = self.volumes.list()
            for claim in state.waiting:
                if vb.find_matching_volume(claim, volumes, node=node.node, need_node=True) is None \
                        and not self._provisions(claim):
                    return NOTHING_TO_BIND
        return None

    # ------------------------------------------------------------------ binding cycle
    def pre_bind(self, pod, node_name: str) -> None:
        """Give the waiting claims their node, then wait until every claim is Bound."""
        state = pod.memo.get(NAME)
        if state is None or not state.waiting:
            return
        for claim in state.waiting:
            md = claim["metadata"]
            if vb.annotations(claim).get(vb.SELECTED_NODE) != node_name:
                self.client.patch("persistentvolumeclaims", md["name"],
                                  {"metadata": {"annotations": {vb.SELECTED_NODE: node_name}}},
                                  namespace=md.get("namespace"))
        deadline = time.monotonic() + self.bind_timeout
        keys = [vb.claim_key(c) for c in state.waiting]
        while True:
            claims = [self.claims.get(k) for k in keys]
            if all(c is not None and (c.get("status") or {}).get("phase") == "Bound" for c in claims):
                return
            if any(c is None for c in claims):
                raise RuntimeError("binding volumes: a claim was deleted")
            if time.monotonic() > deadline:
                raise TimeoutError("binding volumes: timed out waiting for the condition")
            time.sleep(self.poll)

    # ------------------------------------------------------------------ classes
    def _binding_mode(self, claim: dict) -> str:
        sc = self.classes.get(claim_class(claim)) if claim_class(claim) else None
        return (sc or {}).get("volumeBindingMode") or "Immediate"

    def _provisions(self, claim: dict) -> bool:
        sc = self.classes.get(claim_class(claim)) if claim_class(claim) else None
        return bool(sc and sc.get("provisioner") and sc["provisioner"] != vb.NO_PROVISIONER)
