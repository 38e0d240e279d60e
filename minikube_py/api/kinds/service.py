"""core/v1 Service and Endpoints: a stable name and virtual IP in front of a set of pods.

A Service selects pods by label and gives them one ClusterIP (and, for type NodePort,
a port on every node). The IPs and node ports are handed out by the apiserver when the
Service is created (apiserver/serviceallocation.py) and given back when it is deleted.
Which pods stand behind a Service right now is written into an Endpoints object of
the same name, by the endpoints controller; kube-proxy and DNS read both.
"""
from __future__ import annotations

import ipaddress
import re

from ..podvalidation import PROTOCOLS
from ..selectors import LabelSelector
from ..validation import duplicate, forbidden, invalid, not_supported, required, validate_labels
from .columns import AGE, NAME, age_of, col
from .kind import Kind

SERVICE_TYPES = ("ClusterIP", "NodePort", "LoadBalancer", "ExternalName")
AFFINITIES = ("ClientIP", "None")
TRAFFIC_POLICIES = ("Cluster", "Local")
IP_FAMILY_POLICIES = ("SingleStack", "PreferDualStack", "RequireDualStack")
# IANA_SVC_NAME: a named targetPort (a container port's name)
PORT_NAME = re.compile(r"(?=.*[a-z])[a-z0-9]([a-z0-9-]*[a-z0-9])?")


def is_headless(svc: dict) -> bool:
    return (svc.get("spec") or {}).get("clusterIP") == "None"


def node_port_type(svc: dict) -> bool:
    """NodePort and LoadBalancer Services get a port on every node for each of their ports."""
    return (svc.get("spec") or {}).get("type") in ("NodePort", "LoadBalancer")


# ---------------------------------------------------------------- Service
def default_service(svc: dict):
    spec = svc.get("spec")
    if not isinstance(spec, dict):
        return
    spec.setdefault("type", "ClusterIP")
    if spec["type"] == "ExternalName":
        return
    spec.setdefault("sessionAffinity", "None")
    spec.setdefault("internalTrafficPolicy", "Cluster")
    if node_port_type(svc):
        spec.setdefault("externalTrafficPolicy", "Cluster")
    for port in spec.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("protocol", "TCP")
            if port.get("targetPort") in (None, 0, "") and isinstance(port.get("port"), int):
                port["targetPort"] = port["port"]
    if spec.get("clusterIP") and not spec.get("clusterIPs"):
        spec["clusterIPs"] = [spec["clusterIP"]]
    spec.setdefault("ipFamilies", ["IPv4"])
    spec.setdefault("ipFamilyPolicy", "SingleStack")
    if not isinstance(svc.get("status"), dict):
        svc["status"] = {"loadBalancer": {}}


def _port_number(value, field: str, what: str = "port") -> list:
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= 65535:
        return [invalid(field, value, "must be between 1 and 65535, inclusive")]
    return []


def _target_port(value, field: str) -> list:
    if isinstance(value, str):
        if len(value) > 15 or not PORT_NAME.fullmatch(value):
            return [invalid(field, value, "must contain only alpha-numeric characters (a-z, 0-9), and "
                            "hyphens (-), at most 15 characters, with at least one letter")]
        return []
    return _port_number(value, field)


def _validate_ports(spec: dict, svc_type: str) -> list:
    ports = spec.get("ports")
    if ports is None:
        ports = []
    if not isinstance(ports, list):
        return [invalid("spec.ports", ports, "must be a list")]
    causes = []
    if not ports and svc_type != "ExternalName" and spec.get("clusterIP") != "None":
        causes.append(required("spec.ports"))
    names, seen = set(), set()
    for i, port in enumerate(ports):
        pp = f"spec.ports[{i}]"
        if not isinstance(port, dict):
            causes.append(invalid(pp, port, "must be an object"))
            continue
        name = port.get("name") or ""
        if len(ports) > 1 and not name:
            causes.append(required(f"{pp}.name"))
        elif name in names:
            causes.append(duplicate(f"{pp}.name", name))
        names.add(name)
        causes += _port_number(port.get("port"), f"{pp}.port")
        protocol = port.get("protocol", "TCP")
        if protocol not in PROTOCOLS:
            causes.append(not_supported(f"{pp}.protocol", protocol, PROTOCOLS))
        if (port.get("port"), protocol) in seen:
            causes.append(duplicate(pp, {"port": port.get("port"), "protocol": protocol}))
        seen.add((port.get("port"), protocol))
        if port.get("targetPort") is not None:
            causes += _target_port(port["targetPort"], f"{pp}.targetPort")
        node_port = port.get("nodePort")
        if node_port not in (None, 0):
            if svc_type not in ("NodePort", "LoadBalancer"):
                causes.append(forbidden(f"{pp}.nodePort", f"may not be used when `type` is '{svc_type}'"))
            else:
                causes += _port_number(node_port, f"{pp}.nodePort")
    return causes


