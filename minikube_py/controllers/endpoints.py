"""The Endpoints controller: which pods stand behind each Service, right now.

A Service names its pods by a label selector; kube-proxy and the cluster DNS need
their addresses. This controller keeps, for every Service with a selector, an
Endpoints object of the same name listing the matching pods (kube-controller-manager's
"endpoint" controller, pkg/controller/endpoint):

- ready pods go into ``addresses``, pods that are not ready into
  ``notReadyAddresses`` -- unless the Service sets ``publishNotReadyAddresses``
  (a StatefulSet's peers must find each other before they are ready);
- pods without an IP, finished pods and (unless publishNotReadyAddresses) pods being
  deleted are left out;
- each Service port becomes an Endpoints port: a number as it is, a *name* resolved
  in each pod's container ports, so pods that call "http" 8080 and pods that call it
  9090 end up in two subsets;
- a pod whose ``spec.subdomain`` is the Service's name carries its ``hostname``
  (the DNS records ``<hostname>.<service>.<ns>.svc.cluster.local`` come from that).

Services without a selector are left alone: their Endpoints are written by hand.
When a Service goes, its Endpoints go.

    watches  services, pods, endpoints
    writes   endpoints (create, update, delete)
"""
from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from typing import Optional

from ..api import meta
from ..api.conditions import object_condition
from ..api.kinds.service import is_headless
from ..api.selectors import LabelSelector
from ..client import errors
from ..client.informer import ensure_index, index_by_namespace, split_key
from .base import Controller
from .podutil import is_pod_ready

NAMESPACE_INDEX = "namespace"
# Annotations and labels as upstream (k8s.io/api/core/v1 well_known_labels / annotation_key_constants)
TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"
HEADLESS = "service.kubernetes.io/headless"
LEADER_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"
MAX_CAPACITY = 1000      # addresses per Endpoints object; more are truncated (EndpointSlices scale)


# ---------------------------------------------------------------- which pods, which ports
def pod_ip(pod: dict) -> str:
    status = pod.get("status") or {}
    ips = status.get("podIPs") or []
    return (ips[0].get("ip") if ips else None) or status.get("podIP") or ""


def should_pod_be_in_endpoints(pod: dict, include_terminating: bool) -> bool:
    """Has an IP, has not finished, and is not being deleted (unless asked to keep those)."""
    phase = (pod.get("status") or {}).get("phase")
    if phase in ("Succeeded", "Failed") or not pod_ip(pod):
        return False
    return include_terminating or not (pod.get("metadata") or {}).get("deletionTimestamp")


