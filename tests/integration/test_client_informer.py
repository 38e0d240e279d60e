"""The client side against a real apiserver over a real etcd.

Uses the ``api_client`` and ``namespace`` fixtures from tests/conftest.py.
"""

import threading
import time

import pytest

from minikube_py.client import errors
from minikube_py.client.informer import Informer, meta_key
from minikube_py.client.leaderelection import LeaderElector


def make_pod(name, labels=None):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels or {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


def wait(pred, timeout=10):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.05)
    return False


def test_pod_create_list_patch_delete(api_client, namespace):
    c = api_client
    created = c.create("pods", make_pod("p1"), namespace=namespace)
    assert created["metadata"]["namespace"] == namespace
    assert created["metadata"]["uid"] and created["metadata"]["resourceVersion"]
    c.create("pods", dict(make_pod("p2", {"app": "db"}),
                          metadata={"name": "p2", "namespace": namespace, "labels": {"app": "db"}}))

    with pytest.raises(errors.AlreadyExists):
        c.create("pods", make_pod("p1"), namespace=namespace)

    got = c.get("po", "p1", namespace=namespace)
    assert got["metadata"]["uid"] == created["metadata"]["uid"]

    listed = c.list("pods", namespace=namespace)
    assert listed["kind"] == "PodList"
    assert listed["metadata"]["resourceVersion"]
    assert sorted(p["metadata"]["name"] for p in listed["items"]) == ["p1", "p2"]
    web = c.list("pods", namespace=namespace, label_selector="app=web")
    assert [p["metadata"]["name"] for p in web["items"]] == ["p1"]
    by_name = c.list("pods", namespace=namespace, field_selector="metadata.name=p2")
    assert [p["metadata"]["name"] for p in by_name["items"]] == ["p2"]

    merged = c.patch("pods", "p1", {"metadata": {"labels": {"tier": "front"}}}, namespace=namespace)
    assert merged["metadata"]["labels"] == {"app": "web", "tier": "front"}
    jp = c.patch("pods", "p1", [{"op": "add", "path": "/metadata/annotations",
                                 "value": {"note": "hi"}}], namespace=namespace, patch_type="json")
    assert jp["metadata"]["annotations"] == {"note": "hi"}
    sp = c.patch("pods", "p1", {"metadata": {"labels": {"tier": None}}}, namespace=namespace,
                 patch_type="strategic")
    assert sp["metadata"]["labels"] == {"app": "web"}

    # Optimistic concurrency: an update with a stale resourceVersion is refused.
    stale = dict(created, metadata=dict(created["metadata"], labels={"x": "y"}))
    with pytest.raises(errors.Conflict):
        c.update("pods", stale)
    fresh = c.get("pods", "p1", namespace=namespace)
    fresh["metadata"]["labels"]["x"] = "y"
    assert c.update("pods", fresh)["metadata"]["labels"]["x"] == "y"

    c.delete("pods", "p1", namespace=namespace, grace_period_seconds=0)
    c.delete("pods", "p2", namespace=namespace, grace_period_seconds=0)
    assert wait(lambda: not c.list("pods", namespace=namespace)["items"])
    with pytest.raises(errors.NotFound):
        c.get("pods", "p1", namespace=namespace)
    with pytest.raises(errors.NotFound):
        c.delete("pods", "p1", namespace=namespace)


def test_bind_and_event(api_client, namespace):
    c = api_client
    c.create("pods", make_pod("b1"), namespace=namespace)
    c.bind(namespace, "b1", "node-1")
    assert c.get("pods", "b1", namespace=namespace)["spec"]["nodeName"] == "node-1"
    pod = c.get("pods", "b1", namespace=namespace)
    ev = c.create_event(pod, "Scheduled", "assigned to node-1", component="default-scheduler")
    events = c.list("events", namespace=namespace,
                    field_selector=f"involvedObject.name=b1")["items"]
    assert ev["metadata"]["name"] in [e["metadata"]["name"] for e in events]


def test_watch_from_list_resource_version(api_client, namespace):
    c = api_client
    rv = c.list("pods", namespace=namespace)["metadata"]["resourceVersion"]
    c.create("pods", make_pod("w1"), namespace=namespace)
    c.patch("pods", "w1", {"metadata": {"labels": {"v": "2"}}}, namespace=namespace)
    seen = []
    with c.watch("pods", namespace=namespace, resource_version=rv, timeout_seconds=5) as w:
        for etype, obj in w:
            seen.append((etype, obj["metadata"]["name"]))
            if len(seen) == 2:
                break
    assert seen == [("ADDED", "w1"), ("MODIFIED", "w1")]


