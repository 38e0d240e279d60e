"""Namespace deletion against the real apiserver: content first, then the namespace."""
import os
import time

import pytest

from minikube_py.api.meta import now_micro
from minikube_py.client import errors

from polling import wait_for


def wait(pred, timeout=30):
    return wait_for(pred, timeout, interval=0.1)


@pytest.fixture(scope="module")
def controllers(controller_manager):
    return controller_manager(["namespace", "garbagecollector"])


def ns_exists(client, name):
    try:
        client.get("namespaces", name)
        return True
    except errors.NotFound:
        return False


def fill(client, ns, pods=3):
    """A bit of everything a namespace holds."""
    for i in range(pods):
        client.create("pods", {"metadata": {"name": f"p{i}"},
                               "spec": {"containers": [{"name": "c", "image": "busybox"}]}},
                      namespace=ns)
    d = client.create("deployments", {
        "metadata": {"name": "web"},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}},
        namespace=ns)
    client.create("replicasets", {
        "metadata": {"name": "web-1", "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "Deployment", "name": "web",
             "uid": d["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}},
        namespace=ns)
    client.create("leases", {"metadata": {"name": "lock"},
                             "spec": {"holderIdentity": "x", "renewTime": now_micro()}}, namespace=ns)
    client.create_event({"kind": "Pod", "metadata": {"name": "p0", "namespace": ns}},
                        "Testing", "an event in the namespace")


def test_kubectl_delete_namespace_returns_when_everything_is_gone(controllers, api_client,
                                                                  namespace, kubectl):
    c = api_client
    fill(c, namespace)
    started = time.time()
    kubectl("delete", "namespace", namespace, "--timeout=60s")   # waits until it is gone
    took = time.time() - started
    assert not ns_exists(c, namespace)
    for res in ("pods", "deployments", "replicasets", "leases", "events"):
        assert c.list(res, namespace=namespace)["items"] == [], res
    print(f"\nkubectl delete namespace (3 pods, 1 deploy, 1 rs, 1 lease, 1 event): {took:.2f}s")


def test_content_with_a_finalizer_keeps_the_namespace_terminating(controllers, api_client):
    c = api_client
    ns = f"t-{os.urandom(3).hex()}"
    c.create("namespaces", {"metadata": {"name": ns}})
    c.create("pods", {"metadata": {"name": "held", "finalizers": ["example.com/hold"]},
                      "spec": {"containers": [{"name": "c", "image": "busybox"}]}}, namespace=ns)
    c.create("pods", {"metadata": {"name": "free"},
                      "spec": {"containers": [{"name": "c", "image": "busybox"}]}}, namespace=ns)
    c.delete("namespaces", ns)

    def conditions():
        st = c.get("namespaces", ns).get("status") or {}
        return {x["type"]: x for x in st.get("conditions") or []}
    assert wait(lambda: conditions().get("NamespaceFinalizersRemaining", {}).get("status") == "True")
    conds = conditions()
    assert c.get("namespaces", ns)["status"]["phase"] == "Terminating"
    assert "example.com/hold in 1 resource instances" in conds["NamespaceFinalizersRemaining"]["message"]
    assert conds["NamespaceContentRemaining"]["status"] == "True"
    assert "pods. has 1 resource instances" in conds["NamespaceContentRemaining"]["message"]
    assert [p["metadata"]["name"] for p in c.list("pods", namespace=ns)["items"]] == ["held"]
    # New content is refused while it terminates.
    with pytest.raises(errors.Forbidden):
        c.create("pods", {"metadata": {"name": "late"},
                          "spec": {"containers": [{"name": "c", "image": "busybox"}]}}, namespace=ns)

    held = c.get("pods", "held", namespace=ns)
    held["metadata"]["finalizers"] = []
    c.update("pods", held)
    assert wait(lambda: not ns_exists(c, ns))


def test_namespace_waits_for_graceful_pods(controllers, api_client):
    """A pod on a node stops gracefully; the namespace goes once the kubelet is done."""
    c = api_client
    ns = f"t-{os.urandom(3).hex()}"
    c.create("namespaces", {"metadata": {"name": ns}})
    c.create("pods", {"metadata": {"name": "running"},
                      "spec": {"nodeName": "somewhere", "terminationGracePeriodSeconds": 30,
                               "containers": [{"name": "c", "image": "busybox"}]}}, namespace=ns)
    c.delete("namespaces", ns)
    assert wait(lambda: c.get("pods", "running", namespace=ns)["metadata"].get("deletionTimestamp"))
    time.sleep(1)
    assert ns_exists(c, ns)
    c.delete("pods", "running", namespace=ns, grace_period_seconds=0)   # the kubelet finishes
    assert wait(lambda: not ns_exists(c, ns))


def test_system_namespaces_cannot_be_deleted(controllers, api_client):
    with pytest.raises(errors.Forbidden):
        api_client.delete("namespaces", "kube-system")
