"""The Store on etcd v3, the way kube-apiserver's etcd3 storage does it.

Every write is one etcd transaction that compares a key's revision:
- create:  `if create_revision(key) == 0 then put` (the key must not exist),
- update:  `if mod_revision(key) == expected then put` (optimistic concurrency),
- delete:  `if mod_revision(key) == expected then delete`.
So two clients racing on one object can never both win; the loser gets a conflict.

Writes under load are grouped into one etcd txn of nested txns, each with its own
compare and result (group commit, see groupcommit.py).

Values are the object's JSON without `metadata.resourceVersion`: the revision is
etcd's own bookkeeping, filled in on every read.
"""
from __future__ import annotations

import logging
import threading
from typing import Callable
from urllib.parse import urlparse

import grpc
import pyetcd
from pyetcd import etcdrpc

from .. import codec
from .etcdwatch import Compacted, EtcdWatch, WatchFailed
from .groupcommit import GroupCommit
from .store import (KeyExists, KeyNotFound, RevisionCompacted, RevisionConflict,
                    StoreUnavailable, ValueTooLarge, WatchEvent)

log = logging.getLogger(__name__)

# The key whose version tells apiservers sharing an etcd whose turn it is to compact
# (kube-apiserver's own name for it, outside /registry).
COMPACT_KEY = "compact_rev_key"
# How long one etcd call may take before the API answers 503 instead of hanging.
REQUEST_TIMEOUT = 5.0
# ... and a list (kube-apiserver's --request-timeout, 1 minute).
LIST_TIMEOUT = 60.0
# After a failure, an endpoint is tried again this soon (pyetcd's default is 5 minutes),
# and gRPC reconnects quickly, so the API serves again soon after etcd returns.
RETRY_ENDPOINT_AFTER = 1.0
GRPC_OPTIONS = [("grpc.initial_reconnect_backoff_ms", 200), ("grpc.min_reconnect_backoff_ms", 200),
                ("grpc.max_reconnect_backoff_ms", 2000),
                # gRPC's default 4 MiB cap would fail any list over ~3,500 pods.
                ("grpc.max_receive_message_length", 512 * 1024 * 1024),
                ("grpc.max_send_message_length", 64 * 1024 * 1024)]


def prefix_range_end(prefix: bytes) -> bytes:
    """etcd ranges are [key, range_end): the end of a prefix is the prefix with its last byte + 1."""
    return prefix[:-1] + bytes([prefix[-1] + 1])


def encode(obj: dict) -> bytes:
    meta = dict(obj.get("metadata") or {})
    meta.pop("resourceVersion", None)
    return codec.dumps({**obj, "metadata": meta})


def with_revision(obj: dict, mod_revision: int) -> dict:
    """What was just written, as a read would return it (without parsing it back from JSON)."""
    return {**obj, "metadata": {**(obj.get("metadata") or {}), "resourceVersion": str(mod_revision)}}


def decode(value: bytes, mod_revision: int) -> dict:
    obj = codec.loads(value)
    obj.setdefault("metadata", {})["resourceVersion"] = str(mod_revision)
    return obj


def _unchanged(key: bytes, expected_rv: int | None):
    """The txn guard of update/delete: the key still has mod_revision expected_rv (None: it exists)."""
    if expected_rv is None:
        return etcdrpc.Compare(key=key, target=etcdrpc.Compare.CREATE,
                               result=etcdrpc.Compare.GREATER, create_revision=0)
    return etcdrpc.Compare(key=key, target=etcdrpc.Compare.MOD,
                           result=etcdrpc.Compare.EQUAL, mod_revision=int(expected_rv))


def _unavailable(err: grpc.RpcError) -> Exception:
    code = err.code() if hasattr(err, "code") else None
    return StoreUnavailable(f"etcd unavailable: {code.name if code else err}")


