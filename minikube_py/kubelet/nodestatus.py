"""The Node object: how a kubelet tells the cluster "I exist, this is what I have, I am fine".

``build_node`` is what the kubelet registers once (name, labels, taints);
``node_status`` is what it posts again and again: capacity and allocatable
(cpu, memory, pods, extended resources such as ``nvidia.com/gpu`` from device
plugins), addresses, the port of its own HTTP server (where the apiserver
fetches logs), nodeInfo, and the conditions -- ``Ready`` above all, which the
scheduler and the node lifecycle controller read.

``NodeStatusReporter`` registers the node and keeps its status fresh: every
``--status-update-seconds`` it reads the Node (from the kubelet's informer on its own
Node, as the real kubelet reads its nodeLister; a GET only until that has listed) and
recomputes the status, and
writes only when the Node does not show it already, or when the last write is
older than ``report_seconds`` (the kubelet's nodeStatusReportFrequency, 5 min as in
Kubernetes: with 5,000 nodes a 60 s report alone would be 83 Node writes a second; the
Lease is the frequent heartbeat), or at once when asked to (runtime down/up,
devices changed).  Comparing with the server's Node, not with our last write,
is what repairs a status someone else changed: after a short network cut the
node lifecycle controller has marked the node Ready=Unknown, and the next
update sets it Ready again (and the controller lifts its taints).
"""
from __future__ import annotations

import datetime as _dt
import logging
import platform
import threading
import time

from ..api.conditions import condition
from ..api.quantity import parse_quantity
from ..version import KUBERNETES_VERSION
from ..client import errors
from . import host
from .loop import Loop

log = logging.getLogger(__name__)

KUBELET_VERSION = KUBERNETES_VERSION["gitVersion"]
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")
MAX_IMAGES = 50


def _now() -> str:
    return _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------------- flags
def parse_labels(text: str | None) -> dict:
    """``--node-labels a=b,c=d`` -> {"a": "b", "c": "d"}."""
    out = {}
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        if "=" not in item:
            raise ValueError(f"invalid label {item!r}: expected key=value")
        k, v = item.split("=", 1)
        out[k.strip()] = v.strip()
    return out


def parse_taints(text: str | None) -> list[dict]:
    """``--register-with-taints k=v:NoSchedule,k2:NoExecute`` -> Taint objects."""
    out = []
    for item in (text or "").split(","):
        item = item.strip()
        if not item:
            continue
        kv, sep, effect = item.rpartition(":")
        if not sep or effect not in TAINT_EFFECTS:
            raise ValueError(f"invalid taint {item!r}: expected key[=value]:Effect with Effect "
                             f"one of {', '.join(TAINT_EFFECTS)}")
        key, _, value = kv.partition("=")
        if not key:
            raise ValueError(f"invalid taint {item!r}: empty key")
        taint = {"key": key, "effect": effect}
        if value:
            taint["value"] = value
        out.append(taint)
    return out


def validate_quantity(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        if parse_quantity(str(value)) < 0:
            raise ValueError
    except Exception:  # noqa: BLE001
        raise ValueError(f"invalid --{name} {value!r}: expected a quantity such as 2, 500m, 4Gi") \
            from None
    return str(value)


# ---------------------------------------------------------------------- the node
def base_labels(node_name: str) -> dict:
    arch = host.architecture()
    return {"kubernetes.io/hostname": node_name, "kubernetes.io/os": "linux",
            "kubernetes.io/arch": arch, "beta.kubernetes.io/os": "linux",
            "beta.kubernetes.io/arch": arch}


def build_node(node_name: str, labels: dict | None = None, taints: list | None = None) -> dict:
    """The Node a kubelet registers (status comes separately)."""
    node = {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": node_name,
                         "labels": {**base_labels(node_name), **(labels or {})},
                         "annotations": {"node.alpha.kubernetes.io/ttl": "0",
                                         "volumes.kubernetes.io/controller-managed-attach-detach":
                                             "true"}},
            "spec": {}}
    if taints:
        node["spec"]["taints"] = taints
    return node


