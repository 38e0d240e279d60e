"""How the apiserver reaches kubelets: http, or https with its own client certificate.

kube-apiserver's --kubelet-client-certificate / --kubelet-client-key (who it is to a
kubelet: kube-apiserver-kubelet-client in system:masters) and
--kubelet-certificate-authority (the CA that signed the kubelets' serving certificates).
Logs, ``nodes/{name}/proxy``, exec/attach/port-forward and the metrics scrapes all go
through this one description, so the three never disagree on the scheme.
"""
from __future__ import annotations

import socket
import ssl
import threading
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

import requests

from .. import codec
from ..client.connections import Connections
from ..client.kubeconfig import ClientConfig


@dataclass(frozen=True)
class KubeletClient:
    cert_file: str | None = None
    key_file: str | None = None
    ca_file: str | None = None

    @property
    def tls(self) -> bool:
        return bool(self.cert_file)

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    def url(self, ip: str, port: int, path: str) -> str:
        host = f"[{ip}]" if ":" in ip else ip
        return f"{self.scheme}://{host}:{port}/{path.lstrip('/')}"

    def requests_options(self) -> dict:
        """verify= and cert= for a requests call."""
        if not self.tls:
            return {}
        return {"verify": self.ca_file or False, "cert": (self.cert_file, self.key_file)}

    def session(self) -> requests.Session:
        s = requests.Session()
        s.trust_env = False
        for key, value in self.requests_options().items():
            setattr(s, key, value)
        return s

    def connections(self, timeout: float = 10.0) -> "KubeletConnections":
        """Keep-alive connections to the kubelets for the metrics scrapes (see below)."""
        return KubeletConnections(self, timeout)

    def connect(self, ip: str, port: int, timeout: float = 10) -> socket.socket:
        """A connection for an upgrade (exec, attach, port-forward), TLS when the kubelets speak it."""
        sock = socket.create_connection((ip, port), timeout=timeout)
        if not self.tls:
            return sock
        ctx = ssl.create_default_context(cafile=self.ca_file)
        if not self.ca_file:
            ctx.check_hostname, ctx.verify_mode = False, ssl.CERT_NONE
        ctx.load_cert_chain(self.cert_file, self.key_file)
        try:
            return ctx.wrap_socket(sock, server_hostname=ip)
        except (OSError, ssl.SSLError):
            sock.close()
            raise


class KubeletAnswer:
    """What the metrics scraper reads of an answer: requests' raise_for_status() and json()."""

    def __init__(self, status: int, content: bytes):
        self.status_code, self.content = status, content

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise requests.HTTPError(f"{self.status_code}: {self.content[:200]!r}")

    def json(self):
        return codec.loads(self.content)      # orjson's errors are ValueErrors, as requests'


class KubeletConnections:
    """GETs to the kubelets on plain http.client keep-alive connections, one pool per
    kubelet endpoint (client/connections.py), with the same TLS as a requests session.

    The metrics scraper asks every kubelet for its Summary every --metric-resolution:
    through a requests Session each GET cost about 1 ms of the apiserver's CPU (16% of
    its GIL samples with 300 idle hollow nodes), several times what a kept http.client
    connection costs; the Summary is parsed with orjson.
    """

    def __init__(self, kubelets: KubeletClient, timeout: float):
        self.kubelets, self.timeout = kubelets, timeout
        self._pools: dict[tuple[str, int], Connections] = {}
        self._lock = threading.Lock()

    def _pool(self, host: str, port: int) -> Connections:
        with self._lock:
            pool = self._pools.get((host, port))
            if pool is None:
                server = f"{self.kubelets.scheme}://{f'[{host}]' if ':' in host else host}:{port}"
                verify = (self.kubelets.ca_file or False) if self.kubelets.tls else True
                cert = (self.kubelets.cert_file, self.kubelets.key_file) if self.kubelets.tls else None
                pool = self._pools[(host, port)] = Connections(
                    ClientConfig(server=server, verify=verify, cert=cert), self.timeout, maxsize=16)
            return pool

    def get(self, url: str, params: dict | None = None, timeout: float | None = None) -> KubeletAnswer:
        """GET `url` (http(s)://host:port/path); failures raise requests' exceptions."""
        parts = urlsplit(url)
        path = parts.path + ("?" + urlencode(params) if params else "")
        status, content = self._pool(parts.hostname, parts.port).request(
            "GET", path, None, {"Accept": "application/json"})
        return KubeletAnswer(status, content)

    def keep_only(self, endpoints: set[tuple[str, int]]) -> None:
        """Close the connections of kubelets no longer among `endpoints` (nodes gone)."""
        with self._lock:
            gone = [key for key in self._pools if key not in endpoints]
            pools = [self._pools.pop(key) for key in gone]
        for pool in pools:
            pool.clear()


PLAIN = KubeletClient()
