"""The OpenAPI schema builder and field validation (apiserver/openapi/)."""
from __future__ import annotations

import json

import pytest

from minikube_py.api.kinds import BUILTIN_KINDS, Kind, Scheme
from minikube_py.api.kinds.apps import DEPLOYMENT
from minikube_py.api.kinds.core import POD
from minikube_py.apiserver import errors
from minikube_py.apiserver.openapi import Documents, check_fields, warning_header
from minikube_py.apiserver.openapi.fieldvalidation import duplicate_fields, kind_shape, unknown_fields
from minikube_py.apiserver.openapi.schema import Definitions, object_fields, reserved_names
from minikube_py.apiserver.protobuf import MESSAGES, SPECIAL


def v3(group_version="apis/apps/v1", scheme=None):
    return json.loads(Documents(scheme or Scheme(BUILTIN_KINDS)).current().v3[group_version])


def test_definitions_follow_the_messages():
    schemas = v3()["components"]["schemas"]
    dep = schemas["io.k8s.api.apps.v1.Deployment"]
    assert dep["x-kubernetes-group-version-kind"] == [{"group": "apps", "kind": "Deployment", "version": "v1"}]
    assert set(dep["properties"]) == {"apiVersion", "kind", "metadata", "spec", "status"}
    assert dep["properties"]["spec"]["allOf"] == [{"$ref": "#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"}]
    spec = schemas["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]
    assert spec["replicas"] == {"type": "integer", "format": "int32", "description": "Number of desired pods. Defaults to 1."}
    pod = schemas["io.k8s.api.core.v1.PodSpec"]["properties"]
    assert pod["nodeSelector"] == {"type": "object", "additionalProperties": {"type": "string"},
                                   "description": pod["nodeSelector"]["description"]}
    containers = pod["containers"]
    assert containers["items"] == {"$ref": "#/components/schemas/io.k8s.api.core.v1.Container"}
    assert containers["x-kubernetes-patch-merge-key"] == "name" and containers["x-kubernetes-list-type"] == "map"
    ports = schemas["io.k8s.api.core.v1.Container"]["properties"]["ports"]
    assert ports["x-kubernetes-patch-merge-key"] == "containerPort"
    # the specials, and embedded structs inline
    assert schemas["io.k8s.apimachinery.pkg.apis.meta.v1.Time"]["format"] == "date-time"
    assert schemas["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]["x-kubernetes-int-or-string"] is True
    volume = schemas["io.k8s.api.core.v1.Volume"]["properties"]
    assert "emptyDir" in volume and "volumeSource" not in volume
    # an upstream field the subset leaves out: described as accepted
    assert volume["nfs"]["x-kubernetes-preserve-unknown-fields"] is True
    finalizers = schemas["io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"]["properties"]["finalizers"]
    assert finalizers["x-kubernetes-patch-strategy"] == "merge"


def test_service_ports_merge_by_port():
    props = v3("api/v1")["components"]["schemas"]["io.k8s.api.core.v1.ServiceSpec"]["properties"]
    assert props["ports"]["x-kubernetes-patch-merge-key"] == "port"


def test_v2_uses_definitions_and_consumes():
    doc = json.loads(Documents(Scheme(BUILTIN_KINDS)).current().v2)
    template = doc["definitions"]["io.k8s.api.apps.v1.DeploymentSpec"]["properties"]["template"]
    assert template["$ref"] == "#/definitions/io.k8s.api.core.v1.PodTemplateSpec"
    patch = doc["paths"]["/api/v1/nodes/{name}"]["patch"]
    assert "application/strategic-merge-patch+json" in patch["consumes"]


def test_every_ref_resolves_in_its_document():
    docs = Documents(Scheme(BUILTIN_KINDS)).current()
    for key, raw in docs.v3.items():
        text = raw.decode()
        doc = json.loads(text)
        for part in text.split('"$ref":"#/components/schemas/')[1:]:
            assert part.split('"')[0] in doc["components"]["schemas"], key


def test_index_hashes_follow_the_scheme():
    scheme = Scheme(BUILTIN_KINDS)
    docs = Documents(scheme)
    before = json.loads(docs.current().v3_index)["paths"]
    assert before["apis/apps/v1"]["serverRelativeURL"].startswith("/openapi/v3/apis/apps/v1?hash=")
    crd = Kind("stable.example.com", "v1", "CronTab", "crontabs", schema={
        "type": "object", "properties": {"spec": {"type": "object", "properties": {"cronSpec": {"type": "string"}}}}})
    scheme.register(crd)
    after = json.loads(docs.current().v3_index)["paths"]
    assert "apis/stable.example.com/v1" in after and after["apis/apps/v1"] == before["apis/apps/v1"]
    schemas = json.loads(docs.v3["apis/stable.example.com/v1"])["components"]["schemas"]
    assert schemas["com.example.stable.v1.CronTab"]["properties"]["spec"]["properties"]["cronSpec"] == {"type": "string"}
    patch = json.loads(docs.v3["apis/stable.example.com/v1"])["paths"][
        "/apis/stable.example.com/v1/namespaces/{namespace}/crontabs/{name}"]["patch"]
    assert "application/strategic-merge-patch+json" not in patch["requestBody"]["content"]
    # and field validation knows its schema
    assert unknown_fields(kind_shape(crd), {"spec": {"cronSpec": "x", "cronSpek": "y"}}) == ["spec.cronSpek"]


# ---------------------------------------------------------------- field validation

POD_BODY = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p", "labels": {"any": "thing"}},
            "spec": {"containers": [{"name": "c", "image": "nginx", "resources": {"limits": {"cpu": "1"}},
                                     "resizePolicy": [{"whatever": 1}]}],
                     "volumes": [{"name": "v", "emptyDir": {}}]}}


def test_unknown_fields_paths():
    shape = kind_shape(POD)
    assert unknown_fields(shape, POD_BODY) == []
    bad = json.loads(json.dumps(POD_BODY))
    bad["spec"]["containers"][0]["imagee"] = "x"
    bad["spec"]["volumes"][0]["emptyDir"]["sizeLimitt"] = "1Gi"
    bad["statuss"] = {}
    assert unknown_fields(shape, bad) == ["spec.containers[0].imagee", "spec.volumes[0].emptyDir.sizeLimitt", "statuss"]


def test_strategic_merge_patch_directives_are_not_fields():
    patch = {"spec": {"$setElementOrder/containers": [{"name": "c"}],
                      "containers": [{"name": "c", "$patch": "delete"}], "nodeName": None, "gone": None}}
    assert unknown_fields(kind_shape(POD), patch, patch=True) == []


def test_check_strict_warn_ignore():
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"}, "spec": {"foo": 1}}
    raw = json.dumps(body).encode()
    assert check_fields(DEPLOYMENT, None, body, raw) == []
    assert check_fields(DEPLOYMENT, "Ignore", body, raw) == []
    assert check_fields(DEPLOYMENT, "Warn", body, raw) == ['unknown field "spec.foo"']
    with pytest.raises(errors.APIError) as err:
        check_fields(DEPLOYMENT, "Strict", body, raw)
    assert err.value.code == 400 and err.value.message == (
        'Deployment in version "v1" cannot be handled as a Deployment: strict decoding error: unknown field "spec.foo"')
    with pytest.raises(errors.APIError) as err:
        check_fields(DEPLOYMENT, "Strict", {"spec": {"foo": 1}}, b'{"spec":{"foo":1}}', "strategic")
    assert err.value.code == 422 and err.value.details["causes"][0]["field"] == "patch"


def test_json_patch_paths():
    from minikube_py.apiserver.openapi.fieldvalidation import json_patch_unknown_fields
    shape = kind_shape(POD)
    ops = [{"op": "add", "path": "/spec/containers/0/imagee", "value": "x"},
           {"op": "replace", "path": "/spec/containers/0", "value": {"name": "c", "tty": True, "ttyy": 1}},
           {"op": "add", "path": "/metadata/labels/a~1b", "value": "ok"},
           {"op": "remove", "path": "/spec/foo"}]
    assert json_patch_unknown_fields(shape, ops) == ["spec.containers[0].imagee", "spec.containers[0].ttyy"]


def test_duplicate_fields():
    assert duplicate_fields(b'{"a":1,"b":{"c":1,"c":2},"l":[{"x":1,"x":1}],"a":2}') == ["a", "b.c", "l[0].x"]
    assert duplicate_fields(b'{"a":1}') == []


def test_warning_header():
    assert warning_header('unknown field "spec.foo"') == '299 - "unknown field \\"spec.foo\\""'


# ---------------------------------------------------------------- the subset against upstream

def _upstream_model(descriptor):
    """The official Python client's model of a message: its attribute_map is upstream's JSON fields."""
    models = pytest.importorskip("kubernetes.client.models")
    package = descriptor.full_name.rsplit(".", 1)[0]
    version, group = package.rsplit(".", 1)[1].capitalize(), package.split(".")[-2].capitalize()
    for name in (f"{version}{descriptor.name}", f"Core{version}{descriptor.name}", f"{group}{version}{descriptor.name}"):
        if hasattr(models, name):
            return getattr(models, name)
    return None


def test_every_described_field_is_upstreams_or_reserved():
    """A message a kind uses lists each field of upstream's type, as a field or as `reserved`:
    otherwise field validation would refuse a valid manifest ("unknown field")."""
    missing, seen = {}, set()
    todo = [MESSAGES[k.proto].DESCRIPTOR for k in BUILTIN_KINDS if k.proto]
    while todo:
        d = todo.pop()
        if d.full_name in seen or d.full_name in SPECIAL:
            continue
        seen.add(d.full_name)
        ours = {name for name, _ in object_fields(d)} | set(reserved_names(d))
        model = _upstream_model(d)
        if model is not None:
            gap = set(model.attribute_map.values()) - ours - {"apiVersion", "kind"}
            if gap:
                missing[d.full_name] = sorted(gap)
        for f in d.fields:
            t = f.message_type
            if t is not None and t.GetOptions().map_entry:
                t = t.fields_by_name["value"].message_type
            if t is not None:
                todo.append(t)
    assert not missing, f"add these to the messages, or to their `reserved` list: {missing}"


def test_a_kind_nothing_describes_is_any_object():
    scheme = Scheme(BUILTIN_KINDS)
    scheme.register(Kind("example.com", "v1", "Thing", "things"))
    schemas = json.loads(Documents(scheme).current().v3["apis/example.com/v1"])["components"]["schemas"]
    assert schemas["com.example.v1.Thing"]["x-kubernetes-preserve-unknown-fields"] is True
    assert check_fields(scheme.by_kind("Thing"), "Strict", {"spec": {"x": 1}}, b'{"spec":{"x":1}}') == []


def test_definitions_builder_is_reusable():
    defs = Definitions(v3=False)
    name = defs.kind(POD)
    assert name == "io.k8s.api.core.v1.Pod" and "io.k8s.api.core.v1.PodList" in defs.defs
