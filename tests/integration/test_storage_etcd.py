"""The etcd Store and the watch cache, on a real etcd."""
from __future__ import annotations

import os
import threading
import time

import pytest

from minikube_py.storage.etcd import EtcdStore
from minikube_py.storage.store import KeyExists, KeyNotFound, RevisionCompacted, RevisionConflict
from minikube_py.storage.watchcache import WatchCache


@pytest.fixture
def store(cluster):
    return EtcdStore(cluster.etcd_url)


@pytest.fixture
def prefix():
    return f"/registry/test-{os.urandom(3).hex()}/"


def test_create_get_list(store, prefix):
    created = store.create(prefix + "a", {"metadata": {"name": "a"}, "x": 1})
    rv = int(created["metadata"]["resourceVersion"])
    assert store.get(prefix + "a")["metadata"]["resourceVersion"] == str(rv)
    with pytest.raises(KeyExists):
        store.create(prefix + "a", {"metadata": {"name": "a"}})
    store.create(prefix + "b", {"metadata": {"name": "b"}})
    items, list_rv = store.list(prefix)
    assert [o["metadata"]["name"] for o in items] == ["a", "b"] and list_rv >= rv
    with pytest.raises(KeyNotFound):
        store.get(prefix + "zzz")


def test_update_compares_revision(store, prefix):
    created = store.create(prefix + "a", {"metadata": {"name": "a"}, "v": 1})
    rv = int(created["metadata"]["resourceVersion"])
    updated = store.update(prefix + "a", {"metadata": {"name": "a"}, "v": 2}, rv)
    assert int(updated["metadata"]["resourceVersion"]) > rv
    with pytest.raises(RevisionConflict):
        store.update(prefix + "a", {"metadata": {"name": "a"}, "v": 3}, rv)
    assert store.get(prefix + "a")["v"] == 2
    with pytest.raises(KeyNotFound):
        store.update(prefix + "missing", {"metadata": {"name": "m"}}, None)


