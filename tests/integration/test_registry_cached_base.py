"""Writes that start from the watch cache's copy (Registry.base) on a real etcd.

The cache may lag behind etcd. Here it lags on purpose: `recent` hands back an old
copy of the pod, and every write must still come out as if it had read etcd.
"""
from __future__ import annotations

import copy
import os

import pytest

from minikube_py.apiserver import errors
from minikube_py.apiserver.registry import Registry
from minikube_py.api.kinds.core import NAMESPACE, POD
from minikube_py.apiserver.subresources import bind
from minikube_py.storage.etcd import EtcdStore



@pytest.fixture
def setup(cluster):
    store = EtcdStore(cluster.etcd_url)
    stale = {}
    # recent() hands each caller its own copy, as the watch cache's does
    registry = Registry(store, recent=lambda rt, key: copy.deepcopy(stale.get(key)))
    ns = f"cached-{os.urandom(3).hex()}"
    registry.create(NAMESPACE, None, {"metadata": {"name": ns}})
    pod = registry.create(POD, ns, {"metadata": {"name": "p", "labels": {"v": "1"}},
                                     "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    key = POD.etcd_key(ns, "p")
    stale[key] = copy.deepcopy(pod)           # what the lagging cache will keep answering
    return registry, ns, pod


def test_patch_applies_to_the_current_object_not_the_stale_copy(setup):
    registry, ns, first = setup
    registry.patch(POD, ns, "p", {"metadata": {"labels": {"v": "2"}}}, "merge")
    out = registry.patch(POD, ns, "p", {"metadata": {"labels": {"w": "x"}}}, "merge")
    assert out["metadata"]["labels"] == {"v": "2", "w": "x"}


def test_patch_that_is_a_no_op_on_the_stale_copy_still_writes(setup):
    registry, ns, first = setup
    registry.patch(POD, ns, "p", {"metadata": {"labels": {"v": "2"}}}, "merge")
    out = registry.patch(POD, ns, "p", {"metadata": {"labels": {"v": "1"}}}, "merge")
    assert out["metadata"]["labels"] == {"v": "1"}
    assert registry.get(POD, ns, "p")["metadata"]["labels"] == {"v": "1"}


def test_update_with_a_stale_resource_version_conflicts(setup):
    registry, ns, first = setup
    registry.patch(POD, ns, "p", {"metadata": {"labels": {"v": "2"}}}, "merge")
    body = copy.deepcopy(first)
    body["metadata"]["labels"] = {"v": "3"}
    with pytest.raises(errors.APIError) as err:
        registry.update(POD, ns, "p", body)
    assert err.value.code == 409


def test_no_op_status_update_at_a_stale_version_conflicts(setup):
    registry, ns, first = setup
    registry.patch(POD, ns, "p", {"metadata": {"labels": {"v": "2"}}}, "merge")
    with pytest.raises(errors.APIError) as err:
        registry.update(POD, ns, "p", copy.deepcopy(first), subresource="status")
    assert err.value.code == 409


def test_update_at_the_current_version_uses_the_cached_copy(setup):
    registry, ns, first = setup
    body = copy.deepcopy(first)
    body["status"] = {"phase": "Running"}
    out = registry.update(POD, ns, "p", body, subresource="status")
    assert out["status"]["phase"] == "Running"
    assert int(out["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])


def test_bind_refused_by_etcd_state_though_the_cache_says_unbound(setup):
    registry, ns, first = setup
    binding = {"metadata": {"name": "p"}, "target": {"kind": "Node", "name": "n1"}}
    bind(registry, ns, "p", binding)
    with pytest.raises(errors.APIError) as err:
        bind(registry, ns, "p", {**binding, "target": {"kind": "Node", "name": "n2"}})
    assert err.value.code == 409 and 'already assigned to node "n1"' in err.value.message
    assert registry.get(POD, ns, "p")["spec"]["nodeName"] == "n1"


def test_bind_of_a_deleted_pod_is_not_found(setup):
    registry, ns, first = setup
    registry.store.delete(POD.etcd_key(ns, "p"))
    with pytest.raises(errors.APIError) as err:
        bind(registry, ns, "p", {"target": {"kind": "Node", "name": "n1"}})
    assert err.value.code == 404


def test_json_patch_test_op_is_judged_on_the_current_object(setup):
    registry, ns, first = setup
    # The pod is deleted and created again: same name, new uid; the cache still has the old one.
    registry.store.delete(POD.etcd_key(ns, "p"))
    again = registry.create(POD, ns, {"metadata": {"name": "p"},
                                      "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    ops = [{"op": "test", "path": "/metadata/uid", "value": again["metadata"]["uid"]},
           {"op": "replace", "path": "/status", "value": {"phase": "Running"}}]
    out = registry.patch(POD, ns, "p", ops, "json", subresource="status")
    assert out["status"] == {"phase": "Running"}
    stale_ops = [{**ops[0], "value": first["metadata"]["uid"]}, ops[1]]
    with pytest.raises(errors.APIError) as err:
        registry.patch(POD, ns, "p", stale_ops, "json", subresource="status")
    assert err.value.code == 422


def test_stale_update_that_is_also_invalid_is_a_conflict(setup):
    """Kubernetes checks the resourceVersion before validating: stale first, 409."""
    registry, ns, first = setup
    registry.patch(POD, ns, "p", {"metadata": {"labels": {"v": "2"}}}, "merge")
    body = copy.deepcopy(first)
    body["spec"]["containers"][0]["name"] = "renamed"      # forbidden on a pod: would be 422
    with pytest.raises(errors.APIError) as err:
        registry.update(POD, ns, "p", body)
    assert err.value.code == 409


def test_a_get_at_resource_version_0_may_answer_from_the_cache(setup):
    registry, ns, first = setup
    registry.patch(POD, ns, "p", {"metadata": {"labels": {"v": "2"}}}, "merge")
    # ?resourceVersion=0: any version will do, the cache's copy answers (here a stale one)
    assert registry.get(POD, ns, "p", any_version=True)["metadata"]["labels"] == {"v": "1"}
    assert registry.get(POD, ns, "p")["metadata"]["labels"] == {"v": "2"}     # etcd's
    with pytest.raises(errors.APIError) as err:                               # nothing cached
        registry.get(POD, ns, "q", any_version=True)
    assert err.value.code == 404
