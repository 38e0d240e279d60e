"""The answers: Kubernetes' DNS-based service discovery spec, as one function.

    <service>.<ns>.svc.<zone>                A     the ClusterIP; for a headless Service
                                                   the IP of every ready endpoint
    <hostname>.<service>.<ns>.svc.<zone>     A     one endpoint of a headless Service (its
                                                   hostname, or its IP with dashes)
    _<port>._<proto>.<service>.<ns>.svc.<zone> SRV a named port: the Service (ClusterIP) or
                                                   each ready endpoint (headless)
    <service>.<ns>.svc.<zone>                CNAME an ExternalName Service
    <a-b-c-d>.<ns>.pod.<zone>                A     a pod IP ("pods insecure", as kubeadm's CoreDNS)
    <d.c.b.a>.in-addr.arpa                   PTR   a ClusterIP or a named endpoint, back to its name

Anything else in the zone is NXDOMAIN; a name that exists without records of the
asked type is NODATA (NOERROR, no answers, the zone's SOA). Names outside the zone
go to ``forward`` (the host's resolvers), or get REFUSED when there is none.

``answer`` reads the cluster through a *view* (services and endpoints by namespace
and name, and by IP for PTR): the server gives it the informers' caches, the tests a
dict.
"""
from __future__ import annotations

import ipaddress
from typing import Callable, Optional, Protocol

from dnslib import AAAA, CNAME, NS, PTR, QTYPE, RCODE, RR, SOA, SRV, A, DNSLabel, DNSRecord

DEFAULT_ZONE = "cluster.local"
DEFAULT_TTL = 30          # kubeadm's CoreDNS: `kubernetes cluster.local ... { ttl 30 }`
PROTOCOLS = ("tcp", "udp", "sctp")


class ClusterView(Protocol):
    def service(self, namespace: str, name: str) -> Optional[dict]: ...
    def endpoints(self, namespace: str, name: str) -> Optional[dict]: ...
    def has_namespace(self, namespace: str) -> bool: ...
    def services_by_ip(self, ip: str) -> list[dict]: ...
    def endpoints_by_ip(self, ip: str) -> list[dict]: ...


def ready_addresses(endpoints: Optional[dict]) -> list[tuple[dict, list[dict]]]:
    """(address, ports) for every ready address of an Endpoints object."""
    out = []
    for subset in (endpoints or {}).get("subsets") or []:
        for addr in subset.get("addresses") or []:
            out.append((addr, subset.get("ports") or []))
    return out


def endpoint_hostname(addr: dict) -> str:
    """The endpoint's DNS label: its hostname, or its IP with dashes (10-1-0-5)."""
    return addr.get("hostname") or addr["ip"].replace(".", "-").replace(":", "-")


class Answer:
    """One reply being built: answers, additional records, rcode."""

    def __init__(self, request: DNSRecord, zone: str, ttl: int):
        self.reply = request.reply(ra=1, aa=1)
        self.q = request.q
        self.qtype = QTYPE[request.q.qtype]
        self.zone, self.ttl = zone, ttl

    def wants(self, *types: str) -> bool:
        return self.qtype in types or self.qtype == "ANY"

    def add(self, name, rtype: str, rdata, additional: bool = False):
        rr = RR(name, getattr(QTYPE, rtype), rdata=rdata, ttl=self.ttl)
        (self.reply.add_ar if additional else self.reply.add_answer)(rr)

    def address(self, name, ip: str, additional: bool = False) -> bool:
        """An A (or AAAA) record, if the question asks for that family."""
        v6 = ipaddress.ip_address(ip).version == 6
        if additional or self.wants("AAAA" if v6 else "A"):
            self.add(name, "AAAA" if v6 else "A", AAAA(ip) if v6 else A(ip), additional)
            return True
        return False

    def soa(self) -> RR:
        return RR(self.zone, QTYPE.SOA, ttl=self.ttl, rdata=SOA(
            f"ns.dns.{self.zone}", f"hostmaster.{self.zone}", (1, 7200, 1800, 86400, self.ttl)))

    def finish(self, exists: bool) -> DNSRecord:
        """NXDOMAIN for a name that does not exist; NODATA (with the SOA) for no answers."""
        if not exists:
            self.reply.header.rcode = RCODE.NXDOMAIN
        if not self.reply.rr:
            self.reply.add_auth(self.soa())
        return self.reply


