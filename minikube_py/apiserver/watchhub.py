"""One thread that serves every idle watch stream.

kube-apiserver serves each watch in a goroutine of a few KB. A Python thread costs far
more: a watch that kept its request thread for its whole life cost the apiserver 52 KB
(16 KB of it the thread's stack), so 5,000 hollow nodes' pod watches were 250 MB.

A watch's request thread therefore only sends the initial state (which may be a big
list) and then *parks* the stream here and goes back to the pool. From then on:

- events are still written by the watch cache's dispatch thread straight to the
  socket (watch.SocketSink); what does not fit the socket's buffer waits in the sink's
  backlog, and the hub writes it when the socket turns writable (EPOLLOUT);
- the hub's timers send the stream's bookmarks and end it at its timeoutSeconds;
- epoll tells the hub when the client hangs up.

The hub knows nothing of watches: a stream (watch.ParkedWatch) gives it a socket,
the epoll events it wants, and when it next wants a turn; the hub calls it back.
Every call runs on the hub's one thread, so a stream needs no lock of its own for
what only the hub touches. Where epoll is missing (not Linux) nothing is parked.
"""
from __future__ import annotations

import heapq
import itertools
import logging
import os
import select
import threading
import time

log = logging.getLogger(__name__)


class WatchHub:
    """An epoll loop with timers, for streams that want a turn now and then."""

    def __init__(self):
        self._epoll = select.epoll()
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._epoll.register(self._wake_r, select.EPOLLIN)
        self._lock = threading.Lock()
        self._incoming: list = []        # (stream, is_new) waiting for the hub's thread
        self._signalled = False          # a byte is in the wake pipe
        self._streams: dict[int, object] = {}
        self._masks: dict[int, int] = {}
        self._timers: list = []          # (when, seq, stream): stale entries are skipped
        self._seq = itertools.count()
        self._thread: threading.Thread | None = None

    # -- from any thread ----------------------------------------------------------
    def add(self, stream) -> None:
        """Serve ``stream`` from now on (its first turn is an ``on_wake``)."""
        self._post(stream, True)

    def wake(self, stream) -> None:
        """Give ``stream`` a turn soon (``on_wake``): it has something to write, or ended."""
        self._post(stream, False)

    def _post(self, stream, is_new: bool) -> None:
        with self._lock:
            self._incoming.append((stream, is_new))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True, name="watch-hub")
                self._thread.start()
            if not self._signalled:
                self._signalled = True
                os.write(self._wake_w, b"x")

    def __len__(self) -> int:
        return len(self._streams)

    # -- from the hub's own thread (a stream's callbacks) ---------------------------
    def update(self, stream) -> None:
        """The stream's wanted epoll events or next turn changed."""
        fd = stream.fd
        if self._streams.get(fd) is not stream:
            return
        mask = stream.events()
        if self._masks.get(fd) != mask:
            self._epoll.modify(fd, mask)
            self._masks[fd] = mask
        when = stream.next_turn()
        if when is not None and when != getattr(stream, "_hub_turn", None):
            stream._hub_turn = when
            heapq.heappush(self._timers, (when, next(self._seq), stream))

    def remove(self, stream) -> None:
        """Stop serving the stream (before its socket is closed or handed on)."""
        fd = stream.fd
        if self._streams.get(fd) is stream:
            del self._streams[fd]
            self._masks.pop(fd, None)
            try:
                self._epoll.unregister(fd)
            except (OSError, ValueError):
                pass
        stream._hub_turn = None

    def _run(self) -> None:
        while True:
            timeout = -1.0
            if self._timers:
                timeout = max(0.0, self._timers[0][0] - time.monotonic())
            for fd, mask in self._epoll.poll(timeout):
                stream = self._streams.get(fd)
                if stream is not None:
                    self._turn(stream, stream.on_events, mask)
            with self._lock:
                incoming, self._incoming = self._incoming, []
                if self._signalled:
                    self._signalled = False
                    try:
                        os.read(self._wake_r, 4096)
                    except BlockingIOError:
                        pass
            for stream, is_new in incoming:
                if is_new:
                    fd = stream.fd
                    self._streams[fd] = stream
                    self._masks[fd] = mask = stream.events()
                    self._epoll.register(fd, mask)
                if self._streams.get(stream.fd) is stream:
                    self._turn(stream, stream.on_wake)
            now = time.monotonic()
            while self._timers and self._timers[0][0] <= now:
                when, _, stream = heapq.heappop(self._timers)
                if getattr(stream, "_hub_turn", None) == when and self._streams.get(stream.fd) is stream:
                    stream._hub_turn = None
                    self._turn(stream, stream.on_turn)

    def _turn(self, stream, callback, *args) -> None:
        try:
            callback(*args)
        except Exception:       # one broken stream must not stop the others'
            log.exception("watch stream failed; closing it")
            self.remove(stream)
            stream.abandon()
            return
        self.update(stream)


# The process's one hub (its thread starts with the first parked stream).
watch_hub = WatchHub() if hasattr(select, "epoll") else None
