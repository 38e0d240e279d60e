"""The scheduler's cache: every node, and the requests of every pod placed on one.

Filtering reads NodeInfo.requested, so the cache must count a pod on its node
from the moment the scheduler *decides*, not from when the apiserver confirms:
binding takes a round trip, and meanwhile the next pod must already see the slot
as taken, or two pods could both get the last one. Hence, as in kube-scheduler:

* ``assume(pod, node)``: count the pod on the node at once (state *assumed*);
* ``forget(key)``: the bind failed -- uncount it;
* ``add_pod(pod)``: the informer shows the pod bound -- the assumption is
  *confirmed* (moved, if it ended up elsewhere); pods bound by anyone else are
  simply added.

Pods that finished (Succeeded/Failed) use nothing and are not counted. A node
deleted while pods are still bound to it stays as a node-less NodeInfo (not
schedulable) until they go.

All methods take ``lock``; the scheduling loop holds it for a whole cycle so the
nodes do not change under the filters.
"""
from __future__ import annotations

import logging
import threading

from .framework import NodeInfo, PodInfo, pod_key

__all__ = ["Cache"]

log = logging.getLogger(__name__)


class _PodState:
    __slots__ = ("info", "assumed")

    def __init__(self, info: PodInfo, assumed: bool):
        self.info = info
        self.assumed = assumed


class Cache:
    def __init__(self):
        self.lock = threading.RLock()
        self._nodes: dict[str, NodeInfo] = {}
        self._schedulable: list[NodeInfo] = []     # nodes with a Node object, in arrival order
        self._pods: dict[str, _PodState] = {}

    # ------------------------------------------------------------------ nodes
    def add_node(self, node: dict) -> NodeInfo:
        """Add or update a Node (same thing: take its newest version)."""
        name = node["metadata"]["name"]
        with self.lock:
            info = self._nodes.get(name)
            if info is None:
                info = self._nodes[name] = NodeInfo(name=name)
            had_node = info.node is not None
            info.set_node(node)
            if not had_node:
                self._schedulable.append(info)
            return info

    update_node = add_node

    def remove_node(self, node: dict) -> None:
        name = node["metadata"]["name"]
        with self.lock:
            info = self._nodes.get(name)
            if info is None:
                return
            if info.node is not None:
                self._schedulable.remove(info)
            info.set_node(None)
            if not info.pods:
                del self._nodes[name]

    def nodes(self) -> list[NodeInfo]:
        """The nodes that can take pods, in a stable order. Hold ``lock`` while using it."""
        return self._schedulable

    def node(self, name: str) -> NodeInfo | None:
        with self.lock:
            return self._nodes.get(name)

    def has_node(self, name: str) -> bool:
        with self.lock:
            info = self._nodes.get(name)
            return info is not None and info.node is not None

    def _node_for(self, name: str) -> NodeInfo:
        info = self._nodes.get(name)
        if info is None:   # a pod bound to a node we have not seen (yet): keep count anyway
            info = self._nodes[name] = NodeInfo(name=name)
        return info

    # ------------------------------------------------------------------ assumed pods
    def assume(self, pod: PodInfo, node_name: str) -> None:
        """Count a pod on a node before the bind is confirmed."""
        with self.lock:
            if pod.key in self._pods:
                raise ValueError(f"pod {pod.key} is already in the cache")
            pod.node_name = node_name
            self._node_for(node_name).add_pod(pod)
            self._pods[pod.key] = _PodState(pod, assumed=True)

    def forget(self, key: str) -> None:
        """The bind failed: uncount an assumed pod (a confirmed one stays)."""
        with self.lock:
            state = self._pods.get(key)
            if state is None or not state.assumed:
                return
            del self._pods[key]
            self._remove_from_node(state.info)

    def is_assumed(self, key: str) -> bool:
        with self.lock:
            state = self._pods.get(key)
            return state is not None and state.assumed

    # ------------------------------------------------------------------ bound pods
    def add_pod(self, pod: dict) -> None:
        """A pod bound to a node (from the informer): confirm, move or add it."""
        key = pod_key(pod)
        node_name = pod["spec"]["nodeName"]
        with self.lock:
            state = self._pods.get(key)
            if state is not None and state.assumed:
                state.assumed = False
                if state.info.node_name != node_name:
                    log.info("pod %s was assumed on %s but is bound to %s", key,
                             state.info.node_name, node_name)
                    self._remove_from_node(state.info)
                    state.info = PodInfo(pod, strict=False)
                    self._node_for(node_name).add_pod(state.info)
                else:
                    state.info.pod, state.info.spec = pod, pod.get("spec") or {}
                return
            if state is not None:
                self._update(state, pod)
                return
            info = PodInfo(pod, strict=False)
            self._node_for(node_name).add_pod(info)
            self._pods[key] = _PodState(info, assumed=False)

    def update_pod(self, pod: dict) -> None:
        """A new version of a bound pod."""
        self.add_pod(pod)

    def _update(self, state: _PodState, pod: dict) -> None:
        old = state.info
        same_node = old.node_name == pod["spec"]["nodeName"]
        if same_node and old.spec == pod.get("spec") and \
                (old.pod.get("metadata") or {}).get("ownerReferences") == \
                (pod.get("metadata") or {}).get("ownerReferences"):
            old.pod = pod          # only status or labels changed: the counts stand
            return
        self._remove_from_node(old)
        state.info = PodInfo(pod, strict=False)
        self._node_for(state.info.node_name).add_pod(state.info)

    def remove_pod(self, pod: dict) -> None:
        """A bound pod was deleted or finished: free what it used."""
        key = pod_key(pod)
        with self.lock:
            state = self._pods.pop(key, None)
            if state is not None:
                self._remove_from_node(state.info)

    def _remove_from_node(self, info: PodInfo) -> None:
        node = self._nodes.get(info.node_name)
        if node is None:
            return
        node.remove_pod(info.key)
        if node.node is None and not node.pods:
            del self._nodes[info.node_name]

    # ------------------------------------------------------------------ introspection
    def pod_count(self) -> tuple[int, int]:
        """(assumed, confirmed) pods, for logs and tests."""
        with self.lock:
            assumed = sum(1 for s in self._pods.values() if s.assumed)
            return assumed, len(self._pods) - assumed

    def dump(self) -> dict[str, dict]:
        """Per node: pods and requested resources (for debugging and tests)."""
        with self.lock:
            return {name: {"schedulable": info.node is not None, "pods": sorted(info.pods),
                           "requested": dict(info.requested)}
                    for name, info in self._nodes.items()}