class EtcdStore:
    """Store implementation on an etcd v3 cluster (one or more endpoints)."""

    def __init__(self, endpoints: str | list[str] = "http://127.0.0.1:2379", timeout=REQUEST_TIMEOUT):
        if isinstance(endpoints, str):
            endpoints = [e for e in endpoints.split(",") if e]
        eps = []
        for url in endpoints:
            u = urlparse(url if "://" in url else "http://" + url)
            eps.append(pyetcd.Endpoint(u.hostname, u.port or 2379, secure=u.scheme == "https",
                                       time_retry=RETRY_ENDPOINT_AFTER, opts=GRPC_OPTIONS))
        self.client = pyetcd.MultiEndpointEtcd3Client(eps, timeout=timeout, failover=len(eps) > 1)
        self.timeout = timeout
        self._fail_over_lock = threading.Lock()
        # Writes go through group commit: under load, many in one etcd txn (see groupcommit.py).
        self.writes = GroupCommit(lambda request: self._call("kvstub", "Txn", request))

    # --- low-level calls -------------------------------------------------------------
    def _call(self, stub_name: str, method: str, request, timeout: float | None = None):
        for attempt in (1, 2):
            try:
                stub = getattr(self.client, stub_name)
                return getattr(stub, method)(request, timeout or self.timeout)
            except grpc.RpcError as err:
                if err.code() in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED,
                                  grpc.StatusCode.INTERNAL, grpc.StatusCode.UNKNOWN):
                    self._fail_over()
                    if attempt == 1 and self._may_retry_elsewhere(method, err):
                        continue
                    raise _unavailable(err) from None
                if err.code() == grpc.StatusCode.OUT_OF_RANGE:
                    raise RevisionCompacted(0) from None
                if err.code() == grpc.StatusCode.RESOURCE_EXHAUSTED or "request is too large" in (err.details() or ""):
                    # over --max-request-bytes: etcd's "request is too large" or gRPC's own
                    # "received message larger than max" -- the write's fault, not etcd's
                    log.info("etcd refused a write for its size: %s", err.details())
                    raise ValueTooLarge("etcdserver: request is too large") from None
                raise
            except (ValueError, pyetcd.exceptions.NoServerAvailableError) as err:
                # pyetcd: every endpoint is marked failed for now
                raise StoreUnavailable(f"etcd unavailable: {err}") from None

    def _fail_over(self) -> None:
        """After a failed call, leave this member for RETRY_ENDPOINT_AFTER: the next call goes
        to the next one. The last member not marked failed is never marked: there is nowhere
        else to go, and marking it would only turn one failed call into a second of 503s
        ("No endpoint available") for every request. That covers a single member (a big list
        past its deadline) and a cluster electing a new leader, when the healthy members
        also answer UNAVAILABLE for a moment; gRPC reconnects to the member on its own."""
        with self._fail_over_lock:      # two threads must not each mark one of the last two
            try:
                current = self.client.endpoint_in_use
                if not any(ep is not current and not ep.is_failed() for ep in self.client.endpoints.values()):
                    return
                current.fail()
                self.client._clear_old_stubs()
            except Exception:       # noqa: BLE001 - pyetcd internals: the next call tries again anyway
                pass

    def _may_retry_elsewhere(self, method: str, err) -> bool:
        """With several members, a call that failed on one goes once to the next (as etcd's
        clientv3 does), so a stopped member costs no request an error: always for a read;
        for a write only when it never reached the member (it could not connect), since a
        txn that did arrive may have been applied. Writes are guarded by compares anyway,
        so even a repeated one could not apply twice."""
        if len(self.client.endpoints) < 2 or err.code() != grpc.StatusCode.UNAVAILABLE:
            return False
        if method == "Range":
            return True
        details = (err.details() or "").lower()
        return any(s in details for s in ("failed to connect", "errors resolving", "connection refused",
                                           "dns resolution failed", "name resolution"))

    def _range(self, key: bytes, range_end: bytes | None = None, revision: int = 0):
        req = etcdrpc.RangeRequest(key=key)
        if range_end is not None:
            req.range_end = range_end
        if revision:
            req.revision = revision
        return self._call("kvstub", "Range", req, self._read_timeout(req))

    def _read_timeout(self, req) -> float:
        """A range of many keys may take etcd longer than one key's deadline to send (100,000
        pods are 200+ MB): it gets kube-apiserver's whole-request timeout."""
        return max(self.timeout, LIST_TIMEOUT) if req.range_end and not req.count_only else self.timeout

    def _write(self, key: bytes, compare, success, failure=()):
        """One write's txn, about one key; sent together with others that wait (group commit)."""
        return self.writes.txn(key, etcdrpc.TxnRequest(compare=compare, success=success,
                                                       failure=list(failure)))

    # --- Store interface ---------------------------------------------------------------
    def current_revision(self) -> int:
        return self._call("kvstub", "Range",
                          etcdrpc.RangeRequest(key=b"\0", count_only=True)).header.revision

    def revision_available(self, revision: int) -> bool:
        """False when etcd has compacted history at this revision away."""
        try:
            self._call("kvstub", "Range", etcdrpc.RangeRequest(key=b"\0", revision=revision, count_only=True))
            return True
        except RevisionCompacted:
            return False

    def get(self, key: str) -> dict:
        resp = self._range(key.encode())
        if not resp.kvs:
            raise KeyNotFound(key)
        kv = resp.kvs[0]
        return decode(kv.value, kv.mod_revision)

    def list(self, prefix: str) -> tuple[list[dict], int]:
        p = prefix.encode()
        resp = self._range(p, prefix_range_end(p))
        return [decode(kv.value, kv.mod_revision) for kv in resp.kvs], resp.header.revision

    def list_page(self, prefix: str, start: str, limit: int, revision: int = 0):
        """One page of a paginated list: up to `limit` (key, object) pairs from `start`
        to the end of `prefix`, read at `revision` (0: now).

        Returns (pairs, the revision read at, whether more keys follow, how many follow).
        """
        req = etcdrpc.RangeRequest(key=start.encode(), range_end=prefix_range_end(prefix.encode()),
                                   limit=limit)
        if revision:
            req.revision = revision
        resp = self._call("kvstub", "Range", req, self._read_timeout(req))
        pairs = [(kv.key.decode(), decode(kv.value, kv.mod_revision)) for kv in resp.kvs]
        return pairs, revision or resp.header.revision, resp.more, resp.count - len(resp.kvs)

    def create(self, key: str, obj: dict) -> dict:
        k = key.encode()
        data = encode(obj)
        resp = self._write(
            k, compare=[etcdrpc.Compare(key=k, target=etcdrpc.Compare.CREATE,
                                        result=etcdrpc.Compare.EQUAL, create_revision=0)],
            success=[etcdrpc.RequestOp(request_put=etcdrpc.PutRequest(key=k, value=data))])
        if not resp.succeeded:
            raise KeyExists(key)
        return with_revision(obj, resp.header.revision)

    def _guarded(self, key: str, expected_rv: int | None, op: etcdrpc.RequestOp):
        """Run op only if the key exists (at revision expected_rv, when given); else
        KeyNotFound or RevisionConflict, told apart by reading the key in the same txn."""
        k = key.encode()
        resp = self._write(k, compare=[_unchanged(k, expected_rv)], success=[op],
                           failure=[etcdrpc.RequestOp(request_range=etcdrpc.RangeRequest(key=k))])
        if not resp.succeeded:
            if not resp.responses[0].response_range.kvs:
                raise KeyNotFound(key)
            raise RevisionConflict(key)
        return resp

    def update(self, key: str, obj: dict, expected_rv: int | None) -> dict:
        """Write obj if the key still has mod_revision == expected_rv (None: if it exists at all)."""
        put = etcdrpc.PutRequest(key=key.encode(), value=encode(obj))
        resp = self._guarded(key, expected_rv, etcdrpc.RequestOp(request_put=put))
        return with_revision(obj, resp.header.revision)

    def delete(self, key: str, expected_rv: int | None = None) -> dict:
        """Delete the key (if its revision is still expected_rv); returns the deleted object."""
        rm = etcdrpc.DeleteRangeRequest(key=key.encode(), prev_kv=True)
        resp = self._guarded(key, expected_rv, etcdrpc.RequestOp(request_delete_range=rm))
        prev = resp.responses[0].response_delete_range.prev_kvs
        if not prev:
            raise KeyNotFound(key)
        return decode(prev[0].value, resp.header.revision)

    def compact(self, revision: int, physical: bool = True) -> None:
        """Forget every revision before `revision` (physical: wait until etcd has freed it)."""
        self._call("kvstub", "Compact", etcdrpc.CompactionRequest(revision=revision, physical=physical))

    def claim_compaction(self, seen_version: int, note: str = "") -> tuple[bool, int, int]:
        """One compaction round's claim (compactor.py): write COMPACT_KEY if its version is
        still `seen_version`. Returns (won, the key's version now, etcd's revision)."""
        k = COMPACT_KEY.encode()
        resp = self._call("kvstub", "Txn", etcdrpc.TxnRequest(
            compare=[etcdrpc.Compare(key=k, target=etcdrpc.Compare.VERSION,
                                     result=etcdrpc.Compare.EQUAL, version=seen_version)],
            success=[etcdrpc.RequestOp(request_put=etcdrpc.PutRequest(key=k, value=note.encode()))],
            failure=[etcdrpc.RequestOp(request_range=etcdrpc.RangeRequest(key=k))]))
        if resp.succeeded:
            return True, seen_version + 1, resp.header.revision
        kvs = resp.responses[0].response_range.kvs
        return False, kvs[0].version if kvs else 0, resp.header.revision

    def watch(self, prefix: str, start_revision: int,
              callback: Callable[[list[WatchEvent] | Exception], None]) -> Callable[[], None]:
        """Watch every key under prefix from start_revision; callback gets batches of events.

        On failure the callback gets an exception (RevisionCompacted or StoreUnavailable)
        and the watch is over: the caller decides how to resume.
        """
        p = prefix.encode()

        def on_events(events):
            batch = []
            for raw in events:
                key = raw.kv.key.decode()
                prev = decode(raw.prev_kv.value, raw.prev_kv.mod_revision) if raw.prev_kv.key else None
                if raw.type == raw.DELETE:
                    if prev is None:
                        continue
                    obj = dict(prev)
                    obj["metadata"] = {**prev["metadata"], "resourceVersion": str(raw.kv.mod_revision)}
                    batch.append(WatchEvent("DELETED", key, raw.kv.mod_revision, obj, prev))
                else:
                    typ = "ADDED" if raw.kv.create_revision == raw.kv.mod_revision else "MODIFIED"
                    batch.append(WatchEvent(typ, key, raw.kv.mod_revision,
                                            decode(raw.kv.value, raw.kv.mod_revision), prev))
            if batch:
                callback(batch)

        def on_end(err):
            if isinstance(err, Compacted):
                callback(RevisionCompacted(err.compact_revision))
            else:
                callback(StoreUnavailable(f"etcd watch ended: {err}"))

        try:
            watch = EtcdWatch(self.client.channel, p, prefix_range_end(p), max(start_revision, 1),
                              on_events, on_end, self.timeout,
                              credentials=self.client.call_credentials, metadata=self.client.metadata)
        except Compacted as err:
            raise RevisionCompacted(err.compact_revision) from None
        except (WatchFailed, grpc.RpcError, pyetcd.exceptions.Etcd3Exception, ValueError) as err:
            self._fail_over()
            raise StoreUnavailable(f"etcd watch failed: {err!r}") from None
        return watch.cancel

    def members(self) -> list[dict]:
        """Every member of the etcd cluster and how it is, asked of each one itself.

        For `kubectl get componentstatuses`: the member list comes from whichever endpoint
        answers; then each member's own Status (its view of the leader, raft term, database
        size). A member that does not answer is reported with the error, not left out.
        """
        listing = self._call("clusterstub", "MemberList", etcdrpc.MemberListRequest())
        out = []
        for m in sorted(listing.members, key=lambda m: m.name or str(m.ID)):
            entry = {"id": m.ID, "name": m.name or f"{m.ID:x}", "clientURLs": list(m.clientURLs)}
            for url in m.clientURLs:
                u = urlparse(url)
                channel = grpc.insecure_channel(f"{u.hostname}:{u.port or 2379}")
                try:
                    st = etcdrpc.MaintenanceStub(channel).Status(etcdrpc.StatusRequest(),
                                                                  timeout=min(self.timeout, 2.0))
                    entry.update(healthy=True, leader=st.leader == m.ID, raftTerm=st.raftTerm,
                                 dbSize=st.dbSize, version=st.version, error="")
                    break
                except grpc.RpcError as err:
                    entry.update(healthy=False, error=f"{url}: {err.code().name}: {err.details()}")
                finally:
                    channel.close()
            else:
                entry.setdefault("healthy", False)
                entry.setdefault("error", "the member has no client URL yet (not started?)")
            out.append(entry)
        return out

    def close(self):
        self.client.close()
