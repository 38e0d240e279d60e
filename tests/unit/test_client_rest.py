"""The REST client against a tiny in-process HTTP server.

The server records each request and answers what the test tells it to, so
these tests check the exact HTTP the client sends -- method, path, query,
content type, body -- and how it reads watch streams, without an apiserver.
"""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from minikube_py.client import errors
from minikube_py.client.rest import Client


class FakeServer:
    def __init__(self):
        self.requests = []
        self.route = lambda req, h: h.reply(200, {"kind": "Status", "status": "Success"})
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _handle(self):
                url = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                req = {"method": self.command, "path": url.path,
                       "query": {k: v[0] for k, v in parse_qs(url.query).items()},
                       "headers": dict(self.headers),
                       "body": json.loads(raw) if raw else None}
                server.requests.append(req)
                server.route(req, self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def reply(self, code, body):
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def stream(self, lines, chunked=True, pause=None):
                """Send lines one by one; ``pause(i)`` runs before line i."""
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                if chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                else:
                    self.send_header("Connection", "close")
                    self.close_connection = True
                self.end_headers()
                for i, line in enumerate(lines):
                    if pause:
                        pause(i)
                    data = (line if isinstance(line, str) else json.dumps(line)).encode() + b"\n"
                    if chunked:
                        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
                    else:
                        self.wfile.write(data)
                    self.wfile.flush()
                if chunked:
                    self.wfile.write(b"0\r\n\r\n")
                    self.wfile.flush()

        class QuietServer(ThreadingHTTPServer):
            def handle_error(self, request, client_address):
                pass  # a client closing a watch early is expected here

        self.httpd = QuietServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server():
    s = FakeServer()
    yield s
    s.stop()


@pytest.fixture
def client(server):
    c = Client(server.url, timeout=5)
    yield c
    c.close()


def echo(req, h):
    h.reply(200, req["body"] or {"kind": "Pod", "metadata": {"name": "p"}})


def test_get_list_create_update_status(server, client):
    server.route = echo
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "web", "namespace": "team", "resourceVersion": "7"}}
    client.get("pods", "web", namespace="team")
    client.get("po", "web")  # default namespace
    client.list("pods", namespace="team", label_selector="app=web", field_selector="spec.nodeName=n1")
    client.list("pods")  # all namespaces
    client.list("nodes")
    assert client.create("pods", pod) == pod
    client.update("pods", pod)
    client.update_status("pods", pod)
    client.get("deployments", "web", namespace="team", subresource="scale")
    got = [(r["method"], r["path"], r["query"]) for r in server.requests]
    assert got == [
        ("GET", "/api/v1/namespaces/team/pods/web", {}),
        ("GET", "/api/v1/namespaces/default/pods/web", {}),
        ("GET", "/api/v1/namespaces/team/pods",
         {"labelSelector": "app=web", "fieldSelector": "spec.nodeName=n1"}),
        ("GET", "/api/v1/pods", {}),
        ("GET", "/api/v1/nodes", {}),
        ("POST", "/api/v1/namespaces/team/pods", {}),
        ("PUT", "/api/v1/namespaces/team/pods/web", {}),
        ("PUT", "/api/v1/namespaces/team/pods/web/status", {}),
        ("GET", "/apis/apps/v1/namespaces/team/deployments/web/scale", {}),
    ]
    assert server.requests[5]["headers"]["Content-Type"] == "application/json"
    assert server.requests[6]["body"]["metadata"]["resourceVersion"] == "7"


def test_create_namespace_argument_wins_and_cluster_scoped(server, client):
    server.route = echo
    client.create("pods", {"metadata": {"name": "a"}}, namespace="x")
    client.create("pods", {"metadata": {"name": "b"}})
    client.create("nodes", {"metadata": {"name": "n1"}})
    assert [r["path"] for r in server.requests] == [
        "/api/v1/namespaces/x/pods", "/api/v1/namespaces/default/pods", "/api/v1/nodes"]