def capacity(cpu: str | None, memory: str | None, pods: str | int | None,
             state_dir: str) -> dict:
    """cpu, memory, pods, ephemeral-storage: from flags, else from the host."""
    mem = memory if memory is not None else f"{host.memory_bytes() // 1024}Ki"
    return {"cpu": str(cpu if cpu is not None else host.cpu_count()),
            "memory": str(mem),
            "pods": str(pods if pods is not None else 110),
            "ephemeral-storage": f"{host.ephemeral_storage_bytes(state_dir) // 1024}Ki",
            "hugepages-1Gi": "0", "hugepages-2Mi": "0"}


def _condition(type_, ok_status, reason, message, heartbeat) -> dict:
    return condition(type_, ok_status, reason, message, lastHeartbeatTime=heartbeat,
                     lastTransitionTime=heartbeat)


def conditions(runtime_ok: bool, runtime_message: str, heartbeat: str) -> list[dict]:
    """MemoryPressure, DiskPressure, PIDPressure (always False here) and Ready."""
    out = [
        _condition("MemoryPressure", "False", "KubeletHasSufficientMemory",
                   "kubelet has sufficient memory available", heartbeat),
        _condition("DiskPressure", "False", "KubeletHasNoDiskPressure",
                   "kubelet has no disk pressure", heartbeat),
        _condition("PIDPressure", "False", "KubeletHasSufficientPID",
                   "kubelet has sufficient PID available", heartbeat),
    ]
    if runtime_ok:
        out.append(_condition("Ready", "True", "KubeletReady",
                              "kubelet is posting ready status", heartbeat))
    else:
        out.append(_condition("Ready", "False", "KubeletNotReady",
                              runtime_message or "container runtime is down", heartbeat))
    return out


def keep_transition_times(new: list[dict], old: list[dict] | None) -> list[dict]:
    """lastTransitionTime changes only when a condition's status does."""
    old_by_type = {c.get("type"): c for c in old or []}
    for c in new:
        before = old_by_type.get(c["type"])
        if before is not None and before.get("status") == c["status"] \
                and before.get("lastTransitionTime"):
            c["lastTransitionTime"] = before["lastTransitionTime"]
    return new


def node_status(*, capacity_: dict, allocatable_: dict, address: str, node_name: str,
                port: int, runtime_version: str, runtime_ok: bool, runtime_message: str,
                images: list | None = None, old_conditions: list | None = None,
                heartbeat: str | None = None) -> dict:
    heartbeat = heartbeat or _now()
    return {
        "capacity": dict(capacity_),
        "allocatable": dict(allocatable_),
        "conditions": keep_transition_times(conditions(runtime_ok, runtime_message, heartbeat),
                                            old_conditions),
        "addresses": [{"type": "InternalIP", "address": address},
                      {"type": "Hostname", "address": node_name}],
        "daemonEndpoints": {"kubeletEndpoint": {"Port": int(port)}},
        "nodeInfo": {"machineID": host.machine_id(), "systemUUID": host.system_uuid(),
                     "bootID": host.boot_id(), "kernelVersion": platform.release(),
                     "osImage": host.os_image(), "containerRuntimeVersion": runtime_version,
                     "kubeletVersion": KUBELET_VERSION, "kubeProxyVersion": KUBELET_VERSION,
                     "operatingSystem": "linux", "architecture": host.architecture()},
        "images": list(images or [])[:MAX_IMAGES],
    }


_TIMES = ("lastHeartbeatTime", "lastTransitionTime")


def _comparable(status: dict) -> dict:
    """A status without its heartbeat times, to tell whether anything really changed.

    Built beside the status, not a deep copy of it: 5,000 hollow nodes compare twice every
    10 s, and two deep copies each were a fifth of their processes' CPU."""
    conditions = status.get("conditions")
    if not conditions:
        return status
    return {**status, "conditions": [{k: v for k, v in c.items() if k not in _TIMES} for c in conditions]}


