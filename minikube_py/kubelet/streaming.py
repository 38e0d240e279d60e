"""The kubelet's streaming endpoints: exec, attach and port-forward into its pods.

The apiserver proxies ``pods/{name}/exec|attach|portforward`` here, unchanged (see
apiserver/streaming/upgrade.py), to the paths a real kubelet serves:

* ``/exec/{ns}/{pod}/{container}?command=..&stdin=..&stdout=..&stderr=..&tty=..``
* ``/attach/{ns}/{pod}/{container}?stdin=..&stdout=..&stderr=..&tty=..``
* ``/portForward/{ns}/{pod}``

Each is an HTTP upgrade. We check the pod and container first, start the process
(errors are then plain HTTP answers, which kubectl shows as ``unable to upgrade
connection: ...``), answer 101 with the protocol the client offered that we speak,
and then run the session on the raw socket:

* WebSocket ``v5.channel.k8s.io`` / ``v4.channel.k8s.io``, or SPDY/3.1 with
  ``X-Stream-Protocol-Version: v4.channel.k8s.io``: exec and attach (remotecommand.py);
* WebSocket ``SPDY/3.1+portforward.k8s.io`` or a plain ``Upgrade: SPDY/3.1`` with
  ``X-Stream-Protocol-Version: portforward.k8s.io``: port-forward (portforward.py);
  WebSocket ``v4.channel.k8s.io`` with ``?ports=``: the older port-forward protocol.
"""
from __future__ import annotations

import logging
import socket
import ssl
import threading
from urllib.parse import parse_qs

from ..apiserver.streaming import portforward, remotecommand, websocket
from ..apiserver.streaming.upgrade import buffered_bytes, splice
from .runtime.base import ContainerNotFound, ContainerRuntimeError

log = logging.getLogger(__name__)

PORTFORWARD_PROTOCOL = "portforward.k8s.io"
# Over SPDY, v5 adds nothing to v4 (a stream's FIN already says "closed"): we answer v4.
SPDY_CHANNEL_PROTOCOLS = ("v4.channel.k8s.io",)
SPDY_UPGRADE = "SPDY/3.1"


class StreamError(Exception):
    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _find_pod(kubelets, namespace: str, name: str):
    for kubelet in kubelets:
        pod = kubelet.find_pod(namespace, name)
        if pod is not None:
            return kubelet, pod
    raise StreamError(404, "pod does not exist")


def running_container_id(pod: dict, container: str) -> str:
    statuses = (pod.get("status") or {}).get("containerStatuses") or []
    for s in statuses:
        if s.get("name") == container and "running" in (s.get("state") or {}) and s.get("containerID"):
            return s["containerID"].split("://", 1)[-1]
    raise StreamError(404, f'container not found ("{container}")')


def _runtime(kubelet):
    runtime = kubelet.runtime
    if getattr(runtime, "name", "") != "docker":
        raise StreamError(400, f"streaming is not supported by the {runtime.name} runtime")
    return runtime


def serve(handler, kubelets, verb: str, parts: list[str], query: str) -> None:
    """Serve one streaming request on a BaseHTTPRequestHandler (``verb``: exec, attach,
    portForward; ``parts``: namespace, pod[, container])."""
    try:
        if verb == "portForward":
            _port_forward(handler, kubelets, *parts, parse_qs(query))
        else:
            _remote_command(handler, kubelets, verb, *parts, parse_qs(query))
    except StreamError as e:
        handler._text(e.code, e.message)
    except ContainerNotFound:
        handler._text(404, f'container not found ("{parts[-1]}")')
    except ContainerRuntimeError as e:
        handler._text(500, f"container runtime error: {e}")


def _remote_command(handler, kubelets, verb, namespace, pod_name, container, params) -> None:
    from .runtime import dockerstream
    kubelet, pod = _find_pod(kubelets, namespace, pod_name)
    opts = remotecommand.Options.from_query(params, default_output=verb == "exec")
    if verb == "exec" and not opts.command:
        raise StreamError(400, "you must specify at least 1 command")
    if not (opts.stdin or opts.stdout or opts.stderr):
        raise StreamError(400, "you must specify at least 1 of stdin, stdout, stderr")
    runtime = _runtime(kubelet)
    cid = running_container_id(pod, container)
    spec = next((c for c in (pod.get("spec") or {}).get("containers") or []
                 if c.get("name") == container), {})
    if verb == "attach" and opts.stdin and not spec.get("stdin"):
        raise StreamError(400, f"stdin is not enabled for container {container}: "
                               "set stdin: true in the pod spec")
    headers = handler.headers
    spdy_protocol = None
    if _is_spdy(headers):
        offered = _stream_protocols(headers)
        spdy_protocol = next((p for p in SPDY_CHANNEL_PROTOCOLS if p in offered), None)
        if spdy_protocol is None:
            raise StreamError(403, f"unable to negotiate protocol: client supports {offered}, "
                                   f"server supports {list(SPDY_CHANNEL_PROTOCOLS)}")
    elif not websocket.is_websocket(headers):
        raise StreamError(400, "Upgrade request required")
    else:
        protocol = websocket.choose(websocket.offered_protocols(headers), websocket.CHANNEL_PROTOCOLS)
        if protocol is None:
            raise StreamError(400, "unable to negotiate a channel protocol: offered "
                                   f"{websocket.offered_protocols(headers)}, supported "
                                   f"{list(websocket.CHANNEL_PROTOCOLS)}")
    if verb == "exec":
        process = dockerstream.exec_process(runtime, cid, list(opts.command), opts.stdin, opts.tty)
    else:
        process = dockerstream.attach_process(runtime, cid, opts.stdin)
    if spdy_protocol:
        log.info("%s %s/%s/%s (SPDY, %s)", verb, namespace, pod_name, container, spdy_protocol)
        return remotecommand.serve_spdy(_accept_spdy(handler, spdy_protocol), process, opts)
    ws = _accept_websocket(handler, protocol)
    log.info("%s %s/%s/%s (%s)", verb, namespace, pod_name, container, protocol)
    remotecommand.serve(ws, protocol, process, opts)


