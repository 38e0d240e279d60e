"""Node lifecycle: notice nodes that stopped answering, taint them, evict their pods.

A kubelet proves it is alive in two ways: it renews its Lease
(``kube-node-lease/<node>``, every 10 s) and it posts NodeStatus (the ``Ready``
condition's ``lastHeartbeatTime``). This controller watches both. It measures silence
on *its own* clock, from the moment it last saw either one change, so the clocks of
the nodes do not matter.

1. **Health.** A node silent for longer than the grace period (40 s,
   ``--node-monitor-grace-period``) gets Ready=Unknown, reason NodeStatusUnknown,
   "Kubelet stopped posting node status." (MemoryPressure, DiskPressure and PIDPressure
   too). A node that never posted a Ready condition gets NodeStatusNeverUpdated.
2. **Taints** follow the Ready condition (what Kubernetes calls taint-based eviction):
   Ready=False gives ``node.kubernetes.io/not-ready``, Ready=Unknown
   ``node.kubernetes.io/unreachable``, each with effect NoSchedule (the scheduler
   stops placing pods there) and NoExecute (running pods must leave). Ready=True,
   posted by a kubelet that came back, removes them.
3. **Pods** on a node that is not Ready are marked Ready=False (event NodeNotReady), so
   Services and rollouts stop counting on them.
4. **Eviction** (the taint manager, tainteviction.py): pods leave a node with NoExecute
   taints once their tolerations run out; pods of a lost node are force-deleted.

Not done: zones and the "full disruption" mode that stops evictions when every node
is down at once, eviction rate limits, and conditions other than Ready.
"""
from __future__ import annotations

import copy
import logging
import threading
import time
from dataclasses import dataclass
from typing import Optional

from ..api.conditions import condition, condition_status, object_condition
from ..api.meta import now_rfc3339
from ..client import errors
from ..client.informer import meta_key
from ..client.workqueue import WorkQueue, run_workers
from .base import Controller
from .tainteviction import (LIFECYCLE_TAINTS, NO_EXECUTE, NOT_READY, UNREACHABLE,
                            TaintEviction)

log = logging.getLogger(__name__)

NODE_LEASE_NAMESPACE = "kube-node-lease"
NO_SCHEDULE = "NoSchedule"
# The conditions a silent node's kubelet can no longer vouch for.
KUBELET_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")

NODE_INDEX = "nodelifecycle:node"


# ------------------------------------------------------------------ pure helpers

def ready_status(node: dict) -> Optional[str]:
    """"True", "False", "Unknown", or None if no Ready condition was ever posted."""
    return condition_status(node, "Ready")


def lifecycle_taints_for(status: Optional[str]) -> list[dict]:
    """The taints a node with this Ready status should carry (timeAdded not set here)."""
    key = {"False": NOT_READY, "Unknown": UNREACHABLE}.get(status or "")
    if key is None:
        return []
    return [{"key": key, "effect": NO_SCHEDULE}, {"key": key, "effect": NO_EXECUTE}]


def desired_taints(current: list[dict], status: Optional[str], now: str) -> list[dict]:
    """The node's taints with the lifecycle ones made to match the Ready status.

    Taints set by others are kept as they are; a lifecycle taint already present keeps
    its timeAdded (its pods' toleration clocks must not restart).
    """
    want = lifecycle_taints_for(status)
    out = [t for t in current if t.get("key") not in LIFECYCLE_TAINTS
           or any(t.get("key") == w["key"] and t.get("effect") == w["effect"] for w in want)]
    for w in want:
        if not any(t.get("key") == w["key"] and t.get("effect") == w["effect"] for t in out):
            taint = dict(w)
            if w["effect"] == NO_EXECUTE:
                taint["timeAdded"] = now
            out.append(taint)
    return out


@dataclass
class NodeHealth:
    """What we last saw of a node, and when (on our monotonic clock) it last moved."""
    probe_time: float
    heartbeat: Optional[str]       # Ready condition's lastHeartbeatTime
    renew_time: Optional[str]      # its Lease's spec.renewTime
    ready: Optional[str]           # Ready status at our last look


# ------------------------------------------------------------------ the controller