def answer(request: DNSRecord, view: ClusterView, zone: str = DEFAULT_ZONE, ttl: int = DEFAULT_TTL,
           forward: Optional[Callable[[DNSRecord], Optional[DNSRecord]]] = None) -> DNSRecord:
    """The reply to one query."""
    zone = zone.strip(".").lower()
    name = str(request.q.qname).rstrip(".").lower()
    if name == zone or name.endswith("." + zone):
        labels = name[:-len(zone)].rstrip(".").split(".") if name != zone else []
        a = Answer(request, zone, ttl)
        return a.finish(_in_zone(a, view, labels))
    if name.endswith(".in-addr.arpa") or name.endswith(".ip6.arpa"):
        reply = _reverse(request, view, name, zone, ttl)
        if reply is not None:
            return reply
    forwarded = forward(request) if forward is not None else None
    if forwarded is not None:
        return forwarded
    reply = request.reply(ra=1 if forward else 0, aa=0)
    reply.header.rcode = RCODE.SERVFAIL if forward else RCODE.REFUSED
    return reply


def _in_zone(a: Answer, view: ClusterView, labels: list[str]) -> bool:
    """Fill the answer for a name inside the zone; False when the name does not exist."""
    if not labels:                                        # the zone itself
        if a.wants("SOA"):
            a.reply.add_answer(a.soa())
        if a.wants("NS"):
            a.add(a.zone, "NS", NS(f"ns.dns.{a.zone}"))
        return True
    kind = labels[-1]
    if kind == "svc":
        return _service_names(a, view, labels[:-1])
    if kind == "pod" and len(labels) == 3:                # a-b-c-d.<ns>.pod
        try:
            ip = str(ipaddress.ip_address(labels[0].replace("-", ".")))
        except ValueError:
            return False
        a.address(DNSLabel(".".join(labels) + "." + a.zone), ip)
        return True
    return kind in ("svc", "pod") and len(labels) == 1    # svc.<zone>, pod.<zone>: empty non-terminals


def _service_names(a: Answer, view: ClusterView, labels: list[str]) -> bool:
    if len(labels) == 0:
        return True
    ns = labels[-1]
    if len(labels) == 1:                                  # <ns>.svc.<zone>
        return view.has_namespace(ns)
    svc = view.service(ns, labels[-2])
    if svc is None:
        return False
    qname = a.q.qname
    if len(labels) == 2:
        return _service(a, view, svc, qname)
    if len(labels) == 3:                                  # <hostname>.<service>.<ns>
        return _endpoint(a, view, svc, labels[0], qname)
    if len(labels) == 4 and labels[0].startswith("_") and labels[1].startswith("_"):
        return _srv(a, view, svc, labels[0][1:], labels[1][1:])
    return False


def _fqdn(a: Answer, svc: dict, host: str = "") -> str:
    md = svc["metadata"]
    return (f"{host}." if host else "") + f"{md['name']}.{md['namespace']}.svc.{a.zone}"


def _headless(svc: dict) -> bool:
    return (svc.get("spec") or {}).get("clusterIP") in (None, "", "None")


