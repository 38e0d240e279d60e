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
from dataclasses import dataclass

import requests


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


PLAIN = KubeletClient()
