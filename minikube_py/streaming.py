"""Helpers for long-lived HTTP responses: watch streams and `logs -f`.

Both the apiserver and the kubelet hold such responses open for minutes, and both must
notice a client that went away even when there is nothing to send it.
"""
from __future__ import annotations

import select
import socket


def client_gone(sock) -> bool:
    """True when the peer closed the connection (readable, with nothing to read)."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        return sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True
