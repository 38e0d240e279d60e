"""Watch streams: `GET ...?watch=1&resourceVersion=N`, one JSON event per line.

The stream is fed by the resource's watch cache (one etcd watch for all clients).
Each client sees events through its own selectors, the way Kubernetes filters them:
an object that starts matching arrives as ADDED, one that stops matching as DELETED.

Fan-out is the expensive part: with 1000 watchers, every change is written 1000
times. Waking 1000 threads per event would make them queue for Python's GIL, so the
cache's dispatch thread writes each event straight to every watcher's socket (a
non-blocking send of a few hundred bytes). Only when a client is slow and its socket
buffer is full does the backlog go to that watcher's own request thread, which drains
it with blocking writes — one slow client never holds up the others.

Once the initial state is out, a plain-HTTP watch gives its request thread back: the
stream is parked in the WatchHub (watchhub.py), whose one thread writes backlogs, sends
bookmarks, ends streams at their timeoutSeconds and notices clients that hang up. A
thread per idle watch cost 52 KB each; 5,000 kubelets' pod watches were 250 MB. A TLS
stream keeps its thread (one TLS connection must not be written by two threads).
"""
from __future__ import annotations

import os
import select
import socket
import ssl
import threading
import time

from .. import codec
from ..streaming import client_gone, hangups
from ..storage.store import RevisionCompacted
from . import errors
from .registry import matches, parse_selectors
from .tables import to_table
from .watchhub import watch_hub

# BOOKMARK events, when the client allows them: every minute, as kube-apiserver's cacher
# (defaultBookmarkFrequency), and one as the stream reaches its timeoutSeconds, so the
# client resumes from the newest revision.
BOOKMARK_EVERY = 60.0
POLL = 5.0                     # how often a stream not in the HangupMonitor looks for its client
# An idle watch thread sleeps until an event, its next bookmark, its deadline or its
# client hanging up (streaming.hangups tells it) -- it wakes for nothing else: 5,000
# kubelets' pod watches waking every few seconds buried the apiserver's GIL (see
# streaming.HangupMonitor). Shutdown does not wait for it: WatchCache.stop() ends every
# stream at once.
MAX_BACKLOG = 64 * 1024 * 1024  # a client this far behind is dropped (it resumes from its last RV)


def event_line(ev_type: str, obj: dict, encoded: bytes | None = None) -> bytes:
    body = encoded if encoded is not None else codec.dumps(obj)
    return b'{"type":"' + ev_type.encode() + b'","object":' + body + b"}\n"


def send_nowait(sock, data) -> int:
    """Send what fits in the socket's buffer now, and never wait.

    MSG_DONTWAIT is not enough: on a socket with a timeout (cheroot gives its connections
    60 s) Python first polls for room, up to the timeout, so one slow client held the
    cache's dispatch thread -- every watcher of the resource -- for a minute. Such a
    socket is already O_NONBLOCK underneath, so a plain write() returns at once.
    """
    if sock.gettimeout() is None:
        return sock.send(data, socket.MSG_DONTWAIT)
    return os.write(sock.fileno(), data)


def visible_type(ev, lsel, fsel) -> str | None:
    """The event type this client should see, or None (the object is outside its selectors)."""
    if lsel is None and fsel is None:
        return ev.type
    now = matches(ev.object, lsel, fsel)
    before = ev.prev_object is not None and matches(ev.prev_object, lsel, fsel)
    if ev.type == "DELETED":
        return "DELETED" if before else None
    if now and (before or ev.type == "ADDED"):
        return ev.type
    if now:
        return "ADDED"
    if before:
        return "DELETED"
    return None


