"""Unit tests of the garbage collector's pure helpers (no apiserver)."""
import pytest

from minikube_py.client.resources import lookup
from minikube_py.controllers import garbagecollector as gcmod
from minikube_py.controllers.garbagecollector import (FOREGROUND, ORPHAN, choose_policy,
                                                      deleting_dependents, group_of, orphaning,
                                                      owner_uids)


def obj(finalizers=None, deleting=False, refs=None):
    md = {"name": "x", "uid": "u"}
    if finalizers:
        md["finalizers"] = finalizers
    if deleting:
        md["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    if refs is not None:
        md["ownerReferences"] = refs
    return {"metadata": md}


def test_owner_uids_index_function():
    assert owner_uids(obj()) == []
    assert owner_uids(obj(refs=[{"uid": "a"}, {"uid": "b"}, {"name": "no-uid"}])) == ["a", "b"]


def test_group_of_api_version():
    assert group_of("v1") == ""
    assert group_of("apps/v1") == "apps"
    assert group_of("coordination.k8s.io/v1") == "coordination.k8s.io"
    assert group_of("") == ""


def test_deletion_states():
    assert deleting_dependents(obj([FOREGROUND], deleting=True))
    assert not deleting_dependents(obj([FOREGROUND]))          # finalizer alone: not yet
    assert orphaning(obj([ORPHAN], deleting=True))
    assert not orphaning(obj(["example.com/x"], deleting=True))


@pytest.mark.parametrize("fins,waiting,has_deps,want", [
    ([], False, False, "Background"),
    ([], True, False, "Background"),       # a leaf: nothing to wait for
    ([], True, True, "Foreground"),        # owner waits: our dependents go first
    ([ORPHAN], False, True, "Orphan"),
    ([FOREGROUND], False, True, "Foreground"),
    ([ORPHAN], True, True, "Foreground"),
])
def test_choose_policy(fins, waiting, has_deps, want):
    assert choose_policy(obj(fins), waiting, has_deps) == want


class FakeDiscovery:
    """Stands in for the apiserver's discovery documents (this unit test only)."""

    DOCS = {
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

    def request(self, method, path):
        doc = self.DOCS[path]

        class R:
            def json(self):
                return doc
        return R()


def test_discovery_skips_subresources_and_filters_verbs():
    found = {info.plural: verbs for info, verbs in gcmod.discover(FakeDiscovery())}
    assert set(found) == {"pods", "bindings", "replicasets", "gizmos"}
    assert "deletecollection" in found["replicasets"]
    usable = [i.plural for i in gcmod.discover_resources(FakeDiscovery())]
    assert usable == ["pods", "replicasets", "gizmos"]   # bindings cannot be listed


def test_discovery_teaches_the_client_new_resources():
    gcmod.discover(FakeDiscovery())
    info = lookup("gizmos.lab.example.org")
    assert (info.kind, info.group, info.namespaced) == ("Gizmo", "lab.example.org", False)
    assert lookup("pods").group == ""   # known resources are kept as they are