def test_informer_sees_add_update_delete(api_client, namespace):
    c = api_client
    c.create("pods", make_pod("before"), namespace=namespace)
    events, lock = [], threading.Lock()

    def record(kind):
        def handler(*objs):
            with lock:
                events.append((kind, objs[-1]["metadata"]["name"]))
        return handler

    inf = Informer(c, "pods", namespace=namespace)
    inf.add_handler(on_add=record("add"), on_update=record("update"), on_delete=record("delete"))
    inf.add_index("byApp", lambda p: (p["metadata"].get("labels") or {}).get("app"))
    inf.start()
    try:
        assert inf.wait_for_sync(10)
        # The first list asks resourceVersion=0, as client-go's reflector: the watch cache may
        # answer it a moment behind the create above, and then the watch delivers the add.
        assert wait(lambda: ("add", "before") in events)

        c.create("pods", make_pod("p1"), namespace=namespace)
        assert wait(lambda: ("add", "p1") in events)
        c.patch("pods", "p1", {"metadata": {"labels": {"app": "api"}}}, namespace=namespace)
        assert wait(lambda: ("update", "p1") in events)
        assert wait(lambda: [p["metadata"]["name"] for p in inf.by_index("byApp", "api")] == ["p1"])
        assert inf.get(f"{namespace}/p1")["metadata"]["labels"]["app"] == "api"

        c.delete("pods", "p1", namespace=namespace, grace_period_seconds=0)
        assert wait(lambda: ("delete", "p1") in events)
        assert wait(lambda: inf.get(f"{namespace}/p1") is None)
        assert [meta_key(p) for p in inf.list()] == [f"{namespace}/before"]
    finally:
        inf.stop()


def test_leader_election_one_leader_then_takeover(api_client, namespace):
    started = []
    electors = [LeaderElector(api_client, namespace, "test-lock", ident,
                              lease_duration=3, renew_deadline=2, retry_period=0.2,
                              on_started_leading=lambda stop, i=ident: started.append(i))
                for ident in ("a", "b")]
    threads = [e.start() for e in electors]
    try:
        assert wait(lambda: any(e.is_leader() for e in electors))
        time.sleep(1.0)  # several renew rounds: still exactly one leader
        leaders = [e for e in electors if e.is_leader()]
        assert len(leaders) == 1
        first = leaders[0]
        other = electors[1 - electors.index(first)]
        lease = api_client.get("leases", "test-lock", namespace=namespace)
        assert lease["spec"]["holderIdentity"] == first.identity
        assert lease["spec"]["renewTime"].endswith("Z")

        first.stop()
        assert wait(other.is_leader, timeout=10)
        assert not first.is_leader()
        lease = api_client.get("leases", "test-lock", namespace=namespace)
        assert lease["spec"]["holderIdentity"] == other.identity
        assert lease["spec"]["leaseTransitions"] == 1
        assert started == [first.identity, other.identity]
    finally:
        for e in electors:
            e.stop()
        for t in threads:
            t.join(5)


def test_informer_resumes_after_the_server_ends_the_watch(api_client, namespace):
    """With a 1 s watch timeout the server closes the stream again and again;
    the informer must resume from its resourceVersion, missing nothing and
    without re-listing."""
    c = api_client
    added = []
    inf = Informer(c, "pods", namespace=namespace, watch_timeout=1)
    inf.add_handler(on_add=lambda p: added.append(p["metadata"]["name"]))
    lists = []
    real_list = c.list
    c.list = lambda *a, **kw: lists.append(1) or real_list(*a, **kw)
    inf.start()
    try:
        assert inf.wait_for_sync(10)
        for i in range(3):
            time.sleep(1.3)  # let a stream end in between
            c.create("pods", make_pod(f"r{i}"), namespace=namespace)
        assert wait(lambda: added == ["r0", "r1", "r2"])
        assert len(lists) == 1
    finally:
        inf.stop()
        c.list = real_list


def test_leader_that_dies_without_releasing_is_replaced_after_expiry(api_client, namespace):
    a = LeaderElector(api_client, namespace, "crash-lock", "a", lease_duration=2,
                      renew_deadline=1.5, retry_period=0.2, release_on_cancel=False)
    b = LeaderElector(api_client, namespace, "crash-lock", "b", lease_duration=2,
                      renew_deadline=1.5, retry_period=0.2)
    ta = a.start()
    assert wait(a.is_leader)
    tb = b.start()
    try:
        time.sleep(1.0)
        assert not b.is_leader()
        a.stop()  # "crash": the lease is left held by a
        stopped_at = time.time()
        assert wait(b.is_leader, timeout=10)
        assert time.time() - stopped_at >= 1.0  # b had to wait for the lease to expire
        lease = api_client.get("leases", "crash-lock", namespace=namespace)
        assert lease["spec"]["holderIdentity"] == "b"
    finally:
        a.stop()
        b.stop()
        ta.join(5)
        tb.join(5)
