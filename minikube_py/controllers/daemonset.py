"""The DaemonSet controller: one pod on every eligible node.

Kubernetes' pkg/controller/daemon. One sync of a DaemonSet (``sync(key)``):

1. **History** (history.py): the ControllerRevision of the current pod template; its
   hash labels the pods made from it (``controller-revision-hash``).
2. **Which nodes**: a node is eligible when the pod would fit it by nodeSelector, required
   node affinity and taints -- with the tolerations every daemon pod gets (below). A
   NoSchedule taint the pod does not tolerate keeps a new pod off but lets a running one
   stay; an untolerated NoExecute taint removes it (``should_run``).
3. **Manage** (if the expectations of earlier writes are met): create a pod for each
   eligible node without one, delete pods on nodes no longer eligible (or gone), failed
   pods, and extra pods on one node.
4. **Rolling update**: replace pods of old revisions, at most ``maxUnavailable`` nodes
   without an available pod at a time; with ``maxSurge`` the new pod starts next to the
   old one, which goes once the new one is available. ``OnDelete``: only pods someone
   deleted come back with the new template.
5. **Status**: desired/current/updated numberScheduled, numberReady, numberAvailable,
   numberUnavailable, numberMisscheduled, observedGeneration -- what
   ``kubectl rollout status ds/...`` waits on.

Pods are placed as Kubernetes 1.12+ does: the controller does not set ``nodeName``; it
sets ``spec.affinity.nodeAffinity`` to ``matchFields metadata.name In [node]`` and the
scheduler binds the pod there (scheduler/plugins/node_affinity.py).

    watches  daemonsets, pods, nodes, controllerrevisions
    writes   pods (create, delete), controllerrevisions (create, update, delete),
             daemonsets/status, events
"""
from __future__ import annotations

import copy
import logging
from datetime import datetime, timezone
from typing import Optional

from ..api import meta
from ..api.selectors import LabelSelector, SelectorError
from ..client import errors
from ..client.informer import meta_key
from ..scheduler.framework import NodeInfo, PodInfo, PodSpecError
from ..scheduler.plugins import node_affinity
from ..scheduler.plugins.taint_toleration import untolerated
from . import history
from .base import Controller, event_recorder, write_status
from .deploymentutil import scaled_value
from .expectations import Expectations
from .podutil import is_pod_available, is_pod_ready, pod_from_template, seconds_until_available
from .refmanager import NAMESPACE_INDEX, RefManager, cached_controller, claim_candidates, ensure_indexes

log = logging.getLogger(__name__)

COMPONENT = "daemonset-controller"
TEMPLATE_GENERATION_LABEL = "pod-template-generation"

# The tolerations the DaemonSet controller adds to every daemon pod
# (pkg/controller/daemon/util.AddOrUpdateDaemonPodTolerations): a node agent keeps
# running on a node that is not ready, unreachable, under pressure or cordoned.
DAEMON_TOLERATIONS = (
    {"key": "node.kubernetes.io/not-ready", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/unreachable", "operator": "Exists", "effect": "NoExecute"},
    {"key": "node.kubernetes.io/disk-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/memory-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/pid-pressure", "operator": "Exists", "effect": "NoSchedule"},
    {"key": "node.kubernetes.io/unschedulable", "operator": "Exists", "effect": "NoSchedule"},
)
HOST_NETWORK_TOLERATION = {"key": "node.kubernetes.io/network-unavailable", "operator": "Exists",
                           "effect": "NoSchedule"}


def add_daemon_tolerations(pod_spec: dict) -> None:
    """Add the daemon tolerations the pod spec does not have yet (same key and effect)."""
    tolerations = pod_spec.setdefault("tolerations", [])
    wanted = list(DAEMON_TOLERATIONS) + ([HOST_NETWORK_TOLERATION] if pod_spec.get("hostNetwork") else [])
    for toleration in wanted:
        if not any(t.get("key") == toleration["key"] and t.get("effect") == toleration["effect"]
                   for t in tolerations):
            tolerations.append(dict(toleration))


def pin_to_node(pod_spec: dict, node_name: str) -> None:
    """Require the node by name (ReplaceDaemonSetPodNodeNameNodeAffinity): the required
    terms become one term ``matchFields metadata.name In [node]``; preferences stay."""
    affinity = pod_spec.setdefault("affinity", {}) or {}
    pod_spec["affinity"] = affinity
    node_aff = affinity.setdefault("nodeAffinity", {}) or {}
    affinity["nodeAffinity"] = node_aff
    node_aff["requiredDuringSchedulingIgnoredDuringExecution"] = {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node_name]}]}]}


