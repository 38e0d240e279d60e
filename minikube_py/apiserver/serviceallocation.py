"""ClusterIPs and NodePorts: handed out when a Service is written, given back when it goes.

kube-apiserver's Service storage wraps every Service write with two allocators: one
for virtual IPs from the service CIDR (`--service-cluster-ip-range`, 10.96.0.0/12 as
kubeadm and minikube set it) and one for node ports (`--service-node-port-range`,
30000-32767). Since Kubernetes 1.31 an allocated IP is an object of its own (an
IPAddress); here each allocation is an etcd key of its own,

    /registry/allocations/clusterips/10.96.12.7    -> {"namespace", "name", "uid"}
    /registry/allocations/nodeports/30080          -> ...

taken with etcd's create-if-absent, so two apiservers never hand out the same one.
A Service write is (1) take what it needs, (2) write the Service, (3) give back what
it no longer needs; if (2) fails, what (1) took is given back at once: nothing is
half-written. The first address of the range belongs to the `kubernetes` Service.
"""
from __future__ import annotations

import ipaddress
import random

from ..api import validation
from ..api.kinds.service import SERVICE, is_headless, node_port_type
from ..storage.store import KeyExists, KeyNotFound
from . import errors
from .storagehook import StorageHook

DEFAULT_CLUSTER_IP_RANGE = "10.96.0.0/12"
DEFAULT_NODE_PORT_RANGE = (30000, 32767)
IP_PREFIX = "/registry/allocations/clusterips/"
PORT_PREFIX = "/registry/allocations/nodeports/"


def _invalid(owner: dict, field: str, value, detail: str) -> errors.APIError:
    return errors.invalid(SERVICE, owner["name"], [validation.invalid(field, value, detail)])


def _spec(svc: dict) -> dict:
    return svc.get("spec") or {}


def wants_cluster_ip(svc: dict) -> bool:
    return _spec(svc).get("type", "ClusterIP") != "ExternalName" and not is_headless(svc)


def node_ports(svc: dict) -> set[int]:
    return {p["nodePort"] for p in _spec(svc).get("ports") or [] if p.get("nodePort")}


