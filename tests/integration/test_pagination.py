"""Lists in pages (`limit` / `continue`), as kubectl --chunk-size and the official client use them.

LimitRanges, because no controller makes any on its own (a namespace's ConfigMaps and
Secrets may gain objects nobody in the test asked for).
"""
from __future__ import annotations

import json

import requests


def _make(cluster, namespace, names, labels=None):
    for n in names:
        r = requests.post(f"{cluster.server}/api/v1/namespaces/{namespace}/limitranges",
                          json={"metadata": {"name": n, "labels": labels or {}}, "spec": {"limits": [
                              {"type": "Container", "max": {"cpu": "2"}}]}})
        assert r.status_code == 201, r.text


def _page(cluster, namespace, **params):
    return requests.get(f"{cluster.server}/api/v1/namespaces/{namespace}/limitranges", params=params)


def test_pages_are_one_snapshot_at_the_first_pages_revision(cluster, namespace):
    _make(cluster, namespace, [f"cm-{i}" for i in range(7)])
    first = _page(cluster, namespace, limit=3).json()
    assert [o["metadata"]["name"] for o in first["items"]] == ["cm-0", "cm-1", "cm-2"]
    assert first["metadata"]["remainingItemCount"] == 4 and first["metadata"]["continue"]

    # Changes after the first page do not show in the later ones: one consistent list.
    requests.delete(f"{cluster.server}/api/v1/namespaces/{namespace}/limitranges/cm-6").raise_for_status()
    _make(cluster, namespace, ["cm-9"])
    second = _page(cluster, namespace, limit=3, **{"continue": first["metadata"]["continue"]}).json()
    assert [o["metadata"]["name"] for o in second["items"]] == ["cm-3", "cm-4", "cm-5"]
    assert second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    third = _page(cluster, namespace, limit=3, **{"continue": second["metadata"]["continue"]}).json()
    assert [o["metadata"]["name"] for o in third["items"]] == ["cm-6"]
    assert "continue" not in third["metadata"] and "remainingItemCount" not in third["metadata"]


def test_a_selector_fills_each_page_with_matches(cluster, namespace):
    _make(cluster, namespace, [f"a-{i}" for i in range(5)], {"tier": "web"})
    _make(cluster, namespace, [f"b-{i}" for i in range(5)], {"tier": "db"})
    names, token = [], None
    while True:
        params = {"limit": 2, "labelSelector": "tier=db", **({"continue": token} if token else {})}
        page = _page(cluster, namespace, **params).json()
        assert len(page["items"]) <= 2 and "remainingItemCount" not in page["metadata"]
        names += [o["metadata"]["name"] for o in page["items"]]
        token = page["metadata"].get("continue")
        if not token:
            break
    assert names == [f"b-{i}" for i in range(5)]


def test_bad_and_too_old_continue_tokens(cluster, namespace):
    r = _page(cluster, namespace, limit=1, **{"continue": "not-a-token"})
    assert r.status_code == 400 and r.json()["reason"] == "BadRequest"
    assert r.json()["message"].startswith("continue key is not valid")
    r = _page(cluster, namespace, limit=1, resourceVersion="5", **{"continue": "x"})
    assert r.status_code == 400 and "not allowed when using continue" in r.json()["message"]

    _make(cluster, namespace, ["x-0", "x-1", "x-2"])
    first = _page(cluster, namespace, limit=1).json()
    from minikube_py.storage.etcd import EtcdStore
    store = EtcdStore(cluster.etcd_url)
    _make(cluster, namespace, ["x-3"])
    store.compact(store.current_revision())     # the first page's snapshot is gone
    r = _page(cluster, namespace, limit=1, **{"continue": first["metadata"]["continue"]})
    assert r.status_code == 410 and r.json()["reason"] == "Expired"
    assert r.json()["message"].startswith("The provided continue parameter is too old")
    rest = _page(cluster, namespace, **{"continue": r.json()["metadata"]["continue"]}).json()
    assert [o["metadata"]["name"] for o in rest["items"]] == ["x-1", "x-2", "x-3"]   # now, inconsistent


def test_kubectl_chunk_size_and_the_official_client_follow_continue(cluster, namespace, kubectl):
    _make(cluster, namespace, [f"k-{i}" for i in range(5)])
    out = kubectl("get", "limitranges", "-n", namespace, "--chunk-size=2", "-o", "name", "-v=6")
    assert sorted(out.stdout.split()) == [f"limitrange/k-{i}" for i in range(5)]
    assert out.stderr.count("limit=2") >= 3        # three requests: 2 + 2 + 1
    table = kubectl("get", "limitranges", "-n", namespace, "--chunk-size=2", "--no-headers").stdout
    assert len(table.strip().splitlines()) == 5

    from kubernetes import client as k8s, config as k8s_config
    api = k8s.CoreV1Api(k8s_config.new_client_from_config(cluster.kubeconfig))
    page = api.list_namespaced_limit_range(namespace, limit=3)
    assert len(page.items) == 3 and page.metadata.remaining_item_count == 2
    rest = api.list_namespaced_limit_range(namespace, limit=3, _continue=page.metadata._continue)
    assert [c.metadata.name for c in rest.items] == ["k-3", "k-4"] and rest.metadata._continue is None
    json.dumps(page.to_dict(), default=str)      # a well-formed list all the way through
