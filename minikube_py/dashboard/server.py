"""The dashboard's HTTP server: the page, its event stream, a pod's YAML, events and logs.

    GET /?token=T                          the page (static/index.html)
    GET /static/<file>                     its JavaScript modules and style sheet
    GET /api/stream?token=T                Server-Sent Events: a snapshot, then changes
    GET /api/pods/<ns>/<name>?token=T      {"yaml": ..., "events": [...]}
    GET /api/pods/<ns>/<name>/log?container=C&token=T   the container's log, followed
                                           (the apiserver's pods/log?follow=true), as SSE

Server-Sent Events rather than WebSocket: the page only listens, EventSource
reconnects by itself, and SSE is plain HTTP a stdlib server can write. Each open
stream holds one thread (a dashboard has a handful of viewers, not thousands).

Authentication: the dashboard reaches the apiserver with the kubeconfig it is
given, so it acts with those credentials; whoever can load the page can see what
they can. The page therefore needs the token printed with its URL (a random one
unless --token-file names one), checked on the page and on every /api request, and
by default the server listens on 127.0.0.1 only.
"""
from __future__ import annotations

import hmac
import json
import logging
import mimetypes
import os
import queue
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, unquote, urlsplit

import yaml

from ..client import errors

log = logging.getLogger(__name__)

STATIC = os.path.join(os.path.dirname(os.path.abspath(__file__)), "static")
KEEPALIVE = 15.0        # seconds between SSE comments on a quiet stream (proxies close idle ones)
LOG_TAIL_LINES = 500    # a followed log starts with this many old lines, as `kubectl logs -f --tail`
CONTENT_TYPES = {".js": "text/javascript; charset=utf-8",   # module scripts need a JS type
                 ".css": "text/css; charset=utf-8", ".html": "text/html; charset=utf-8",
                 ".svg": "image/svg+xml"}


def sse(data, event: str | None = None) -> bytes:
    """One Server-Sent Event; ``data`` is JSON-encoded unless it is already a str."""
    text = data if isinstance(data, str) else json.dumps(data, separators=(",", ":"))
    lines = "".join(f"data: {line}\n" for line in text.split("\n"))
    return ((f"event: {event}\n" if event else "") + lines + "\n").encode()


def pod_yaml(pod: dict) -> str:
    """A pod as `kubectl get -o yaml` shows it (managedFields left out, as kubectl does)."""
    pod = dict(pod, metadata={k: v for k, v in (pod.get("metadata") or {}).items()
                              if k != "managedFields"})
    pod.setdefault("apiVersion", "v1")
    pod.setdefault("kind", "Pod")
    return yaml.safe_dump(pod, sort_keys=False, default_flow_style=False)


class Handler(BaseHTTPRequestHandler):
    server: "DashboardServer"
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # noqa: D102 - requests go to debug, not stderr
        log.debug("%s " + fmt, self.address_string(), *args)

    # ------------------------------------------------------------ plumbing
    def _send(self, code: int, body: bytes, ctype: str, extra: dict | None = None) -> None:
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, code: int, obj) -> None:
        self._send(code, json.dumps(obj).encode(), "application/json")

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")      # the stream ends the connection
        self.end_headers()
        self.close_connection = True
        self.wfile.write(b"retry: 1000\n\n")         # EventSource: reconnect after 1 s
        self.wfile.flush()

    def _authorized(self, query: dict) -> bool:
        given = (query.get("token") or [""])[0]
        return hmac.compare_digest(given.encode(), self.server.token.encode())

    # ------------------------------------------------------------ routes
    def do_GET(self):  # noqa: N802 - stdlib name
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        parts = [unquote(p) for p in url.path.split("/") if p]
        if parts[:1] == ["static"] and len(parts) == 2:
            return self._static(parts[1])
        if not self._authorized(query):
            return self._send(401, b"Unauthorized: open the dashboard's URL with its token "
                                   b"(minikube-py up prints it)\n", "text/plain; charset=utf-8")
        try:
            if not parts or parts == ["index.html"]:
                return self._static("index.html")
            if parts == ["api", "stream"]:
                return self._stream()
            if parts[:2] == ["api", "pods"] and len(parts) == 4:
                return self._pod(parts[2], parts[3])
            if parts[:2] == ["api", "pods"] and len(parts) == 5 and parts[4] == "log":
                return self._log(parts[2], parts[3], (query.get("container") or [None])[0])
            self._send(404, b"not found\n", "text/plain")
        except (BrokenPipeError, ConnectionResetError):
            pass                                     # the page went away

    def _static(self, name: str) -> None:
        path = os.path.join(STATIC, os.path.basename(name))
        if not os.path.isfile(path):
            return self._send(404, b"not found\n", "text/plain")
        ext = os.path.splitext(path)[1]
        ctype = CONTENT_TYPES.get(ext) or mimetypes.guess_type(path)[0] or "application/octet-stream"
        with open(path, "rb") as f:
            self._send(200, f.read(), ctype)

    def _stream(self) -> None:
        """The page's one stream: a snapshot, then batches of changes as they come."""
        hub = self.server.hub
        sub, snapshot = hub.subscribe()
        try:
            self._start_stream()
            self.wfile.write(sse([snapshot]))
            self.wfile.flush()
            while not self.server.stopping.is_set() and not sub.dropped:
                batch = sub.take(KEEPALIVE)
                self.wfile.write(sse(batch) if batch else b": keep-alive\n\n")
                self.wfile.flush()
        finally:
            hub.unsubscribe(sub)

    def _pod(self, namespace: str, name: str) -> None:
        try:
            pod = self.server.client.get("pods", name, namespace)
        except errors.ApiError as e:
            return self._json(e.code or 500, e.status)
        events = self.server.hub.events_of("Pod", namespace, name, pod["metadata"].get("uid"))
        self._json(200, {"yaml": pod_yaml(pod), "events": events,
                         "containers": [c["name"] for c in pod.get("spec", {}).get("containers") or []]})

    def _log(self, namespace: str, name: str, container: str | None) -> None:
        """Follow a container's log through the apiserver; each line is one event.

        A reader thread copies the apiserver's stream into a queue, so this thread
        can send keep-alives and notice a page that closed while the log is quiet."""
        client = self.server.client
        params = {"follow": "true", "tailLines": str(LOG_TAIL_LINES), "container": container}
        try:
            resp = client.get_raw(client.path("pods", namespace, name, "log"), params=params, stream=True)
        except errors.ApiError as e:
            self._start_stream()
            self.wfile.write(sse(e.message, event="end"))
            return
        lines: queue.Queue = queue.Queue()

        def read():
            try:
                for line in resp.iter_lines():
                    lines.put(line.decode("utf-8", "replace"))
            except Exception as e:  # noqa: BLE001 - closed by us, or the apiserver went away
                log.debug("log stream of %s/%s ended: %s", namespace, name, e)
            lines.put(None)

        threading.Thread(target=read, daemon=True, name=f"log-{namespace}/{name}").start()
        try:
            self._start_stream()
            while not self.server.stopping.is_set():
                try:
                    line = lines.get(timeout=KEEPALIVE)
                except queue.Empty:
                    self.wfile.write(b": keep-alive\n\n")
                else:
                    if line is None:
                        self.wfile.write(sse("log stream ended", event="end"))
                        break
                    self.wfile.write(sse(line))
                self.wfile.flush()
        finally:
            resp.close()


class DashboardServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], hub, client, token: str):
        super().__init__(address, Handler)
        self.hub, self.client, self.token = hub, client, token
        self.stopping = threading.Event()

    def stop(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()