def target_node(pod: dict) -> Optional[str]:
    """The node a daemon pod is for: its nodeName, or the one its affinity pins it to."""
    spec = pod.get("spec") or {}
    if spec.get("nodeName"):
        return spec["nodeName"]
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution") or {})
    for term in required.get("nodeSelectorTerms") or []:
        for field in term.get("matchFields") or []:
            if field.get("key") == "metadata.name" and field.get("operator") == "In" \
                    and len(field.get("values") or []) == 1:
                return field["values"][0]
    return None


def daemon_pod_spec(ds: dict) -> dict:
    """The pod spec a daemon pod of this DaemonSet starts from (template + tolerations)."""
    spec = copy.deepcopy((((ds.get("spec") or {}).get("template") or {}).get("spec")) or {})
    add_daemon_tolerations(spec)
    return spec


def should_run(node: dict, pod_spec: dict) -> tuple[bool, bool]:
    """(should run a new pod there, may keep a running one there): NodeShouldRunDaemonPod.

    The scheduler's own NodeAffinity rule and taint check decide, as in Kubernetes."""
    pod = PodInfo({"metadata": {}, "spec": pod_spec}, strict=False)
    info = NodeInfo(node)
    try:
        if node_affinity.filter(pod, info) is not None:
            return False, False
    except PodSpecError:
        return False, False
    if untolerated(info.taints, pod.tolerations, effects=("NoExecute",)) is not None:
        return False, False
    if untolerated(info.taints, pod.tolerations, effects=("NoSchedule",)) is not None:
        return False, True
    return True, True


def pod_hash(pod: dict) -> Optional[str]:
    return ((pod.get("metadata") or {}).get("labels") or {}).get(history.HASH_LABEL)


def _age(pod: dict) -> tuple:
    return (pod["metadata"].get("creationTimestamp") or "", pod["metadata"]["name"])