def test_racing_updates_only_one_wins(store, prefix):
    created = store.create(prefix + "a", {"metadata": {"name": "a"}, "n": 0})
    rv = int(created["metadata"]["resourceVersion"])
    results = []

    def writer(i):
        try:
            store.update(prefix + "a", {"metadata": {"name": "a"}, "n": i}, rv)
            results.append("ok")
        except RevisionConflict:
            results.append("conflict")
    threads = [threading.Thread(target=writer, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count("ok") == 1 and results.count("conflict") == 7


def test_delete_returns_last_state(store, prefix):
    created = store.create(prefix + "a", {"metadata": {"name": "a"}, "v": 1})
    with pytest.raises(RevisionConflict):
        store.delete(prefix + "a", int(created["metadata"]["resourceVersion"]) - 1)
    deleted = store.delete(prefix + "a", int(created["metadata"]["resourceVersion"]))
    assert deleted["v"] == 1
    with pytest.raises(KeyNotFound):
        store.delete(prefix + "a")


def test_concurrent_writes_are_grouped_and_each_keeps_its_own_result(store, prefix):
    """Group commit: writes waiting together go as one txn, but each is judged on its own."""
    txns0, writes0 = store.writes.txns, store.writes.writes
    rv0 = store.current_revision()
    results = {}

    def create(i):
        name = f"p{i % 20}"                   # 60 creates of 20 names: 20 win, 40 exist
        try:
            results[i] = int(store.create(prefix + name, {"metadata": {"name": name}, "i": i})
                             ["metadata"]["resourceVersion"])
        except KeyExists:
            results[i] = "exists"
    threads = [threading.Thread(target=create, args=(i,)) for i in range(60)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert list(results.values()).count("exists") == 40
    items, _ = store.list(prefix)
    assert len(items) == 20
    for obj in items:                           # what a winner was told is what etcd holds
        assert results[obj["i"]] == int(obj["metadata"]["resourceVersion"]) > rv0
    assert store.writes.writes - writes0 == 60
    assert store.writes.txns - txns0 < 60        # some went together
    victims = [obj for obj in items if int(obj["metadata"]["name"][1:]) % 2]
    deleted = []
    threads = [threading.Thread(target=lambda o=o: deleted.append(
        store.delete(prefix + o["metadata"]["name"], int(o["metadata"]["resourceVersion"]))))
        for o in victims]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(d["i"] for d in deleted) == sorted(o["i"] for o in victims)
    assert len(store.list(prefix)[0]) == 10


class ListSink:
    def __init__(self, key_prefix, trigger_value=None):
        self.key_prefix = key_prefix
        self.trigger_value = trigger_value
        self.events = []
        self.cond = threading.Condition()

    def push(self, ev):
        with self.cond:
            self.events.append(ev)
            self.cond.notify_all()

    def idle(self):
        return True

    def wait_for(self, n, timeout=10):
        deadline = time.time() + timeout
        with self.cond:
            while len(self.events) < n and time.time() < deadline:
                self.cond.wait(0.1)
        return self.events


def test_watch_cache_fans_out_and_replays(store, prefix):
    cache = WatchCache(store, prefix)
    cache.start()
    try:
        rv0 = store.current_revision()
        a = store.create(prefix + "a", {"metadata": {"name": "a"}, "v": 1})
        store.update(prefix + "a", {"metadata": {"name": "a"}, "v": 2}, int(a["metadata"]["resourceVersion"]))
        store.delete(prefix + "a")
        sinks = [ListSink(prefix) for _ in range(3)]
        for s in sinks:
            cache.watch(rv0, s)                 # replayed from the cache's window
        for s in sinks:
            evs = s.wait_for(3)
            assert [e.type for e in evs] == ["ADDED", "MODIFIED", "DELETED"]
            assert evs[1].prev_object["v"] == 1 and evs[2].object["v"] == 2
        late = ListSink(prefix)
        cache.watch(store.current_revision(), late)
        store.create(prefix + "b", {"metadata": {"name": "b"}})
        assert [e.key for e in late.wait_for(1)] == [prefix + "b"]
        with pytest.raises(RevisionCompacted):
            cache.watch(cache.window_start - 1, ListSink(prefix))
    finally:
        cache.stop()


def test_watch_cache_sends_an_event_only_to_the_watches_of_its_trigger_values(store, prefix):
    """Like kube-apiserver's pods cache by spec.nodeName: a kubelet's watch sees its node's pods."""
    cache = WatchCache(store, prefix, trigger=lambda obj: (obj.get("spec") or {}).get("nodeName", ""))
    cache.start()
    try:
        rv0 = store.current_revision()
        node_a, node_b, unbound, everyone = (ListSink(prefix, "a"), ListSink(prefix, "b"),
                                             ListSink(prefix, ""), ListSink(prefix))
        for sink in (node_a, node_b, unbound, everyone):
            cache.watch(rv0, sink)
        p = store.create(prefix + "p", {"metadata": {"name": "p"}, "spec": {}})
        p = store.update(prefix + "p", {"metadata": {"name": "p"}, "spec": {"nodeName": "a"}},
                         int(p["metadata"]["resourceVersion"]))
        p = store.update(prefix + "p", {"metadata": {"name": "p"}, "spec": {"nodeName": "b"}},
                         int(p["metadata"]["resourceVersion"]))
        store.delete(prefix + "p")
        assert [e.type for e in everyone.wait_for(4)] == ["ADDED", "MODIFIED", "MODIFIED", "DELETED"]
        # each indexed watch gets the events where the object had, or now has, its value
        assert [e.revision for e in unbound.wait_for(2)] == [e.revision for e in everyone.events[:2]]
        assert [e.revision for e in node_a.wait_for(2)] == [e.revision for e in everyone.events[1:3]]
        assert [e.revision for e in node_b.wait_for(2)] == [e.revision for e in everyone.events[2:4]]
        time.sleep(0.2)
        assert (len(unbound.events), len(node_a.events), len(node_b.events)) == (2, 2, 2)
        cache.remove(node_a)
        assert "a" not in cache.triggered
    finally:
        cache.stop()