# ---------------------------------------------------------------------- reporter
class NodeStatusReporter(Loop):
    """Registers the Node and keeps its status up to date."""

    def __init__(self, client, node_name: str, *, compute_status, labels: dict, taints: list,
                 update_seconds: float = 10.0, report_seconds: float = 300.0, runner=None,
                 node_lister=None):
        self.client = client
        # node_lister() -> our Node as the kubelet's Node informer holds it, or None (not yet
        # synced): what each status update compares against, as the kubelet's first try
        # reads its nodeLister; without one, a GET from the apiserver's cache.
        self.node_lister = node_lister
        self.node_name = node_name
        self.compute_status = compute_status     # compute_status(old_conditions) -> status
        self.labels = labels
        self.taints = taints
        self.update_seconds = update_seconds
        self.report_seconds = report_seconds
        self.node_uid: str | None = None
        self._posted: dict | None = None
        self._posted_at = 0.0
        super().__init__(f"nodestatus-{node_name}", self._post_step, update_seconds,
                         wait_first=True, runner=runner)
        self.posts = 0

    # ------------------------------------------------------------ registration
    def register(self) -> dict:
        """Create our Node, or adopt the one a previous run of this kubelet left."""
        node = build_node(self.node_name, self.labels, self.taints)
        try:
            created = self.client.create("nodes", node)
            log.info("registered node %s", self.node_name)
        except errors.AlreadyExists:
            created = self.client.get("nodes", self.node_name)
            wanted = node["metadata"]["labels"]
            have = created["metadata"].get("labels") or {}
            if any(have.get(k) != v for k, v in wanted.items()):
                created = self.client.patch("nodes", self.node_name,
                                            {"metadata": {"labels": wanted}})
            log.info("node %s already registered; taking it over", self.node_name)
        self.node_uid = created["metadata"].get("uid")
        self.post(force=True, old=created)
        return created

    def register_until_done(self, stop: threading.Event, retry: float = 1.0) -> bool:
        """Retry registration until it works (the apiserver may start after us)."""
        delay = retry
        while not stop.is_set():
            try:
                self.register()
                return True
            except Exception as e:  # noqa: BLE001
                log.warning("node %s: cannot register with the apiserver (%s); retrying in %.0fs",
                            self.node_name, e, delay)
                stop.wait(delay)
                delay = min(delay * 2, 10.0)
        return False

    # ------------------------------------------------------------ status
    def post(self, force: bool = False, old: dict | None = None) -> bool:
        """Write the status if the Node (``old``, else read now) does not show it; True if written."""
        due = time.monotonic() - self._posted_at >= self.report_seconds
        try:
            if old is None and not force and not due and self._posted is not None:
                # From our Node informer, as the kubelet reads it: 5,000 nodes GETting their
                # Node every 10 s were half of the apiserver's idle requests. Else (no informer,
                # or not synced yet) from the apiserver's cache (resourceVersion 0).
                old = self.node_lister() if self.node_lister is not None else None
                if old is None:
                    old = self.client.get("nodes", self.node_name, resource_version="0")
            shown = (old.get("status") or {}) if old is not None else self._posted
            status = self.compute_status((shown or {}).get("conditions"))
            if not force and not due and shown is not None \
                    and _comparable({k: shown.get(k) for k in status}) == _comparable(status):
                return False
            self.client.patch("nodes", self.node_name, {"status": status}, subresource="status")
        except errors.NotFound:
            log.warning("node %s was deleted; registering it again", self.node_name)
            self.register()
            return True
        self._posted, self._posted_at = status, time.monotonic()
        self.posts += 1
        return True

    def post_soon(self) -> None:
        """Post at once (from another thread): the runtime went down, devices changed ..."""
        self.wake()

    def _post_step(self) -> None:
        try:
            self.post(force=self.woken)
        except Exception as e:  # noqa: BLE001 - the apiserver may be down for a while
            log.warning("node %s: status update failed: %s", self.node_name, e)
