"""One etcd watch on its own gRPC stream.

etcd's Watch RPC is a bidirectional stream: the client sends a create request (key
range, start revision), etcd answers `created`, then sends batches of events until
the client cancels, the stream breaks, or the start revision turns out compacted.

Every watch cache of the apiserver holds one such watch. python-etcd3/pyetcd put all
watches of a client on ONE stream, with one create in flight at a time and a bounded
request queue, so when etcd restarts the twenty-odd caches reopen one after another
(each lost create waiting out the client timeout), and a stream ending while that
queue is full holds the lock that cancelling needs for ever. A stream per watch has
none of that: each watch starts, fails and ends on its own, as etcd's clientv3 makes
its watch streams independent of each other.
"""
from __future__ import annotations

import queue
import threading
from typing import Callable

import grpc
from pyetcd import etcdrpc

CLOSE = object()


class WatchFailed(Exception):
    """The watch could not be created (etcd unreachable, or the request refused)."""


class Compacted(Exception):
    def __init__(self, compact_revision: int):
        super().__init__(f"revision compacted; oldest kept is {compact_revision}")
        self.compact_revision = compact_revision


class EtcdWatch:
    """Watch [key, range_end) from start_revision; `on_events(list of mvccpb.Event)` gets
    each batch, `on_end(exception)` once when the watch is over (not after cancel())."""

    def __init__(self, channel, key: bytes, range_end: bytes, start_revision: int,
                 on_events: Callable[[list], None], on_end: Callable[[Exception], None],
                 timeout: float, credentials=None, metadata=None):
        self._requests: queue.SimpleQueue = queue.SimpleQueue()
        self._on_events, self._on_end = on_events, on_end
        self._cancelled = False
        self._created = threading.Event()
        self._failure: Exception | None = None
        create = etcdrpc.WatchCreateRequest(key=key, range_end=range_end, start_revision=start_revision,
                                            prev_kv=True)
        self._requests.put(etcdrpc.WatchRequest(create_request=create))
        self._call = etcdrpc.WatchStub(channel).Watch(iter(self._requests.get, CLOSE),
                                                      credentials=credentials, metadata=metadata)
        self._thread = threading.Thread(target=self._run, daemon=True, name=f"etcd-watch {key!r}")
        self._thread.start()
        if not self._created.wait(timeout):
            self.cancel()
            raise WatchFailed(f"etcd did not create the watch within {timeout}s")
        if self._failure is not None:
            raise self._failure

    def _run(self):
        err: Exception | None = None
        try:
            for resp in self._call:
                if resp.compact_revision:
                    err = Compacted(resp.compact_revision)
                    break
                if resp.canceled:
                    err = WatchFailed(f"etcd cancelled the watch: {resp.cancel_reason or 'no reason given'}")
                    break
                if resp.created:
                    self._created.set()
                if resp.events and not self._cancelled:
                    self._on_events(list(resp.events))
            else:
                err = WatchFailed("etcd ended the watch stream")
        except grpc.RpcError as e:
            err = WatchFailed(f"etcd watch stream broke: {e.code().name if hasattr(e, 'code') else e}")
        finally:
            self._requests.put(CLOSE)
        if not self._created.is_set():       # failed before it began: the creator raises it
            self._failure = err
            self._created.set()
            return
        if not self._cancelled:
            self._on_end(err)

    def cancel(self) -> None:
        """End the watch; returns at once, and on_end is not called."""
        self._cancelled = True
        self._requests.put(CLOSE)
        self._call.cancel()
