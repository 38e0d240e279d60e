"""port-forward sessions: SPDY streams to TCP connections inside the pod.

kubectl opens, per local connection, two SPDY streams with the same ``requestid``
header: ``streamtype: error`` (which it half-closes at once: only we write on it)
and ``streamtype: data``, both with a ``port`` header. When both are there the
kubelet connects to that port in the pod's network namespace (``dial(port)``) and
copies bytes both ways; at the end it closes the data stream, and writes any failure
on the error stream before closing it (kubectl waits for both).

The older WebSocket protocol (``v4.channel.k8s.io``, what the official Python
client speaks) names the ports up front (``?ports=80,8080``): port i gets channel
2i for data and 2i+1 for errors, each opened with a frame holding the port number
(uint16, little-endian); one connection per port, and the WebSocket closes when
every port's connection has ended.
"""
from __future__ import annotations

import logging
import socket
import struct
import threading

from .spdy import Session

log = logging.getLogger(__name__)


class PortForwarder:
    """Pairs the client's streams by request id and forwards each pair."""

    def __init__(self, dial, pod_name: str, pod_uid: str):
        self.dial = dial
        self.pod_name = pod_name
        self.pod_uid = pod_uid
        self.pending: dict[str, dict] = {}
        self._lock = threading.Lock()

    def serve(self, transport) -> None:
        Session(transport, self.on_stream).serve()

    def on_stream(self, stream) -> None:
        kind = stream.headers.get("streamtype", "")
        request = stream.headers.get("requestid", "")
        if kind not in ("error", "data"):
            log.debug("port-forward: unexpected stream type %r", kind)
            stream.reset()
            return
        with self._lock:
            pair = self.pending.setdefault(request, {})
            pair[kind] = stream
            if len(pair) < 2:
                return
            del self.pending[request]
        threading.Thread(target=self.forward, args=(pair["data"], pair["error"]), daemon=True,
                         name=f"port-forward-{request}").start()

    def forward(self, data, error) -> None:
        port_text = data.headers.get("port", "")
        try:
            port = int(port_text)
            if not 0 < port < 65536:
                raise ValueError
        except ValueError:
            self._fail(data, error, f'invalid port "{port_text}"')
            return
        try:
            conn = self.dial(port)
        except OSError as e:
            reason = (e.strerror or str(e)).lower()
            self._fail(data, error, f"error forwarding port {port} to pod {self.pod_name}, "
                                    f"uid {self.pod_uid}: dial tcp4 127.0.0.1:{port}: connect: {reason}")
            return
        threading.Thread(target=_client_to_pod, args=(data, conn), daemon=True,
                         name="port-forward-in").start()
        try:
            while True:
                chunk = conn.recv(65536)
                if not chunk:
                    break
                data.write(chunk)
        except OSError as e:
            log.debug("port-forward to %s:%d ended: %s", self.pod_name, port, e)
        finally:
            data.close()
            error.close()
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            conn.close()

    @staticmethod
    def _fail(data, error, message: str) -> None:
        log.info("port-forward: %s", message)
        error.write(message.encode())
        error.close()
        data.close()


def _client_to_pod(data, conn) -> None:
    try:
        while True:
            chunk = data.read()
            if not chunk:
                break
            conn.sendall(chunk)
        conn.shutdown(socket.SHUT_WR)
    except OSError:
        pass


def serve_websocket(ws, ports: list[int], dial, pod_name: str, pod_uid: str) -> None:
    """The channel protocol's port-forward (see the module docstring)."""
    conns: dict[int, socket.socket] = {}
    done = threading.Semaphore(0)
    for i, port in enumerate(ports):
        data_ch, err_ch = 2 * i, 2 * i + 1
        ws.send_message(bytes([data_ch]) + struct.pack("<H", port))
        ws.send_message(bytes([err_ch]) + struct.pack("<H", port))
        try:
            conns[data_ch] = dial(port)
        except OSError as e:
            reason = (e.strerror or str(e)).lower()
            ws.send_message(bytes([err_ch]) + (f"error forwarding port {port} to pod {pod_name}, "
                                               f"uid {pod_uid}: dial tcp4 127.0.0.1:{port}: "
                                               f"connect: {reason}").encode())
            done.release()
            continue
        threading.Thread(target=_pod_to_channel, args=(conns[data_ch], ws, data_ch, done),
                         daemon=True, name=f"port-forward-{port}").start()

    def client_to_pods():
        while True:
            message = ws.recv_message()
            if message is None:
                break
            conn = conns.get(message[0]) if message else None
            if conn is not None and len(message) > 1:
                try:
                    conn.sendall(message[1:])
                except OSError:
                    pass
        for conn in conns.values():
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    threading.Thread(target=client_to_pods, daemon=True, name="port-forward-in").start()
    for _ in ports:
        done.acquire()
    ws.close()


def _pod_to_channel(conn, ws, channel: int, done) -> None:
    try:
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            ws.send_message(bytes([channel]) + chunk)
    except OSError:
        pass
    finally:
        conn.close()
        done.release()
