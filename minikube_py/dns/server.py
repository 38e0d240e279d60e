"""The cluster DNS server: dnslib's UDP and TCP servers, answering from informers.

Like CoreDNS' kubernetes plugin it never asks the apiserver per query: two informers
(services, endpoints) keep the cluster in memory, and each query is a dictionary
lookup (records.answer). Until the caches are filled, queries for the cluster zone
get SERVFAIL -- "try again", never a false NXDOMAIN.
"""
from __future__ import annotations

import logging
import threading
from typing import Optional

from dnslib import RCODE, DNSRecord
from dnslib.server import DNSHandler, DNSLogger, DNSServer

from ..client.informer import Informer, index_by_namespace
from .forward import Forwarder
from .records import DEFAULT_TTL, DEFAULT_ZONE, answer

log = logging.getLogger(__name__)

NAMESPACE_INDEX, IP_INDEX = "namespace", "ip"


def service_ips(svc: dict) -> list[str]:
    spec = svc.get("spec") or {}
    return [ip for ip in (spec.get("clusterIPs") or [spec.get("clusterIP")]) if ip and ip != "None"]


def endpoint_ips(ep: dict) -> list[str]:
    return sorted({a["ip"] for s in ep.get("subsets") or [] for a in s.get("addresses") or []})


class InformerView:
    """The ClusterView of records.py over a services and an endpoints informer."""

    def __init__(self, client):
        self.svc_informer = Informer(client, "services")
        self.ep_informer = Informer(client, "endpoints")
        self.svc_informer.add_index(NAMESPACE_INDEX, index_by_namespace)
        self.svc_informer.add_index(IP_INDEX, service_ips)
        self.ep_informer.add_index(IP_INDEX, endpoint_ips)

    def start(self):
        self.svc_informer.start()
        self.ep_informer.start()

    def stop(self):
        self.svc_informer.stop()
        self.ep_informer.stop()

    def synced(self) -> bool:
        return self.svc_informer.has_synced() and self.ep_informer.has_synced()

    def wait_for_sync(self, timeout: float) -> bool:
        return self.svc_informer.wait_for_sync(timeout) and self.ep_informer.wait_for_sync(timeout)

    def service(self, namespace: str, name: str) -> Optional[dict]:
        return self.svc_informer.get(f"{namespace}/{name}")

    def endpoints(self, namespace: str, name: str) -> Optional[dict]:
        return self.ep_informer.get(f"{namespace}/{name}")

    def has_namespace(self, namespace: str) -> bool:
        return bool(self.svc_informer.by_index(NAMESPACE_INDEX, namespace))

    def services_by_ip(self, ip: str) -> list[dict]:
        return self.svc_informer.by_index(IP_INDEX, ip)

    def endpoints_by_ip(self, ip: str) -> list[dict]:
        return self.ep_informer.by_index(IP_INDEX, ip)


class ClusterResolver:
    """dnslib's resolver interface: ``resolve(request, handler) -> reply``."""

    def __init__(self, view, zone: str = DEFAULT_ZONE, ttl: int = DEFAULT_TTL,
                 forwarder: Optional[Forwarder] = None):
        self.view, self.zone, self.ttl = view, zone.strip(".").lower(), ttl
        self.forwarder = forwarder or None      # an empty Forwarder: REFUSED
        self.queries = 0

    def resolve(self, request: DNSRecord, handler=None) -> DNSRecord:
        self.queries += 1
        name = str(request.q.qname).rstrip(".").lower()
        if not self.view.synced() and (name == self.zone or name.endswith("." + self.zone)):
            reply = request.reply(ra=1)
            reply.header.rcode = RCODE.SERVFAIL
            return reply
        try:
            return answer(request, self.view, self.zone, self.ttl, self.forwarder)
        except Exception:      # a bug must cost one query, not the server
            log.exception("answering %s", request.q)
            reply = request.reply(ra=1)
            reply.header.rcode = RCODE.SERVFAIL
            return reply


class _UDPHandler(DNSHandler):
    udplen = 512       # RFC 1035: longer UDP replies are truncated (TC), the client retries over TCP


class ClusterDNS:
    """UDP and TCP servers on one address, sharing one resolver."""

    def __init__(self, resolver: ClusterResolver, address: str, port: int):
        quiet = DNSLogger("error", prefix=False, logf=log.warning)   # no line per query
        self.udp = DNSServer(resolver, address=address, port=port, logger=quiet, handler=_UDPHandler)
        # port 0: the kernel chose one for UDP; TCP takes the same number
        self.port = self.udp.server.server_address[1]
        self.tcp = DNSServer(resolver, address=address, port=self.port, tcp=True, logger=quiet)
        self.address = address

    def start(self):
        for server in (self.udp, self.tcp):
            server.server.daemon_threads = True
            server.start_thread()

    def stop(self):
        for server in (self.udp, self.tcp):
            server.stop()
            server.server.server_close()


def serve(client, address: str, port: int, zone: str, ttl: int, forwarder: Optional[Forwarder],
          stop: threading.Event, ready: Optional[threading.Event] = None) -> None:
    """Run until ``stop`` is set."""
    view = InformerView(client)
    view.start()
    dns = ClusterDNS(ClusterResolver(view, zone, ttl, forwarder), address, port)
    dns.start()
    log.info("cluster DNS for %s on %s:%d (udp, tcp); forwarding other names to %s", zone, address,
             dns.port, ", ".join(f"{h}:{p}" for h, p in forwarder.servers) if forwarder else "nobody (REFUSED)")
    if not view.wait_for_sync(30):
        log.warning("caches not filled after 30s; answering SERVFAIL for %s until they are", zone)
    if ready is not None:
        ready.set()
    from ..systemd import notify_ready
    notify_ready(f"serving {zone} on {address}:{dns.port}")
    stop.wait()
    dns.stop()
    view.stop()
