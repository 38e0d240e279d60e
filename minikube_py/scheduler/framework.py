"""What plugins look at: PodInfo (the pod being placed) and NodeInfo (one node and its pods).

Plugins run for every (pod, node) pair, hundreds of times per pod in a big cluster,
so whatever can be computed once is computed once:

* :class:`PodInfo` parses the pod when its scheduling cycle starts: its requests as
  integers, its tolerations, its host ports, its controller. ``pod.memo`` lets a
  plugin keep its own parsed form of the pod (e.g. node affinity) for the cycle.
* :class:`NodeInfo` is kept up to date by the cache as pods come and go: the node's
  allocatable resources and the sum of what its pods request, so "does it fit?" is
  one subtraction, not a walk over the node's pods.

Both keep the raw objects (``pod_info.pod``, ``node_info.node``) for anything else.
Kubernetes has the same two types in ``pkg/scheduler/framework``.
"""
from __future__ import annotations

import itertools
import logging

from ..api.meta import owner_of
from .resources import (CPU, DEFAULT_MEMORY_REQUEST, DEFAULT_MILLI_CPU_REQUEST, MEMORY, PODS,
                        ResourceError, pod_requests, resource_list)

__all__ = ["PodSpecError", "PodInfo", "NodeInfo", "pod_key", "filter_reasons",
           "normalize_scores", "MAX_NODE_SCORE"]

log = logging.getLogger(__name__)

MAX_NODE_SCORE = 100
_NONZERO_DEFAULTS = {CPU: DEFAULT_MILLI_CPU_REQUEST, MEMORY: DEFAULT_MEMORY_REQUEST}

# Every change to any NodeInfo takes the next number, so "same generation" means
# "nothing changed" even across a node deleted and created again under its name.
_generations = itertools.count(1)


class PodSpecError(ValueError):
    """The pod's spec cannot be read by the scheduler (the reason goes to FailedScheduling)."""


def pod_key(pod: dict) -> str:
    md = pod.get("metadata") or {}
    return f"{md.get('namespace')}/{md.get('name')}"


class PodInfo:
    """A pod, parsed once for scheduling.

    ``strict=True`` (a pod about to be scheduled) raises PodSpecError for a spec
    the scheduler cannot read; ``strict=False`` (a pod already on a node, counted
    in the cache) logs the problem and counts the unreadable parts as zero.
    """

    __slots__ = ("pod", "key", "namespace", "name", "uid", "labels", "spec", "priority",
                 "requests", "nonzero_requests", "tolerations", "host_ports", "owner_uid",
                 "node_name", "memo")

    def __init__(self, pod: dict, strict: bool = True):
        md = pod.get("metadata") or {}
        spec = pod.get("spec") or {}
        self.pod = pod
        self.namespace = md.get("namespace")
        self.name = md.get("name")
        self.key = f"{self.namespace}/{self.name}"
        self.uid = md.get("uid")
        self.labels = md.get("labels") or {}
        self.spec = spec
        self.node_name = spec.get("nodeName") or None
        self.memo: dict = {}
        prio = spec.get("priority") or 0
        self.priority = prio if isinstance(prio, int) else 0
        owner = owner_of(pod)
        self.owner_uid = owner.get("uid") if owner else None
        try:
            self.requests = pod_requests(spec)
            self.nonzero_requests = {CPU: 0, MEMORY: 0, **pod_requests(spec, _NONZERO_DEFAULTS)}
            self.tolerations = _tolerations(spec)
            self.host_ports = _host_ports(spec)
        except (ResourceError, PodSpecError, TypeError, AttributeError, ValueError) as err:
            if strict:
                raise PodSpecError(str(err)) from None
            log.warning("pod %s: cannot read its spec (%s); counting it as requesting nothing",
                        self.key, err)
            self.requests, self.nonzero_requests = {}, {CPU: 0, MEMORY: 0}
            self.tolerations, self.host_ports = [], []

    def __repr__(self) -> str:
        return f"PodInfo({self.key!r}, requests={self.requests})"


def _tolerations(spec: dict) -> list[dict]:
    tolerations = spec.get("tolerations") or []
    if not isinstance(tolerations, list) or not all(isinstance(t, dict) for t in tolerations):
        raise PodSpecError("spec.tolerations: must be a list of objects")
    return tolerations


def _host_ports(spec: dict) -> list[tuple[str, str, int]]:
    """(hostIP, protocol, hostPort) of every container port bound on the node."""
    ports = []
    for c in spec.get("containers") or []:
        for p in c.get("ports") or []:
            host_port = p.get("hostPort") or 0
            if not isinstance(host_port, int):
                raise PodSpecError(f"container {c.get('name')!r}: hostPort must be an integer")
            if host_port > 0:
                ports.append((p.get("hostIP") or "0.0.0.0", p.get("protocol") or "TCP", host_port))
    return ports


