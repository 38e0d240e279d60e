"""Apply and Update bookkeeping of metadata.managedFields (apiserver/fieldmanager.py)."""
import copy

import pytest

from minikube_py.api.kinds.apps import DEPLOYMENT
from minikube_py.apiserver import errors, fieldmanager
from minikube_py.apiserver.fieldmanager import Writer, apply, decode, track_update


def config(replicas=None, labels=None, image="nginx:1.25"):
    c = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "ns"},
         "spec": {"template": {"spec": {"containers": [{"name": "nginx", "image": image}]}}}}
    if replicas is not None:
        c["spec"]["replicas"] = replicas
    if labels:
        c["metadata"]["labels"] = labels
    return c


def stored(obj):
    """What the registry makes of an applied object: server fields added."""
    obj = copy.deepcopy(obj)
    obj["metadata"].update(uid="u-1", resourceVersion="5", creationTimestamp="2026-01-01T00:00:00Z")
    return obj


def managers(obj):
    return {(e.manager, e.operation, e.subresource): e.fields for e in decode(obj["metadata"]["managedFields"])}


def test_apply_creates_and_owns_what_it_names():
    obj = apply(DEPLOYMENT, None, config(replicas=2), "kubectl", force=False)
    entry = obj["metadata"]["managedFields"][0]
    assert (entry["manager"], entry["operation"], entry["apiVersion"], entry["fieldsType"]) == \
        ("kubectl", "Apply", "apps/v1", "FieldsV1")
    assert entry["fieldsV1"]["f:spec"]["f:replicas"] == {}
    assert "f:name" not in entry["fieldsV1"].get("f:metadata", {})


def test_reapply_removes_what_the_manager_gave_up():
    live = stored(apply(DEPLOYMENT, None, config(replicas=2, labels={"a": "1", "b": "2"}), "kubectl", False))
    out = apply(DEPLOYMENT, live, config(labels={"a": "1"}), "kubectl", False)
    assert out["metadata"]["labels"] == {"a": "1"}
    assert "replicas" not in out["spec"]          # defaulting puts 1 back in the registry


def test_field_owned_by_another_manager_stays_when_one_gives_it_up():
    live = stored(apply(DEPLOYMENT, None, config(labels={"shared": "x", "a": "1"}), "a", False))
    live = stored(apply(DEPLOYMENT, live, config(labels={"shared": "x", "b": "2"}), "b", False))
    assert live["metadata"]["labels"] == {"shared": "x", "a": "1", "b": "2"}
    out = apply(DEPLOYMENT, live, config(labels={"a": "1"}), "a", False)
    assert out["metadata"]["labels"] == {"shared": "x", "a": "1", "b": "2"}
    assert ("f:metadata", "f:labels", "f:shared") in managers(out)[("b", "Apply", "")]


def test_changing_a_field_someone_else_owns_conflicts_unless_forced():
    live = stored(apply(DEPLOYMENT, None, config(replicas=2), "kubectl", False))
    scaled = copy.deepcopy(live)
    scaled["spec"]["replicas"] = 5
    track_update(DEPLOYMENT, live, scaled, Writer("kubectl", "scale"))
    with pytest.raises(errors.APIError) as err:
        apply(DEPLOYMENT, stored(scaled), config(replicas=2), "kubectl", False)
    assert err.value.code == 409 and err.value.reason == "Conflict"
    assert err.value.message == ('Apply failed with 1 conflict: conflict with "kubectl" with subresource '
                                 '"scale" using apps/v1: .spec.replicas')
    assert err.value.details["causes"] == [{"reason": "FieldManagerConflict", "field": ".spec.replicas",
                                            "message": 'conflict with "kubectl" with subresource "scale" '
                                                       'using apps/v1'}]
    out = apply(DEPLOYMENT, stored(scaled), config(replicas=2), "kubectl", True)
    assert out["spec"]["replicas"] == 2
    assert set(managers(out)) == {("kubectl", "Apply", "")}


def test_same_value_is_shared_not_a_conflict():
    live = stored(apply(DEPLOYMENT, None, config(replicas=2), "a", False))
    out = apply(DEPLOYMENT, live, config(replicas=2, image="nginx:1.25"), "b", False)
    assert ("f:spec", "f:replicas") in managers(out)[("a", "Apply", "")]
    assert ("f:spec", "f:replicas") in managers(out)[("b", "Apply", "")]


def test_object_without_managed_fields_belongs_to_before_first_apply():
    live = stored(config(replicas=1))
    with pytest.raises(errors.APIError, match='conflict with "before-first-apply" using apps/v1: .spec.replicas'):
        apply(DEPLOYMENT, live, config(replicas=3), "kubectl", False)


def test_noop_apply_keeps_times():
    live = stored(apply(DEPLOYMENT, None, config(replicas=2), "kubectl", False))
    live["metadata"]["managedFields"][0]["time"] = "2000-01-01T00:00:00Z"
    out = apply(DEPLOYMENT, live, config(replicas=2), "kubectl", False)
    assert out["metadata"]["managedFields"] == live["metadata"]["managedFields"]


def test_apply_refuses_managed_fields_in_the_config():
    c = config()
    c["metadata"]["managedFields"] = []
    with pytest.raises(errors.APIError, match="metadata.managedFields must be nil"):
        apply(DEPLOYMENT, None, c, "kubectl", False)


def test_update_without_managed_fields_records_nothing():
    old = stored(config(replicas=1))
    new = copy.deepcopy(old)
    new["spec"]["replicas"] = 3
    track_update(DEPLOYMENT, old, new, Writer("controller"))
    assert "managedFields" not in new["metadata"]


def test_update_moves_ownership_and_reset_clears():
    old = stored(apply(DEPLOYMENT, None, config(replicas=2, labels={"a": "1"}), "kubectl", False))
    new = copy.deepcopy(old)
    new["metadata"]["labels"] = {"a": "2"}
    track_update(DEPLOYMENT, old, new, Writer("kubectl-label"))
    owners = managers(new)
    assert owners[("kubectl-label", "Update", "")] == {("f:metadata", "f:labels", "f:a")}
    assert ("f:metadata", "f:labels", "f:a") not in owners[("kubectl", "Apply", "")]
    reset = copy.deepcopy(new)
    reset["metadata"]["managedFields"] = [{}]
    track_update(DEPLOYMENT, new, reset, Writer("kubectl-edit"))
    assert "managedFields" not in reset["metadata"]


def test_status_writes_own_status_only():
    old = stored(apply(DEPLOYMENT, None, config(replicas=2), "kubectl", False))
    new = copy.deepcopy(old)
    new["status"] = {"replicas": 2, "observedGeneration": 1}
    track_update(DEPLOYMENT, old, new, Writer("controller-manager", "status"))
    assert managers(new)[("controller-manager", "Update", "status")] == {
        ("f:status", "f:replicas"), ("f:status", "f:observedGeneration")}


def test_patch_options_invalid_is_422_as_upstream():
    err = fieldmanager.patch_options_invalid("fieldManager", "FieldValueRequired",
                                             "Required value: is required for apply patch")
    assert err.code == 422 and err.message == ('PatchOptions.meta.k8s.io "" is invalid: fieldManager: '
                                               'Required value: is required for apply patch')
