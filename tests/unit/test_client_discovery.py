"""RESTMapper: resource names -> REST paths, from the built-in kinds and from discovery."""

import pytest

from minikube_py.client.discovery import RESTMapper, resource_path

# What an apiserver serving a CRD (gizmos.lab.example.org) would list (a unit test's input).
DISCOVERY_DOCS = {
    "/apis": {"groups": [{"name": "apps", "versions": [{"groupVersion": "apps/v1"}]},
                         {"name": "lab.example.org", "versions": [{"groupVersion": "lab.example.org/v1"}]}]},
    "/api/v1": {"resources": [
        {"name": "pods", "kind": "Pod", "namespaced": True,
         "verbs": ["create", "delete", "get", "list", "watch"]},
        {"name": "pods/status", "kind": "Pod", "namespaced": True, "verbs": ["get", "update"]},
        {"name": "bindings", "kind": "Binding", "namespaced": True, "verbs": ["create"]}]},
    "/apis/apps/v1": {"resources": [
        {"name": "replicasets", "kind": "ReplicaSet", "namespaced": True,
         "verbs": ["delete", "list", "watch", "deletecollection"]}]},
    "/apis/lab.example.org/v1": {"resources": [
        {"name": "gizmos", "kind": "Gizmo", "namespaced": False,
         "verbs": ["delete", "list", "watch"], "shortNames": ["gz"]}]},
}


@pytest.mark.parametrize("resource, ns, name, sub, path", [
    ("pods", "default", None, None, "/api/v1/namespaces/default/pods"),
    ("pods", None, None, None, "/api/v1/pods"),
    ("po", "kube-system", "web-1", None, "/api/v1/namespaces/kube-system/pods/web-1"),
    ("Pod", "d", "p", "status", "/api/v1/namespaces/d/pods/p/status"),
    ("pod", "d", "p", "binding", "/api/v1/namespaces/d/pods/p/binding"),
    ("pods", "d", "p", "log", "/api/v1/namespaces/d/pods/p/log"),
    ("nodes", "ignored", "node-1", None, "/api/v1/nodes/node-1"),
    ("no", None, None, None, "/api/v1/nodes"),
    ("Node", None, "n", "status", "/api/v1/nodes/n/status"),
    ("ns", None, "team", None, "/api/v1/namespaces/team"),
    ("namespaces", None, None, None, "/api/v1/namespaces"),
    ("ev", "d", None, None, "/api/v1/namespaces/d/events"),
    ("events", None, None, None, "/api/v1/events"),
    ("leases", "kube-node-lease", "n1", None,
     "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1"),
    ("deploy", "d", "web", "scale", "/apis/apps/v1/namespaces/d/deployments/web/scale"),
    ("Deployment", None, None, None, "/apis/apps/v1/deployments"),
    ("deployments.apps", "d", None, None, "/apis/apps/v1/namespaces/d/deployments"),
    ("rs", "d", "web-abc", None, "/apis/apps/v1/namespaces/d/replicasets/web-abc"),
    ("replicasets", "d", None, None, "/apis/apps/v1/namespaces/d/replicasets"),
])
def test_resource_path(resource, ns, name, sub, path):
    assert resource_path(resource, ns, name, sub) == path


def test_names_are_quoted():
    assert resource_path("pods", "d", "a/b") == "/api/v1/namespaces/d/pods/a%2Fb"


def test_unknown_resource():
    with pytest.raises(KeyError, match="unknown resource"):
        resource_path("widgets")


def test_subresource_needs_a_name():
    with pytest.raises(ValueError):
        resource_path("pods", "d", None, "status")


def test_builtin_kinds_need_no_server():
    mapper = RESTMapper()
    info = mapper.resource_for("deploy")
    assert (info.kind, info.group, info.api_version, info.namespaced) == \
        ("Deployment", "apps", "apps/v1", True)
    assert mapper.resource_for("leases").api_version == "coordination.k8s.io/v1"
    assert mapper.resource_for("ns").namespaced is False


def test_an_unknown_name_is_looked_up_in_discovery_once():
    reads = []
    mapper = RESTMapper(read=lambda path: reads.append(path) or DISCOVERY_DOCS[path])
    gizmo = mapper.resource_for("gz")
    assert (gizmo.kind, gizmo.group, gizmo.namespaced) == ("Gizmo", "lab.example.org", False)
    assert gizmo.path(None, "g1") == "/apis/lab.example.org/v1/gizmos/g1"
    assert mapper.resource_for("gizmos.lab.example.org") is gizmo
    assert mapper.kind_for("lab.example.org/v1", "Gizmo") is gizmo
    n = len(reads)
    mapper.resource_for("Gizmo")
    mapper.resource_for("pods")
    assert len(reads) == n      # known now: no more discovery


def test_discover_lists_resources_with_their_verbs_and_subresources():
    served = {k.plural: k for k in RESTMapper(read=DISCOVERY_DOCS.__getitem__).discover()}
    assert set(served) == {"pods", "bindings", "replicasets", "gizmos"}
    assert "deletecollection" in served["replicasets"].verbs
    assert served["pods"].subresources == ("status",)
