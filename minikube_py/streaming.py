"""Helpers for long-lived HTTP responses: watch streams and `logs -f`.

Both the apiserver and the kubelet hold such responses open for minutes, and both must
notice a client that went away even when there is nothing to send it.
"""
from __future__ import annotations

import select
import socket
import ssl
import threading

TLS_ALERT = 21          # the TLS record type of an alert (close_notify is one)


def client_gone(sock) -> bool:
    """True when the peer closed the connection (readable, with nothing to read).

    On TLS the peek is of the raw TCP bytes (an SSLSocket refuses MSG_PEEK, and reading
    through TLS here would race the thread writing the stream): a client waiting for
    its response sends nothing but, when it leaves, a close_notify alert.

    poll(), not select(): select() takes no descriptor above 1023 (ValueError), and an
    apiserver with a thousand watches has such descriptors. With select() every one of
    those watches was taken for gone within a second and its client had to watch again:
    500 hollow nodes made 16-73 new watches a second instead of about one.
    """
    try:
        poller = select.poll()
        poller.register(sock, select.POLLIN | select.POLLPRI)
        if not poller.poll(0):
            return False
        if isinstance(sock, ssl.SSLSocket):
            head = socket.socket.recv(sock, 1, socket.MSG_PEEK)
            return head == b"" or head[0] == TLS_ALERT
        return sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


class HangupMonitor:
    """One thread that notices, for every idle stream at once, a client hanging up.

    A stream with nothing to send only learns that its client left by looking
    (``client_gone``). 5,000 kubelets' pod watches each looking every 5 s were 1,000
    thread wake-ups a second, each a turn at the GIL: on 2 cores the apiserver's GIL
    then went round hundreds of runnable threads (load 1,800) and served nothing.
    Here one epoll set holds the sockets of the streams that asked (``watch``); when
    one turns readable -- the client closed it, or sent something -- that stream's
    callback runs once, and the stream looks for itself. Where epoll is missing
    (not Linux) ``watch`` returns None and the stream keeps looking now and then.
    """

    def __init__(self):
        self._epoll = select.epoll() if hasattr(select, "epoll") else None
        self._callbacks: dict[int, object] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def watch(self, sock, callback) -> int | None:
        """Call ``callback()`` (once) when ``sock`` turns readable; the key for ``forget``."""
        if self._epoll is None:
            return None
        try:
            fd = sock.fileno()
            with self._lock:
                self._epoll.register(fd, select.EPOLLIN | select.EPOLLRDHUP | select.EPOLLONESHOT)
                self._callbacks[fd] = callback
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, daemon=True, name="stream-hangups")
                    self._thread.start()
        except (OSError, ValueError):
            return None
        return fd

    def forget(self, fd: int | None) -> None:
        """Stop watching (before the socket is closed: its number may be reused)."""
        if fd is not None:
            self._take(fd)

    def _take(self, fd: int):
        """Remove fd from the set; its callback, or None when it was not there (any more)."""
        with self._lock:
            callback = self._callbacks.pop(fd, None)
            if callback is not None:
                try:
                    self._epoll.unregister(fd)
                except (OSError, ValueError):
                    pass
        return callback

    def _run(self) -> None:
        while True:
            for fd, _ in self._epoll.poll():
                callback = self._take(fd)
                if callback is not None:
                    callback()


hangups = HangupMonitor()     # the process's one monitor (its thread starts with the first stream)
