"""Lists with a resourceVersion are served from the watch cache, as kube-apiserver does.

An informer's first list asks ``resourceVersion=0`` (any state) and its re-list the
revision it last saw (not older than it). The apiserver answers both from the watch
cache's state of every object -- a kubelet's list of its node's pods is an index lookup,
not a read of every pod in etcd -- and the answer is the same List etcd would give.
"""
from __future__ import annotations

import json

import requests
from polling import wait_through_restart


def _pod(name, node, labels=None):
    return {"metadata": {"name": name, "labels": labels or {}},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]}}


def _names(lst):
    return [(o["metadata"]["namespace"], o["metadata"]["name"]) for o in lst["items"]]


def _list(cluster, path, **params):
    r = requests.get(cluster.server + path, params=params)
    assert r.status_code == 200, r.text
    return r.json()


def test_a_kubelets_list_of_its_pods_is_the_same_from_the_cache_as_from_etcd(cluster, namespace):
    pods = f"/api/v1/namespaces/{namespace}/pods"
    for i in range(6):
        r = requests.post(cluster.server + pods, json=_pod(f"p{i}", "cache-n1" if i % 2 else "cache-n2"))
        assert r.status_code == 201, r.text
    last_rv = r.json()["metadata"]["resourceVersion"]
    mine = "spec.nodeName=cache-n1"
    from_etcd = _list(cluster, "/api/v1/pods", fieldSelector=mine)
    # Not older than the last create: the cache serves it once it has that revision.
    cached = _list(cluster, "/api/v1/pods", fieldSelector=mine, resourceVersion=last_rv)
    assert _names(cached) == _names(from_etcd) == [(namespace, "p1"), (namespace, "p3"), (namespace, "p5")]
    assert cached["kind"] == "PodList" and cached["apiVersion"] == "v1"
    assert cached["items"] == from_etcd["items"]
    assert int(cached["metadata"]["resourceVersion"]) >= int(last_rv)
    in_namespace = _list(cluster, pods, fieldSelector="spec.nodeName=cache-n2", resourceVersion=last_rv)
    assert _names(in_namespace) == [(namespace, "p0"), (namespace, "p2"), (namespace, "p4")]


def test_a_list_not_older_than_a_write_shows_the_write(cluster, namespace):
    pods = f"/api/v1/namespaces/{namespace}/pods"
    for name in ("a", "b"):
        assert requests.post(cluster.server + pods, json=_pod(name, "cache-n3", {"tier": "web"})).status_code == 201
    r = requests.patch(f"{cluster.server}{pods}/b", json={"metadata": {"labels": {"tier": "db"}}},
                       headers={"Content-Type": "application/merge-patch+json"})
    assert r.status_code == 200, r.text
    rv = r.json()["metadata"]["resourceVersion"]
    db = _list(cluster, pods, labelSelector="tier=db", resourceVersion=rv)
    assert [o["metadata"]["name"] for o in db["items"]] == ["b"]
    assert db["items"][0]["metadata"]["resourceVersion"] == rv
    # resourceVersion=0: any state -- at least one the cache has seen, here after the patch.
    assert "b" in [o["metadata"]["name"] for o in _list(cluster, pods, resourceVersion="0")["items"]]


def test_a_paged_list_with_a_resource_version_still_pages(cluster, namespace):
    pods = f"/api/v1/namespaces/{namespace}/pods"
    for i in range(3):
        assert requests.post(cluster.server + pods, json=_pod(f"q{i}", "cache-n4")).status_code == 201
    page = _list(cluster, pods, resourceVersion="0", limit=2)
    assert len(page["items"]) == 2 and page["metadata"]["continue"]


def test_the_cache_answers_while_etcd_is_away_and_follows_it_when_it_is_back(cluster, namespace):
    path = f"/api/v1/namespaces/{namespace}/pods"
    pods = cluster.server + path
    assert requests.post(pods, json=_pod("before", "cache-n5")).status_code == 201
    wait_through_restart(
        lambda: [o["metadata"]["name"] for o in _list(cluster, path, resourceVersion="0")["items"]] == ["before"],
        "the pod in the cache")
    cluster.stop_etcd()
    try:
        # A consistent list needs etcd; "any state" is the cache's, as kube-apiserver's cacher.
        assert requests.get(pods, timeout=30).status_code in (500, 503)
        away = requests.get(pods, params={"resourceVersion": "0"}, timeout=30)
        assert away.status_code == 200, away.text
        assert [o["metadata"]["name"] for o in away.json()["items"]] == ["before"]
    finally:
        cluster.start_etcd()
    wait_through_restart(
        lambda: requests.post(pods, json=_pod("after", "cache-n5"), timeout=5).status_code == 201,
        "a create once etcd is back")
    rv = requests.get(f"{pods}/after").json()["metadata"]["resourceVersion"]
    wait_through_restart(
        lambda: [o["metadata"]["name"] for o in _list(
            cluster, path, fieldSelector="spec.nodeName=cache-n5", resourceVersion=rv)["items"]] == ["after", "before"],
        "the cache following etcd again")


def test_after_an_apiserver_restart_the_cache_has_every_object(cluster, namespace):
    pods = f"{cluster.server}/api/v1/namespaces/{namespace}/pods"
    assert requests.post(pods, json=_pod("kept", "cache-n6")).status_code == 201
    cluster.stop_apiserver()
    cluster.start_apiserver()
    # The restarted cache read every pod from etcd when it opened.
    lst = _list(cluster, "/api/v1/pods", fieldSelector="spec.nodeName=cache-n6", resourceVersion="0")
    assert _names(lst) == [(namespace, "kept")]


def test_a_resource_version_that_is_not_a_number_reads_etcd_as_before(cluster, namespace):
    pods = f"/api/v1/namespaces/{namespace}/pods"
    assert requests.post(cluster.server + pods, json=_pod("x", "cache-n7")).status_code == 201
    assert [o["metadata"]["name"] for o in _list(cluster, pods, resourceVersion="abc")["items"]] == ["x"]


def test_a_kubelets_own_node_by_name_from_the_cache_and_its_watch(cluster):
    """Each kubelet lists and watches only its Node (metadata.name=<node>); the nodes' cache
    answers from its name index and sends a Node's events to that node's watch alone."""
    names = ["cache-node-a", "cache-node-b"]
    for name in names:
        r = requests.post(cluster.server + "/api/v1/nodes", json={"metadata": {"name": name}})
        assert r.status_code == 201, r.text
    try:
        mine = _list(cluster, "/api/v1/nodes", fieldSelector="metadata.name=cache-node-a", resourceVersion="0")
        assert [n["metadata"]["name"] for n in mine["items"]] == ["cache-node-a"]
        rv = mine["metadata"]["resourceVersion"]
        with requests.get(cluster.server + "/api/v1/nodes", stream=True, timeout=10,
                          params={"watch": "1", "fieldSelector": "metadata.name=cache-node-a",
                                  "resourceVersion": rv}) as watch:
            for name in ("cache-node-b", "cache-node-a"):      # the other node first: not ours
                r = requests.patch(f"{cluster.server}/api/v1/nodes/{name}",
                                   json={"metadata": {"labels": {"seen": "yes"}}},
                                   headers={"Content-Type": "application/merge-patch+json"})
                assert r.status_code == 200, r.text
            first = json.loads(next(watch.iter_lines()))
        assert first["type"] == "MODIFIED"
        assert first["object"]["metadata"]["name"] == "cache-node-a"
        assert first["object"]["metadata"]["labels"]["seen"] == "yes"
    finally:
        for name in names:
            requests.delete(f"{cluster.server}/api/v1/nodes/{name}")
