"""Garbage collector against the real apiserver + etcd.

Owners are ReplicaSet / Deployment objects and dependents hand-made pods carrying
ownerReferences: no ReplicaSet or Deployment controller runs here, only the GC.
"""
import os
import time

import pytest

from minikube_py.client import errors
from minikube_py.controllers.config import ControllerConfig

from polling import wait_for


def wait(pred, timeout=20):
    return wait_for(pred, timeout, interval=0.05)


def exists(client, resource, name, ns=None):
    try:
        client.get(resource, name, namespace=ns)
        return True
    except errors.NotFound:
        return False


@pytest.fixture(scope="module")
def gc(controller_manager):
    """The garbage collector alone, in this process (no leader election)."""
    manager = controller_manager(["garbagecollector"], ControllerConfig(gc_discovery_period=5))
    return manager.started["garbagecollector"]


def ref(owner, block=None, controller=True):
    md = owner["metadata"]
    r = {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": md["name"],
         "uid": md["uid"], "controller": controller}
    if block is not None:
        r["blockOwnerDeletion"] = block
    return r


def make_rs(client, ns, name, owner=None):
    rs = {"apiVersion": "apps/v1", "kind": "ReplicaSet",
          "metadata": {"name": name, "labels": {"app": name}},
          "spec": {"replicas": 0, "selector": {"matchLabels": {"app": name}},
                   "template": {"metadata": {"labels": {"app": name}},
                                "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
    if owner:
        rs["metadata"]["ownerReferences"] = [ref(owner, block=True)]
    return client.create("replicasets", rs, namespace=ns)


def make_deploy(client, ns, name):
    d = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
         "spec": {"replicas": 0, "selector": {"matchLabels": {"app": name}},
                  "template": {"metadata": {"labels": {"app": name}},
                               "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}
    return client.create("deployments", d, namespace=ns)


def make_pod(client, ns, name, owners=(), finalizers=None):
    pod = {"apiVersion": "v1", "kind": "Pod",
           "metadata": {"name": name, "labels": {"app": "x"}},
           "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    if owners:
        pod["metadata"]["ownerReferences"] = list(owners)
    if finalizers:
        pod["metadata"]["finalizers"] = finalizers
    return client.create("pods", pod, namespace=ns)


def pod_names(client, ns):
    return sorted(p["metadata"]["name"] for p in client.list("pods", namespace=ns)["items"])


def remove_finalizers(client, resource, name, ns):
    obj = client.get(resource, name, namespace=ns)
    obj["metadata"]["finalizers"] = []
    client.update(resource, obj)


# ---------------------------------------------------------------- the three policies

def test_background_deletes_dependents_after_owner(gc, api_client, namespace):
    c = api_client
    rs = make_rs(c, namespace, "web")
    for i in range(3):
        make_pod(c, namespace, f"web-{i}", [ref(rs)])
    make_pod(c, namespace, "bystander")
    started = time.time()
    c.delete("replicasets", "web", namespace=namespace)   # Background is the default
    assert not exists(c, "replicasets", "web", namespace)  # the owner goes first
    assert wait(lambda: pod_names(c, namespace) == ["bystander"])
    print(f"\nbackground: 3 dependents deleted {time.time() - started:.2f}s after the owner")


def test_orphan_keeps_dependents_without_the_reference(gc, api_client, namespace):
    c = api_client
    rs = make_rs(c, namespace, "web")
    other = make_rs(c, namespace, "other")
    make_pod(c, namespace, "web-0", [ref(rs)])
    make_pod(c, namespace, "web-1", [ref(rs, controller=False), ref(other, controller=False)])
    c.delete("replicasets", "web", namespace=namespace, propagation_policy="Orphan")
    assert wait(lambda: not exists(c, "replicasets", "web", namespace))
    assert pod_names(c, namespace) == ["web-0", "web-1"]
    assert "ownerReferences" not in c.get("pods", "web-0", namespace=namespace)["metadata"]
    refs = c.get("pods", "web-1", namespace=namespace)["metadata"]["ownerReferences"]
    assert [r["name"] for r in refs] == ["other"]   # only the reference to the deleted owner


def test_foreground_deletes_dependents_first_then_owner(gc, api_client, namespace):
    c = api_client
    rs = make_rs(c, namespace, "web")
    make_pod(c, namespace, "free", [ref(rs, block=True)])
    # A dependent that cannot go yet (a finalizer of someone else's) keeps the owner.
    make_pod(c, namespace, "held", [ref(rs, block=True)], finalizers=["example.com/hold"])
    c.delete("replicasets", "web", namespace=namespace, propagation_policy="Foreground")

    assert wait(lambda: not exists(c, "pods", "free", namespace))
    assert wait(lambda: c.get("pods", "held", namespace=namespace)["metadata"]
                .get("deletionTimestamp"))                      # being deleted ...
    owner = c.get("replicasets", "web", namespace=namespace)   # ... and the owner waits
    assert owner["metadata"]["deletionTimestamp"]
    assert "foregroundDeletion" in owner["metadata"]["finalizers"]

    remove_finalizers(c, "pods", "held", namespace)
    assert wait(lambda: not exists(c, "replicasets", "web", namespace))
    assert pod_names(c, namespace) == []


def test_foreground_does_not_wait_for_non_blocking_dependents(gc, api_client, namespace):
    c = api_client
    rs = make_rs(c, namespace, "web")
    make_pod(c, namespace, "loose", [ref(rs, block=False)], finalizers=["example.com/hold"])
    c.delete("replicasets", "web", namespace=namespace, propagation_policy="Foreground")
    assert wait(lambda: not exists(c, "replicasets", "web", namespace))
    assert wait(lambda: c.get("pods", "loose", namespace=namespace)["metadata"]
                .get("deletionTimestamp"))   # deleted, but not waited for
    remove_finalizers(c, "pods", "loose", namespace)


def test_cascade_through_two_levels(gc, api_client, namespace):
    c = api_client
    d = make_deploy(c, namespace, "app")
    rs = make_rs(c, namespace, "app-1", owner=d)
    for i in range(2):
        make_pod(c, namespace, f"app-1-{i}", [ref(rs, block=True)])
    c.delete("deployments", "app", namespace=namespace, propagation_policy="Foreground")
    assert wait(lambda: not exists(c, "deployments", "app", namespace))
    assert not exists(c, "replicasets", "app-1", namespace)
    assert pod_names(c, namespace) == []


# ---------------------------------------------------------------- kubectl --cascade

def _deploy_tree(c, ns, name):
    d = make_deploy(c, ns, name)
    rs = make_rs(c, ns, f"{name}-rs", owner=d)
    make_pod(c, ns, f"{name}-pod", [ref(rs, block=True)])
    return d, rs


@pytest.mark.parametrize("cascade", ["background", "foreground", "orphan"])
def test_kubectl_delete_cascade(gc, api_client, namespace, kubectl, cascade):
    c = api_client
    _deploy_tree(c, namespace, "web")
    started = time.time()
    kubectl("delete", "deploy", "web", "-n", namespace, f"--cascade={cascade}", "--timeout=30s")
    took = time.time() - started
    assert not exists(c, "deployments", "web", namespace)
    if cascade == "orphan":
        rs = c.get("replicasets", "web-rs", namespace=namespace)
        assert "ownerReferences" not in rs["metadata"]
        assert pod_names(c, namespace) == ["web-pod"]   # the RS still owns its pod
    else:
        if cascade == "foreground":   # kubectl waited for the deployment, so all is gone
            assert not exists(c, "replicasets", "web-rs", namespace)
            assert pod_names(c, namespace) == []
        assert wait(lambda: not exists(c, "replicasets", "web-rs", namespace))
        assert wait(lambda: pod_names(c, namespace) == [])
    print(f"\nkubectl delete --cascade={cascade}: {took:.2f}s")


# ---------------------------------------------------------------- bad owner references

def test_dependent_of_an_owner_that_never_existed_is_deleted(gc, api_client, namespace):
    c = api_client
    fake = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "ghost",
            "uid": "00000000-0000-0000-0000-000000000000", "controller": True}
    make_pod(c, namespace, "orphaned", [fake])
    assert wait(lambda: not exists(c, "pods", "orphaned", namespace))


def test_owner_with_same_name_but_new_uid_is_not_the_owner(gc, api_client, namespace):
    c = api_client
    rs = make_rs(c, namespace, "web")
    stale = ref(rs)
    c.delete("replicasets", "web", namespace=namespace)
    make_rs(c, namespace, "web")   # a new ReplicaSet, same name, new uid
    make_pod(c, namespace, "stale", [stale])
    assert wait(lambda: not exists(c, "pods", "stale", namespace))
    assert exists(c, "replicasets", "web", namespace)   # the namesake is left alone


def test_owner_in_another_namespace_counts_as_absent(gc, api_client, namespace):
    c = api_client
    other_ns = f"t-{os.urandom(3).hex()}"
    c.create("namespaces", {"metadata": {"name": other_ns}})
    try:
        rs = make_rs(c, other_ns, "web")
        make_pod(c, namespace, "cross", [ref(rs)])   # owner must be in the pod's namespace
        assert wait(lambda: not exists(c, "pods", "cross", namespace))
        assert exists(c, "replicasets", "web", other_ns)
    finally:
        c.delete("replicasets", "web", namespace=other_ns)


def test_one_live_owner_keeps_the_dependent(gc, api_client, namespace):
    c = api_client
    a, b = make_rs(c, namespace, "a"), make_rs(c, namespace, "b")
    make_pod(c, namespace, "shared", [ref(a, controller=False), ref(b, controller=False)])
    c.delete("replicasets", "a", namespace=namespace)
    assert wait(lambda: [r["name"] for r in c.get("pods", "shared", namespace=namespace)
                         ["metadata"].get("ownerReferences", [])] == ["b"])
    c.delete("replicasets", "b", namespace=namespace)
    assert wait(lambda: not exists(c, "pods", "shared", namespace))


def test_unknown_owner_kind_is_never_collected(gc, api_client, namespace):
    c = api_client
    odd = {"apiVersion": "example.com/v1", "kind": "Widget", "name": "w",
           "uid": "11111111-1111-1111-1111-111111111111"}
    make_pod(c, namespace, "kept", [odd])

    def warned():
        evs = c.list("events", namespace=namespace,
                     field_selector="involvedObject.name=kept")["items"]
        return any(e["reason"] == "OwnerRefUnresolvable" for e in evs)
    assert wait(warned)   # the GC looked at it, said why, and ...
    assert exists(c, "pods", "kept", namespace)   # ... left it alone


def test_cluster_scoped_object_with_namespaced_owner_is_left_alone(gc, api_client, namespace):
    c = api_client
    rs = make_rs(c, namespace, "web")
    node_name = f"gc-node-{os.urandom(3).hex()}"
    c.create("nodes", {"apiVersion": "v1", "kind": "Node",
                       "metadata": {"name": node_name, "ownerReferences": [ref(rs)]}})
    try:
        def warned():
            evs = c.list("events", namespace="default",
                         field_selector=f"involvedObject.name={node_name}")["items"]
            return any(e["reason"] == "OwnerRefInvalidNamespace" for e in evs)
        assert wait(warned)
        assert exists(c, "nodes", node_name)
    finally:
        c.delete("nodes", node_name)


# ---------------------------------------------------------------- faults

def test_gc_survives_an_apiserver_restart(gc, cluster, api_client, namespace):
    c = api_client
    cluster.stop_apiserver()
    time.sleep(0.5)
    cluster.start_apiserver()
    restarted = time.time()
    rs = make_rs(c, namespace, "after")
    make_pod(c, namespace, "after-0", [ref(rs)])
    c.delete("replicasets", "after", namespace=namespace)
    assert wait(lambda: pod_names(c, namespace) == [], timeout=60)
    print(f"\nGC collected a dependent {time.time() - restarted:.2f}s after the apiserver restarted")