class SocketSink:
    """One client's watch: filters events and writes them to the client's socket."""

    def __init__(self, sock, chunked: bool, key_prefix: str, lsel, fsel, encode,
                 trigger_value: str | None = None):
        self.sock = sock
        self.chunked = chunked
        self.key_prefix = key_prefix
        self.trigger_value = trigger_value
        self.lsel, self.fsel = lsel, fsel
        self.encode = encode
        self.lock = threading.Condition()
        self.backlog = bytearray()
        self.live = False        # until the initial events are out, everything waits in the backlog
        self.flushing = False    # the request thread is writing the backlog: don't overtake it
        self.closed = False      # the client went away or fell too far behind
        self.ended = False       # the cache ended the stream (etcd went away)
        self.detached = False    # the stream ended: no more pushes (WatchCache.leave)
        self.maybe_gone = False  # the socket turned readable: has the client hung up?
        self.on_wake = None      # a parked stream's: called when the backlog grows or the stream ends
        # A TLS socket takes no MSG_DONTWAIT, and one TLS connection must not be written
        # by two threads: over TLS every write is the request thread's (flush).
        self.direct = not isinstance(sock, ssl.SSLSocket)

    def frame(self, data: bytes) -> bytes:
        return b"%x\r\n%s\r\n" % (len(data), data) if self.chunked else data

    # -- called by the watch cache's dispatch thread --------------------------------
    def push(self, ev):
        if ev is None:
            with self.lock:
                self.ended = True
                self._notify()
            return
        self.push_many([ev])

    def push_many(self, events):
        """Write these events in order; a detach() waits for all of them or none goes."""
        frames = []
        for ev in events:
            ev_type = visible_type(ev, self.lsel, self.fsel)
            if ev_type is not None:
                frames.append(self.frame(self.encode(ev_type, None, ev)))   # the cached JSON
        if not frames:
            return
        data = b"".join(frames)
        with self.lock:
            if self.closed or self.detached:
                return
            if self.direct and self.live and not self.backlog and not self.flushing:
                sent = self._send_now(data)
                if sent is None:
                    self._notify()
                    return
                data = data[sent:]
                if not data:
                    return
            self.backlog += data
            if len(self.backlog) > MAX_BACKLOG:
                self.closed = True
            self._notify()

    def _notify(self):
        """(Holding the lock.) Wake whoever writes the backlog: the request thread, or the hub."""
        self.lock.notify()
        if self.on_wake is not None:
            self.on_wake()

    def idle(self) -> bool:
        return not self.backlog and not self.flushing

    def detach(self) -> None:
        with self.lock:
            self.detached = True

    # -- called by the request's own thread ------------------------------------------
    def write(self, data: bytes):
        """Queue bytes of our own (initial events, bookmarks) in stream order."""
        with self.lock:
            self.backlog += self.frame(data)

    def _send_now(self, data) -> int | None:
        """(Holding the lock.) The bytes of data the socket took now; None if it is broken."""
        try:
            return send_nowait(self.sock, data)
        except BlockingIOError:
            return 0
        except OSError:
            self.closed = True
            return None

    def send_backlog(self):
        """Write what of the backlog fits in the socket now (a parked stream's, on the hub)."""
        with self.lock:
            if self.backlog and not self.closed:
                del self.backlog[:self._send_now(self.backlog) or 0]

    def flush(self):
        """Drain the backlog with blocking writes (the slow path)."""
        while True:
            with self.lock:
                if not self.backlog or self.closed:
                    self.flushing = False
                    return
                data, self.backlog = bytes(self.backlog), bytearray()
                self.flushing = True
            try:
                self.sock.sendall(data)
            except OSError:
                with self.lock:
                    self.closed = True
                    self.flushing = False
                return

    def wait(self, timeout: float | None):
        with self.lock:
            if not (self.backlog or self.closed or self.ended or self.maybe_gone):
                self.lock.wait(timeout)

    def readable(self) -> None:
        """From the HangupMonitor: the client closed the socket (or sent something)."""
        with self.lock:
            self.maybe_gone = True
            self.lock.notify()


