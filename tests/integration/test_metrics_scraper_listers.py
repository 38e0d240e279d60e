"""The metrics scraper's Nodes and pod labels come from watch-fed listers that keep only
the fields it reads (lister.py's ``keep``), on a real etcd and the apiserver's own
WatchCache: created, relabelled and deleted objects show up without a list from etcd."""
from __future__ import annotations

import os
import time

import pytest

from minikube_py.api.kinds.core import NAMESPACE, NODE, POD
from minikube_py.apiserver.lister import NamespaceLister
from minikube_py.apiserver.registry import Registry
from minikube_py.metrics.scraper import node_fields, pod_fields
from minikube_py.storage.etcd import EtcdStore
from minikube_py.storage.watchcache import WatchCache


def until(fn, timeout=10.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if fn():
            return True
        time.sleep(0.05)
    raise AssertionError("timed out")


@pytest.fixture
def store_and_caches(cluster):
    store = EtcdStore(cluster.etcd_url)
    caches = {rt.kind: WatchCache(store, rt.etcd_prefix()) for rt in (NODE, POD)}
    for cache in caches.values():
        cache.start()
    yield store, caches
    for cache in caches.values():
        cache.stop()


def test_pod_labels_lister_keeps_name_namespace_labels_only(store_and_caches):
    store, caches = store_and_caches
    registry = Registry(store)
    ns = f"scrape-{os.urandom(3).hex()}"
    registry.create(NAMESPACE, None, {"metadata": {"name": ns}})
    registry.create(POD, ns, {"metadata": {"name": "before", "labels": {"app": "a"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    pods = NamespaceLister(store, caches["Pod"], POD, keep=pod_fields).start()
    try:
        held = pods.get(ns, "before")
        assert set(held) == {"metadata"}
        assert held["metadata"]["labels"] == {"app": "a"} and held["metadata"]["namespace"] == ns
        registry.create(POD, ns, {"metadata": {"name": "after", "labels": {"app": "b"}},
                                  "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
        until(lambda: pods.get(ns, "after") is not None)
        assert set(pods.get(ns, "after")) == {"metadata"}
        registry.patch(POD, ns, "before", {"metadata": {"labels": {"app": "c"}}}, "merge")
        until(lambda: pods.get(ns, "before")["metadata"]["labels"] == {"app": "c"})
        registry.delete(POD, ns, "after", {"gracePeriodSeconds": 0})
        until(lambda: pods.get(ns, "after") is None)
    finally:
        pods.stop()


def test_node_lister_keeps_what_finds_the_kubelet(store_and_caches):
    from minikube_py.apiserver.proxy import kubelet_endpoint
    store, caches = store_and_caches
    registry = Registry(store)
    name = f"scrape-node-{os.urandom(3).hex()}"
    nodes = NamespaceLister(store, caches["Node"], NODE, keep=node_fields).start()
    try:
        registry.create(NODE, None, {"metadata": {"name": name, "labels": {"zone": "a"}}, "status": {
            "addresses": [{"type": "InternalIP", "address": "10.0.0.7"}],
            "daemonEndpoints": {"kubeletEndpoint": {"Port": 10250}},
            "capacity": {"cpu": "4"}, "conditions": [{"type": "Ready", "status": "True"}]}})
        until(lambda: nodes.get("", name) is not None)
        held = nodes.get("", name)
        assert kubelet_endpoint(held) == ("10.0.0.7", 10250)
        assert held["metadata"]["labels"] == {"zone": "a"}
        assert set(held["status"]) == {"addresses", "daemonEndpoints"}
        assert any(n["metadata"]["name"] == name for n in nodes.all())
    finally:
        nodes.stop()
        registry.delete(NODE, None, name, {})
