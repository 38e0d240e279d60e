"""The dashboard's HTTP server: the page, its event stream, a pod's YAML, events and logs.

    GET  /?token=T                         log in with T: a cookie is set, and a redirect to /
    POST /login (form: token=T)            the same, from the login form
    POST /logout                           the cookie is cleared
    GET  /                                 the page (static/index.html); without a good token
                                           401 and the login form, without pods to see 403
    GET  /static/<file>                    its JavaScript modules and style sheet (public)
    GET  /api/whoami                       {"username": ..., "groups": [...]}
    GET  /api/stream                       Server-Sent Events: a snapshot, then changes,
                                           both filtered by what the user may list
    GET  /api/pods/<ns>/<name>             {"yaml": ..., "events": [...]}  (get pods)
    GET  /api/pods/<ns>/<name>/log?container=C   the container's log, followed (get pods/log)
                                           (the apiserver's pods/log?follow=true), as SSE

Server-Sent Events rather than WebSocket: the page only listens, EventSource
reconnects by itself, and SSE is plain HTTP a stdlib server can write. Each open
stream holds one thread (a dashboard has a handful of viewers, not thousands).

Authentication and authorization are the cluster's (access.py): a bearer token the
apiserver accepts, checked by TokenReview, and each read checked by SubjectAccessReview
for that user. The browser gives the token once (?token= in the URL or the login form);
the server keeps it in an HttpOnly, SameSite=Strict cookie (page scripts cannot read it,
other sites cannot send it) and redirects to a URL without it. API clients may send
``Authorization: Bearer T`` instead. Refusals are Kubernetes Status objects (401
Unauthorized, 403 Forbidden with the apiserver's wording) on /api, HTML pages on /.
The page is plain http: serve it on 127.0.0.1 (the default) or behind TLS, since
the cookie is a credential.
"""
from __future__ import annotations

import html
import json
import logging
import mimetypes
import os
import queue
import threading
from http.cookies import CookieError, SimpleCookie
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, quote, unquote, urlsplit

import yaml

from ..client import errors
from .access import Access, ReviewUnavailable, Viewer

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


COOKIE = "minikube-py-dashboard"


def status(code: int, reason: str, message: str) -> dict:
    """A Kubernetes Status, as the apiserver answers a refusal."""
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": reason, "code": code}


def login_page(message: str = "") -> bytes:
    """The 401 page: what the dashboard wants, and a form to give it."""
    with open(os.path.join(STATIC, "login.html"), encoding="utf-8") as f:
        page = f.read()
    return page.replace("{{message}}", html.escape(message)).encode()


