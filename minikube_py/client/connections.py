"""Keep-alive HTTP connections for the client's typed verbs, on the standard library.

Every component's hot path is a typed verb (the scheduler's bind, a kubelet's status
patch, a controller's create), and every component shares the cluster's two cores with
the apiserver. urllib3's pool spends about 0.4 ms of CPU a call on its bookkeeping
(URL parsing, pool lookup, retries, response wrappers); `http.client` on a kept
connection about 0.2 ms. So the verbs use plain `http.client` connections, kept here:
a thread takes an idle one (or opens one), sends its request, reads the whole answer,
and gives the connection back.

Failures come out as `requests` exceptions, as from the rest of the client: the server
never answered, so there is no Status to raise.
"""
from __future__ import annotations

import http.client
import select
import ssl
import threading
from urllib.parse import urlsplit

import requests

from .kubeconfig import ClientConfig


def ssl_context(config: ClientConfig) -> ssl.SSLContext:
    """TLS as the kubeconfig asks: its CA (or the system's, or none), its client certificate."""
    ctx = ssl.create_default_context(cafile=config.verify if isinstance(config.verify, str) else None)
    if config.verify is False:
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    if isinstance(config.cert, (tuple, list)):
        ctx.load_cert_chain(config.cert[0], config.cert[1])
    elif config.cert:
        ctx.load_cert_chain(config.cert)
    return ctx


def _dropped(conn: http.client.HTTPConnection) -> bool:
    """True when an idle connection can't be used: the server closed it (or sent
    something unasked). An idle socket that polls readable has one of those to say."""
    if conn.sock is None:
        return True
    poller = select.poll()
    poller.register(conn.sock, select.POLLIN)
    return bool(poller.poll(0))


class Connections:
    """Idle keep-alive connections to one server, shared by the threads of one Client."""

    def __init__(self, config: ClientConfig, timeout: float, maxsize: int = 64):
        url = urlsplit(config.server)
        self.https = url.scheme == "https"
        self.host = url.hostname
        self.port = url.port or (443 if self.https else 80)
        self.prefix = url.path.rstrip("/")          # a server behind a path prefix
        self.context = ssl_context(config) if self.https else None
        self.timeout = timeout
        self.maxsize = maxsize
        self.idle: list[http.client.HTTPConnection] = []
        self.lock = threading.Lock()

    def request(self, method: str, path: str, body: bytes | None, headers: dict) -> tuple[int, bytes]:
        """Send one request and read the whole answer: (status, body)."""
        conn = self._take()
        try:
            conn.request(method, self.prefix + path, body=body, headers=headers)
            resp = conn.getresponse()
            data = resp.read()
        except TimeoutError as err:
            conn.close()
            raise requests.ReadTimeout(err) from err
        except (http.client.HTTPException, OSError) as err:
            conn.close()
            raise requests.ConnectionError(err) from err
        if resp.will_close:
            conn.close()
        else:
            self._give_back(conn)
        return resp.status, data

    def _take(self) -> http.client.HTTPConnection:
        with self.lock:
            while self.idle:
                conn = self.idle.pop()
                if not _dropped(conn):
                    return conn
                conn.close()
        if self.https:
            conn = http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout,
                                               context=self.context)
        else:
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout)
        try:
            conn.connect()
        except TimeoutError as err:
            raise requests.ConnectTimeout(err) from err
        except OSError as err:
            raise requests.ConnectionError(err) from err
        return conn

    def _give_back(self, conn: http.client.HTTPConnection) -> None:
        with self.lock:
            if len(self.idle) < self.maxsize:
                self.idle.append(conn)
                return
        conn.close()

    def clear(self) -> None:
        with self.lock:
            idle, self.idle = self.idle, []
        for conn in idle:
            conn.close()
