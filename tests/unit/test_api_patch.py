import copy

import pytest

from minikube_py.api.patch import (PatchError, json_patch, merge_patch, strategic_merge_patch,
                                   three_way_patch)


def frozen(obj):
    """Return obj and a deep copy to check later that obj was not changed."""
    return obj, copy.deepcopy(obj)


# ---------------------------------------------------------------- merge patch

def test_merge_patch_rfc7386_examples():
    target, before = frozen({"a": "b", "c": {"d": "e", "f": "g"}, "l": [1, 2]})
    result = merge_patch(target, {"a": "z", "c": {"f": None}, "l": [3], "n": {"x": None}})
    assert result == {"a": "z", "c": {"d": "e"}, "l": [3], "n": {}}
    assert target == before


@pytest.mark.parametrize("target, patch, expected", [
    ({"a": "b"}, {"a": "c"}, {"a": "c"}),
    ({"a": "b"}, {"b": "c"}, {"a": "b", "b": "c"}),
    ({"a": "b"}, {"a": None}, {}),
    ({"a": [{"b": "c"}]}, {"a": [1]}, {"a": [1]}),
    (["a", "b"], {"a": "c"}, {"a": "c"}),
    ({"a": "foo"}, "bar", "bar"),
    ({"e": None}, {"a": 1}, {"e": None, "a": 1}),
    ({}, {"a": {"bb": {"ccc": None}}}, {"a": {"bb": {}}}),
])
def test_merge_patch_table(target, patch, expected):
    assert merge_patch(target, patch) == expected


def test_merge_patch_scale():
    deploy = {"spec": {"replicas": 1, "template": {"x": 1}}}
    assert merge_patch(deploy, {"spec": {"replicas": 5}}) == {"spec": {"replicas": 5, "template": {"x": 1}}}


# ---------------------------------------------------------------- JSON patch

def test_json_patch_ops():
    target, before = frozen({"metadata": {"labels": {"a": "1"}}, "spec": {"list": [1, 2]}})
    result = json_patch(target, [
        {"op": "add", "path": "/metadata/labels/b", "value": "2"},
        {"op": "replace", "path": "/spec/list/0", "value": 9},
        {"op": "remove", "path": "/metadata/labels/a"},
        {"op": "test", "path": "/spec/list/1", "value": 2},
        {"op": "add", "path": "/spec/list/-", "value": 3},
    ])
    assert result == {"metadata": {"labels": {"b": "2"}}, "spec": {"list": [9, 2, 3]}}
    assert target == before


@pytest.mark.parametrize("ops", [
    [{"op": "test", "path": "/a", "value": 2}],
    [{"op": "remove", "path": "/missing"}],
    [{"op": "replace", "path": "/missing/deeper", "value": 1}],
    [{"op": "frobnicate", "path": "/a"}],
    [{"path": "/a"}],
    [{"op": "add", "path": "a", "value": 1}],
    [{"op": "remove", "path": "/l/5"}],
    ["not an op"],
    {"op": "add"},
])
def test_json_patch_errors(ops):
    with pytest.raises(PatchError):
        json_patch({"a": 1, "l": [1]}, ops)


# ---------------------------------------------------------------- strategic merge patch

POD = {
    "metadata": {"name": "p", "labels": {"app": "web"}, "finalizers": ["a"],
                 "ownerReferences": [{"uid": "u1", "kind": "ReplicaSet", "name": "rs"}]},
    "spec": {
        "containers": [
            {"name": "web", "image": "nginx:1.25",
             "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
             "ports": [{"containerPort": 80, "protocol": "TCP"}],
             "volumeMounts": [{"name": "data", "mountPath": "/data"}],
             "args": ["--x"]},
            {"name": "sidecar", "image": "busybox"},
        ],
        "volumes": [{"name": "data", "emptyDir": {}}],
        "tolerations": [{"key": "a", "operator": "Exists"}],
    },
    "status": {"conditions": [{"type": "Ready", "status": "False"},
                              {"type": "PodScheduled", "status": "True"}]},
}


def test_smp_merges_containers_by_name_and_keeps_input():
    pod, before = frozen(POD)
    result = strategic_merge_patch(pod, {"spec": {"containers": [{"name": "web", "image": "nginx:1.26"}]}})
    web, sidecar = result["spec"]["containers"]
    assert web["image"] == "nginx:1.26" and web["env"] == POD["spec"]["containers"][0]["env"]
    assert sidecar == {"name": "sidecar", "image": "busybox"}
    assert pod == before