def _ports(params) -> list[int]:
    try:
        ports = [int(p) for v in params.get("ports") or [] for p in v.split(",") if p]
    except ValueError:
        raise StreamError(400, f"invalid port in {params.get('ports')}") from None
    if not ports or not all(0 < p < 65536 for p in ports):
        raise StreamError(400, "query parameter \"port\" is required")
    return ports


def _port_forward(handler, kubelets, namespace, pod_name, params) -> None:
    from .runtime import dockerstream
    kubelet, pod = _find_pod(kubelets, namespace, pod_name)
    runtime = _runtime(kubelet)
    uid = pod["metadata"].get("uid", "")
    forwarder = portforward.PortForwarder(lambda port: dockerstream.dial_pod_port(runtime, uid, port),
                                          pod_name, uid)
    headers = handler.headers
    if websocket.is_websocket(headers):
        offered = websocket.offered_protocols(headers)
        channel_protocol = websocket.choose(offered, websocket.CHANNEL_PROTOCOLS)
        if websocket.PORTFORWARD_TUNNEL not in offered and channel_protocol:
            ports = _ports(params)
            ws = _accept_websocket(handler, channel_protocol)
            log.info("port-forward %s/%s %s (%s)", namespace, pod_name, ports, channel_protocol)
            return portforward.serve_websocket(ws, ports, forwarder.dial, pod_name, uid)
        if websocket.PORTFORWARD_TUNNEL not in offered:
            raise StreamError(400, f"unable to negotiate a port-forward protocol: offered {offered}, "
                                   f"supported [{websocket.PORTFORWARD_TUNNEL}]")
        transport = _accept_websocket(handler, websocket.PORTFORWARD_TUNNEL)
    elif _is_spdy(headers):
        offered = _stream_protocols(headers)
        if PORTFORWARD_PROTOCOL not in offered:
            raise StreamError(403, f"unable to negotiate protocol: client supports {offered}, "
                                   f"server supports [{PORTFORWARD_PROTOCOL}]")
        transport = _accept_spdy(handler, PORTFORWARD_PROTOCOL)
    else:
        raise StreamError(400, "Upgrade request required")
    log.info("port-forward %s/%s", namespace, pod_name)
    forwarder.serve(transport)


def _is_spdy(headers) -> bool:
    return (headers.get("Upgrade") or "").lower() == SPDY_UPGRADE.lower()


def _stream_protocols(headers) -> list[str]:
    return [p.strip() for v in headers.get_all("X-Stream-Protocol-Version") or [] for p in v.split(",")]


def _accept_spdy(handler, protocol: str) -> "_SocketTransport":
    handler.wfile.write(("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\n"
                         f"Upgrade: {SPDY_UPGRADE}\r\nX-Stream-Protocol-Version: {protocol}\r\n\r\n").encode())
    handler.wfile.flush()
    handler.close_connection = True
    return _SocketTransport(*_upgraded(handler))


def _accept_websocket(handler, protocol: str) -> websocket.WebSocket:
    key = handler.headers.get("Sec-WebSocket-Key") or ""
    handler.wfile.write(websocket.handshake_response(key, protocol))
    handler.wfile.flush()
    handler.close_connection = True
    return websocket.WebSocket(*_upgraded(handler))


def _upgraded(handler) -> tuple[socket.socket, bytes]:
    """The upgraded connection as a plain socket, and the bytes the client sent early.

    A session reads and writes its socket from several threads (stdin, stdout, stderr,
    one per forwarded port), which one TLS connection must not see: over TLS the session
    gets one end of a socket pair, and one thread of ours moves the bytes between the
    other end and the TLS connection (the apiserver's splice). `finish` waits for it.
    """
    conn = handler.connection
    early = buffered_bytes(handler.rfile, conn)
    if not isinstance(conn, ssl.SSLSocket):
        return conn, early
    inner, outer = socket.socketpair()
    conn.settimeout(None)

    def relay():
        try:
            splice(conn, outer)
        finally:
            outer.close()
    handler.tls_relay = (inner, threading.Thread(target=relay, daemon=True, name="kubelet-tls-relay"))
    handler.tls_relay[1].start()
    return inner, early


def finish(handler, timeout: float = 10.0) -> None:
    """After a session over TLS: its end of the pair closes, and the relay delivers the rest."""
    relay = getattr(handler, "tls_relay", None)
    if relay is None:
        return
    inner, thread = relay
    try:
        inner.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    inner.close()
    thread.join(timeout)


class _SocketTransport:
    """The raw upgraded socket as a SPDY transport (bytes the client sent early first)."""

    def __init__(self, sock, leftover: bytes):
        self.sock = sock
        self.leftover = leftover

    def recv(self) -> bytes:
        if self.leftover:
            data, self.leftover = self.leftover, b""
            return data
        try:
            return self.sock.recv(65536)
        except OSError:
            return b""

    def sendall(self, data: bytes) -> None:
        self.sock.sendall(data)

    def close(self) -> None:
        try:
            self.sock.shutdown(2)
        except OSError:
            pass
