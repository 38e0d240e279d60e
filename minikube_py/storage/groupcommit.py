"""Group commit: writes that wait for etcd together go to it as one transaction.

Every apiserver write is one etcd transaction (see etcd.py), and a transaction costs
a gRPC round trip and an etcd request, whatever it holds: about 0.2 ms of CPU on each
side. Under load, writes pile up while one is in flight. Instead of sending each on
its own, the next writer sends all of them at once, each as a *nested* transaction of
one outer one (etcd runs nested txns, `RequestOp.request_txn`, since 3.3):

    outer txn: no compare, success = [ txn(create pod a), txn(update pod b), ... ]

Each nested txn keeps its own compare and its own result, so a conflict on one write
fails that write alone, exactly as if it had been sent by itself. What changes is the
revision: every write of one outer txn gets the same etcd revision, so two objects may
share a resourceVersion (the API treats resourceVersions as opaque; see watch.py for
how a watch stream keeps a shared revision whole).

No write waits for a timer: with nothing in flight a write goes at once, alone, as a
plain transaction. The group forms only while the previous one is in flight, so it
grows with the load (databases call this group commit).

Two writes of one key never share an outer txn: etcd refuses that ("duplicate key"),
and the second must see the first's result anyway.
"""
from __future__ import annotations

import threading
from typing import Callable

from pyetcd import etcdrpc

# etcd refuses a txn of more than --max-txn-ops (128) operations, or a request over
# --max-request-bytes (1.5 MiB): stay well under both.
MAX_WRITES = 64
MAX_BYTES = 1024 * 1024


class _Write:
    __slots__ = ("key", "request", "size", "turn", "lead", "response", "error")

    def __init__(self, key: bytes, request: etcdrpc.TxnRequest):
        self.key = key
        self.request = request
        self.size = request.ByteSize()
        # Held while the write waits; released when its result (or its turn to lead) is
        # there. A bare lock, not a threading.Event (a Condition built in Python, 40 times
        # the cost): every apiserver write makes one.
        self.turn: threading.Lock | None = None
        self.lead = False           # woken to send the next group, not with a result
        self.response = None
        self.error = None

    def wait(self) -> None:
        self.turn.acquire()

    def wake(self) -> None:
        self.turn.release()

    def result(self) -> etcdrpc.TxnResponse:
        if self.error is not None:
            raise self.error
        return self.response


class GroupCommit:
    """Sends TxnRequests through `send`, grouping those that arrive while one is in flight."""

    def __init__(self, send: Callable[[etcdrpc.TxnRequest], etcdrpc.TxnResponse],
                 max_writes: int = MAX_WRITES, max_bytes: int = MAX_BYTES):
        self.send = send
        self.max_writes = max_writes
        self.max_bytes = max_bytes
        self.lock = threading.Lock()
        self.waiting: list[_Write] = []
        self.sending = False
        self.writes = self.txns = 0       # how well it groups: writes / txns

    def txn(self, key: bytes, request: etcdrpc.TxnRequest) -> etcdrpc.TxnResponse:
        """Run one write's txn (about `key`); returns its TxnResponse with the outer header."""
        write = _Write(key, request)
        with self.lock:
            lead = not self.sending
            if not lead:                      # it will wait: only then does it need a lock
                write.turn = threading.Lock()
                write.turn.acquire()
            self.waiting.append(write)
            self.sending = True
        if not lead:
            write.wait()
            if not write.lead:
                return write.result()
        self._send_group(write)
        return write.result()

    def _send_group(self, first: _Write):
        """Send `first` and whatever else waits (one write per key), then hand on the turn."""
        with self.lock:
            group, keys, size = [first], {first.key}, first.size
            self.waiting.remove(first)
            rest = []
            for w in self.waiting:
                if len(group) < self.max_writes and w.key not in keys and size + w.size <= self.max_bytes:
                    group.append(w)
                    keys.add(w.key)
                    size += w.size
                else:
                    rest.append(w)
            self.waiting = rest
            self.writes += len(group)
            self.txns += 1
        try:
            if len(group) == 1:
                first.response = self.send(first.request)
            else:
                outer = self.send(etcdrpc.TxnRequest(
                    success=[etcdrpc.RequestOp(request_txn=w.request) for w in group]))
                for w, op in zip(group, outer.responses):
                    w.response = op.response_txn
                    w.response.header.CopyFrom(outer.header)
        except BaseException as err:     # etcd down, timeout: every write of the group fails
            for w in group:
                w.error = err
        with self.lock:
            if self.waiting:
                nxt = self.waiting[0]   # the oldest waiting write sends the next group
                nxt.lead = True
                nxt.wake()
            else:
                self.sending = False
        for w in group:
            if w is not first:
                w.wake()