def test_smp_adds_new_elements_and_merges_nested_lists():
    result = strategic_merge_patch(POD, {"spec": {"containers": [
        {"name": "web", "env": [{"name": "B", "value": "3"}, {"name": "C", "value": "4"}],
         "ports": [{"containerPort": 443}],
         "volumeMounts": [{"mountPath": "/data", "readOnly": True}]},
        {"name": "new", "image": "redis"}]}})
    web = result["spec"]["containers"][0]
    assert web["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "3"}, {"name": "C", "value": "4"}]
    assert web["ports"] == [{"containerPort": 80, "protocol": "TCP"}, {"containerPort": 443}]
    assert web["volumeMounts"] == [{"name": "data", "mountPath": "/data", "readOnly": True}]
    assert [c["name"] for c in result["spec"]["containers"]] == ["web", "sidecar", "new"]


def test_smp_replaces_lists_without_merge_key():
    result = strategic_merge_patch(POD, {"spec": {
        "tolerations": [{"key": "b", "operator": "Exists"}],
        "containers": [{"name": "web", "args": ["--y"]}]}})
    assert result["spec"]["tolerations"] == [{"key": "b", "operator": "Exists"}]
    assert result["spec"]["containers"][0]["args"] == ["--y"]


def test_smp_conditions_owner_refs_finalizers():
    result = strategic_merge_patch(POD, {
        "metadata": {"finalizers": ["b", "a"],
                     "ownerReferences": [{"uid": "u1", "controller": True}]},
        "status": {"conditions": [{"type": "Ready", "status": "True"}]}})
    assert result["metadata"]["finalizers"] == ["a", "b"]
    assert result["metadata"]["ownerReferences"] == [
        {"uid": "u1", "kind": "ReplicaSet", "name": "rs", "controller": True}]
    assert result["status"]["conditions"] == [{"type": "Ready", "status": "True"},
                                              {"type": "PodScheduled", "status": "True"}]


def test_smp_null_deletes_and_maps_merge():
    result = strategic_merge_patch(POD, {"metadata": {"labels": {"app": None, "x": "y"}},
                                         "spec": {"tolerations": None}})
    assert result["metadata"]["labels"] == {"x": "y"}
    assert "tolerations" not in result["spec"]


def test_smp_patch_delete_in_list_and_map():
    result = strategic_merge_patch(POD, {
        "spec": {"containers": [{"$patch": "delete", "name": "sidecar"},
                                {"name": "web", "env": [{"$patch": "delete", "name": "A"}]}],
                 "volumes": [{"$patch": "delete", "name": "nope"}]},
        "status": {"$patch": "delete"}})
    assert [c["name"] for c in result["spec"]["containers"]] == ["web"]
    assert result["spec"]["containers"][0]["env"] == [{"name": "B", "value": "2"}]
    assert result["spec"]["volumes"] == POD["spec"]["volumes"]
    assert "status" not in result


def test_smp_patch_replace():
    result = strategic_merge_patch(POD, {
        "metadata": {"labels": {"$patch": "replace", "only": "me"}},
        "spec": {"containers": [{"$patch": "replace"}, {"name": "solo", "image": "x"}]}})
    assert result["metadata"]["labels"] == {"only": "me"}
    assert result["spec"]["containers"] == [{"name": "solo", "image": "x"}]


def test_smp_set_element_order():
    # what `kubectl apply` sends after a manifest swapped the containers' order
    patch = {"spec": {"$setElementOrder/containers": [{"name": "sidecar"}, {"name": "web"}],
                      "containers": [{"name": "web", "image": "nginx:1.26"}]}}
    result = strategic_merge_patch(POD, patch)
    assert [c["name"] for c in result["spec"]["containers"]] == ["sidecar", "web"]
    assert result["spec"]["containers"][1]["image"] == "nginx:1.26"


def test_smp_set_element_order_keeps_server_only_elements_in_place():
    target = {"volumes": [{"name": "a"}, {"name": "server"}, {"name": "b"}]}
    patch = {"$setElementOrder/volumes": [{"name": "b"}, {"name": "a"}]}
    assert strategic_merge_patch(target, patch)["volumes"] == [
        {"name": "b"}, {"name": "server"}, {"name": "a"}]


def test_smp_kubectl_apply_shape():
    deploy = {"metadata": {"name": "web", "annotations": {"x": "1"}},
              "spec": {"replicas": 1, "template": {"spec": {"containers": [
                  {"name": "web", "image": "nginx:1.25",
                   "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]}]}}}}
    patch = {"metadata": {"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}},
             "spec": {"replicas": 3, "template": {"spec": {
                 "$setElementOrder/containers": [{"name": "web"}],
                 "containers": [{"$setElementOrder/env": [{"name": "A"}],
                                 "env": [{"$patch": "delete", "name": "B"}],
                                 "image": "nginx:1.26", "name": "web"}]}}}}
    result = strategic_merge_patch(deploy, patch)
    assert result == {"metadata": {"name": "web", "annotations": {
        "x": "1", "kubectl.kubernetes.io/last-applied-configuration": "{}"}},
        "spec": {"replicas": 3, "template": {"spec": {"containers": [
            {"name": "web", "image": "nginx:1.26", "env": [{"name": "A", "value": "1"}]}]}}}}


def test_smp_retain_keys():
    deploy = {"spec": {"strategy": {"type": "RollingUpdate",
                                    "rollingUpdate": {"maxSurge": "25%"}}}}
    patch = {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}
    assert strategic_merge_patch(deploy, patch) == {"spec": {"strategy": {"type": "Recreate"}}}


def test_smp_delete_from_primitive_list():
    obj = {"metadata": {"finalizers": ["a", "b", "c"]}}
    patch = {"metadata": {"$deleteFromPrimitiveList/finalizers": ["b"], "finalizers": ["d"]}}
    assert strategic_merge_patch(obj, patch) == {"metadata": {"finalizers": ["a", "c", "d"]}}


def test_smp_service_ports_merge_by_port():
    svc = {"spec": {"ports": [{"port": 80, "targetPort": 8080}, {"port": 443}]}}
    result = strategic_merge_patch(svc, {"spec": {"ports": [{"port": 80, "targetPort": 9090}]}})
    assert result["spec"]["ports"] == [{"port": 80, "targetPort": 9090}, {"port": 443}]


def test_smp_never_leaves_directives():
    result = strategic_merge_patch({}, {"spec": {
        "containers": [{"name": "a", "$setElementOrder/env": [{"name": "X"}],
                        "env": [{"name": "X", "value": "1"}, {"$patch": "delete", "name": "Y"}]}],
        "strategy": {"$retainKeys": ["type"], "type": "Recreate"},
        "labels": {"$patch": "replace", "a": "b", "n": None}}})

    def walk(value):
        if isinstance(value, dict):
            assert not any(str(k).startswith("$") for k in value), value
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)
    walk(result)
    assert result["spec"]["containers"] == [{"name": "a", "env": [{"name": "X", "value": "1"}]}]
    assert result["spec"]["labels"] == {"a": "b"}


@pytest.mark.parametrize("patch", [
    {"spec": {"$patch": "explode"}},
    {"spec": {"$unknown": 1}},
    {"spec": {"containers": [{"image": "no-name"}]}},
    ["not", "a", "map"],
])
def test_smp_errors(patch):
    with pytest.raises(PatchError):
        strategic_merge_patch(POD, patch)


# ---------------------------------------------------------------- creating a patch (kubectl apply)

def test_three_way_patch_sets_changes_and_deletes_removed_fields():
    original = {"metadata": {"labels": {"a": "1", "b": "2"}},
                "spec": {"containers": [{"name": "x", "image": "i:1"}, {"name": "y", "image": "j"}]}}
    modified = {"metadata": {"labels": {"a": "1"}}, "spec": {"containers": [{"name": "x", "image": "i:2"}]}}
    current = {"metadata": {"labels": {"a": "1", "b": "2", "other": "kept"}, "uid": "u"},
               "spec": {"containers": [{"name": "x", "image": "i:1", "imagePullPolicy": "Always"},
                                       {"name": "y", "image": "j"}]}}
    assert three_way_patch(original, modified, current) == {
        "metadata": {"labels": {"b": None}},
        "spec": {"$setElementOrder/containers": [{"name": "x"}],
                 "containers": [{"name": "x", "image": "i:2"}, {"name": "y", "$patch": "delete"}]}}
    assert three_way_patch(modified, modified, {**current, "metadata": {"labels": {"a": "1"}},
                                                "spec": {"containers": [{"name": "x", "image": "i:2"}]}}) == {}


def test_three_way_patch_applied_by_strategic_merge_gives_the_manifest_and_keeps_the_rest():
    original = {"metadata": {"labels": {"a": "1", "b": "2"}},
                "spec": {"containers": [{"name": "x", "image": "i:1"}, {"name": "y", "image": "j"}]}}
    modified = {"metadata": {"labels": {"a": "1"}},
                "spec": {"containers": [{"name": "z", "image": "k"}, {"name": "x", "image": "i:2"}]}}
    current = {"metadata": {"labels": {"a": "1", "b": "2", "other": "kept"}},
               "spec": {"containers": [{"name": "x", "image": "i:1", "imagePullPolicy": "Always"},
                                       {"name": "y", "image": "j"}]}}
    patched = strategic_merge_patch(current, three_way_patch(original, modified, current))
    assert patched == {"metadata": {"labels": {"a": "1", "other": "kept"}},
                       "spec": {"containers": [{"name": "z", "image": "k"},
                                               {"name": "x", "image": "i:2", "imagePullPolicy": "Always"}]}}


def test_three_way_patch_without_strategic_replaces_lists():
    current = {"spec": {"containers": [{"name": "x", "image": "i:1", "imagePullPolicy": "Always"}]}}
    modified = {"spec": {"containers": [{"name": "x", "image": "i:2"}]}}
    assert three_way_patch({}, modified, current, strategic=False) == modified
