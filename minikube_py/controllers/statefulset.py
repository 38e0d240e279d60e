"""The StatefulSet controller: pods with a stable identity, made and removed in order.

Kubernetes' pkg/controller/statefulset. A StatefulSet's pods are not interchangeable:
pod ``{set}-{i}`` keeps its name, its DNS name ``{set}-{i}.{serviceName}`` (``hostname``
and ``subdomain``; the Endpoints of a headless Service carry the hostname, and the
cluster DNS answers from there) and its claims ``{template}-{set}-{i}`` across
restarts and rescheduling. One sync (``sync(key)``), as stateful_set_control.go does it:

1. **History** (history.py): the *update revision* is the ControllerRevision of the
   current template; the *current revision* is ``status.currentRevision`` (the one the
   set is rolling away from). Pods carry theirs in ``controller-revision-hash``.
2. **Replicas** ``start .. start+replicas-1`` (``spec.ordinals.start``, default 0) should
   exist; higher (or lower) ordinals are *condemned*.
   ``OrderedReady``: create the lowest missing ordinal and wait until it is Running and
   Ready before the next; delete condemned pods one at a time from the highest, and only
   while every other pod is healthy. ``Parallel``: create and delete all at once.
   A failed pod is deleted and made again under the same name.
3. **Claims**: before a pod is created, each of its ``volumeClaimTemplates`` becomes a
   PersistentVolumeClaim (if missing), mounted as the pod's volume of that name.
   ``persistentVolumeClaimRetentionPolicy``: ``whenDeleted: Delete`` makes the set an
   owner of the claims, ``whenScaled: Delete`` makes a condemned pod the owner of its
   claims -- the garbage collector deletes them after their owner. Retain: no owner.
4. **Rolling update** (``RollingUpdate``): from the highest ordinal down to
   ``partition``, delete the first pod not at the update revision and wait for it to come
   back Running and Ready. ``OnDelete``: pods change only when someone deletes them.
5. **Status**: replicas, readyReplicas, availableReplicas, currentReplicas,
   updatedReplicas, currentRevision, updateRevision, collisionCount, observedGeneration
   (what ``kubectl rollout status sts/...`` reads). Once every pod is updated and ready,
   the current revision becomes the update revision.

    watches  statefulsets, pods, controllerrevisions, persistentvolumeclaims
    writes   pods (create, delete), persistentvolumeclaims (create, patch ownerReferences),
             controllerrevisions, statefulsets/status, events
"""
from __future__ import annotations

import copy
import logging
import re
from datetime import datetime, timezone
from typing import Optional

from ..api import meta
from ..api.selectors import LabelSelector, SelectorError
from ..client import errors
from ..client.informer import meta_key
from . import history
from .base import Controller, event_recorder, write_status
from .podutil import is_pod_available, is_pod_ready, pod_from_template, seconds_until_available
from .refmanager import (NAMESPACE_INDEX, RefManager, cached_controller, claim_candidates, controller_ref,
                         ensure_indexes)

log = logging.getLogger(__name__)

COMPONENT = "statefulset-controller"
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"
_ORDINAL = re.compile(r"^(.*)-([0-9]+)$")


# ---------------------------------------------------------------- identity

def ordinal_of(set_name: str, pod: dict) -> Optional[int]:
    """The ordinal in a member's name ``{set}-{i}``; None for a pod that is not one."""
    match = _ORDINAL.match(pod["metadata"]["name"])
    if not match or match.group(1) != set_name:
        return None
    return int(match.group(2))


def start_ordinal(sts: dict) -> int:
    return ((sts.get("spec") or {}).get("ordinals") or {}).get("start") or 0


def claim_name(template_name: str, set_name: str, ordinal: int) -> str:
    return f"{template_name}-{set_name}-{ordinal}"


def claims_for(sts: dict, ordinal: int) -> dict[str, dict]:
    """volume name -> the claim pod ``ordinal`` uses for it (getPersistentVolumeClaims)."""
    selector_labels = ((sts.get("spec") or {}).get("selector") or {}).get("matchLabels") or {}
    out = {}
    for template in (sts.get("spec") or {}).get("volumeClaimTemplates") or []:
        claim = copy.deepcopy(template)
        name = claim["metadata"]["name"]
        claim.pop("status", None)
        claim["apiVersion"], claim["kind"] = "v1", "PersistentVolumeClaim"
        claim["metadata"] = {"name": claim_name(name, sts["metadata"]["name"], ordinal),
                             "namespace": sts["metadata"]["namespace"],
                             "labels": {**(claim["metadata"].get("labels") or {}), **selector_labels}}
        if template["metadata"].get("annotations"):
            claim["metadata"]["annotations"] = dict(template["metadata"]["annotations"])
        out[name] = claim
    return out


