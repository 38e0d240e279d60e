"""Informer and Store against a scripted fake client (no apiserver)."""

import queue
import threading
import time

import pytest

from minikube_py.client.errors import Expired
from minikube_py.client.informer import Informer, Store, index_by_namespace, meta_key, split_key

END = object()


def pod(name, rv, node=None, ns="d"):
    return {"kind": "Pod", "metadata": {"name": name, "namespace": ns, "resourceVersion": str(rv)},
            "spec": {"nodeName": node} if node else {}}


class FakeWatch:
    def __init__(self, q):
        self.q = q
        self.closed = False

    def __iter__(self):
        while not self.closed:
            item = self.q.get()
            if item is END:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def close(self):
        self.closed = True
        self.q.put(END)


class FakeClient:
    """list() answers ``self.items``; each watch() reads the next scripted queue."""

    def __init__(self, items, rv="10"):
        self.items, self.rv = items, rv
        self.lists = 0
        self.list_rvs = []
        self.watch_calls = []
        self.watches = queue.Queue()  # queues of events, one per watch() call

    def list(self, resource, namespace=None, label_selector=None, field_selector=None,
             resource_version=None):
        self.lists += 1
        self.list_rvs.append(resource_version)
        return {"kind": "PodList", "apiVersion": "v1", "metadata": {"resourceVersion": self.rv},
                "items": [dict(i) for i in self.items]}

    def watch(self, resource, namespace=None, resource_version=None, label_selector=None,
              field_selector=None, timeout_seconds=None, allow_bookmarks=False):
        self.watch_calls.append({"rv": resource_version, "bookmarks": allow_bookmarks,
                                 "labels": label_selector, "fields": field_selector})
        try:
            q = self.watches.get(timeout=5)
        except queue.Empty:
            raise ConnectionError("no more scripted watches")
        if isinstance(q, BaseException):
            raise q
        return FakeWatch(q)

    def new_watch(self):
        q = queue.Queue()
        self.watches.put(q)
        return q


class Recorder:
    def __init__(self):
        self.events = []
        self.cond = threading.Condition()

    def add(self, o):
        self._rec(("add", o["metadata"]["name"], o["metadata"]["resourceVersion"]))

    def update(self, old, new):
        self._rec(("update", new["metadata"]["name"], old["metadata"]["resourceVersion"],
                   new["metadata"]["resourceVersion"]))

    def delete(self, o):
        self._rec(("delete", o["metadata"]["name"]))

    def _rec(self, e):
        with self.cond:
            self.events.append(e)
            self.cond.notify_all()

    def wait_for(self, n, timeout=5):
        with self.cond:
            assert self.cond.wait_for(lambda: len(self.events) >= n, timeout), self.events
        return self.events


def start(client, rec, **kw):
    inf = Informer(client, "pods", **kw)
    inf.add_handler(rec.add, rec.update, rec.delete)
    inf.start()
    assert inf.wait_for_sync(5)
    return inf


# ---------------------------------------------------------------- Store

def test_meta_key():
    assert meta_key(pod("a", 1)) == "d/a"
    assert meta_key({"metadata": {"name": "node-1"}}) == "node-1"
    assert split_key("d/a") == ("d", "a")
    assert split_key("node-1") == (None, "node-1")


def test_store_indexes_follow_updates():
    s = Store()
    s.add_index("byNode", lambda p: p["spec"].get("nodeName"))
    s.add(pod("a", 1, "n1"))
    s.add(pod("b", 1, "n1"))
    s.add(pod("c", 1))
    assert sorted(p["metadata"]["name"] for p in s.by_index("byNode", "n1")) == ["a", "b"]
    s.update(pod("a", 2, "n2"))
    assert [p["metadata"]["name"] for p in s.by_index("byNode", "n1")] == ["b"]
    assert [p["metadata"]["name"] for p in s.by_index("byNode", "n2")] == ["a"]
    assert s.delete("d/b")["metadata"]["name"] == "b"
    assert s.by_index("byNode", "n1") == []
    assert s.get("d/a")["metadata"]["resourceVersion"] == "2"
    assert len(s) == 2 and "d/c" in s
    s.add_index("ns", index_by_namespace)  # built over existing items
    assert len(s.by_index("ns", "d")) == 2
    with pytest.raises(KeyError):
        s.by_index("nope", 1)


def test_store_multi_value_index_and_replace():
    s = Store()
    s.add_index("labels", lambda o: [f"{k}={v}" for k, v in o.get("labels", {}).items()])
    s.add({"metadata": {"name": "x"}, "labels": {"a": "1", "b": "2"}})
    assert len(s.by_index("labels", "b=2")) == 1
    s.replace([{"metadata": {"name": "y"}, "labels": {"a": "1"}}])
    assert [o["metadata"]["name"] for o in s.by_index("labels", "a=1")] == ["y"]
    assert s.by_index("labels", "b=2") == []
    assert s.keys() == ["y"]


# ---------------------------------------------------------------- Informer

