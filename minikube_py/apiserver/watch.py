"""Watch streams: `GET ...?watch=1&resourceVersion=N`, one JSON event per line.

The stream is fed by the resource's watch cache (one etcd watch for all clients).
Each client sees events through its own selectors, the way Kubernetes filters them:
an object that starts matching arrives as ADDED, one that stops matching as DELETED.
"""
from __future__ import annotations

import json
import select
import socket
import time

from ..storage.store import RevisionCompacted
from . import errors
from .registry import matches, parse_selectors
from .tables import to_table

BOOKMARK_EVERY = 10.0      # seconds between BOOKMARK events, when the client allows them
POLL = 1.0                 # how often an idle stream checks its client and its deadline


def client_gone(sock) -> bool:
    """True when the peer closed the connection (readable with nothing to read)."""
    if sock is None:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
        if not readable:
            return False
        return sock.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


def event_line(ev_type: str, obj: dict, encoded: bytes | None = None) -> bytes:
    body = encoded if encoded is not None else json.dumps(obj, separators=(",", ":")).encode()
    return b'{"type":"' + ev_type.encode() + b'","object":' + body + b"}\n"


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


def stream(registry, cache, rt, namespace, params, sock=None, as_table=False, stopping=None):
    """Return a generator of bytes for a watch request (raises APIError before streaming).

    `stopping` is the apiserver's shutdown Event: open watches end when it is set, and
    their clients resume elsewhere (or after the restart) from their last resourceVersion.
    """
    lsel, fsel = parse_selectors(params.get("labelSelector"), params.get("fieldSelector"))
    rv_param = params.get("resourceVersion") or ""
    if rv_param and not rv_param.isdigit():
        raise errors.bad_request(f'invalid resourceVersion "{rv_param}"')
    timeout = params.get("timeoutSeconds")
    deadline = time.monotonic() + int(timeout) if timeout and str(timeout).isdigit() else None
    bookmarks = params.get("allowWatchBookmarks") in ("true", "1")
    key_prefix = rt.etcd_prefix(namespace)

    initial = []
    if rv_param in ("", "0"):
        # No resourceVersion: start with the current state as ADDED events, then changes.
        lst = registry.list(rt, namespace, params.get("labelSelector"), params.get("fieldSelector"))
        initial = lst["items"]
        from_rv = int(lst["metadata"]["resourceVersion"])
    else:
        from_rv = int(rv_param)

    def encode(ev_type, obj, ev=None):
        if as_table:
            return event_line(ev_type, to_table(rt.kind, [obj]))
        if ev is not None:
            cached = ev._encoded.get("json")
            if cached is None:
                cached = ev._encoded["json"] = json.dumps(obj, separators=(",", ":")).encode()
            return event_line(ev_type, obj, cached)
        return event_line(ev_type, obj)

    try:
        watcher = cache.watch(from_rv, key_prefix)
    except RevisionCompacted:
        status = errors.expired(f"too old resource version: {from_rv} ({cache.window_start})").status()

        def expired_stream():
            yield b""
            yield event_line("ERROR", status)
        return expired_stream()

    def generate():
        last_bookmark = time.monotonic()
        try:
            yield b""
            for obj in initial:
                yield encode("ADDED", obj)
            while True:
                ev = watcher.next(timeout=POLL)
                if ev is None:            # the cache ended the stream (etcd went away)
                    return
                if ev is False:           # idle: is anyone still listening?
                    now = time.monotonic()
                    if deadline is not None and now >= deadline:
                        return
                    if stopping is not None and stopping.is_set():
                        return
                    if client_gone(sock):
                        return
                    if bookmarks and now - last_bookmark >= BOOKMARK_EVERY:
                        rv = cache.bookmark_revision(watcher)
                        if rv is not None:
                            last_bookmark = now
                            yield event_line("BOOKMARK", {"kind": rt.kind, "apiVersion": rt.api_version,
                                                          "metadata": {"resourceVersion": str(rv)}})
                    continue
                ev_type = visible_type(ev, lsel, fsel)
                if ev_type is not None:
                    yield encode(ev_type, ev.object, ev)
                if deadline is not None and time.monotonic() >= deadline:
                    return
        finally:
            watcher.stop()

    return generate()
