"""Names outside the cluster: asked of the host's resolvers (CoreDNS' `forward . /etc/resolv.conf`).

A pod's resolv.conf names only the cluster DNS, so everything else -- a package
mirror, the host's own names -- must be passed on. Each upstream gets a short
timeout and the reply is whatever the first one that answers says; when none
answers, the caller sends SERVFAIL at once instead of letting the pod hang.
"""
from __future__ import annotations

import ipaddress
import logging
import socket
from typing import Iterable, Optional

from dnslib import DNSError, DNSRecord

log = logging.getLogger(__name__)


def read_nameservers(path: str = "/etc/resolv.conf") -> list[str]:
    """The `nameserver` lines of a resolv.conf (missing file: none)."""
    servers = []
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "nameserver":
                    servers.append(parts[1])
    except OSError:
        pass
    return servers


class Forwarder:
    """Send a query on to upstream resolvers (UDP, then TCP when the reply is truncated)."""

    def __init__(self, servers: Iterable[str], timeout: float = 2.0, exclude: Iterable[tuple] = ()):
        excluded = {(str(h), int(p)) for h, p in exclude}
        self.servers: list[tuple[str, int]] = []
        for s in servers:
            host, port = _host_port(s)
            if (host, port) in excluded or ("0.0.0.0", port) in excluded and _is_local(host):
                log.warning("not forwarding to %s:%d: that is this DNS server", host, port)
                continue
            self.servers.append((host, port))
        self.timeout = timeout

    def __bool__(self) -> bool:
        return bool(self.servers)

    def __call__(self, request: DNSRecord) -> Optional[DNSRecord]:
        data = request.pack()
        for host, port in self.servers:
            try:
                reply = DNSRecord.parse(_udp(data, host, port, self.timeout))
                if reply.header.tc:
                    reply = DNSRecord.parse(_tcp(data, host, port, self.timeout))
                return reply
            except (OSError, DNSError) as err:
                log.debug("upstream %s:%d: %s", host, port, err)
        return None


def _host_port(server: str) -> tuple[str, int]:
    if server.count(":") == 1:            # 1.2.3.4:53
        host, port = server.split(":")
        return host, int(port)
    return server, 53


def _is_local(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _udp(data: bytes, host: str, port: int, timeout: float) -> bytes:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        sock.connect((host, port))
        sock.send(data)
        while True:
            reply = sock.recv(65535)
            if reply[:2] == data[:2]:     # the same query id: ours
                return reply


def _tcp(data: bytes, host: str, port: int, timeout: float) -> bytes:
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(len(data).to_bytes(2, "big") + data)
        head = _recv(sock, 2)
        return _recv(sock, int.from_bytes(head, "big"))


def _recv(sock, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise OSError("connection closed")
        buf += chunk
    return buf