def find_port(pod: dict, service_port: dict) -> Optional[int]:
    """The pod's port for a Service port: targetPort as a number, or the container port of that name.

    A named targetPort must match a container port's name *and* protocol; a pod without
    it gets no endpoint for that Service port (as podutil.FindPort).
    """
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol", "TCP")
    spec = pod.get("spec") or {}
    sidecars = [c for c in spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    for container in list(spec.get("containers") or []) + sidecars:
        for port in container.get("ports") or []:
            if port.get("name") == target and port.get("protocol", "TCP") == protocol:
                return port.get("containerPort")
    return None


def endpoint_address(service: dict, pod: dict) -> dict:
    """ip, nodeName, targetRef -- and the hostname when the pod's subdomain is this Service."""
    md, spec = pod["metadata"], pod.get("spec") or {}
    addr = {"ip": pod_ip(pod)}
    if spec.get("hostname") and spec.get("subdomain") == service["metadata"]["name"] \
            and md.get("namespace") == service["metadata"].get("namespace"):
        addr["hostname"] = spec["hostname"]
    if spec.get("nodeName"):
        addr["nodeName"] = spec["nodeName"]
    addr["targetRef"] = {"kind": "Pod", "namespace": md.get("namespace"), "name": md["name"],
                         "uid": md.get("uid")}
    return addr


def endpoint_port(service_port: dict, number: int) -> dict:
    port = {"port": number, "protocol": service_port.get("protocol", "TCP")}
    if service_port.get("name"):
        port["name"] = service_port["name"]
    if service_port.get("appProtocol"):
        port["appProtocol"] = service_port["appProtocol"]
    return port


def _key(obj: dict) -> str:
    return json.dumps(obj, sort_keys=True)


def repack(pairs: list[tuple[dict, bool, Optional[dict]]]) -> list[dict]:
    """(address, ready, port) pairs -> subsets, as endpoints.RepackSubsets does.

    Ports that are served by exactly the same set of addresses share a subset, so a
    Service whose pods all agree on their ports gets one subset; everything sorted,
    so the same pods always give the same object (and no needless write).
    """
    by_port: dict[str, dict] = {}            # port -> {address key: (address, ready)}
    ports: dict[str, Optional[dict]] = {}
    for addr, ready, port in pairs:
        pk = _key(port)
        ports[pk] = port
        seen = by_port.setdefault(pk, {})
        ak = _key(addr)
        # an address both ready and not (should not happen) counts as ready
        seen[ak] = (addr, ready or seen.get(ak, (None, False))[1])
    groups: dict[str, tuple[dict, list]] = {}   # address-set key -> (addresses, ports)
    for pk, addrs in by_port.items():
        gk = _key(sorted([ak, ready] for ak, (_, ready) in addrs.items()))
        groups.setdefault(gk, (addrs, []))[1].append(ports[pk])
    subsets = []
    for addrs, group_ports in groups.values():
        subset: dict = {}
        ready = sorted((a for a, r in addrs.values() if r), key=_address_order)
        not_ready = sorted((a for a, r in addrs.values() if not r), key=_address_order)
        if ready:
            subset["addresses"] = ready
        if not_ready:
            subset["notReadyAddresses"] = not_ready
        real_ports = sorted((p for p in group_ports if p), key=_port_order)
        if real_ports:
            subset["ports"] = real_ports
        subsets.append(subset)
    return sorted(subsets, key=_key)


def _address_order(addr: dict):
    return (tuple(int(x) if x.isdigit() else 0 for x in addr["ip"].split(".")), _key(addr))


def _port_order(port: dict):
    return (port.get("name", ""), port["port"], port.get("protocol", ""))


def desired_subsets(service: dict, pods: list[dict]) -> list[dict]:
    """The Endpoints subsets for a Service and the pods its selector matches."""
    spec = service.get("spec") or {}
    tolerate = bool(spec.get("publishNotReadyAddresses"))
    pairs = []
    for pod in pods:
        if not should_pod_be_in_endpoints(pod, tolerate):
            continue
        addr = endpoint_address(service, pod)
        ready = tolerate or is_pod_ready(pod)
        if not spec.get("ports"):
            if is_headless(service):        # a headless Service may have no ports
                pairs.append((addr, ready, None))
            continue
        for sp in spec["ports"]:
            number = find_port(pod, sp)
            if number is not None:
                pairs.append((addr, ready, endpoint_port(sp, number)))
    return repack(pairs)


def truncate(subsets: list[dict], most: int = MAX_CAPACITY) -> bool:
    """Keep at most ``most`` addresses, ready ones first, in proportion per subset."""
    ready = sum(len(s.get("addresses") or []) for s in subsets)
    not_ready = sum(len(s.get("notReadyAddresses") or []) for s in subsets)
    if ready + not_ready <= most:
        return False
    field, room, total = ("addresses", most, ready) if ready > most else \
        ("notReadyAddresses", most - ready, not_ready)
    left = room
    for s in subsets:
        if field == "addresses":
            s.pop("notReadyAddresses", None)
        share = min(left, -(-len(s.get(field) or []) * room // total))
        if s.get(field):
            s[field] = s[field][:share]
            left -= len(s[field])
    return True


def endpoints_labels(service: dict) -> dict:
    """The Service's labels, plus service.kubernetes.io/headless for a headless one."""
    labels = dict((service.get("metadata") or {}).get("labels") or {})
    if is_headless(service):
        labels[HEADLESS] = ""
    return labels


# ---------------------------------------------------------------- trigger times
class TriggerTimeTracker:
    """When did the change happen that this Endpoints write reflects?

    For the ``last-change-trigger-time`` annotation (kube-proxy and the SLO tooling
    measure "pod ready -> reachable" with it): the earliest of the trigger times that
    moved since the last write -- a pod's Ready transition, the Service's creation.
    A Service seen for the first time reports its creationTimestamp.

    What a sync saw counts as reported only once its write went through (``written``):
    a write that failed (409, the cache behind) is retried with the same trigger time,
    not without one.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self._state: dict[str, tuple[Optional[datetime], dict]] = {}
        self._seen: dict[str, tuple[Optional[datetime], dict]] = {}

    def compute(self, key: str, service: dict, pods: list[dict]) -> Optional[datetime]:
        with self._lock:
            known = key in self._state
            last_svc, last_pods = self._state.get(key, (None, {}))
        changed: Optional[datetime] = None
        pod_times = {}
        for pod in pods:
            t = _parse((object_condition(pod, "Ready") or {}).get("lastTransitionTime"))
            if t is not None:
                pod_times[pod["metadata"]["name"]] = t
                before = last_pods.get(pod["metadata"]["name"])
                if before is None or t > before:
                    changed = t if changed is None else min(changed, t)
        svc_time = _parse(service["metadata"].get("creationTimestamp"))
        if svc_time is not None and (last_svc is None or svc_time > last_svc):
            changed = svc_time if changed is None else min(changed, svc_time)
        with self._lock:
            self._seen[key] = (svc_time, pod_times)
        return changed if known else svc_time

    def written(self, key: str) -> None:
        """The Endpoints now show what the last ``compute`` saw."""
        with self._lock:
            if key in self._seen:
                self._state[key] = self._seen.pop(key)

    def forget(self, key: str) -> None:
        with self._lock:
            self._state.pop(key, None)
            self._seen.pop(key, None)


def _parse(value) -> Optional[datetime]:
    try:
        return meta.parse_time(value) if value else None
    except ValueError:
        return None


def format_trigger_time(t: datetime) -> str:
    """RFC 3339 with nanoseconds trimmed as Go's RFC3339Nano does."""
    text = t.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f").rstrip("0").rstrip(".")
    return text + "Z"


# ---------------------------------------------------------------- the controller
def _endpoints_view(pod: dict) -> tuple:
    """What of a pod the Endpoints show: a pod update that changes none of it is ignored."""
    md, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    return (bool(md.get("deletionTimestamp")), is_pod_ready(pod), pod_ip(pod), spec.get("nodeName"),
            spec.get("hostname"), spec.get("subdomain"), status.get("phase") in ("Succeeded", "Failed"))


class ServicePodsController(Controller):
    """What the Endpoints and EndpointSlice controllers share: Services, the pods they
    select, and which Services to look at again when a pod changes."""

    def __init__(self, client, informers):
        super().__init__(client, informers)
        self.services = informers.get("services")
        self.pods = informers.get("pods")
        for inf in (self.services, self.pods):
            ensure_index(inf, NAMESPACE_INDEX, index_by_namespace)
        self.services.add_handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new),
                                  on_delete=self.enqueue)
        self.pods.add_handler(on_add=self._pod_changed, on_update=self._pod_updated,
                              on_delete=self._pod_changed)

    def services_of(self, pod: dict) -> list[str]:
        """Keys of the Services (with a selector) in the pod's namespace that select it."""
        ns = pod["metadata"].get("namespace")
        labels = pod["metadata"].get("labels") or {}
        keys = []
        for svc in self.services.by_index(NAMESPACE_INDEX, ns):
            selector = (svc.get("spec") or {}).get("selector")
            if selector and all(labels.get(k) == v for k, v in selector.items()):
                keys.append(f"{ns}/{svc['metadata']['name']}")
        return keys

    def selected_pods(self, service: dict) -> list[dict]:
        selector = LabelSelector.from_dict({"matchLabels": service["spec"]["selector"]})
        return [p for p in self.pods.by_index(NAMESPACE_INDEX, service["metadata"].get("namespace"))
                if selector.matches(p["metadata"].get("labels") or {})]

    def _pod_changed(self, pod: dict):
        for key in self.services_of(pod):
            self.queue.add(key)

    def _pod_updated(self, old: dict, new: dict):
        labels_changed = (old["metadata"].get("labels") or {}) != (new["metadata"].get("labels") or {})
        if not labels_changed and _endpoints_view(old) == _endpoints_view(new):
            return    # a status heartbeat, an annotation: nothing the endpoints show
        keys = set(self.services_of(new))
        if labels_changed:
            keys |= set(self.services_of(old))
        for key in keys:
            self.queue.add(key)


class EndpointsController(ServicePodsController):
    name = "endpoints"
    workers = 2
    quiet_retries = True

    def __init__(self, client, informers):
        super().__init__(client, informers)
        self.endpoints = informers.get("endpoints")
        self.triggers = TriggerTimeTracker()
        self.endpoints.add_handler(on_delete=self.enqueue)

    def run(self, stop: threading.Event):
        # Endpoints left behind by Services deleted while no controller ran (checkLeftoverEndpoints).
        for ep in self.endpoints.list():
            if LEADER_ANNOTATION not in (ep["metadata"].get("annotations") or {}):
                self.enqueue(ep)
        return super().run(stop)

    # ------------------------------------------------------------ sync
    def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        service = self.services.get(key)
        if service is None:
            self.triggers.forget(key)
            if self.endpoints.get(key) is not None:
                try:
                    self.client.delete("endpoints", name, namespace=namespace)
                    self.log.info("deleted endpoints %s: its service is gone", key)
                except errors.NotFound:
                    pass
            return
        spec = service.get("spec") or {}
        if spec.get("type") == "ExternalName" or spec.get("selector") is None:
            return      # no endpoints from us: an ExternalName, or Endpoints managed by hand
        pods = self.selected_pods(service)
        trigger = self.triggers.compute(key, service, pods)
        subsets = desired_subsets(service, pods)
        over = truncate(subsets)
        labels = endpoints_labels(service)

        current = self.endpoints.get(key)
        if current is not None:
            annotations = current["metadata"].get("annotations") or {}
            if (current.get("subsets") or []) == subsets and \
                    (current["metadata"].get("labels") or {}) == labels and \
                    (OVER_CAPACITY in annotations) == over:
                self.triggers.written(key)
                return   # nothing changed: no write
        ep = dict(current) if current else {"apiVersion": "v1", "kind": "Endpoints",
                                            "metadata": {"name": name, "namespace": namespace}}
        md = ep["metadata"] = dict(ep["metadata"])
        md["labels"] = labels
        annotations = dict(md.get("annotations") or {})
        if trigger is not None:
            annotations[TRIGGER_TIME] = format_trigger_time(trigger)
        else:
            annotations.pop(TRIGGER_TIME, None)
        if over:
            annotations[OVER_CAPACITY] = "truncated"
        else:
            annotations.pop(OVER_CAPACITY, None)
        md["annotations"] = annotations
        ep["subsets"] = subsets
        try:
            if current is None:
                self.client.create("endpoints", ep, namespace=namespace)
            else:
                self.client.update("endpoints", ep)
            self.triggers.written(key)
        except errors.AlreadyExists:
            self.queue.add_after(key, 0.1)    # our cache was behind: look again
        except errors.Forbidden:
            pass                              # the namespace is terminating
