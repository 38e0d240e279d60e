"""Server-side WebSocket on a hijacked socket, and Kubernetes' channel protocols on it.

kubectl 1.32 opens exec/attach/cp as a WebSocket first (subprotocol
``v5.channel.k8s.io``, else ``v4.channel.k8s.io``) and port-forward as a WebSocket
tunnelling SPDY (``SPDY/3.1+portforward.k8s.io``). The WebSocket framing itself (masking,
fragments, ping/pong, close) is wsproto's, a sans-I/O library: it fits our threaded
servers, which own the socket once the HTTP request is upgraded.

The channel protocol: every binary message starts with one byte, the channel --
0 stdin, 1 stdout, 2 stderr, 3 error (a Status JSON at the end), 4 resize
(``{"Width":..,"Height":..}``); v5 adds 255 close (``[255, channel]``: the client
closed that stream, i.e. stdin reached EOF).
"""
from __future__ import annotations

import threading

from wsproto import Connection, ConnectionType
from wsproto.events import BytesMessage, CloseConnection, Ping, TextMessage
from wsproto.utilities import LocalProtocolError, RemoteProtocolError, generate_accept_token

STDIN, STDOUT, STDERR, ERROR, RESIZE, CLOSE = 0, 1, 2, 3, 4, 255
CHANNEL_PROTOCOLS = ("v5.channel.k8s.io", "v4.channel.k8s.io")
PORTFORWARD_TUNNEL = "SPDY/3.1+portforward.k8s.io"


def is_websocket(headers) -> bool:
    return (headers.get("Upgrade") or "").lower() == "websocket"


def offered_protocols(headers) -> list[str]:
    value = headers.get("Sec-WebSocket-Protocol") or ""
    return [p.strip() for p in value.split(",") if p.strip()]


def choose(offered: list[str], supported) -> str | None:
    """The client's first protocol that we speak (the client lists its preference first)."""
    return next((p for p in offered if p in supported), None)


def handshake_response(key: str, protocol: str) -> bytes:
    """The 101 answer to a WebSocket upgrade request."""
    return ("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Accept: {generate_accept_token(key.encode()).decode()}\r\n"
            f"Sec-WebSocket-Protocol: {protocol}\r\n\r\n").encode("latin-1")


class WebSocket:
    """Messages over an upgraded socket: ``recv_message()`` in one thread, ``send_message()``
    from any. Pings are answered, a close is echoed."""

    def __init__(self, sock, leftover: bytes = b""):
        self.sock = sock
        self.conn = Connection(ConnectionType.SERVER, trailing_data=leftover)
        self._lock = threading.Lock()
        self._parts: list[bytes] = []
        self.closed = False

    def _send(self, event) -> None:
        with self._lock:
            try:
                data = self.conn.send(event)
                self.sock.sendall(data)
            except (OSError, LocalProtocolError):
                self.closed = True

    def send_message(self, data: bytes) -> None:
        if not self.closed:
            self._send(BytesMessage(data=data))

    def recv_message(self) -> bytes | None:
        """The next whole message (text comes as UTF-8 bytes); None once the peer closed."""
        while True:
            for event in self.conn.events():
                if isinstance(event, (BytesMessage, TextMessage)):
                    data = event.data.encode() if isinstance(event, TextMessage) else event.data
                    self._parts.append(data)
                    if event.message_finished:
                        message, self._parts = b"".join(self._parts), []
                        return message
                elif isinstance(event, Ping):
                    self._send(event.response())
                elif isinstance(event, CloseConnection):
                    self._send(event.response())
                    self.closed = True
                    return None
            if self.closed:
                return None
            try:
                data = self.sock.recv(65536)
            except OSError:
                data = b""
            try:
                self.conn.receive_data(data or None)
            except RemoteProtocolError:
                self.closed = True
                return None

    def close(self, code: int = 1000) -> None:
        if not self.closed:
            self._send(CloseConnection(code=code))
            self.closed = True

    # A byte-stream view, for SPDY tunnelled in binary messages (one frame or more each).
    def recv(self) -> bytes:
        """The next non-empty message (Go writes frames piecewise, empty pieces too);
        b"" once the peer closed."""
        while True:
            message = self.recv_message()
            if message is None:
                return b""
            if message:
                return message

    def sendall(self, data: bytes) -> None:
        if self.closed:
            raise BrokenPipeError("websocket closed")
        self.send_message(data)


class ChannelWriter:
    """A file-like writer that sends what it gets on one channel (stdout, stderr...)."""

    def __init__(self, ws: WebSocket, channel: int):
        self.ws = ws
        self.channel = channel

    def write(self, data: bytes) -> None:
        for i in range(0, len(data), 1 << 16):
            self.ws.send_message(bytes([self.channel]) + data[i:i + (1 << 16)])