def new_pod(sts: dict, template: dict, revision_name: str, ordinal: int) -> dict:
    """Pod ``{set}-{ordinal}`` from ``template`` (the template of its revision)."""
    set_name = sts["metadata"]["name"]
    name = f"{set_name}-{ordinal}"
    pod = pod_from_template(template, sts, "")
    md = pod["metadata"]
    del md["generateName"]
    md["name"] = name
    md.setdefault("labels", {}).update({POD_NAME_LABEL: name, POD_INDEX_LABEL: str(ordinal),
                                        history.HASH_LABEL: revision_name})
    spec = pod["spec"]
    spec["hostname"] = name
    service = (sts.get("spec") or {}).get("serviceName")
    if service:
        spec["subdomain"] = service
    claims = claims_for(sts, ordinal)
    volumes = [{"name": vol, "persistentVolumeClaim": {"claimName": c["metadata"]["name"]}}
               for vol, c in claims.items()]
    spec["volumes"] = volumes + [v for v in spec.get("volumes") or [] if v.get("name") not in claims]
    return pod


def revision_of(pod: dict) -> Optional[str]:
    return ((pod.get("metadata") or {}).get("labels") or {}).get(history.HASH_LABEL)


def is_running_and_ready(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") == "Running" and is_pod_ready(pod)


def is_terminating(pod: dict) -> bool:
    return bool(pod["metadata"].get("deletionTimestamp"))


def is_failed(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Failed", "Succeeded")


def is_healthy(pod: dict) -> bool:
    return is_running_and_ready(pod) and not is_terminating(pod)


def _has_owner(obj: dict, owner: dict) -> bool:
    uid = owner["metadata"]["uid"]
    return any(r.get("uid") == uid for r in obj["metadata"].get("ownerReferences") or [])


def _owner_ref(owner: dict) -> dict:
    """A plain (not controller) owner reference: the garbage collector deletes the claim after it."""
    ref = controller_ref(owner)
    ref["controller"] = False
    return ref


class StatefulSetController(Controller):
    name = "statefulset"
    workers = 2                  # kube-controller-manager's --concurrent-statefulset-syncs
    quiet_retries = True

    def __init__(self, client, informers):
        super().__init__(client, informers)
        self.sets = informers.get("statefulsets")
        self.pods = informers.get("pods")
        self.revisions = informers.get(history.RESOURCE)
        self.claims = informers.get("persistentvolumeclaims")
        for informer in (self.sets, self.pods, self.revisions):
            ensure_indexes(informer)
        self.history = history.History(client, self.revisions, "statefulsets")
        self.recorder = event_recorder(client, COMPONENT)
        self.sets.add_handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new))
        self.pods.add_handler(on_add=self._pod_changed, on_update=lambda old, new: self._pod_updated(old, new),
                              on_delete=self._pod_changed)

    # ------------------------------------------------------------ event handlers

    def _owner(self, pod: dict) -> Optional[dict]:
        return cached_controller(self.sets, pod, "StatefulSet")

    def _pod_changed(self, pod: dict):
        sts = self._owner(pod)
        if sts is not None:
            self.enqueue(sts)
        elif meta.owner_of(pod) is None:
            for sts in self.sets.by_index(NAMESPACE_INDEX, pod["metadata"].get("namespace")):
                self.enqueue(sts)       # an orphan its set may adopt

    def _pod_updated(self, old: dict, new: dict):
        if old["metadata"].get("resourceVersion") == new["metadata"].get("resourceVersion"):
            return
        self._pod_changed(new)
        sts = self._owner(new)
        min_ready = ((sts or {}).get("spec") or {}).get("minReadySeconds") or 0
        if sts is not None and min_ready and not is_pod_ready(old) and is_pod_ready(new):
            self.queue.add_after(meta_key(sts), min_ready + 1)

    # ------------------------------------------------------------ sync

    def sync(self, key: str) -> None:
        sts = self.sets.get(key)
        if sts is None:
            return
        try:
            selector = LabelSelector.from_dict((sts.get("spec") or {}).get("selector"))
        except SelectorError as err:
            log.warning("%s: invalid selector: %s", key, err)
            return
        if selector.empty or sts["metadata"].get("deletionTimestamp"):
            return
        revisions = self.history.owned(sts, selector)
        update, old, collision_count = self.history.sync_history(sts, revisions)
        status = sts.get("status") or {}
        current = next((r for r in old if r["metadata"]["name"] == status.get("currentRevision")), update)
        candidates = [p for p in claim_candidates(self.pods, sts)
                      if ordinal_of(sts["metadata"]["name"], p) is not None]
        pods = RefManager(self.client, "pods", sts, selector, "statefulsets").claim(candidates)
        self.update_set(sts, pods, current, update)
        in_use = {current["metadata"]["name"], update["metadata"]["name"]} | {revision_of(p) for p in pods}
        self.history.truncate(sts, [r for r in old if r is not current], in_use)
        self.update_status(sts, pods, current, update, collision_count)

    def update_set(self, sts: dict, pods: list[dict], current: dict, update: dict) -> None:
        """One step toward the wanted pods (updateStatefulSet); returns when it must wait."""
        spec = sts.get("spec") or {}
        name = sts["metadata"]["name"]
        start, replicas = start_ordinal(sts), spec.get("replicas", 1)
        ordered = spec.get("podManagementPolicy", "OrderedReady") == "OrderedReady"
        by_ordinal = {ordinal_of(name, p): p for p in pods}
        wanted = range(start, start + replicas)
        condemned = sorted((o for o in by_ordinal if o not in wanted), reverse=True)

        for ordinal in list(wanted) + condemned:      # claims owned as the retention policy says
            pod = by_ordinal.get(ordinal)
            if pod is not None:
                self.fix_claim_owners(sts, pod, condemned=ordinal not in wanted)

        for ordinal in wanted:
            pod = by_ordinal.get(ordinal)
            if pod is not None and is_failed(pod) and not is_terminating(pod):
                self.recorder.warning(sts, "RecreatingFailedPod",
                                      f"StatefulSet {meta_key(sts)} is recreating failed Pod {pod['metadata']['name']}")
                self.delete_pod(sts, pod)
                if ordered:
                    return
                continue
            if pod is None:
                if not self.create_pod(sts, self.versioned_pod(sts, current, update, ordinal)) or ordered:
                    return
                continue
            if ordered and not is_healthy(pod):
                log.info("%s: waiting for %s to be Running and Ready", meta_key(sts), pod["metadata"]["name"])
                return

        for ordinal in condemned:                     # the highest first
            pod = by_ordinal[ordinal]
            if is_terminating(pod):
                if ordered:
                    return
                continue
            unhealthy = [p for o, p in by_ordinal.items() if o != ordinal and not is_healthy(p)]
            if ordered and unhealthy:
                log.info("%s: waiting for %s before scaling down", meta_key(sts), unhealthy[0]["metadata"]["name"])
                return
            self.delete_pod(sts, pod)
            if ordered:
                return

        strategy = spec.get("updateStrategy") or {}
        if strategy.get("type") != "RollingUpdate":
            return
        partition = start + ((strategy.get("rollingUpdate") or {}).get("partition") or 0)
        for ordinal in reversed(wanted):              # the highest ordinal first, down to the partition
            if ordinal < partition:
                break
            pod = by_ordinal.get(ordinal)
            if pod is None:
                return
            if revision_of(pod) != update["metadata"]["name"] and not is_terminating(pod):
                log.info("%s: updating %s to revision %s", meta_key(sts), pod["metadata"]["name"],
                         update["metadata"]["name"])
                self.delete_pod(sts, pod)
                return
            if not is_healthy(pod):
                return

    def versioned_pod(self, sts: dict, current: dict, update: dict, ordinal: int) -> dict:
        """Below the partition a new pod gets the current revision, else the update revision
        (newVersionedStatefulSetPod)."""
        strategy = (sts.get("spec") or {}).get("updateStrategy") or {}
        rolling = strategy.get("rollingUpdate")
        if strategy.get("type") == "RollingUpdate" and rolling is not None \
                and ordinal < start_ordinal(sts) + (rolling.get("partition") or 0):
            return new_pod(sts, history.template_of(current), current["metadata"]["name"], ordinal)
        return new_pod(sts, (sts.get("spec") or {}).get("template") or {}, update["metadata"]["name"], ordinal)

    # ------------------------------------------------------------ writes

    def create_pod(self, sts: dict, pod: dict) -> bool:
        """Create the pod's claims, then the pod; False when it has to wait."""
        namespace = sts["metadata"]["namespace"]
        for claim in claims_for(sts, int(pod["metadata"]["labels"][POD_INDEX_LABEL])).values():
            existing = self.claims.get(f"{namespace}/{claim['metadata']['name']}")
            if existing is not None:
                if existing["metadata"].get("deletionTimestamp"):
                    log.info("%s: claim %s is being deleted; waiting", meta_key(sts), claim["metadata"]["name"])
                    return False
                continue
            if ((sts.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}).get("whenDeleted") == "Delete":
                claim["metadata"]["ownerReferences"] = [_owner_ref(sts)]
            try:
                self.client.create("persistentvolumeclaims", claim, namespace=namespace)
                self.recorder.normal(sts, "SuccessfulCreate", f"create Claim {claim['metadata']['name']} Pod "
                                     f"{pod['metadata']['name']} in StatefulSet {sts['metadata']['name']} success")
            except errors.AlreadyExists:
                pass
            except errors.ApiError as err:
                self.recorder.warning(sts, "FailedCreate", f"create Claim {claim['metadata']['name']} for Pod "
                                      f"{pod['metadata']['name']} in StatefulSet {sts['metadata']['name']} "
                                      f"failed error: {err.message}")
                raise
        try:
            self.client.create("pods", pod, namespace=namespace)
        except errors.AlreadyExists:
            return False              # the cache is behind: it exists; look again when it shows up
        except errors.ApiError as err:
            self.recorder.warning(sts, "FailedCreate", f"create Pod {pod['metadata']['name']} in StatefulSet "
                                  f"{sts['metadata']['name']} failed error: {err.message}")
            raise
        self.recorder.normal(sts, "SuccessfulCreate", f"create Pod {pod['metadata']['name']} in StatefulSet "
                             f"{sts['metadata']['name']} successful")
        return True

    def delete_pod(self, sts: dict, pod: dict) -> None:
        try:
            self.client.delete("pods", pod["metadata"]["name"], namespace=pod["metadata"]["namespace"],
                               preconditions={"uid": pod["metadata"]["uid"]})
        except (errors.NotFound, errors.Conflict):
            return
        self.recorder.normal(sts, "SuccessfulDelete", f"delete Pod {pod['metadata']['name']} in StatefulSet "
                             f"{sts['metadata']['name']} successful")

    def fix_claim_owners(self, sts: dict, pod: dict, condemned: bool) -> None:
        """persistentVolumeClaimRetentionPolicy as ownerReferences on the pod's claims:
        a condemned pod owns them if whenScaled is Delete, else the set if whenDeleted is Delete."""
        policy = (sts.get("spec") or {}).get("persistentVolumeClaimRetentionPolicy") or {}
        namespace = sts["metadata"]["namespace"]
        ordinal = int((pod["metadata"].get("labels") or {}).get(POD_INDEX_LABEL, ordinal_of(sts["metadata"]["name"], pod)))
        for claim in claims_for(sts, ordinal).values():
            existing = self.claims.get(f"{namespace}/{claim['metadata']['name']}")
            if existing is None or existing["metadata"].get("deletionTimestamp"):
                continue
            refs = list(existing["metadata"].get("ownerReferences") or [])
            wanted = refs[:]
            scaled_away = condemned and policy.get("whenScaled") == "Delete"
            # a claim goes only when all its owners have gone: a condemned pod's claim is its pod's alone
            for owner, want in ((sts, policy.get("whenDeleted") == "Delete" and not scaled_away),
                                (pod, scaled_away)):
                has = _has_owner(existing, owner)
                if want and not has:
                    wanted.append(_owner_ref(owner))
                elif has and not want:
                    wanted = [r for r in wanted if r.get("uid") != owner["metadata"]["uid"]]
            if wanted != refs:
                try:
                    self.client.patch("persistentvolumeclaims", existing["metadata"]["name"],
                                      {"metadata": {"ownerReferences": wanted,
                                                    "resourceVersion": existing["metadata"]["resourceVersion"]}},
                                      namespace=namespace)
                except errors.NotFound:
                    pass

    # ------------------------------------------------------------ status

    def update_status(self, sts: dict, pods: list[dict], current: dict, update: dict, collision_count: int):
        spec = sts.get("spec") or {}
        min_ready = spec.get("minReadySeconds") or 0
        now = datetime.now(timezone.utc)
        replicas = ready = available = current_n = updated = 0
        wait = None
        for pod in pods:
            replicas += 1
            if is_running_and_ready(pod):
                ready += 1
                if is_pod_available(pod, min_ready, now):
                    available += 1
                else:
                    left = seconds_until_available(pod, min_ready, now)
                    wait = left if wait is None or (left and left < wait) else wait
            if not is_terminating(pod):
                current_n += revision_of(pod) == current["metadata"]["name"]
                updated += revision_of(pod) == update["metadata"]["name"]
        status = dict(sts.get("status") or {})
        status.update(observedGeneration=sts["metadata"].get("generation", 1), replicas=replicas,
                      readyReplicas=ready, availableReplicas=available, currentReplicas=current_n,
                      updatedReplicas=updated, currentRevision=current["metadata"]["name"],
                      updateRevision=update["metadata"]["name"], collisionCount=collision_count)
        # completeRollingUpdate: every pod at the update revision and ready
        if (spec.get("updateStrategy") or {}).get("type") == "RollingUpdate" and updated == replicas \
                and ready == replicas and replicas == spec.get("replicas", 1):
            status["currentReplicas"], status["currentRevision"] = updated, update["metadata"]["name"]
        if wait:
            self.queue.add_after(meta_key(sts), wait + 0.1)
        write_status(self.client, "statefulsets", sts, status)


__all__ = ["POD_INDEX_LABEL", "POD_NAME_LABEL", "StatefulSetController", "claim_name", "claims_for",
           "new_pod", "ordinal_of"]
