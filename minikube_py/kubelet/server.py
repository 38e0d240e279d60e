"""The kubelet's own HTTP server: where the apiserver fetches logs.

A real kubelet serves on port 10250 (``/containerLogs``, ``/exec``, ``/stats``,
``/pods``, ``/healthz`` ...) and publishes that port in its Node's
``status.daemonEndpoints.kubeletEndpoint.Port``; the apiserver looks it up when
someone runs ``kubectl logs``.  Ours serves:

* ``GET /healthz``                                 -> ``ok``
* ``GET /pods``                                    -> the PodList this kubelet runs
* ``GET /stats/summary``                           -> the Summary API (stats/summary.py)
* ``GET /metrics/resource``                        -> its CPU/memory as Prometheus text
* ``GET /metrics``                                 -> the kubelet's own metrics (metrics.py)
* ``GET /containerLogs/{ns}/{pod}/{container}``    -> text/plain, streamed with ``follow``
* ``/exec|attach/{ns}/{pod}/{container}``, ``/portForward/{ns}/{pod}`` -> upgraded
  connections (WebSocket, SPDY): see streaming.py

One server can front several kubelets (the hollow nodes of one process): the
pod name says which one to ask.  It is the standard library's threading HTTP
server: one thread per request, which suits long ``follow`` streams.

With ``tls`` it serves https (--tls-cert-file, --tls-private-key-file) and, given a
--client-ca-file, answers only clients with a certificate from that CA (the apiserver's
kube-apiserver-kubelet-client): anyone else gets 401, as a kubelet with anonymous
authentication off.
"""
from __future__ import annotations

import json
import logging
import queue
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlparse

from ..streaming import client_gone
from . import metrics as kubelet_metrics
from . import streaming
from .stats import resourcemetrics
from .logs import LogError, open_logs, parse_options
from .runtime.base import ContainerNotFound, ContainerRuntimeError

log = logging.getLogger(__name__)

_END = object()


def pump(stream, write, gone, poll: float = 1.0) -> None:
    """Copy ``stream`` to ``write`` until it ends or ``gone()`` says the client left.

    The stream is read in a helper thread, so that a quiet ``follow`` (no new
    log line for minutes) still notices a client that went away.
    """
    chunks: queue.Queue = queue.Queue(maxsize=64)

    def reader():
        try:
            for chunk in stream:
                chunks.put(chunk)
        except Exception as e:  # noqa: BLE001 - the stream was closed under us, or broke
            log.debug("log stream ended: %s", e)
        finally:
            chunks.put(_END)

    threading.Thread(target=reader, daemon=True, name="log-reader").start()
    try:
        while True:
            try:
                chunk = chunks.get(timeout=poll)
            except queue.Empty:
                if gone():
                    return
                continue
            if chunk is _END:
                return
            write(chunk)
    finally:
        close = getattr(stream, "close", None)
        if close:
            try:
                close()
            except Exception:  # noqa: BLE001
                pass


