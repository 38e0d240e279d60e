"""The fallback where iptables cannot be programmed: NodePorts served by a TCP relay.

Without CAP_NET_ADMIN (not root, a locked-down container) there are no NAT rules, so
ClusterIPs do not route at all. What a user-space program can still do is what
kube-proxy's old "userspace" mode did for NodePorts: listen on each node port of the
host itself and relay every accepted connection to one of the Service's endpoints,
picked at random. The host reaches pod IPs over the pod network's bridge.

TCP only; one thread per listener and two per relayed connection (a lab's load).
"""
from __future__ import annotations

import logging
import random
import socket
import threading

log = logging.getLogger(__name__)

BUFFER = 65536


def _pump(src: socket.socket, dst: socket.socket) -> None:
    try:
        while True:
            data = src.recv(BUFFER)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for s, how in ((dst, socket.SHUT_WR), (src, socket.SHUT_RD)):
            try:
                s.shutdown(how)
            except OSError:
                pass


class _Listener:
    """One node port: accept, pick an endpoint, relay both ways."""

    def __init__(self, address: str, port: int, key: str):
        self.key = key
        self.endpoints: tuple = ()
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((address, port))
        self.sock.listen(128)
        self.thread = threading.Thread(target=self._serve, daemon=True, name=f"nodeport-{port}")
        self.thread.start()

    def _serve(self) -> None:
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return                       # closed
            threading.Thread(target=self._relay, args=(client,), daemon=True).start()

    def _relay(self, client: socket.socket) -> None:
        endpoints = self.endpoints
        if not endpoints:
            client.close()                   # as REJECT: the client sees the connection end
            return
        ip, port = random.choice(endpoints)
        try:
            upstream = socket.create_connection((ip, port), timeout=5)
            upstream.settimeout(None)
        except OSError as e:
            log.info("%s: endpoint %s:%d unreachable: %s", self.key, ip, port, e)
            client.close()
            return
        back = threading.Thread(target=_pump, args=(upstream, client), daemon=True)
        back.start()
        _pump(client, upstream)
        back.join()
        client.close()
        upstream.close()

    def close(self) -> None:
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


class NodePortRelay:
    """``update(ports)`` after each sync: listen on the TCP node ports of ``ports``."""

    def __init__(self, address: str = "0.0.0.0"):
        self.address = address
        self._listeners: dict[int, _Listener] = {}

    @property
    def ports(self) -> list[int]:
        return sorted(self._listeners)

    def update(self, service_ports) -> None:
        wanted = {sp.node_port: sp for sp in service_ports if sp.node_port and sp.protocol == "TCP"}
        for port in set(self._listeners) - set(wanted):
            self._listeners.pop(port).close()
        for port, sp in wanted.items():
            listener = self._listeners.get(port)
            if listener is None:
                try:
                    listener = self._listeners[port] = _Listener(self.address, port, sp.key)
                    log.info("userspace: %s listening on %s:%d", sp.key, self.address, port)
                except OSError as e:
                    log.warning("userspace: cannot listen on node port %d for %s: %s", port, sp.key, e)
                    continue
            listener.endpoints = sp.endpoints

    def close(self) -> None:
        for listener in self._listeners.values():
            listener.close()
        self._listeners.clear()