def test_list_then_watch_events():
    client = FakeClient([pod("a", 5, "n1"), pod("b", 6)])
    w = client.new_watch()
    rec = Recorder()
    inf = start(client, rec, label_selector="app=x", field_selector="spec.nodeName=n1")
    inf.add_index("byNode", lambda p: p["spec"].get("nodeName"))
    try:
        assert inf.has_synced()
        assert rec.wait_for(2) == [("add", "a", "5"), ("add", "b", "6")]
        w.put(("ADDED", pod("c", 11)))
        w.put(("MODIFIED", pod("a", 12, "n2")))
        w.put(("DELETED", pod("b", 13)))
        w.put(("BOOKMARK", {"kind": "Pod", "metadata": {"resourceVersion": "20"}}))
        rec.wait_for(5)
        assert rec.events[2:] == [("add", "c", "11"), ("update", "a", "5", "12"), ("delete", "b")]
        assert sorted(inf.store.keys()) == ["d/a", "d/c"]
        assert [p["metadata"]["name"] for p in inf.by_index("byNode", "n2")] == ["a"]
        assert inf.get("d/a")["kind"] == "Pod"
        deadline = time.time() + 2
        while inf.last_resource_version != "20" and time.time() < deadline:
            time.sleep(0.01)
        assert inf.last_resource_version == "20"
        assert client.watch_calls[0] == {"rv": "10", "bookmarks": True,
                                         "labels": "app=x", "fields": "spec.nodeName=n1"}
    finally:
        inf.stop()


def test_resumes_from_last_resource_version_after_stream_end():
    client = FakeClient([pod("a", 5)])
    w1 = client.new_watch()
    rec = Recorder()
    inf = start(client, rec)
    try:
        w1.put(("MODIFIED", pod("a", 15)))
        rec.wait_for(2)
        w2 = client.new_watch()
        w1.put(END)  # server closed the stream
        w2.put(("MODIFIED", pod("a", 16)))
        rec.wait_for(3)
        assert [c["rv"] for c in client.watch_calls] == ["10", "15"]
        assert client.lists == 1  # resumed, not re-listed
    finally:
        inf.stop()


def test_relist_on_expired_emits_the_difference():
    client = FakeClient([pod("a", 5), pod("b", 6), pod("c", 7)])
    w1 = client.new_watch()
    rec = Recorder()
    inf = start(client, rec)
    try:
        rec.wait_for(3)
        # While we were away: b deleted, c modified, d created; a unchanged.
        client.items = [pod("a", 5), pod("c", 30), pod("d", 31)]
        client.rv = "40"
        client.new_watch()
        w1.put(Expired({"code": 410, "reason": "Expired", "message": "too old"}))
        rec.wait_for(6)
        assert sorted(rec.events[3:]) == sorted(
            [("update", "c", "7", "30"), ("add", "d", "31"), ("delete", "b")])
        assert sorted(inf.store.keys()) == ["d/a", "d/c", "d/d"]
        assert client.lists == 2
        assert client.watch_calls[-1]["rv"] == "40"
        # As client-go's reflector: the first list takes any state (the apiserver's watch
        # cache serves it), the re-list one not older than what the informer last saw.
        assert client.list_rvs == ["0", "10"]
    finally:
        inf.stop()


def test_errors_back_off_instead_of_spinning():
    client = FakeClient([])
    client.new_watch().put(END)  # first watch ends at once and empty
    for _ in range(50):
        client.watches.put(ConnectionError("refused"))
    rec = Recorder()
    inf = Informer(client, "pods")
    inf.MIN_BACKOFF = 0.05
    inf.start()
    try:
        time.sleep(1.0)
        # 0.05 + 0.1 + 0.2 + 0.4 ...: a handful of attempts, not thousands.
        assert 2 <= len(client.watch_calls) <= 6
    finally:
        inf.stop()


def test_stop_closes_the_watch_promptly():
    client = FakeClient([pod("a", 1)])
    client.new_watch()
    inf = start(client, Recorder())
    time.sleep(0.1)
    t0 = time.monotonic()
    inf.stop()
    assert time.monotonic() - t0 < 2
    assert not any(t.is_alive() for t in inf._threads)


def test_handler_added_after_sync_gets_existing_objects_and_errors_are_contained():
    client = FakeClient([pod("a", 1)])
    w = client.new_watch()
    inf = Informer(client, "pods")
    inf.add_handler(on_add=lambda o: 1 / 0)  # a broken handler must not stop the informer
    inf.start()
    assert inf.wait_for_sync(5)
    rec = Recorder()
    inf.add_handler(rec.add, rec.update, rec.delete)
    assert rec.wait_for(1) == [("add", "a", "1")]
    w.put(("ADDED", pod("b", 2)))
    assert rec.wait_for(2)[1] == ("add", "b", "2")
    inf.stop()


def test_resync_replays_updates():
    client = FakeClient([pod("a", 1)])
    client.new_watch()
    rec = Recorder()
    inf = start(client, rec, resync_period=0.1)
    try:
        events = rec.wait_for(3)
        assert events[0] == ("add", "a", "1")
        assert events[1] == ("update", "a", "1", "1")
    finally:
        inf.stop()