def forbidden_page(user: str) -> bytes:
    with open(os.path.join(STATIC, "forbidden.html"), encoding="utf-8") as f:
        return f.read().replace("{{user}}", html.escape(user)).encode()


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

    def _json(self, code: int, obj, extra: dict | None = None) -> None:
        self._send(code, json.dumps(obj).encode(), "application/json", extra)

    def _html(self, code: int, body: bytes, extra: dict | None = None) -> None:
        self._send(code, body, "text/html; charset=utf-8", extra)

    def _start_stream(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")      # the stream ends the connection
        self.end_headers()
        self.close_connection = True
        self.wfile.write(b"retry: 1000\n\n")         # EventSource: reconnect after 1 s
        self.wfile.flush()

    @staticmethod
    def _cookie(token: str, max_age: int | None = None) -> dict:
        attrs = "; Path=/; HttpOnly; SameSite=Strict" + (f"; Max-Age={max_age}" if max_age is not None else "")
        return {"Set-Cookie": f"{COOKIE}={quote(token, safe='')}{attrs}"}   # a static token may hold ';'

    def _token(self) -> str:
        """The bearer token of this request: its Authorization header, else the cookie."""
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        if scheme.lower() == "bearer" and token.strip():
            return token.strip()
        jar = SimpleCookie()
        try:
            jar.load(self.headers.get("Cookie") or "")
        except CookieError:
            return ""
        return unquote(jar[COOKIE].value) if COOKIE in jar else ""

    def _log_in(self, token: str) -> None:
        """A token given by the browser: checked, then kept in the cookie (and out of the URL)."""
        user = self.server.access.authenticate(token.strip())
        if user is None:
            return self._html(401, login_page("The apiserver did not accept that token."),
                              self._cookie("", 0))
        log.info("dashboard: %s logged in", user.name)
        self._send(303, b"", "text/plain", {**self._cookie(token.strip()), "Location": "/"})

    # ------------------------------------------------------------ routes
    def do_GET(self):  # noqa: N802 - stdlib name
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        parts = [unquote(p) for p in url.path.split("/") if p]
        try:
            if parts[:1] == ["static"] and len(parts) == 2:
                return self._static(parts[1])
            if parts in ([], ["index.html"]) and query.get("token"):
                return self._log_in(query["token"][0])
            self._authenticated_get(parts, query)
        except ReviewUnavailable as e:
            self._json(503, status(503, "ServiceUnavailable", f"the apiserver cannot be asked: {e}"))
        except (BrokenPipeError, ConnectionResetError):
            pass                                     # the page went away

    def do_POST(self):  # noqa: N802 - stdlib name
        parts = [p for p in urlsplit(self.path).path.split("/") if p]
        length = min(int(self.headers.get("Content-Length") or 0), 65536)
        form = parse_qs(self.rfile.read(length).decode("utf-8", "replace")) if length else {}
        try:
            if parts == ["login"]:
                return self._log_in((form.get("token") or [""])[0])
            if parts == ["logout"]:
                return self._send(303, b"", "text/plain", {**self._cookie("", 0), "Location": "/"})
            self._send(404, b"not found\n", "text/plain")
        except ReviewUnavailable as e:
            self._json(503, status(503, "ServiceUnavailable", f"the apiserver cannot be asked: {e}"))

    def _authenticated_get(self, parts: list, query: dict) -> None:
        page = not parts or parts == ["index.html"]
        token = self._token()
        user = self.server.access.authenticate(token) if token else None
        if user is None:
            if page:
                return self._html(401, login_page("That token is no longer accepted." if token else ""),
                                  self._cookie("", 0) if token else None)
            return self._json(401, status(401, "Unauthorized", "Unauthorized"))
        viewer = Viewer(self.server.access, user, token)
        if page:
            if not viewer.may_list_pods_somewhere(self.server.hub.namespace_names()):
                return self._html(403, forbidden_page(user.name))
            return self._static("index.html")
        if parts == ["api", "whoami"]:
            return self._json(200, {"username": user.name, "groups": list(user.groups)})
        if parts == ["api", "stream"]:
            if not viewer.may_list_pods_somewhere(self.server.hub.namespace_names()):
                return self._json(403, status(403, "Forbidden", self.server.access.forbidden_message(
                    user, "list", "pods")))
            return self._stream(viewer)
        if parts[:2] == ["api", "pods"] and len(parts) == 4:
            return self._pod(viewer, parts[2], parts[3])
        if parts[:2] == ["api", "pods"] and len(parts) == 5 and parts[4] == "log":
            return self._log(viewer, parts[2], parts[3], (query.get("container") or [None])[0])
        self._send(404, b"not found\n", "text/plain")

    def _static(self, name: str) -> None:
        path = os.path.join(STATIC, os.path.basename(name))
        if not os.path.isfile(path):
            return self._send(404, b"not found\n", "text/plain")
        ext = os.path.splitext(path)[1]
        ctype = CONTENT_TYPES.get(ext) or mimetypes.guess_type(path)[0] or "application/octet-stream"
        with open(path, "rb") as f:
            self._send(200, f.read(), ctype)

    def _stream(self, viewer: Viewer) -> None:
        """The page's one stream: a snapshot, then batches of changes as they come, each
        message filtered for this user; it ends when the user's answers change (access.py)."""
        hub = self.server.hub
        sub, snapshot = hub.subscribe()
        try:
            self._start_stream()
            self.wfile.write(sse([viewer.filter(snapshot)]))
            self.wfile.flush()
            while not self.server.stopping.is_set() and not sub.dropped:
                batch = [m for m in map(viewer.filter, sub.take(min(KEEPALIVE, viewer.access.recheck)))
                         if m is not None]
                self.wfile.write(sse(batch) if batch else b": keep-alive\n\n")
                self.wfile.flush()
                try:
                    if viewer.changed():
                        log.info("dashboard: %s's access changed: stream ended", viewer.user.name)
                        break
                except ReviewUnavailable:
                    pass                             # ask again at the next check
        finally:
            hub.unsubscribe(sub)

    def _refused(self, viewer: Viewer, verb: str, resource: str, namespace: str, name: str,
                 subresource: str = "") -> bool:
        """Answer 403 (True) unless the user may do this."""
        access = self.server.access
        if access.allowed(viewer.user, verb, resource, "", namespace, name, subresource):
            return False
        self._json(403, status(403, "Forbidden", access.forbidden_message(
            viewer.user, verb, resource, "", namespace, name, subresource)))
        return True

    def _pod(self, viewer: Viewer, namespace: str, name: str) -> None:
        if self._refused(viewer, "get", "pods", namespace, name):
            return
        try:
            pod = self.server.client.get("pods", name, namespace)
        except errors.ApiError as e:
            return self._json(e.code or 500, e.status)
        events = self.server.hub.events_of("Pod", namespace, name, pod["metadata"].get("uid")) \
            if viewer.sees("events", namespace) else []
        self._json(200, {"yaml": pod_yaml(pod), "events": events,
                         "containers": [c["name"] for c in pod.get("spec", {}).get("containers") or []]})

    def _log(self, viewer: Viewer, namespace: str, name: str, container: str | None) -> None:
        """Follow a container's log through the apiserver; each line is one event.

        A reader thread copies the apiserver's stream into a queue, so this thread
        can send keep-alives and notice a page that closed while the log is quiet."""
        if self._refused(viewer, "get", "pods", namespace, name, "log"):
            return
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

    def __init__(self, address: tuple[str, int], hub, client, access=None):
        """`client`: the dashboard's own; `access` asks the apiserver about users (by default
        through that client)."""
        super().__init__(address, Handler)
        self.hub, self.client = hub, client
        self.access = access or Access(client)
        self.stopping = threading.Event()

    def stop(self) -> None:
        self.stopping.set()
        self.shutdown()
        self.server_close()