def stream(registry, cache, rt, namespace, params, environ, as_table=False, stopping=None):
    """Return the WSGI body for a watch request (raises APIError before streaming).

    `stopping` is the apiserver's shutdown Event: open watches end when it is set, and
    their clients resume (after the restart) from their last resourceVersion.
    """
    lsel, fsel = parse_selectors(params.get("labelSelector"), params.get("fieldSelector"))
    rv_param = params.get("resourceVersion") or ""
    if rv_param and not rv_param.isdigit():
        raise errors.bad_request(f'invalid resourceVersion "{rv_param}"')
    timeout = params.get("timeoutSeconds")
    deadline = time.monotonic() + int(timeout) if timeout and str(timeout).isdigit() else None
    bookmarks = params.get("allowWatchBookmarks") in ("true", "1")

    initial = []
    if rv_param in ("", "0"):
        # No resourceVersion: start with the current state as ADDED events, then changes.
        lst = registry.list(rt, namespace, params.get("labelSelector"), params.get("fieldSelector"))
        initial = lst["items"]
        from_rv = int(lst["metadata"]["resourceVersion"])
    else:
        from_rv = int(rv_param)
    if from_rv < cache.window_start:
        return expired_stream(from_rv, cache.window_start)

    def encode(ev_type, obj, ev=None):
        if as_table:
            return event_line(ev_type, to_table(rt, [obj if obj is not None else ev.object]))
        if ev is None:
            return event_line(ev_type, obj)
        return event_line(ev_type, obj, ev.json())    # serialized once, shared by every watcher

    def generate():
        yield b""                                     # the response headers go out now
        sock, req = environ["minikube_py.socket"], environ["minikube_py.request"]
        trigger = fsel.value_for(rt.watch_trigger) if (fsel and rt.watch_trigger) else None
        sink = SocketSink(sock, req.chunked_write, rt.etcd_prefix(namespace), lsel, fsel, encode,
                          trigger_value=trigger)
        try:
            cache.watch(from_rv, sink)
        except RevisionCompacted as err:
            sink.write(event_line("ERROR", expired_status(from_rv, err.compacted_revision)))
            sink.live = True
            sink.flush()
            return
        hangup = None
        parked = False
        try:
            with sink.lock:                           # initial state goes before any change
                sink.backlog[:0] = b"".join(sink.frame(encode("ADDED", o)) for o in initial)
                sink.live = True
            sink.flush()
            last_bookmark = time.monotonic()
            park = environ.get("minikube_py.park")
            if park is not None and watch_hub is not None and sink.direct and not sink.closed:
                stream = ParkedWatch(sink, cache, rt, bookmarks, last_bookmark, deadline, stopping)
                park(stream.adopt)                    # this thread goes back to the pool
                parked = True
                return
            hangup = hangups.watch(sock, sink.readable)
            while True:
                wakes = [] if hangup is not None else [POLL]
                if bookmarks:
                    wakes.append(last_bookmark + BOOKMARK_EVERY - time.monotonic())
                if deadline is not None:
                    wakes.append(deadline - time.monotonic())
                sink.wait(max(min(wakes), 0.0) if wakes else None)
                sink.flush()
                if sink.closed or sink.ended:
                    return
                now = time.monotonic()
                if stopping is not None and stopping.is_set():
                    return
                if sink.maybe_gone or hangup is None:
                    if client_gone(sock):
                        return
                    if sink.maybe_gone:      # the client sent something: look now and then instead
                        sink.maybe_gone, hangup = False, None
                at_deadline = deadline is not None and now >= deadline
                if bookmarks and (at_deadline or now - last_bookmark >= BOOKMARK_EVERY):
                    if send_bookmark(cache, sink, rt):
                        last_bookmark = now
                if at_deadline:
                    return
        finally:
            if not parked:
                hangups.forget(hangup)
                cache.leave(sink)       # nothing is pushed after this (and no wait for the cache lock)
                # A stream we end (timeout, shutdown) first delivers everything pushed to it:
                # writes grouped into one etcd txn share a revision, and a client resumes from
                # the last resourceVersion it saw, so it must never get only part of one.
                sink.flush()
                with sink.lock:
                    sink.closed = True

    return generate()


def send_bookmark(cache, sink, rt) -> bool:
    """Queue a BOOKMARK at the newest revision the sink has been given all events up to."""
    rv = cache.bookmark_revision(sink)
    if rv is None:
        return False
    sink.write(event_line("BOOKMARK", {"kind": rt.kind, "apiVersion": rt.api_version,
                                       "metadata": {"resourceVersion": str(rv)}}))
    return True


