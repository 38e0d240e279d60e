"""Group commit's grouping rules, with a stand-in for etcd's Txn call (the real one is in
tests/integration/test_storage_etcd.py)."""
from __future__ import annotations

import threading

from pyetcd import etcdrpc

from minikube_py.storage.groupcommit import GroupCommit


def put(key: bytes) -> etcdrpc.TxnRequest:
    return etcdrpc.TxnRequest(success=[etcdrpc.RequestOp(request_put=etcdrpc.PutRequest(key=key, value=b"v"))])


class HeldEtcd:
    """Answers every Txn as etcd would (all succeed, one revision per call), but holds
    the first call until released, so that other writes queue up behind it."""

    def __init__(self):
        self.sent: list[etcdrpc.TxnRequest] = []
        self.entered = threading.Event()
        self.release = threading.Event()
        self.revision = 100
        self.fail_with: Exception | None = None

    def __call__(self, request):
        self.sent.append(request)
        if len(self.sent) == 1:
            self.entered.set()
            assert self.release.wait(5)
        if self.fail_with is not None:
            raise self.fail_with
        self.revision += 1
        resp = etcdrpc.TxnResponse(succeeded=True)
        resp.header.revision = self.revision
        for op in request.success:
            if op.HasField("request_txn"):
                resp.responses.add().response_txn.succeeded = True
            else:
                resp.responses.add().response_put.SetInParent()
        return resp


def start_writes(group, keys):
    results: dict[bytes, object] = {}

    def write(key):
        try:
            results[key] = group.txn(key, put(key))
        except Exception as err:        # noqa: BLE001 - what the writer would see
            results[key] = err
    threads = [threading.Thread(target=write, args=(k,)) for k in keys]
    for t in threads:
        t.start()
    return threads, results


def wait_queued(group, n):
    for _ in range(500):
        with group.lock:
            if len(group.waiting) >= n:
                return
        threading.Event().wait(0.01)
    raise AssertionError(f"{n} writes never queued")


def test_a_lone_write_goes_at_once_as_a_plain_txn():
    etcd = HeldEtcd()
    etcd.release.set()
    group = GroupCommit(etcd)
    resp = group.txn(b"a", put(b"a"))
    assert resp.succeeded and resp.header.revision == 101
    assert etcd.sent == [put(b"a")]


def test_writes_arriving_during_a_txn_go_together_and_get_one_revision():
    etcd = HeldEtcd()
    group = GroupCommit(etcd)
    first, results = start_writes(group, [b"first"])
    assert etcd.entered.wait(5)
    rest, more = start_writes(group, [b"a", b"b", b"c"])
    wait_queued(group, 3)
    etcd.release.set()
    for t in first + rest:
        t.join(5)
    assert len(etcd.sent) == 2                       # the first alone, then the three together
    nested = [op.request_txn for op in etcd.sent[1].success]
    assert sorted(t.success[0].request_put.key for t in nested) == [b"a", b"b", b"c"]
    assert results[b"first"].header.revision == 101
    assert {more[k].header.revision for k in more} == {102}
    assert all(more[k].succeeded for k in more)
    assert group.writes == 4 and group.txns == 2


def test_two_writes_of_one_key_never_share_a_txn():
    etcd = HeldEtcd()
    group = GroupCommit(etcd)
    first, _ = start_writes(group, [b"first"])
    assert etcd.entered.wait(5)
    rest, results = start_writes(group, [b"k", b"k", b"other"])
    wait_queued(group, 3)
    etcd.release.set()
    for t in first + rest:
        t.join(5)
    for req in etcd.sent:
        keys = [op.request_txn.success[0].request_put.key if op.HasField("request_txn")
                else op.request_put.key for op in req.success]
        assert len(keys) == len(set(keys))
    assert len(etcd.sent) == 3 and len(results) == 2   # (two writers of b"k" share a dict slot)


def test_a_group_is_capped_in_writes():
    etcd = HeldEtcd()
    group = GroupCommit(etcd, max_writes=2)
    first, _ = start_writes(group, [b"first"])
    assert etcd.entered.wait(5)
    rest, results = start_writes(group, [b"a", b"b", b"c", b"d", b"e"])
    wait_queued(group, 5)
    etcd.release.set()
    for t in first + rest:
        t.join(5)
    assert [len(r.success) for r in etcd.sent] == [1, 2, 2, 1]
    assert len(results) == 5 and all(r.succeeded for r in results.values())


def test_when_etcd_fails_every_write_of_the_group_fails_and_later_ones_still_go():
    etcd = HeldEtcd()
    group = GroupCommit(etcd)
    etcd.fail_with = RuntimeError("etcd unavailable")
    first, results = start_writes(group, [b"first"])
    assert etcd.entered.wait(5)
    rest, more = start_writes(group, [b"a", b"b"])
    wait_queued(group, 2)
    etcd.release.set()
    for t in first + rest:
        t.join(5)
    assert all(isinstance(r, RuntimeError) for r in [*results.values(), *more.values()])
    etcd.fail_with = None
    assert group.txn(b"c", put(b"c")).succeeded
    assert not group.sending and not group.waiting
