"""The field-set algebra under server-side apply (api/fieldset.py)."""
import copy

import pytest

from minikube_py.api import fieldset
from minikube_py.api.fieldset import compare, decode, describe, encode, field_set, merge, remove

NGINX = 'k:{"name":"nginx"}'
PORT80 = 'k:{"containerPort":80,"protocol":"TCP"}'
CONTAINERS = ("f:spec", "f:template", "f:spec", "f:containers")


def deployment(**container):
    return {"metadata": {"name": "web", "labels": {"app": "web"}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"spec": {"containers": [{"name": "nginx", "image": "nginx:1.25",
                                                           "ports": [{"containerPort": 80}], **container}]}}}}


def test_fields_are_leaves_and_keyed_elements():
    paths = field_set(deployment(args=["-g", "daemon off;"], resources={}))
    assert ("f:spec", "f:replicas") in paths
    assert ("f:metadata", "f:labels", "f:app") in paths
    assert CONTAINERS + (NGINX,) in paths                                  # the element itself
    assert CONTAINERS + (NGINX, "f:image") in paths
    assert CONTAINERS + (NGINX, "f:ports", PORT80, "f:containerPort") in paths   # protocol defaults to TCP
    assert CONTAINERS + (NGINX, "f:args") in paths                         # atomic list: one leaf
    assert CONTAINERS + (NGINX, "f:resources") in paths                    # empty map: a leaf
    assert ("f:spec",) not in paths and ("f:metadata", "f:labels") not in paths   # maps are granular


def test_finalizers_are_a_set_and_other_lists_atomic():
    paths = field_set({"metadata": {"finalizers": ["a", "b"]}, "spec": {"tolerations": [{"key": "x"}]}})
    assert paths == {("f:metadata", "f:finalizers", 'v:"a"'), ("f:metadata", "f:finalizers", 'v:"b"'),
                     ("f:spec", "f:tolerations")}


def test_a_list_whose_elements_lack_the_key_is_atomic():
    # the table knows lists by name only: a custom resource's `ports` of {number: 80} is one leaf
    assert field_set({"spec": {"ports": [{"number": 80}]}}) == {("f:spec", "f:ports")}
    assert merge({"spec": {"ports": [{"number": 80}]}}, {"spec": {"ports": [{"number": 81}]}}) == \
        {"spec": {"ports": [{"number": 81}]}}


def test_an_empty_keyed_list_in_the_config_keeps_live_elements():
    assert merge({"spec": {"containers": [{"name": "a"}]}}, {"spec": {"containers": []}}) == \
        {"spec": {"containers": [{"name": "a"}]}}


def test_set_algebra_union_difference_and_prefixes():
    a = field_set({"metadata": {"labels": {"x": "1", "y": "2"}}})
    b = field_set({"metadata": {"labels": {"y": "2", "z": "3"}}})
    assert a & b == {("f:metadata", "f:labels", "f:y")}
    assert a - b == {("f:metadata", "f:labels", "f:x")}
    assert len(a | b) == 3
    assert ("f:metadata",) in fieldset.prefixes(a)


def test_fieldsv1_round_trip_matches_kubernetes_encoding():
    obj = deployment()
    encoded = encode(field_set(obj))
    assert encoded["f:spec"]["f:template"]["f:spec"]["f:containers"][NGINX] == {
        ".": {}, "f:image": {}, "f:name": {}, "f:ports": {PORT80: {".": {}, "f:containerPort": {}}}}
    assert encoded["f:spec"]["f:replicas"] == {}
    assert decode(encoded) == field_set(obj)
    assert list(encoded["f:spec"]["f:template"]["f:spec"]["f:containers"][NGINX])[0] == "."


def test_decode_refuses_what_is_not_fieldsv1():
    with pytest.raises(ValueError):
        decode({"spec": {}})
    with pytest.raises(ValueError):
        decode({"f:spec": 1})


def test_merge_by_key_replaces_atomic_lists_and_keeps_live_fields():
    live = deployment(args=["a"], env=[{"name": "A", "value": "1"}])
    live["status"] = {"replicas": 2}
    config = {"spec": {"template": {"spec": {"containers": [
        {"name": "nginx", "args": ["b"], "env": [{"name": "B", "value": "2"}]},
        {"name": "sidecar", "image": "busybox"}]}}}}
    before = copy.deepcopy(live)
    out = merge(live, config)
    assert live == before
    nginx, sidecar = out["spec"]["template"]["spec"]["containers"]
    assert nginx["image"] == "nginx:1.25" and nginx["args"] == ["b"]
    assert [e["name"] for e in nginx["env"]] == ["A", "B"]
    assert sidecar == {"name": "sidecar", "image": "busybox"}
    assert out["status"] == {"replicas": 2} and out["spec"]["replicas"] == 2


def test_merge_ports_by_containerport_and_protocol():
    live = {"spec": {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP", "name": "t"}]}}
    out = merge(live, {"spec": {"ports": [{"port": 53, "name": "dns"}]}})
    assert out["spec"]["ports"] == [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP", "name": "dns"}]


def test_compare_added_removed_modified():
    old, new = deployment(), deployment(image="nginx:1.27")
    new["spec"].pop("replicas")
    new["metadata"]["labels"]["tier"] = "front"
    added, removed, modified = compare(old, new, field_set(old), field_set(new))
    assert added == {("f:metadata", "f:labels", "f:tier")}
    assert removed == {("f:spec", "f:replicas")}
    assert modified == {CONTAINERS + (NGINX, "f:image")}


def test_remove_paths_and_the_maps_they_empty():
    obj = deployment()
    remove(obj, [("f:metadata", "f:labels", "f:app"), CONTAINERS + (NGINX,), ("f:spec", "f:nothing")])
    assert "labels" not in obj["metadata"]
    assert obj["spec"]["template"]["spec"]["containers"] == []


def test_describe_as_kubernetes_prints_paths():
    assert describe(CONTAINERS + (NGINX, "f:image")) == '.spec.template.spec.containers[name="nginx"].image'
    assert describe(("f:ports", PORT80)) == '.ports[containerPort=80,protocol="TCP"]'
    assert describe(("f:metadata", "f:finalizers", 'v:"x"')) == '.metadata.finalizers[="x"]'


def test_remove_an_element_whole_before_its_key_fields():
    obj = {"spec": {"containers": [{"name": "a", "env": [{"name": "X", "value": "1"}]}, {"name": "b"}]}}
    env = ("f:spec", "f:containers", 'k:{"name":"a"}', "f:env", 'k:{"name":"X"}')
    remove(obj, [env + ("f:name",), env + ("f:value",), env])
    assert obj == {"spec": {"containers": [{"name": "a", "env": []}, {"name": "b"}]}}
    assert field_set(obj)