@pytest.mark.parametrize("patch_type, content_type", [
    ("merge", "application/merge-patch+json"),
    ("strategic", "application/strategic-merge-patch+json"),
    ("json", "application/json-patch+json"),
])
def test_patch_content_types(server, client, patch_type, content_type):
    server.route = echo
    body = [{"op": "add", "path": "/x", "value": 1}] if patch_type == "json" else {"spec": {}}
    client.patch("deploy", "web", body, namespace="d", patch_type=patch_type, subresource="scale")
    req = server.requests[-1]
    assert req["method"] == "PATCH"
    assert req["path"] == "/apis/apps/v1/namespaces/d/deployments/web/scale"
    assert req["headers"]["Content-Type"] == content_type
    assert req["body"] == body


def test_patch_rejects_unknown_type(client):
    with pytest.raises(ValueError):
        client.patch("pods", "p", {}, patch_type="apply")


def test_delete_sends_delete_options(server, client):
    server.route = echo
    client.delete("rs", "web-1", namespace="d", propagation_policy="Foreground",
                  grace_period_seconds=0, preconditions={"uid": "u1"})
    client.delete("nodes", "n1")
    first, second = server.requests
    assert (first["method"], first["path"]) == ("DELETE", "/apis/apps/v1/namespaces/d/replicasets/web-1")
    assert first["body"] == {"kind": "DeleteOptions", "apiVersion": "v1",
                             "propagationPolicy": "Foreground", "gracePeriodSeconds": 0,
                             "preconditions": {"uid": "u1"}}
    assert second["path"] == "/api/v1/nodes/n1"
    assert second["body"] == {"kind": "DeleteOptions", "apiVersion": "v1"}


def test_bind(server, client):
    server.route = lambda req, h: h.reply(201, {"kind": "Status", "status": "Success"})
    client.bind("d", "web-1", "node-2")
    req = server.requests[0]
    assert (req["method"], req["path"]) == ("POST", "/api/v1/namespaces/d/pods/web-1/binding")
    assert req["body"] == {"apiVersion": "v1", "kind": "Binding",
                           "metadata": {"name": "web-1", "namespace": "d"},
                           "target": {"apiVersion": "v1", "kind": "Node", "name": "node-2"}}


def test_create_event(server, client):
    server.route = echo
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": "web-1", "namespace": "d", "uid": "u-1", "resourceVersion": "9"}}
    ev = client.create_event(pod, "FailedScheduling", "0/3 nodes are available",
                             type="Warning", component="default-scheduler")
    req = server.requests[0]
    assert req["path"] == "/api/v1/namespaces/d/events"
    assert ev["metadata"]["name"].startswith("web-1.")
    assert ev["involvedObject"] == {"apiVersion": "v1", "kind": "Pod", "name": "web-1",
                                    "namespace": "d", "uid": "u-1", "resourceVersion": "9"}
    assert (ev["reason"], ev["type"], ev["count"]) == ("FailedScheduling", "Warning", 1)
    assert ev["source"] == {"component": "default-scheduler"}
    assert ev["firstTimestamp"] == ev["lastTimestamp"]
    assert ev["firstTimestamp"].endswith("Z")

    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "uid": "u-n"}}
    client.create_event(node, "NodeReady", "ready", component="kubelet", host="n1")
    assert server.requests[1]["path"] == "/api/v1/namespaces/default/events"
    assert server.requests[1]["body"]["source"] == {"component": "kubelet", "host": "n1"}


def test_errors_are_typed(server, client):
    server.route = lambda req, h: h.reply(404, {
        "kind": "Status", "apiVersion": "v1", "status": "Failure", "code": 404,
        "reason": "NotFound", "message": 'pods "x" not found',
        "details": {"name": "x", "kind": "pods"}})
    with pytest.raises(errors.NotFound) as info:
        client.get("pods", "x")
    assert info.value.details["name"] == "x"


def test_bearer_token_and_keepalive(server):
    server.route = echo
    c = Client(server.url, token="abc")
    c.get("pods", "a")
    c.get("pods", "b")
    assert server.requests[0]["headers"]["Authorization"] == "Bearer abc"
    assert server.requests[0]["headers"]["Accept"] == "application/json"
    assert c.session.get_adapter("http://x").poolmanager.connection_pool_kw["maxsize"] >= 64


