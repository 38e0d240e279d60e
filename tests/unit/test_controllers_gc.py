"""Unit tests of the garbage collector's pure helpers (no apiserver)."""
import pytest

from minikube_py.client.discovery import RESTMapper
from minikube_py.controllers import garbagecollector as gcmod
from test_client_discovery import DISCOVERY_DOCS
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


class FakeClient:
    """A client whose RESTMapper reads the discovery documents below (this unit test only)."""

    def __init__(self):
        self.mapper = RESTMapper(read=DISCOVERY_DOCS.__getitem__)


def test_discovery_skips_subresources_and_filters_verbs():
    usable = [i.plural for i in gcmod.discover_resources(FakeClient())]
    assert usable == ["pods", "replicasets", "gizmos"]   # bindings cannot be listed