class ParkedWatch:
    """A watch stream served by the WatchHub, its request thread gone back to the pool.

    It ends as a threaded one does: at its deadline (a last bookmark first), when the
    cache ends it or the apiserver stops (everything pushed is delivered first, then the
    last chunk, and the connection goes back to the server for the client's next
    request), or when its client hangs up or falls MAX_BACKLOG behind (closed at once).
    Only the hub's thread calls it, after ``adopt``.
    """

    def __init__(self, sink: SocketSink, cache, rt, bookmarks: bool, last_bookmark: float,
                 deadline: float | None, stopping):
        self.sink, self.cache, self.rt = sink, cache, rt
        self.bookmarks, self.last_bookmark, self.deadline = bookmarks, last_bookmark, deadline
        self.stopping = stopping
        self.fd = sink.sock.fileno()
        self.conn = None             # cheroot's connection, once its worker let go of it
        self.polling_since = None    # the client sent bytes: look for its hangup every POLL s
        self.ending = False          # left the cache: deliver the backlog, then the last chunk
        sink.on_wake = lambda: watch_hub.wake(self)

    def adopt(self, conn) -> None:
        """From the server, once its worker is done with the connection."""
        self.conn = conn
        watch_hub.add(self)

    # -- what the hub asks ---------------------------------------------------------
    def events(self) -> int:
        mask = 0 if self.polling_since is not None else select.EPOLLIN | select.EPOLLRDHUP
        if self.sink.backlog:
            mask |= select.EPOLLOUT
        return mask

    def next_turn(self) -> float | None:
        if self.ending:
            return None
        turns = []
        if self.polling_since is not None:
            turns.append(self.polling_since + POLL)
        if self.bookmarks:
            turns.append(self.last_bookmark + BOOKMARK_EVERY)
        if self.deadline is not None:
            turns.append(self.deadline)
        return min(turns) if turns else None

    # -- the hub's calls -------------------------------------------------------------
    def on_events(self, mask: int) -> None:
        if mask & (select.EPOLLHUP | select.EPOLLERR):
            self.close()
            return
        if mask & ~select.EPOLLOUT and self.polling_since is None:
            if client_gone(self.sink.sock):
                self.close()
                return
            self.polling_since = time.monotonic()
        self.on_wake()

    def on_wake(self) -> None:
        """Write the backlog; end the stream if the cache or the apiserver ended it."""
        sink = self.sink
        sink.send_backlog()
        if sink.closed:
            self.close()
        elif self.ending or sink.ended or (self.stopping is not None and self.stopping.is_set()):
            self.end()

    def on_turn(self) -> None:
        """A timer: look for a hung-up client, send a bookmark, end at the deadline."""
        now = time.monotonic()
        if self.polling_since is not None:
            if client_gone(self.sink.sock):
                self.close()
                return
            self.polling_since = now
        at_deadline = self.deadline is not None and now >= self.deadline
        if self.bookmarks and (at_deadline or now - self.last_bookmark >= BOOKMARK_EVERY):
            if send_bookmark(self.cache, self.sink, self.rt):
                self.last_bookmark = now
            else:                   # events still on their way: try again in a second
                self.last_bookmark = now - BOOKMARK_EVERY + 1.0
        if at_deadline:
            self.end()
        else:
            self.on_wake()

    # -- ending ----------------------------------------------------------------------
    def end(self) -> None:
        """Deliver what was pushed, then the last chunk; the connection goes back to the server."""
        sink = self.sink
        self._leave()
        sink.send_backlog()
        if sink.closed:
            self.close()
            return
        if sink.backlog:
            return                          # EPOLLOUT brings us back
        stopping = self.stopping is not None and self.stopping.is_set()
        if sink.chunked and not stopping:
            with sink.lock:
                last_chunk = sink._send_now(b"0\r\n\r\n") == 5
            if last_chunk:
                self._let_go().resume()     # keep-alive: the client's next request
                return
        self.close()

    def close(self) -> None:
        """The client left, fell too far behind, or the stream cannot end cleanly: close it."""
        self._leave()
        conn = self._let_go()
        if conn is not None:
            conn.close()

    abandon = close

    def _leave(self) -> None:
        if not self.ending:
            self.ending = True
            self.cache.leave(self.sink)     # nothing is pushed after this

    def _let_go(self):
        """The stream is over: out of the hub; its connection, for the caller to pass on."""
        with self.sink.lock:
            self.sink.closed = True
        watch_hub.remove(self)
        conn, self.conn = self.conn, None
        return conn


def expired_status(from_rv, window_start) -> dict:
    return errors.expired(f"too old resource version: {from_rv} ({window_start})").status()


def expired_stream(from_rv, window_start):
    yield b""
    yield event_line("ERROR", expired_status(from_rv, window_start))