def validate_service(svc: dict) -> list:
    spec = svc.get("spec")
    if not isinstance(spec, dict):
        return [required("spec")]
    causes = []
    svc_type = spec.get("type", "ClusterIP")
    if svc_type not in SERVICE_TYPES:
        return [not_supported("spec.type", svc_type, SERVICE_TYPES)]
    causes += _validate_ports(spec, svc_type)
    selector = spec.get("selector")
    if selector is not None:
        causes += validate_labels(selector, "spec.selector")
    if svc_type == "ExternalName":
        if not spec.get("externalName"):
            causes.append(required("spec.externalName"))
        if spec.get("clusterIP"):
            causes.append(forbidden("spec.clusterIP", "may not be set for ExternalName services"))
        return causes
    affinity = spec.get("sessionAffinity", "None")
    if affinity not in AFFINITIES:
        causes.append(not_supported("spec.sessionAffinity", affinity, AFFINITIES))
    for field in ("externalTrafficPolicy", "internalTrafficPolicy"):
        if spec.get(field) is not None and spec[field] not in TRAFFIC_POLICIES:
            causes.append(not_supported(f"spec.{field}", spec[field], TRAFFIC_POLICIES))
    if spec.get("ipFamilyPolicy") is not None and spec["ipFamilyPolicy"] not in IP_FAMILY_POLICIES:
        causes.append(not_supported("spec.ipFamilyPolicy", spec["ipFamilyPolicy"], IP_FAMILY_POLICIES))
    cluster_ip = spec.get("clusterIP")
    if cluster_ip not in (None, "", "None"):
        try:
            if ipaddress.ip_address(cluster_ip).version != 4:
                raise ValueError
        except ValueError:
            causes.append(invalid("spec.clusterIPs[0]", cluster_ip, "must be a valid IP address, "
                                                                  "(e.g. 10.9.8.7 or 2001:db8::ffff)"))
    if cluster_ip == "None" and node_port_type(svc):
        causes.append(invalid("spec.clusterIPs[0]", "None", f"may not be set to 'None' for {svc_type} services"))
    return causes


def validate_service_update(old: dict, new: dict) -> list:
    """The ClusterIP stays for the Service's life (unless it becomes an ExternalName)."""
    before = (old.get("spec") or {}).get("clusterIP")
    after = (new.get("spec") or {}).get("clusterIP")
    if before and after != before and (new.get("spec") or {}).get("type") != "ExternalName":
        return [invalid("spec.clusterIPs[0]", [after] if after else [], "may not change once set")]
    return []


def service_ports_text(svc: dict) -> str:
    parts = []
    for p in (svc.get("spec") or {}).get("ports") or []:
        text = str(p.get("port"))
        if p.get("nodePort"):
            text += f":{p['nodePort']}"
        parts.append(f"{text}/{p.get('protocol', 'TCP')}")
    return ",".join(parts) or "<none>"


def external_ip_text(svc: dict) -> str:
    spec = svc.get("spec") or {}
    if spec.get("type") == "ExternalName":
        return spec.get("externalName") or "<none>"
    ips = list(spec.get("externalIPs") or [])
    ingress = ((svc.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    ips += [i.get("ip") or i.get("hostname") for i in ingress]
    if ips:
        return ",".join(ips)
    return "<pending>" if spec.get("type") == "LoadBalancer" else "<none>"


def service_row(svc):
    spec = svc.get("spec") or {}
    selector = LabelSelector.from_dict({"matchLabels": spec["selector"]}).to_string() \
        if spec.get("selector") else "<none>"
    return [svc["metadata"]["name"], spec.get("type", "ClusterIP"), spec.get("clusterIP") or "<none>",
            external_ip_text(svc), service_ports_text(svc), age_of(svc), selector]


SERVICE = Kind(
    "", "v1", "Service", "services", short_names=("svc",), categories=("all",),
    subresources=("status",), return_deleted_object=True,
    default=default_service, validate=validate_service, validate_update=validate_service_update,
    columns=(NAME, col("Type"), col("Cluster-IP"), col("External-IP"), col("Port(s)"), AGE,
             col("Selector", priority=1)),
    row=service_row,
    proto="k8s.io.api.core.v1.Service")


# ---------------------------------------------------------------- Endpoints
def validate_endpoints(ep: dict) -> list:
    causes = []
    for i, subset in enumerate(ep.get("subsets") or []):
        sp = f"subsets[{i}]"
        for field in ("addresses", "notReadyAddresses"):
            for j, addr in enumerate(subset.get(field) or []):
                try:
                    ipaddress.ip_address(addr.get("ip") or "")
                except ValueError:
                    causes.append(invalid(f"{sp}.{field}[{j}].ip", addr.get("ip"), "must be a valid IP address"))
        for j, port in enumerate(subset.get("ports") or []):
            causes += _port_number(port.get("port"), f"{sp}.ports[{j}].port")
            if port.get("protocol", "TCP") not in PROTOCOLS:
                causes.append(not_supported(f"{sp}.ports[{j}].protocol", port.get("protocol"), PROTOCOLS))
    return causes


def endpoints_text(ep: dict, most: int = 3) -> str:
    """`10.0.0.5:80,10.0.0.6:80 + 1 more...`, as kubectl prints the ready endpoints."""
    all_ = []
    for subset in ep.get("subsets") or []:
        ports = subset.get("ports") or [{}]
        for addr in subset.get("addresses") or []:
            for p in ports:
                all_.append(f"{addr['ip']}:{p['port']}" if p.get("port") else addr["ip"])
    if not all_:
        return "<none>"
    shown = ",".join(all_[:most])
    return shown + (f" + {len(all_) - most} more..." if len(all_) > most else "")


ENDPOINTS = Kind(
    "", "v1", "Endpoints", "endpoints", short_names=("ep",), has_status=False, counts_generation=False,
    validate=validate_endpoints,
    columns=(NAME, col("Endpoints"), AGE),
    row=lambda ep: [ep["metadata"]["name"], endpoints_text(ep), age_of(ep)],
    proto="k8s.io.api.core.v1.Endpoints")

KINDS = (SERVICE, ENDPOINTS)
