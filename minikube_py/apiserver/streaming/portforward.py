"""port-forward sessions: SPDY streams to TCP connections inside the pod.

kubectl opens, per local connection, two SPDY streams with the same ``requestid``
header: ``streamtype: error`` (which it half-closes at once: only we write on it)
and ``streamtype: data``, both with a ``port`` header. When both are there the
kubelet connects to that port in the pod's network namespace (``dial(port)``) and
copies bytes both ways; at the end it closes the data stream, and writes any failure
on the error stream before closing it (kubectl waits for both).
"""
from __future__ import annotations

import logging
import socket
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