class NodeLifecycleController(TaintEviction, Controller):
    """Two queues: node names (health, taints) and pod keys (eviction)."""

    name = "nodelifecycle"

    def __init__(self, client, informers):
        super().__init__(client, informers)
        self.evictions = WorkQueue("taint-eviction")
        self._health: dict[str, NodeHealth] = {}
        self._apiserver_down = False

        self.nodes = informers.get("nodes")
        self.leases = informers.get("leases")
        self.pods = informers.get("pods")
        self.pods.add_index(NODE_INDEX, lambda p: (p.get("spec") or {}).get("nodeName"))

        self.nodes.add_handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new),
                               on_delete=self.enqueue)
        self.leases.add_handler(on_add=self._on_lease, on_update=lambda old, new: self._on_lease(new))
        self.pods.add_handler(on_add=self._on_pod, on_update=lambda old, new: self._on_pod(new))

    # ----------------------------------------------------------- events

    def _on_lease(self, lease: dict):
        md = lease.get("metadata") or {}
        if md.get("namespace") == NODE_LEASE_NAMESPACE:
            self.queue.add(md["name"])

    # ----------------------------------------------------------- running

    def run(self, stop: threading.Event):
        threads = super().run(stop)
        threads += run_workers(self.evictions, self.sync_pod, 2, stop)
        t = threading.Thread(target=self._monitor, args=(stop,), daemon=True,
                             name="nodelifecycle-monitor")
        t.start()
        return threads + [t]

    def _monitor(self, stop: threading.Event):
        """Every node_monitor_period, look at every node (silence makes no events)."""
        while not stop.wait(float(self.config.node_monitor_period)):
            if not self._apiserver_reachable():
                continue
            names = {n["metadata"]["name"] for n in self.nodes.list()}
            for name in names:
                self.queue.add(name)
            for pod in self.pods.list():   # pods bound to nodes that are gone
                node_name = (pod.get("spec") or {}).get("nodeName")
                if node_name and node_name not in names:
                    self.queue.add(node_name)

    def _apiserver_reachable(self) -> bool:
        """Silence only counts while we can hear: after an outage, every node starts afresh.

        While the apiserver was down no kubelet could renew its Lease either; judging
        them by that gap would mark every node Unknown the moment it came back.
        """
        try:
            self.client.request("GET", "/healthz", timeout=5)
        except Exception:
            if not self._apiserver_down:
                log.warning("apiserver unreachable: node health checks paused")
            self._apiserver_down = True
            return False
        if self._apiserver_down:
            self._apiserver_down = False
            now = time.monotonic()
            for health in list(self._health.values()):
                health.probe_time = now
            log.info("apiserver reachable again: every node gets a fresh grace period")
        return True

    # ----------------------------------------------------------- node sync

    def sync(self, name: str) -> None:
        node = self.nodes.get(name)
        if node is None:
            self._health.pop(name, None)
            self._delete_pods_of_gone_node(name)
            return
        try:
            self._sync_node(node)
        except errors.Conflict:
            self.queue.add_after(name, 0.2)   # someone wrote first: look again

    def _sync_node(self, node: dict):
        name = node["metadata"]["name"]
        health = self._observe(node)
        if self._silent(health) and ready_status(node) != "Unknown" and \
                self._still_silent(node, health):
            node = self._mark_unknown(self.client.get("nodes", name))
            # Our own write is not a sign of life (a never-posted Ready gets a heartbeat time).
            health.heartbeat = (object_condition(node, "Ready") or {}).get("lastHeartbeatTime")
        status = ready_status(node)
        if health.ready == "True" and status != "True":
            log.info("node %s is not ready (Ready=%s)", name, status)
            self._event(node, "NodeNotReady", f"Node {name} status is now: NodeNotReady",
                        component="node-controller")
        elif health.ready not in (None, "True") and status == "True":
            log.info("node %s is ready again", name)
        health.ready = status
        node = self._reconcile_taints(node, status)
        if status is not None and status != "True":
            self._mark_pods_not_ready(node)
        if self._no_execute_taints(node):
            for pod in self.pods.by_index(NODE_INDEX, name):
                self.evictions.add(meta_key(pod))

    def _observe(self, node: dict) -> NodeHealth:
        """Update the node's probe time if its heartbeat or its Lease moved."""
        name = node["metadata"]["name"]
        ready = object_condition(node, "Ready")
        heartbeat = ready.get("lastHeartbeatTime") if ready else None
        lease = self.leases.get(f"{NODE_LEASE_NAMESPACE}/{name}")
        renew = ((lease or {}).get("spec") or {}).get("renewTime")
        now = time.monotonic()
        health = self._health.get(name)
        if health is None:
            # First sight (or we just started): give it a full grace period.
            health = self._health[name] = NodeHealth(now, heartbeat, renew, ready_status(node))
            return health
        if heartbeat != health.heartbeat:
            health.heartbeat, health.probe_time = heartbeat, now
        if renew and renew != health.renew_time:
            health.renew_time, health.probe_time = renew, now
        return health

    def _silent(self, health: NodeHealth) -> bool:
        return time.monotonic() - health.probe_time > float(self.config.node_monitor_grace_period)

    def _still_silent(self, node: dict, health: NodeHealth) -> bool:
        """Before declaring a node dead, read its Lease and Node live: the cache may lag."""
        name = node["metadata"]["name"]
        try:
            lease = self.client.get("leases", name, namespace=NODE_LEASE_NAMESPACE)
        except errors.NotFound:
            lease = None
        live = self.client.get("nodes", name)
        renew = ((lease or {}).get("spec") or {}).get("renewTime")
        heartbeat = (object_condition(live, "Ready") or {}).get("lastHeartbeatTime")
        if (renew and renew != health.renew_time) or heartbeat != health.heartbeat:
            health.renew_time = renew or health.renew_time
            health.heartbeat = heartbeat
            health.probe_time = time.monotonic()
            return False
        return True

    def _mark_unknown(self, node: dict) -> dict:
        """The kubelet is silent: its conditions are now Unknown (status write)."""
        new = copy.deepcopy(node)
        conds = new.setdefault("status", {}).setdefault("conditions", [])
        now = now_rfc3339()
        changed = False
        for ctype in KUBELET_CONDITIONS:
            cond = object_condition(new, ctype)
            if cond is None:
                conds.append(condition(ctype, "Unknown", "NodeStatusNeverUpdated",
                                       "Kubelet never posted node status.",
                                       lastHeartbeatTime=node["metadata"].get("creationTimestamp"),
                                       lastTransitionTime=now))
                changed = True
            elif cond.get("status") != "Unknown":
                cond.update(status="Unknown", reason="NodeStatusUnknown",
                            message="Kubelet stopped posting node status.", lastTransitionTime=now)
                changed = True
        if not changed:
            return node
        log.info("node %s: no heartbeat for %.0fs, marking its conditions Unknown",
                 node["metadata"]["name"], float(self.config.node_monitor_grace_period))
        return self.client.update_status("nodes", new)   # carries the cached resourceVersion

    def _reconcile_taints(self, node: dict, status: Optional[str]) -> dict:
        current = (node.get("spec") or {}).get("taints") or []
        wanted = desired_taints(current, status, now_rfc3339())
        if wanted == current:
            return node
        new = copy.deepcopy(node)
        if wanted:
            new.setdefault("spec", {})["taints"] = wanted
        else:
            new.setdefault("spec", {}).pop("taints", None)
        log.info("node %s: taints %s", node["metadata"]["name"],
                 [f"{t['key']}:{t['effect']}" for t in wanted] or "none")
        return self.client.update("nodes", new)

    def _mark_pods_not_ready(self, node: dict):
        """Pods on a node that is not Ready are not Ready either (Kubernetes' MarkPodsNotReady)."""
        for pod in self.pods.by_index(NODE_INDEX, node["metadata"]["name"]):
            cond = object_condition(pod, "Ready")
            if cond is None or cond.get("status") == "False":
                continue
            new = copy.deepcopy(pod)
            object_condition(new, "Ready").update(status="False", lastTransitionTime=now_rfc3339())
            try:
                self.client.update_status("pods", new)
            except (errors.NotFound, errors.Conflict):
                continue   # gone, or changed: the next pass looks again
            self._event(pod, "NodeNotReady", "Node is not ready", type="Warning",
                        component="node-controller")

    def _delete_pods_of_gone_node(self, name: str):
        """Pods bound to a node that no longer exists can never run: force-delete them."""
        pods = self.pods.by_index(NODE_INDEX, name)
        if not pods:
            return
        try:
            self.client.get("nodes", name)
            return   # it exists; our cache is behind
        except errors.NotFound:
            pass
        self._event({"kind": "Node", "apiVersion": "v1", "name": name}, "DeletingAllPods",
                    f"Deleting all Pods from Node {name}.", component="node-controller")
        for pod in pods:
            self._force_delete(pod, f"node {name} no longer exists")

    # ----------------------------------------------------------- helpers

    def _event(self, obj, reason, message, type="Normal", component="node-controller"):
        try:
            self.client.create_event(obj, reason, message, type=type, component=component)
        except Exception as exc:   # events are best effort; never fail a sync for one
            log.debug("could not record event %s: %s", reason, exc)