class _Handler(BaseHTTPRequestHandler):
    server_version = "minikube-py-kubelet"
    protocol_version = "HTTP/1.0"      # the body ends when the connection does: simple streaming

    def log_message(self, fmt, *args):  # noqa: N802 - stdlib name
        # Formatted only when debug logging is on: the metrics scraper asks every kubelet
        # every 15 s, and formatting each access line unread cost 6% of hollow kubelets' CPU.
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s", self.address_string(), fmt % args)

    def _text(self, code: int, text: str, ctype: str = "text/plain; charset=utf-8"):
        body = text.encode()
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def _authenticated(self) -> bool:
        """With a client CA, only a verified client certificate gets in (else 401); with
        the webhooks (auth.py) also a token the apiserver vouches for, and each request
        must be allowed by the apiserver (else 403)."""
        auth = self.server.auth
        cert = self.connection.getpeercert() if hasattr(self.connection, "getpeercert") else None
        if auth is None:
            if not self.server.client_ca or cert:
                return True
            self._text(401, "Unauthorized")
            return False
        caller = auth.authenticate(cert, self.headers.get("Authorization", ""))
        if caller is None:
            self._text(401, "Unauthorized")
            return False
        node = self.server.kubelets[0].node_name if self.server.kubelets else ""
        allowed, verb, sub = auth.authorize(caller, self.command, urlparse(self.path).path, node)
        if not allowed:
            self._text(403, f"Forbidden (user={caller.name}, verb={verb}, resource=nodes, subresource={sub})")
            return False
        return True

    def do_GET(self):  # noqa: N802 - stdlib name
        if not self._authenticated():
            return
        url = urlparse(self.path)
        parts = [unquote(p) for p in url.path.split("/") if p]
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        kubelets = self.server.kubelets
        try:
            if parts in (["healthz"], ["livez"], ["readyz"]):
                return self._text(200, "ok")
            if parts == ["pods"]:
                items = [p for k in kubelets for p in k.list_pods()]
                return self._text(200, json.dumps({"kind": "PodList", "apiVersion": "v1",
                                                   "metadata": {}, "items": items}),
                                  "application/json")
            if parts in (["stats", "summary"], ["metrics", "resource"]):
                return self._stats(kubelets, parts[0], params)
            if parts == ["metrics"]:
                return self._text(200, kubelet_metrics.render(kubelets).decode(),
                                  resourcemetrics.CONTENT_TYPE)
            if len(parts) == 4 and parts[0] == "containerLogs":
                return self._logs(kubelets, *parts[1:], params)
            if self._streaming(parts, url.query):
                return
            return self._text(404, "404 page not found\n")
        except (BrokenPipeError, ConnectionResetError):
            pass

    def do_POST(self):  # noqa: N802 - stdlib name; SPDY clients upgrade with POST
        if not self._authenticated():
            return
        url = urlparse(self.path)
        parts = [unquote(p) for p in url.path.split("/") if p]
        try:
            if not self._streaming(parts, url.query):
                self._text(404, "404 page not found\n")
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _streaming(self, parts, query) -> bool:
        """exec / attach / portForward (see streaming.py); False if not such a path."""
        if (len(parts) == 4 and parts[0] in ("exec", "attach")) or \
                (len(parts) == 3 and parts[0] == "portForward"):
            try:
                streaming.serve(self, self.server.kubelets, parts[0], parts[1:], query)
            finally:
                streaming.finish(self)
            return True
        return False

    def _stats(self, kubelets, which: str, params: dict):
        """The Summary (or its Prometheus form) of the kubelet ``?node=`` names (one server
        may front several hollow kubelets), else of the first."""
        node = params.get("node")
        kubelet = next((k for k in kubelets if node in (None, k.node_name)), None)
        if kubelet is None:
            return self._text(404, f'node "{node}" is not served here\n')
        try:
            summary = kubelet.summary()
        except Exception as e:  # noqa: BLE001 - a failed pass is a 500, as the kubelet's
            log.warning("stats summary of %s failed: %s", kubelet.node_name, e)
            if which == "metrics":
                return self._text(200, resourcemetrics.render(None).decode(),
                                  resourcemetrics.CONTENT_TYPE)
            return self._text(500, f"failed to get stats summary: {e}\n")
        if which == "metrics":
            return self._text(200, resourcemetrics.render(summary).decode(),
                              resourcemetrics.CONTENT_TYPE)
        return self._text(200, json.dumps(summary), "application/json")

    def _logs(self, kubelets, namespace, pod_name, container, params):
        for kubelet in kubelets:
            pod = kubelet.find_pod(namespace, pod_name)
            if pod is not None:
                break
        else:
            return self._text(404, f'pod "{pod_name}" in namespace "{namespace}" not found\n')
        try:
            options = parse_options(params)
            stream = open_logs(kubelet.runtime, pod, container, **options)
        except LogError as e:
            return self._text(e.code, e.message)
        except ContainerNotFound:
            return self._text(404, f'container "{container}" in pod "{pod_name}" not found '
                                   "(its container was removed)")
        except ContainerRuntimeError as e:
            return self._text(500, f"container runtime error: {e}")
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.end_headers()
        self.wfile.flush()

        def write(chunk: bytes):
            self.wfile.write(chunk)
            self.wfile.flush()

        try:
            pump(stream, write, lambda: client_gone(self.connection))
        except (BrokenPipeError, ConnectionResetError):
            pass


class _Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        if isinstance(sys.exc_info()[1], OSError):
            # a failed TLS handshake (no certificate of our CA, plain http) or a client gone
            log.debug("kubelet server: request from %s failed", client_address, exc_info=True)
            return
        super().handle_error(request, client_address)


class KubeletServer:
    """Serves one or more kubelets on ``address:port`` (port 0: any free port)."""

    def __init__(self, address: str = "127.0.0.1", port: int = 0,
                 tls: tuple[str, str, str | None] | None = None, auth=None):
        """`tls`: (cert file, key file, client CA file or None) to serve https; `auth`: the
        webhook authentication and authorization (auth.KubeletAuth), over https only."""
        if auth is not None and tls is None:
            raise ValueError("the kubelet's webhook authentication needs https (--tls-cert-file)")
        self.httpd = _Server((address, port), _Handler)
        self.httpd.daemon_threads = True
        self.httpd.kubelets = []
        self.httpd.client_ca = bool(tls and tls[2])
        self.httpd.auth = auth
        if tls:
            from ..apiserver.server import tls_context
            # the handshake happens in the request's thread, on its first read
            self.httpd.socket = tls_context(*tls).wrap_socket(self.httpd.socket, server_side=True,
                                                              do_handshake_on_connect=False)
        self.address = address
        self.port = self.httpd.server_address[1]
        self._thread: threading.Thread | None = None

    def add(self, kubelet) -> None:
        self.httpd.kubelets.append(kubelet)

    def start(self) -> "KubeletServer":
        self._thread = threading.Thread(target=self.httpd.serve_forever, daemon=True,
                                        name=f"kubelet-http-{self.port}")
        self._thread.start()
        return self

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
