"""Taint-based eviction (the taint manager): pods leave a node with NoExecute taints.

Part of the node lifecycle controller (nodelifecycle.py), as in Kubernetes before the
taint-eviction-controller became a controller of its own; it works through the
controller's second queue, of pod keys.

A pod on a node with NoExecute taints is deleted (event TaintManagerEviction) once its
toleration runs out: ``tolerationSeconds`` of the toleration that matches, counted from
the taint's ``timeAdded``. No matching toleration: at once, except for the node
lifecycle's own taints (not-ready, unreachable), where ``--pod-eviction-timeout`` (300 s)
stands in, as the apiserver's DefaultTolerationSeconds would have. A toleration without
tolerationSeconds tolerates forever. Its ReplicaSet then makes a replacement, which the
scheduler puts on a healthy node.

Pods on a lost node (a choice, documented): eviction is an ordinary graceful delete,
which only sets ``deletionTimestamp``; the kubelet normally finishes it. An unreachable
node has no kubelet to do so, and in Kubernetes such pods stay "Terminating" until the
node returns or an admin adds the ``out-of-service`` taint. Here, with
``force_delete_unreachable_pods`` (the default), a terminating pod on a node whose Ready
is Unknown is force-deleted (gracePeriodSeconds=0) once its grace period has passed,
as Kubernetes' PodGC does for terminating pods on out-of-service nodes. If the node was
only cut off, its kubelet stops the containers when it is back and finds the pods gone.
Pods bound to a node that no longer exists are force-deleted too (event DeletingAllPods),
as PodGC does for orphaned pods.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from typing import Optional

from ..api.conditions import condition_status
from ..api.meta import parse_time
from ..api.taints import tolerates
from ..client import errors
from ..client.informer import meta_key

log = logging.getLogger("minikube_py.controllers.nodelifecycle")

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"
LIFECYCLE_TAINTS = (NOT_READY, UNREACHABLE)
NO_EXECUTE = "NoExecute"


def unreachable(node: dict) -> bool:
    """Ready=Unknown: its kubelet has gone silent (no kubelet will finish its pods)."""
    return condition_status(node, "Ready") == "Unknown"


def eviction_time(pod: dict, taints: list[dict], default_seconds: float,
                  now: Optional[datetime] = None) -> Optional[datetime]:
    """When a pod must leave a node with these NoExecute taints; None if never.

    For each taint: the matching tolerations; none at all means "now" (or, for the
    not-ready/unreachable taints, ``default_seconds``); a matching toleration without
    tolerationSeconds means "never" for that taint; otherwise the smallest
    tolerationSeconds counted from the taint's timeAdded. The pod leaves at the
    earliest of these times.
    """
    now = now or datetime.now(timezone.utc)
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    earliest = None
    for taint in taints:
        if taint.get("effect") != NO_EXECUTE:
            continue
        matching = [t for t in tolerations if tolerates(t, taint)]
        if not matching:
            if taint.get("key") not in LIFECYCLE_TAINTS:
                return now
            matching = [{"tolerationSeconds": default_seconds}]
        seconds = [float(t["tolerationSeconds"]) for t in matching
                   if t.get("tolerationSeconds") is not None]
        if not seconds:
            continue   # tolerated forever
        try:
            added = parse_time(taint["timeAdded"])
        except (KeyError, ValueError):
            added = now
        when = added + timedelta(seconds=max(min(seconds), 0))
        earliest = when if earliest is None else min(earliest, when)
    return earliest


class TaintEviction:
    """Mixin of NodeLifecycleController; uses its pods and nodes informers, its
    ``evictions`` queue, ``config`` and ``_event``."""

    def _on_pod(self, pod: dict):
        node_name = (pod.get("spec") or {}).get("nodeName")
        if not node_name:
            return
        node = self.nodes.get(node_name)
        if node is None or self._no_execute_taints(node) or \
                (pod["metadata"].get("deletionTimestamp") and unreachable(node)):
            self.evictions.add(meta_key(pod))

    @staticmethod
    def _no_execute_taints(node: dict) -> list[dict]:
        return [t for t in (node.get("spec") or {}).get("taints") or [] if t.get("effect") == NO_EXECUTE]

    def sync_pod(self, key: str) -> None:
        pod = self.pods.get(key)
        if pod is None:
            return
        node_name = (pod.get("spec") or {}).get("nodeName")
        node = self.nodes.get(node_name) if node_name else None
        if node is None:
            return   # unbound, or its node is gone (nodelifecycle: _delete_pods_of_gone_node)
        if pod["metadata"].get("deletionTimestamp"):
            self._finish_on_lost_node(key, pod, node)
            return
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return
        taints = self._no_execute_taints(node)
        if not taints:
            return   # nothing to evict for (a cancelled eviction lands here too)
        when = eviction_time(pod, taints, float(self.config.pod_eviction_timeout))
        if when is None:
            return   # tolerated forever
        delay = (when - datetime.now(timezone.utc)).total_seconds()
        if delay > 0:
            self.evictions.add_after(key, delay)
            return
        md = pod["metadata"]
        log.info("evicting pod %s from node %s (NoExecute taints %s)", key, node_name,
                 [t["key"] for t in taints])
        self._event(pod, "TaintManagerEviction", f"Marking for deletion Pod {key}",
                    component="taint-eviction-controller")
        try:
            self.client.delete("pods", md["name"], namespace=md["namespace"],
                               preconditions={"uid": md["uid"]})
        except (errors.NotFound, errors.Conflict):
            pass

    def _finish_on_lost_node(self, key: str, pod: dict, node: dict):
        """A terminating pod on an unreachable node: force-delete once its grace is over."""
        if not self.config.force_delete_unreachable_pods or not unreachable(node):
            return   # a kubelet may still finish it
        try:
            deadline = parse_time(pod["metadata"]["deletionTimestamp"])
        except ValueError:
            deadline = datetime.now(timezone.utc)
        delay = (deadline - datetime.now(timezone.utc)).total_seconds()
        if delay > 0:
            self.evictions.add_after(key, delay + 0.1)
            return
        self._force_delete(pod, f"its node {node['metadata']['name']} is unreachable "
                                "and its grace period is over")

    def _force_delete(self, pod: dict, why: str):
        md = pod["metadata"]
        log.info("force-deleting pod %s: %s", meta_key(pod), why)
        self._event(pod, "DeletionByPodGC", f"Force-deleting pod: {why}", type="Warning",
                    component="pod-garbage-collector")
        try:
            self.client.delete("pods", md["name"], namespace=md["namespace"],
                               grace_period_seconds=0, preconditions={"uid": md["uid"]})
        except (errors.NotFound, errors.Conflict):
            pass