def rolling_params(ds: dict, desired: int) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) in nodes, both rounded up as the DaemonSet controller does;
    both 0 would never move, so unavailable is then 1."""
    rolling = (((ds.get("spec") or {}).get("updateStrategy") or {}).get("rollingUpdate")) or {}
    surge = scaled_value(rolling.get("maxSurge", 0), desired, True)
    unavailable = scaled_value(rolling.get("maxUnavailable", 1), desired, True)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


class DaemonSetController(Controller):
    name = "daemonset"
    workers = 2                  # kube-controller-manager's --concurrent-daemonset-syncs
    quiet_retries = True

    def __init__(self, client, informers):
        super().__init__(client, informers)
        self.daemonsets = informers.get("daemonsets")
        self.pods = informers.get("pods")
        self.nodes = informers.get("nodes")
        self.revisions = informers.get(history.RESOURCE)
        for informer in (self.daemonsets, self.pods, self.revisions):
            ensure_indexes(informer)
        self.history = history.History(client, self.revisions, "daemonsets")
        self.expectations = Expectations()
        self.recorder = event_recorder(client, COMPONENT)
        self.daemonsets.add_handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new),
                                    on_delete=self._ds_deleted)
        self.pods.add_handler(on_add=self._pod_added, on_update=self._pod_updated,
                              on_delete=self._pod_deleted)
        self.nodes.add_handler(on_add=self._node_changed, on_update=self._node_updated,
                               on_delete=self._node_changed)

    # ------------------------------------------------------------ event handlers

    def _ds_deleted(self, ds: dict):
        self.expectations.delete(meta_key(ds))

    def _owner(self, pod: dict) -> Optional[dict]:
        return cached_controller(self.daemonsets, pod, "DaemonSet")

    def _pod_added(self, pod: dict):
        ds = self._owner(pod)
        if ds is not None:
            self.expectations.creation_observed(meta_key(ds))
            self.enqueue(ds)
        elif meta.owner_of(pod) is None:
            self._enqueue_namespace(pod["metadata"].get("namespace"))   # an orphan someone may adopt

    def _pod_updated(self, old: dict, new: dict):
        if old["metadata"].get("resourceVersion") == new["metadata"].get("resourceVersion"):
            return
        ds = self._owner(new)
        if ds is None:
            return
        if new["metadata"].get("deletionTimestamp") and not old["metadata"].get("deletionTimestamp"):
            self.expectations.deletion_observed(meta_key(ds), meta_key(new))
        self.enqueue(ds)
        min_ready = (ds.get("spec") or {}).get("minReadySeconds") or 0
        if min_ready and not is_pod_ready(old) and is_pod_ready(new):
            self.queue.add_after(meta_key(ds), min_ready + 1)

    def _pod_deleted(self, pod: dict):
        ds = self._owner(pod)
        if ds is not None:
            self.expectations.deletion_observed(meta_key(ds), meta_key(pod))
            self.enqueue(ds)

    def _node_updated(self, old: dict, new: dict):
        what = lambda n: ((n.get("metadata") or {}).get("labels"), (n.get("spec") or {}).get("taints"))  # noqa: E731
        if what(old) != what(new):
            self._node_changed(new)

    def _node_changed(self, _node: dict):
        for ds in self.daemonsets.list():
            self.enqueue(ds)

    def _enqueue_namespace(self, namespace: Optional[str]):
        for ds in self.daemonsets.by_index(NAMESPACE_INDEX, namespace):
            self.enqueue(ds)

    # ------------------------------------------------------------ sync

    def sync(self, key: str) -> None:
        ds = self.daemonsets.get(key)
        if ds is None:
            self.expectations.delete(key)
            return
        try:
            selector = LabelSelector.from_dict((ds.get("spec") or {}).get("selector"))
        except SelectorError as err:
            log.warning("%s: invalid selector: %s", key, err)
            return
        if selector.empty or ds["metadata"].get("deletionTimestamp"):
            return
        current, old, collision_count = self.history.sync_history(ds, self.history.owned(ds, selector))
        hash_ = current["metadata"]["labels"][history.HASH_LABEL]

        pods = RefManager(self.client, "pods", ds, selector, "daemonsets").claim(
            claim_candidates(self.pods, ds))
        by_node: dict[str, list[dict]] = {}
        for pod in pods:
            by_node.setdefault(target_node(pod) or "", []).append(pod)
        nodes = {n["metadata"]["name"]: n for n in self.nodes.list()}
        pod_spec = daemon_pod_spec(ds)
        eligibility = {name: should_run(node, pod_spec) for name, node in nodes.items()}

        if self.expectations.satisfied(key):
            strategy = ((ds.get("spec") or {}).get("updateStrategy") or {}).get("type")
            surge, _ = rolling_params(ds, sum(1 for run, _ in eligibility.values() if run))
            deletes, creates = self.manage(ds, by_node, eligibility, hash_,
                                           surge if strategy == "RollingUpdate" else 0)
            if strategy == "RollingUpdate" and not deletes and not creates:
                deletes, creates = self.rolling_update(ds, by_node, eligibility, hash_)
            self.sync_nodes(ds, deletes, creates, hash_)

        live = {pod_hash(p) for p in pods if not p["metadata"].get("deletionTimestamp")}
        in_use = {r["metadata"]["name"] for r in old if r["metadata"].get("labels", {}).get(history.HASH_LABEL) in live}
        self.history.truncate(ds, old, in_use)
        self.update_status(ds, by_node, eligibility, hash_, collision_count)

    def manage(self, ds: dict, by_node: dict, eligibility: dict, hash_: str, surge: int) -> tuple[list[dict], list[str]]:
        """(pods to delete, nodes to create a pod on): podsShouldBeOnNode for every node."""
        deletes, creates = [], []
        for node_name, (run, keep) in eligibility.items():
            pods = by_node.get(node_name, [])
            running = sorted((p for p in pods if not p["metadata"].get("deletionTimestamp")), key=_age)
            if run and not pods:
                creates.append(node_name)
                continue
            if not keep:
                deletes += running
                continue
            for pod in running:
                if (pod.get("status") or {}).get("phase") == "Failed":
                    self.recorder.warning(ds, "FailedDaemonPod", f"Found failed daemon pod {meta_key(pod)} on "
                                                                 f"node {node_name}, will try to kill it")
                    deletes.append(pod)
            running = [p for p in running if p not in deletes]
            if surge and len(running) > 1:
                # one old and one new pod may share a node while the new one becomes available
                keep_new = next((p for p in running if pod_hash(p) == hash_), None)
                keep_old = next((p for p in running if pod_hash(p) != hash_), None)
                deletes += [p for p in running if p is not keep_new and p is not keep_old]
            elif len(running) > 1:
                deletes += running[1:]                 # keep the oldest
        for node_name, pods in by_node.items():       # pods of nodes that are gone
            if node_name not in eligibility:
                deletes += [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        return deletes, creates

    def rolling_update(self, ds: dict, by_node: dict, eligibility: dict, hash_: str):
        """(old pods to delete, nodes to surge onto), as the DaemonSet rollingUpdate."""
        desired = sum(1 for run, _ in eligibility.values() if run)
        max_surge, max_unavailable = rolling_params(ds, desired)
        min_ready = (ds.get("spec") or {}).get("minReadySeconds") or 0
        now = datetime.now(timezone.utc)
        available = lambda p: p is not None and is_pod_available(p, min_ready, now)  # noqa: E731
        deletes, creates, candidates = [], [], []
        busy = 0            # nodes without an available pod (no surge), or surges under way
        for node_name in sorted(by_node):
            if node_name not in eligibility:
                continue
            running = [p for p in by_node[node_name] if not p["metadata"].get("deletionTimestamp")]
            new = [p for p in running if pod_hash(p) == hash_]
            old = [p for p in running if pod_hash(p) != hash_]
            if len(new) > 1 or len(old) > 1 or not running:
                busy += 1
                continue
            new_pod, old_pod = (new or [None])[0], (old or [None])[0]
            if max_surge == 0:
                if new_pod is not None:
                    busy += 0 if available(new_pod) and old_pod is None else 1
                elif not available(old_pod):
                    deletes.append(old_pod)      # already unavailable: replace it at once
                else:
                    candidates.append(old_pod)
            elif old_pod is None:
                continue
            elif new_pod is None:
                if not available(old_pod):
                    creates.append(node_name)
                else:
                    candidates.append(node_name)
            elif not available(new_pod):
                busy += 1                        # waiting for the surge pod
            else:
                deletes.append(old_pod)          # the new one is available: the old one goes
        budget = (max_surge if max_surge else max_unavailable) - busy
        chosen = candidates[:max(0, budget)]
        if max_surge:
            return deletes, creates + chosen
        return deletes + chosen, creates

    def sync_nodes(self, ds: dict, deletes: list[dict], creates: list[str], hash_: str) -> None:
        key = meta_key(ds)
        if not deletes and not creates:
            return
        log.info("%s: deleting %s, creating on %s", key, [p["metadata"]["name"] for p in deletes], creates)
        self.expectations.expect_creations(key, len(creates))
        self.expectations.expect_deletions(key, [meta_key(p) for p in deletes])
        error = None
        # deletes first: an old pod going and a surge pod coming in one sync never exceed maxSurge
        for pod in deletes:
            try:
                self.client.delete("pods", pod["metadata"]["name"], namespace=pod["metadata"]["namespace"])
                self.recorder.normal(ds, "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}")
            except errors.NotFound:
                self.expectations.deletion_observed(key, meta_key(pod))
            except errors.ApiError as err:
                self.expectations.deletion_observed(key, meta_key(pod))
                self.recorder.warning(ds, "FailedDelete", f"Error deleting: {err.message}")
                error = error or err
        for node_name in creates:
            try:
                created = self.client.create("pods", self.new_pod(ds, node_name, hash_),
                                             namespace=ds["metadata"]["namespace"])
                self.recorder.normal(ds, "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")
            except errors.ApiError as err:
                self.expectations.creation_observed(key)        # it will never show up
                if isinstance(err, errors.Forbidden):
                    continue                                    # the namespace is terminating
                self.recorder.warning(ds, "FailedCreate", f"Error creating: {err.message}")
                error = error or err
        if error is not None:
            raise error

    def new_pod(self, ds: dict, node_name: str, hash_: str) -> dict:
        template = (ds.get("spec") or {}).get("template") or {}
        pod = pod_from_template(template, ds, f"{ds['metadata']['name']}-")
        labels = pod["metadata"].setdefault("labels", {})
        labels[history.HASH_LABEL] = hash_
        labels[TEMPLATE_GENERATION_LABEL] = str(ds["metadata"].get("generation", 1))
        add_daemon_tolerations(pod["spec"])
        pin_to_node(pod["spec"], node_name)
        return pod

    # ------------------------------------------------------------ status

    def update_status(self, ds: dict, by_node: dict, eligibility: dict, hash_: str, collision_count: int):
        min_ready = (ds.get("spec") or {}).get("minReadySeconds") or 0
        now = datetime.now(timezone.utc)
        desired = current = ready = available = updated = misscheduled = 0
        wait = None
        for node_name, (run, _) in eligibility.items():
            pods = sorted((p for p in by_node.get(node_name, []) if not p["metadata"].get("deletionTimestamp")),
                          key=_age)
            if not run:
                misscheduled += 1 if pods else 0
                continue
            desired += 1
            if not pods:
                continue
            current += 1
            new = [p for p in pods if pod_hash(p) == hash_]
            pod = new[0] if new else pods[0]
            if is_pod_ready(pod):
                ready += 1
                if is_pod_available(pod, min_ready, now):
                    available += 1
                else:
                    left = seconds_until_available(pod, min_ready, now)
                    wait = left if wait is None or (left and left < wait) else wait
            if new:
                updated += 1
        status = dict(ds.get("status") or {})
        status.update(desiredNumberScheduled=desired, currentNumberScheduled=current, numberReady=ready,
                      numberAvailable=available, numberUnavailable=desired - available,
                      updatedNumberScheduled=updated, numberMisscheduled=misscheduled,
                      observedGeneration=ds["metadata"].get("generation", 1))
        if collision_count:
            status["collisionCount"] = collision_count
        if wait:
            self.queue.add_after(meta_key(ds), wait + 0.1)
        write_status(self.client, "daemonsets", ds, status)


__all__ = ["DAEMON_TOLERATIONS", "DaemonSetController", "add_daemon_tolerations", "pin_to_node",
           "should_run", "target_node"]
