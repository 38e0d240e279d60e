"""``pods/{name}/exec|attach|portforward``: the apiserver's half, an upgrade-aware proxy.

As kube-apiserver does, the apiserver does not speak the streaming protocols itself:
it checks the request (the pod, its container, its node), opens a connection to the
pod's kubelet, sends it the same upgrade request on the kubelet's path
(``/exec/{ns}/{pod}/{container}``, ``/attach/...``, ``/portForward/{ns}/{pod}``), sends
the kubelet's answer back to the client, and, after a ``101 Switching Protocols``,
copies bytes both ways until both sides are done. Whatever the client and the kubelet
agreed on (WebSocket channels, SPDY, SPDY in WebSocket) passes through untouched.

The HTTP server lends us the client's socket for this (``minikube_py.hijack`` in the
WSGI environ, see apiserver/server.py); the kubelet's server does the same
(kubelet/streaming.py).
"""
from __future__ import annotations

import logging
import select
import socket
import ssl
from urllib.parse import quote

from werkzeug.wrappers import Response

from .. import errors
from ..kubeletclient import PLAIN
from ..proxy import kubelet_endpoint, pick_container
from ...api.kinds.core import NODE, POD

log = logging.getLogger(__name__)

STREAM_SUBRESOURCES = {"exec": "exec", "attach": "attach", "portforward": "portForward"}
HOP_BY_HOP = {"host", "authorization", "content-length", "transfer-encoding", "proxy-authorization"}


def buffered_bytes(rfile, sock) -> bytes:
    """What the client already sent past the request head (read into ``rfile``'s buffer)."""
    timeout = sock.gettimeout()
    sock.settimeout(0)
    try:
        return rfile.read1(65536) or b""
    except (BlockingIOError, OSError, ValueError):
        return b""
    finally:
        sock.settimeout(timeout)


def kubelet_path(sub: str, namespace: str, name: str, container: str | None, query: str) -> str:
    parts = [STREAM_SUBRESOURCES[sub], namespace, name] + ([container] if container else [])
    path = "/" + "/".join(quote(p, safe="") for p in parts)
    return f"{path}?{query}" if query else path


def proxy_stream(registry, namespace: str, name: str, sub: str, req, kubelet=PLAIN) -> Response:
    """Check the request, then hand the client's connection to the pod's kubelet."""
    if req.method not in ("GET", "POST"):
        raise errors.method_not_allowed()
    pod = registry.get(POD, namespace, name)
    container = None
    if sub != "portforward":
        container = pick_container(pod, req.args.get("container"))
    node_name = (pod.get("spec") or {}).get("nodeName")
    if not node_name:
        raise errors.bad_request(f"pod {name} does not have a host assigned")
    if "upgrade" not in (req.headers.get("Connection") or "").lower():
        raise errors.bad_request("Upgrade request required")
    hijack = req.environ.get("minikube_py.hijack")
    if hijack is None:
        raise errors.APIError(500, "InternalError", "this server cannot upgrade connections")
    try:
        node = registry.get(NODE, None, node_name)
    except errors.APIError as err:
        if err.code == 404:
            raise errors.APIError(500, "InternalError", f'node "{node_name}" of pod {name} not found') from None
        raise
    ip, port = kubelet_endpoint(node)
    try:
        backend = kubelet.connect(ip, port, timeout=10)
    except OSError as e:
        raise errors.APIError(500, "InternalError",
                              f"error dialing backend: dial tcp {ip}:{port}: {e.strerror or e}") from None
    head = [f"{req.method} {kubelet_path(sub, namespace, name, container, req.query_string.decode())} HTTP/1.1",
            f"Host: {ip}:{port}"]
    head += [f"{k}: {v}" for k, v in req.headers.items() if k.lower() not in HOP_BY_HOP]
    client, early = hijack()
    try:
        backend.settimeout(None)
        backend.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + early)
        splice(client, backend)
    except OSError as e:
        log.debug("%s stream to %s ended: %s", sub, node_name, e)
    finally:
        backend.close()
    return Response(b"")


def splice(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes both ways until both directions ended (half-closes are passed on)."""
    peers = {a.fileno(): (a, b), b.fileno(): (b, a)}
    open_ = dict(peers)
    poller = select.poll()
    for fd in open_:
        poller.register(fd, select.POLLIN)
    while open_:
        for fd, _ in poller.poll():
            if fd not in open_:
                continue
            src, dst = open_[fd]
            try:
                data = src.recv(65536)
                # TLS decrypts whole records: what is left of one is no longer on the fd
                while data and isinstance(src, ssl.SSLSocket) and src.pending():
                    data += src.recv(src.pending())
            except OSError:
                data = b""
            if data:
                try:
                    dst.sendall(data)
                    continue
                except OSError:
                    return
            if isinstance(dst, ssl.SSLSocket):
                # TLS has no half-close (shutting down one direction ends the session):
                # the kubelet is done, so the stream is
                return
            # EOF from src: tell dst, and stop reading src
            poller.unregister(fd)
            del open_[fd]
            try:
                dst.shutdown(socket.SHUT_WR)
            except OSError:
                pass
