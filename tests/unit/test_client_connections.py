"""The typed verbs' keep-alive connections (client/connections.py), against a real local
HTTP server in a thread."""
from __future__ import annotations

import http.server
import socket
import threading
import time

import pytest
import requests

from minikube_py.client.connections import Connections
from minikube_py.client.kubeconfig import ClientConfig


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"              # keep-alive
    peers: list = []

    def do_GET(self):
        Handler.peers.append(self.client_address)
        body = b'{"path":"%s"}' % self.path.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        if self.path == "/close-after":
            self.close_connection = True

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    Handler.peers = []
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    yield srv
    srv.shutdown()
    srv.server_close()


def connections_to(srv, prefix=""):
    return Connections(ClientConfig(server=f"http://127.0.0.1:{srv.server_port}{prefix}"), timeout=5)


def test_requests_in_turn_reuse_one_connection(server):
    conns = connections_to(server)
    for i in range(3):
        assert conns.request("GET", f"/a{i}", None, {}) == (200, b'{"path":"/a%d"}' % i)
    assert len({peer for peer in Handler.peers}) == 1


def test_a_connection_the_server_closed_is_not_reused(server):
    conns = connections_to(server)
    conns.request("GET", "/close-after", None, {})   # the server closes after answering
    time.sleep(0.3)                                  # (and has, by now)
    assert conns.request("GET", "/next", None, {})[0] == 200
    assert len(set(Handler.peers)) == 2


def test_the_server_url_path_prefixes_every_request(server):
    conns = connections_to(server, prefix="/k8s/")
    assert conns.request("GET", "/api/v1/pods", None, {})[1] == b'{"path":"/k8s/api/v1/pods"}'


def test_no_server_is_a_requests_connection_error():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]             # nobody listens here once the socket closes
    conns = Connections(ClientConfig(server=f"http://127.0.0.1:{port}"), timeout=5)
    with pytest.raises(requests.ConnectionError):
        conns.request("GET", "/", None, {})
