"""Group commit's grouping rules, with a stand-in for etcd's Txn call (the real one is in
tests/integration/test_storage_etcd.py)."""
from __future__ import annotations

import threading
import time

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


def writes_behind_a_held_txn(group: GroupCommit, etcd: HeldEtcd, keys: list[bytes]):
    """Write b"first" (held in etcd), queue a write of each key behind it, then release.

    Returns what b"first" got and what each of the others got, in the order of `keys`:
    a TxnResponse, or the exception the writer saw.
    """
    results: list[object] = [None] * (len(keys) + 1)

    def write(i, key):
        try:
            results[i] = group.txn(key, put(key))
        except Exception as err:        # noqa: BLE001 - what the writer would see
            results[i] = err
    first = threading.Thread(target=write, args=(0, b"first"))
    first.start()
    assert etcd.entered.wait(5)
    rest = [threading.Thread(target=write, args=(i + 1, k)) for i, k in enumerate(keys)]
    for t in rest:
        t.start()
    for _ in range(500):
        with group.lock:
            if len(group.waiting) >= len(keys):
                break
        time.sleep(0.01)
    else:
        raise AssertionError(f"{len(keys)} writes never queued")
    etcd.release.set()
    for t in [first, *rest]:
        t.join(5)
    return results[0], results[1:]


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
    first, more = writes_behind_a_held_txn(group, etcd, [b"a", b"b", b"c"])
    assert len(etcd.sent) == 2                       # the first alone, then the three together
    nested = [op.request_txn for op in etcd.sent[1].success]
    assert sorted(t.success[0].request_put.key for t in nested) == [b"a", b"b", b"c"]
    assert first.header.revision == 101
    assert {r.header.revision for r in more} == {102}
    assert all(r.succeeded for r in more)
    assert group.writes == 4 and group.txns == 2


def test_two_writes_of_one_key_never_share_a_txn():
    etcd = HeldEtcd()
    group = GroupCommit(etcd)
    _, results = writes_behind_a_held_txn(group, etcd, [b"k", b"k", b"other"])
    for req in etcd.sent:
        keys = [op.request_txn.success[0].request_put.key if op.HasField("request_txn")
                else op.request_put.key for op in req.success]
        assert len(keys) == len(set(keys))
    assert len(etcd.sent) == 3 and all(r.succeeded for r in results)


def test_a_group_is_capped_in_writes():
    etcd = HeldEtcd()
    group = GroupCommit(etcd, max_writes=2)
    _, results = writes_behind_a_held_txn(group, etcd, [b"a", b"b", b"c", b"d", b"e"])
    assert [len(r.success) for r in etcd.sent] == [1, 2, 2, 1]
    assert all(r.succeeded for r in results)


def test_when_etcd_fails_every_write_of_the_group_fails_and_later_ones_still_go():
    etcd = HeldEtcd()
    group = GroupCommit(etcd)
    etcd.fail_with = RuntimeError("etcd unavailable")
    first, more = writes_behind_a_held_txn(group, etcd, [b"a", b"b"])
    assert all(isinstance(r, RuntimeError) for r in [first, *more])
    etcd.fail_with = None
    assert group.txn(b"c", put(b"c")).succeeded
    assert not group.sending and not group.waiting