def _service(a: Answer, view: ClusterView, svc: dict, qname) -> bool:
    spec = svc.get("spec") or {}
    if spec.get("type") == "ExternalName":
        if a.qtype != "SRV" and spec.get("externalName"):
            a.add(qname, "CNAME", CNAME(spec["externalName"].rstrip(".") + "."))
        return True
    if not _headless(svc):
        a.address(qname, spec["clusterIP"])
        if a.wants("SRV"):
            for port in spec.get("ports") or []:
                a.add(qname, "SRV", SRV(0, 100, port["port"], _fqdn(a, svc)))
            if spec.get("ports"):
                a.address(_fqdn(a, svc), spec["clusterIP"], additional=True)
        return True
    ready = ready_addresses(view.endpoints(svc["metadata"]["namespace"], svc["metadata"]["name"]))
    if not ready:
        return False           # a headless Service without ready endpoints has no name (as CoreDNS)
    seen = set()
    for addr, ports in ready:
        if addr["ip"] not in seen:
            seen.add(addr["ip"])
            a.address(qname, addr["ip"])
        if a.wants("SRV"):
            host = _fqdn(a, svc, endpoint_hostname(addr))
            for port in ports:
                a.add(qname, "SRV", SRV(0, max(1, 100 // len(ready)), port["port"], host))
            a.address(host, addr["ip"], additional=True)
    return True


def _endpoint(a: Answer, view: ClusterView, svc: dict, host: str, qname) -> bool:
    found = False
    for addr, _ in ready_addresses(view.endpoints(svc["metadata"]["namespace"], svc["metadata"]["name"])):
        if endpoint_hostname(addr).lower() == host and not found:
            found = True
            a.address(qname, addr["ip"])
    return found


def _srv(a: Answer, view: ClusterView, svc: dict, port_name: str, proto: str) -> bool:
    if proto not in PROTOCOLS:
        return False
    spec = svc.get("spec") or {}

    def matches(port):
        return (port.get("name") or "").lower() == port_name and \
            port.get("protocol", "TCP").lower() == proto
    if not _headless(svc):
        ports = [p for p in spec.get("ports") or [] if matches(p)]
        for port in ports:
            if a.wants("SRV"):
                a.add(a.q.qname, "SRV", SRV(0, 100, port["port"], _fqdn(a, svc)))
                a.address(_fqdn(a, svc), spec["clusterIP"], additional=True)
        return bool(ports)
    targets = [(addr, p) for addr, ports in ready_addresses(view.endpoints(
        svc["metadata"]["namespace"], svc["metadata"]["name"])) for p in ports if matches(p)]
    for addr, port in targets:
        if a.wants("SRV"):
            host = _fqdn(a, svc, endpoint_hostname(addr))
            a.add(a.q.qname, "SRV", SRV(0, max(1, 100 // len(targets)), port["port"], host))
            a.address(host, addr["ip"], additional=True)
    return bool(targets)


def _reverse(request: DNSRecord, view: ClusterView, name: str, zone: str, ttl: int) -> Optional[DNSRecord]:
    """PTR for an IP the cluster knows (a ClusterIP, a named endpoint); None: not ours."""
    try:
        ip = str(ipaddress.ip_address(_arpa_to_ip(name)))
    except ValueError:
        return None
    a = Answer(request, zone, ttl)
    names = [_fqdn(a, s) for s in view.services_by_ip(ip)]
    for ep in view.endpoints_by_ip(ip):
        svc = view.service(ep["metadata"]["namespace"], ep["metadata"]["name"])
        if svc is not None and _headless(svc):
            names += [_fqdn(a, svc, endpoint_hostname(addr)) for addr, _ in ready_addresses(ep)
                      if addr["ip"] == ip]
    if not names:
        return None
    for target in dict.fromkeys(names):
        if a.wants("PTR"):
            a.add(request.q.qname, "PTR", PTR(target + "."))
    return a.finish(True)


def _arpa_to_ip(name: str) -> str:
    if name.endswith(".in-addr.arpa"):
        return ".".join(reversed(name[:-len(".in-addr.arpa")].split(".")))
    nibbles = list(reversed(name[:-len(".ip6.arpa")].split(".")))
    if len(nibbles) != 32:
        raise ValueError(name)
    return ":".join("".join(nibbles[i:i + 4]) for i in range(0, 32, 4))