class NodeInfo:
    """One node as the scheduler sees it: the Node object plus the pods placed on it.

    ``requested`` sums the pods' requests (assumed pods included);
    ``nonzero_requested`` the same with 100m cpu / 200Mi memory for containers that
    ask for nothing (used by scoring). ``node`` is None for a node the cache only
    knows from pods bound to it (the Node object is gone or not seen yet).
    ``generation`` changes whenever anything here changes (see equivalence.py).
    """

    __slots__ = ("name", "node", "labels", "taints", "unschedulable", "ready", "allocatable",
                 "requested", "nonzero_requested", "pods", "used_ports", "owner_counts",
                 "generation")

    def __init__(self, node: dict | None = None, name: str | None = None):
        self.name = name or (node or {}).get("metadata", {}).get("name")
        self.pods: dict[str, PodInfo] = {}
        self.requested: dict[str, int] = {CPU: 0, MEMORY: 0}
        self.nonzero_requested: dict[str, int] = {CPU: 0, MEMORY: 0}
        self.used_ports: dict[tuple[str, int], dict[str, int]] = {}   # (proto, port) -> {ip: n}
        self.owner_counts: dict[str, int] = {}                        # controller uid -> pods
        self.set_node(node)

    def set_node(self, node: dict | None) -> None:
        """Take a new version of the Node object (None: the node is gone)."""
        self.generation = next(_generations)
        self.node = node
        node = node or {}
        spec, status = node.get("spec") or {}, node.get("status") or {}
        self.labels = (node.get("metadata") or {}).get("labels") or {}
        self.taints = [t for t in spec.get("taints") or [] if isinstance(t, dict)]
        self.unschedulable = bool(spec.get("unschedulable"))
        self.ready = None
        for cond in status.get("conditions") or []:
            if isinstance(cond, dict) and cond.get("type") == "Ready":
                self.ready = cond.get("status")
        # cpu, memory and pods are always present (0 when the node reports none),
        # so the hot plugins can index them directly.
        self.allocatable = {CPU: 0, MEMORY: 0, PODS: 0}
        raw = status.get("allocatable") or status.get("capacity") or {}
        for name, value in (raw.items() if isinstance(raw, dict) else ()):
            try:
                self.allocatable.update(resource_list({name: value}))
            except ResourceError as err:
                log.warning("node %s: allocatable %s is unreadable (%s); counting 0",
                            self.name, name, err)

    def add_pod(self, pod: PodInfo) -> None:
        """Count a pod on this node (the cache calls this; plugins only read)."""
        self.pods[pod.key] = pod
        self._count(pod, 1)

    def remove_pod(self, key: str) -> PodInfo | None:
        pod = self.pods.pop(key, None)
        if pod is not None:
            self._count(pod, -1)
        return pod

    def _count(self, pod: PodInfo, sign: int) -> None:
        self.generation = next(_generations)
        requested = self.requested
        for name, value in pod.requests.items():
            requested[name] = requested.get(name, 0) + sign * value
        nonzero = self.nonzero_requested
        for name, value in pod.nonzero_requests.items():
            nonzero[name] = nonzero.get(name, 0) + sign * value
        for ip, proto, port in pod.host_ports:
            ips = self.used_ports.setdefault((proto, port), {})
            ips[ip] = ips.get(ip, 0) + sign
            if ips[ip] <= 0:
                del ips[ip]
                if not ips:
                    del self.used_ports[(proto, port)]
        if pod.owner_uid:
            n = self.owner_counts.get(pod.owner_uid, 0) + sign
            if n > 0:
                self.owner_counts[pod.owner_uid] = n
            else:
                self.owner_counts.pop(pod.owner_uid, None)

    def __repr__(self) -> str:
        return f"NodeInfo({self.name!r}, pods={len(self.pods)}, requested={self.requested})"


def filter_reasons(verdict) -> list[str] | None:
    """A filter's answer (None, a reason, or reasons) as None ("fits") or a list of reasons."""
    if not verdict:
        return None
    return [verdict] if isinstance(verdict, str) else list(verdict)


def normalize_scores(scores: dict[str, int], reverse: bool = False) -> None:
    """Scale raw scores so the best is 100 (``reverse``: the *smallest* raw is best).

    Kubernetes' DefaultNormalizeScore: plugins that count something (matching
    affinity weights, untolerated taints, pods of the same owner) return raw counts
    and let this map them onto 0..100.
    """
    top = max(scores.values(), default=0)
    if top == 0:
        if reverse:
            for name in scores:
                scores[name] = MAX_NODE_SCORE
        return
    for name, value in scores.items():
        value = MAX_NODE_SCORE * value // top
        scores[name] = MAX_NODE_SCORE - value if reverse else value