def test_client_from_kubeconfig(server, tmp_path):
    from minikube_py.client.kubeconfig import write_kubeconfig
    path = write_kubeconfig(str(tmp_path / "kc"), server.url, token="kt")
    server.route = echo
    c = Client(kubeconfig=path)
    c.get("pods", "a")
    assert server.requests[0]["headers"]["Authorization"] == "Bearer kt"


def test_get_raw_for_logs(server, client):
    def route(req, h):
        data = b"line1\nline2\n"
        h.send_response(200)
        h.send_header("Content-Type", "text/plain")
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)
    server.route = route
    resp = client.get_raw("/api/v1/namespaces/d/pods/p/log", {"container": "c", "tailLines": 2})
    assert resp.text == "line1\nline2\n"
    assert server.requests[0]["query"] == {"container": "c", "tailLines": "2"}


# ---------------------------------------------------------------- watch

def ev(etype, name, rv):
    return {"type": etype, "object": {"kind": "Pod", "metadata": {
        "name": name, "namespace": "d", "resourceVersion": str(rv)}}}


@pytest.mark.parametrize("chunked", [True, False])
def test_watch_delivers_each_event_as_it_arrives(server, client, chunked):
    """Event 1 must reach us while the server is still holding event 2 back."""
    got_first = threading.Event()

    def pause(i):
        if i == 1:
            assert got_first.wait(5), "client did not see event 0 before event 1 was sent"

    server.route = lambda req, h: h.stream(
        [ev("ADDED", "a", 5), "", ev("MODIFIED", "a", 6),
         {"type": "BOOKMARK", "object": {"kind": "Pod", "metadata": {"resourceVersion": "9"}}}],
        chunked=chunked, pause=pause)
    events = []
    for etype, obj in client.watch("pods", namespace="d", resource_version="4",
                                   allow_bookmarks=True, timeout_seconds=30,
                                   label_selector="app=x", field_selector="metadata.name=a"):
        events.append((etype, obj["metadata"]["resourceVersion"]))
        got_first.set()
    assert events == [("ADDED", "5"), ("MODIFIED", "6"), ("BOOKMARK", "9")]
    assert server.requests[0]["query"] == {
        "watch": "1", "resourceVersion": "4", "allowWatchBookmarks": "true",
        "timeoutSeconds": "30", "labelSelector": "app=x", "fieldSelector": "metadata.name=a"}


def test_watch_expired_raises(server, client):
    server.route = lambda req, h: h.stream([
        ev("ADDED", "a", 5),
        {"type": "ERROR", "object": {"kind": "Status", "apiVersion": "v1", "status": "Failure",
                                     "code": 410, "reason": "Expired",
                                     "message": "too old resource version: 1 (50)"}}])
    seen = []
    with pytest.raises(errors.Expired):
        for etype, obj in client.watch("pods", resource_version="1"):
            seen.append(etype)
    assert seen == ["ADDED"]


def test_watch_http_410_raises_expired(server, client):
    server.route = lambda req, h: h.reply(410, {"kind": "Status", "code": 410,
                                                "reason": "Expired", "message": "gone"})
    with pytest.raises(errors.Expired):
        client.watch("pods", resource_version="1")


def test_watch_close_from_another_thread_unblocks_reader(server, client):
    release = threading.Event()
    server.route = lambda req, h: h.stream([ev("ADDED", "a", 5), ev("ADDED", "b", 6)],
                                           pause=lambda i: i == 1 and release.wait(10))
    w = client.watch("pods")
    seen, done = [], threading.Event()

    def read():
        for etype, obj in w:
            seen.append(obj["metadata"]["name"])
        done.set()

    threading.Thread(target=read, daemon=True).start()
    time.sleep(0.3)
    start = time.monotonic()
    w.close()
    assert done.wait(3), "close() did not wake the blocked reader"
    assert time.monotonic() - start < 3
    assert seen == ["a"]
    release.set()