class ServiceAllocator(StorageHook):
    def __init__(self, store, cluster_ip_range: str = DEFAULT_CLUSTER_IP_RANGE,
                 node_port_range: tuple[int, int] = DEFAULT_NODE_PORT_RANGE, rng=None):
        self.store = store
        self.network = ipaddress.ip_network(cluster_ip_range)
        self.node_port_range = node_port_range
        self.rng = rng or random.Random()

    @property
    def kubernetes_service_ip(self) -> str:
        """The range's first address: the apiserver's own Service, `kubernetes.default`."""
        return str(self.network.network_address + 1)

    # ------------------------------------------------------------ the Service write
    def prepare_update(self, rt, old: dict, new: dict) -> None:
        """Before defaults and validation: an update that leaves out the ClusterIP or a
        node port keeps the one it has (kube-apiserver's patchAllocatedValues)."""
        self._carry_over(old, new)

    def take(self, rt, svc: dict, old: dict | None = None) -> list[str]:
        """Take the ClusterIP and node ports the Service needs and does not hold yet (it
        held what `old` holds); fills them into svc. Returns the keys taken."""
        return self._take(svc, old)

    def after_write(self, rt, old: dict | None, written: dict) -> None:
        """The write landed: give back what the old Service held and the new one does not."""
        if old is not None:
            self.release(self._keys(old) - self._keys(written))

    def after_delete(self, rt, deleted: dict) -> None:
        self.release(self._keys(deleted))

    def release(self, keys) -> None:
        for key in keys:
            try:
                self.store.delete(key)
            except KeyNotFound:
                pass

    # ------------------------------------------------------------ internals
    def _keys(self, svc: dict) -> set[str]:
        keys = {PORT_PREFIX + str(p) for p in node_ports(svc)} if node_port_type(svc) else set()
        ip = _spec(svc).get("clusterIP")
        if ip and ip != "None" and wants_cluster_ip(svc):
            keys.add(IP_PREFIX + ip)
        return keys

    @staticmethod
    def _carry_over(old: dict, new: dict) -> None:
        o, n = _spec(old), new.get("spec")
        if not isinstance(n, dict):
            return
        if wants_cluster_ip(new) and not n.get("clusterIP") and o.get("clusterIP") not in (None, "None"):
            n["clusterIP"], n["clusterIPs"] = o["clusterIP"], list(o.get("clusterIPs") or [o["clusterIP"]])
        if node_port_type(new) and node_port_type(old):
            before = {(p.get("port"), p.get("protocol", "TCP")): p.get("nodePort")
                      for p in o.get("ports") or []}
            for p in n.get("ports") or []:
                if isinstance(p, dict) and not p.get("nodePort"):
                    kept = before.get((p.get("port"), p.get("protocol", "TCP")))
                    if kept:
                        p["nodePort"] = kept

    def _take(self, svc: dict, old: dict | None) -> list[str]:
        owner = {k: svc["metadata"].get(k) for k in ("namespace", "name", "uid")}
        held = self._keys(old) if old is not None else set()
        taken: list[str] = []
        try:
            spec = svc.get("spec")
            if not isinstance(spec, dict):
                return taken
            if wants_cluster_ip(svc):
                ip = spec.get("clusterIP")
                if ip:
                    if IP_PREFIX + ip not in held:
                        self._reserve_ip(ip, owner, taken)
                else:
                    ip = self._allocate_ip(owner, taken)
                    spec["clusterIP"] = ip
                spec["clusterIPs"] = [ip]
            elif spec.get("type") == "ExternalName":
                spec.pop("clusterIP", None)
                spec.pop("clusterIPs", None)
            elif is_headless(svc):
                spec["clusterIPs"] = ["None"]
            if node_port_type(svc):
                for i, port in enumerate(spec.get("ports") or []):
                    if not isinstance(port, dict):
                        continue
                    if port.get("nodePort"):
                        if PORT_PREFIX + str(port["nodePort"]) not in held and \
                                PORT_PREFIX + str(port["nodePort"]) not in taken:
                            self._reserve_port(port["nodePort"], i, owner, taken)
                    else:
                        port["nodePort"] = self._allocate_port(owner, taken)
            return taken
        except Exception:
            self.release(taken)
            raise

    def _reserve_ip(self, ip: str, owner: dict, taken: list) -> None:
        try:
            addr = ipaddress.ip_address(ip)
        except ValueError:
            return            # validation reports it
        if addr not in self.network or addr in (self.network.network_address, self.network.broadcast_address):
            raise _invalid(owner, "spec.clusterIPs", [ip],
                                       f"failed to allocate IP {ip}: the provided IP ({ip}) is not in "
                                       f"the valid range. The range of valid IPs is {self.network}")
        if not self._claim(IP_PREFIX + ip, owner, taken):
            raise _invalid(owner, "spec.clusterIPs", [ip],
                                       f"failed to allocate IP {ip}: provided IP is already allocated")

    def _allocate_ip(self, owner: dict, taken: list) -> str:
        size = self.network.num_addresses - 3        # network, broadcast, the kubernetes Service
        if size <= 0:
            raise errors.APIError(500, "InternalError", "the service cluster IP range is too small")
        first = self.network.network_address + 2
        start = self.rng.randrange(size)
        for i in range(size):
            ip = str(first + (start + i) % size)
            if self._claim(IP_PREFIX + ip, owner, taken):
                return ip
        raise _invalid(owner, "spec.clusterIPs", [],
                                   "failed to allocate a serviceIP: range is full")

    def _reserve_port(self, port, index: int, owner: dict, taken: list) -> None:
        low, high = self.node_port_range
        if not isinstance(port, int) or not low <= port <= high:
            raise _invalid(owner, f"spec.ports[{index}].nodePort", port,
                                       f"provided port is not in the valid range. The range of valid "
                                       f"ports is {low}-{high}")
        if not self._claim(PORT_PREFIX + str(port), owner, taken):
            raise _invalid(owner, f"spec.ports[{index}].nodePort", port,
                                       "provided port is already allocated")

    def _allocate_port(self, owner: dict, taken: list) -> int:
        low, high = self.node_port_range
        size = high - low + 1
        start = self.rng.randrange(size)
        for i in range(size):
            port = low + (start + i) % size
            if self._claim(PORT_PREFIX + str(port), owner, taken):
                return port
        raise _invalid(owner, "spec.ports", None,
                                   "failed to allocate a nodePort: range is full")

    def _claim(self, key: str, owner: dict, taken: list) -> bool:
        try:
            self.store.create(key, dict(owner))
        except KeyExists:
            return False
        taken.append(key)
        return True
