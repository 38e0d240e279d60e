"""discovery.k8s.io/v1 EndpointSlice: a piece of the list of endpoints behind a Service.

Endpoints (core/v1) puts every address of a Service into one object, which grows
without bound and is rewritten whole on every change. EndpointSlices split that list
into slices (at most 1000 endpoints each, labelled `kubernetes.io/service-name`), each
holding one address type (IPv4, IPv6 or FQDN), the endpoints with their readiness
conditions, nodeName and the pod they stand for (targetRef), and the ports they serve.
The controller that writes them comes with the networking issue; here they are objects.
"""
from __future__ import annotations

import ipaddress

from ..names import is_dns1123_label, is_dns1123_subdomain, is_qualified_name
from ..podvalidation import PROTOCOLS
from ..validation import duplicate, invalid, not_supported, required, validate_labels
from .columns import AGE, NAME, age_of, col
from .kind import Kind

ADDRESS_TYPES = ("FQDN", "IPv4", "IPv6")
MAX_ENDPOINTS, MAX_ADDRESSES, MAX_PORTS = 1000, 100, 20000


def default_endpoint_slice(slice_: dict):
    for port in slice_.get("ports") or []:
        if isinstance(port, dict):
            port.setdefault("name", "")
            port.setdefault("protocol", "TCP")


def _too_many(field: str, have: int, most: int) -> dict:
    return {"type": "FieldValueTooMany", "field": field,
            "message": f"Too many: {have}: must have at most {most} items"}


def _ip_problem(address: str, version: int) -> str | None:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        ip = None
    if ip is None or ip.version != version:
        return f"must be a valid IPv{version} address"
    if ip.is_unspecified:
        return f"may not be unspecified ({address})"
    if ip.is_loopback:
        return "may not be in the loopback range (127.0.0.0/8, ::1/128)"
    if ip.is_link_local:
        return "may not be in the link-local range (169.254.0.0/16, fe80::/10)"
    if ip in ipaddress.ip_network("224.0.0.0/24") or (version == 6 and ip in ipaddress.ip_network("ff02::/10")):
        return "may not be in the link-local multicast range (224.0.0.0/24, ff02::/10)"
    return None


def _validate_endpoints(endpoints, address_type) -> list:
    if not isinstance(endpoints, list):
        return [invalid("endpoints", endpoints, "must be a list")]
    causes = [_too_many("endpoints", len(endpoints), MAX_ENDPOINTS)] if len(endpoints) > MAX_ENDPOINTS else []
    for i, ep in enumerate(endpoints):
        ip = f"endpoints[{i}]"
        addresses = ep.get("addresses") or []
        if not addresses:
            causes.append(required(f"{ip}.addresses", "must contain at least 1 address"))
        elif len(addresses) > MAX_ADDRESSES:
            causes.append(_too_many(f"{ip}.addresses", len(addresses), MAX_ADDRESSES))
        for j, address in enumerate(addresses):
            ap = f"{ip}.addresses[{j}]"
            if address_type in ("IPv4", "IPv6"):
                problem = _ip_problem(str(address), 4 if address_type == "IPv4" else 6)
                if problem:
                    causes.append(invalid(ap, address, problem))
            elif address_type == "FQDN":
                causes += [invalid(ap, address, msg) for msg in is_dns1123_subdomain(str(address))]
        if ep.get("nodeName") is not None:
            causes += [invalid(f"{ip}.nodeName", ep["nodeName"], msg) for msg in is_dns1123_subdomain(ep["nodeName"])]
        if ep.get("hostname") is not None:
            causes += [invalid(f"{ip}.hostname", ep["hostname"], msg) for msg in is_dns1123_label(ep["hostname"])]
        causes += validate_labels(ep.get("deprecatedTopology"), f"{ip}.deprecatedTopology")
        for field, value in (ep.get("conditions") or {}).items():
            if value is not None and not isinstance(value, bool):
                causes.append(invalid(f"{ip}.conditions.{field}", value, "must be a boolean"))
    return causes


def _validate_ports(ports) -> list:
    if not isinstance(ports, list):
        return [invalid("ports", ports, "must be a list")]
    causes = [_too_many("ports", len(ports), MAX_PORTS)] if len(ports) > MAX_PORTS else []
    names = set()
    for i, port in enumerate(ports):
        pp = f"ports[{i}]"
        name = port.get("name") or ""
        if name:
            causes += [invalid(f"{pp}.name", name, msg) for msg in is_dns1123_label(name)]
        if name in names:
            causes.append(duplicate(f"{pp}.name", name))
        names.add(name)
        protocol = port.get("protocol")
        if protocol is None:
            causes.append(required(f"{pp}.protocol"))
        elif protocol not in PROTOCOLS:
            causes.append(not_supported(f"{pp}.protocol", protocol, sorted(PROTOCOLS)))
        number = port.get("port")
        if number is not None and (not isinstance(number, int) or isinstance(number, bool)
                                   or not 1 <= number <= 65535):
            causes.append(invalid(f"{pp}.port", number, "must be between 1 and 65535, inclusive"))
        if port.get("appProtocol"):
            causes += [invalid(f"{pp}.appProtocol", port["appProtocol"], msg)
                       for msg in is_qualified_name(port["appProtocol"])]
    return causes


def validate_endpoint_slice(slice_: dict) -> list:
    address_type = slice_.get("addressType")
    if not address_type:
        causes = [required("addressType")]
    elif address_type not in ADDRESS_TYPES:
        causes = [not_supported("addressType", address_type, ADDRESS_TYPES)]
    else:
        causes = []
    causes += _validate_endpoints(slice_.get("endpoints") or [], address_type)
    return causes + _validate_ports(slice_.get("ports") or [])


def validate_endpoint_slice_update(old: dict, new: dict) -> list:
    if old.get("addressType") != new.get("addressType"):
        return [invalid("addressType", new.get("addressType"), "field is immutable")]
    return []


def _first_three(items: list) -> str:
    """kubectl's listWithMoreString: `a,b,c + 2 more...`; `<unset>` when empty."""
    text = ",".join(items[:3])
    if len(items) > 3:
        return f"{text} + {len(items) - 3} more..."
    return text or "<unset>"


def ports_text(slice_: dict) -> str:
    return _first_three([str(p["port"]) if p.get("port") is not None else (p.get("name") or "*")
                         for p in slice_.get("ports") or []])


def endpoints_text(slice_: dict) -> str:
    return _first_three([a for ep in slice_.get("endpoints") or [] for a in ep.get("addresses") or []])


ENDPOINT_SLICE = Kind(
    "discovery.k8s.io", "v1", "EndpointSlice", "endpointslices", has_status=False,
    default=default_endpoint_slice, validate=validate_endpoint_slice,
    validate_update=validate_endpoint_slice_update,
    columns=(NAME, col("AddressType"), col("Ports"), col("Endpoints"), AGE),
    row=lambda s: [s["metadata"]["name"], s.get("addressType", ""), ports_text(s), endpoints_text(s), age_of(s)],
    proto="k8s.io.api.discovery.v1.EndpointSlice")

KINDS = (ENDPOINT_SLICE,)
