"""A CRD's structural schema: pruning, defaulting, validation messages, and CRD validation."""
import copy

import pytest
import yaml

from minikube_py.api.kinds import apply_defaults, validate
from minikube_py.api.kinds.apiextensions import CUSTOM_RESOURCE_DEFINITION as CRD
from minikube_py.api.kinds.customresource import cell, kinds_of, printer
from minikube_py.api.kinds.structural import default, prune, schema_errors
from minikube_py.api.kinds.structural import validate as check

SCHEMA = {"type": "object", "properties": {
    "spec": {"type": "object", "properties": {
        "port": {"x-kubernetes-int-or-string": True},
        "name": {"type": "string", "nullable": True, "maxLength": 3},
        "mode": {"type": "string", "enum": ["a", "b"], "default": "a"},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "raw": {"x-kubernetes-preserve-unknown-fields": True},
        "nested": {"type": "object", "properties": {"x": {"type": "integer", "default": 7}},
                   "default": {}},
        "ratio": {"type": "number", "minimum": 0, "exclusiveMinimum": True},
    }, "required": ["mode"]}}}


def shaped(obj):
    prune(obj, SCHEMA)
    default(obj, SCHEMA)
    return obj


def test_pruning_keeps_what_the_schema_names_and_preserved_subtrees():
    obj = shaped({"apiVersion": "x/v1", "kind": "K", "metadata": {"name": "n", "whatever": 1},
                  "top": 1, "spec": {"junk": 1, "labels": {"a": "b"}, "raw": {"any": {"thing": [1]}},
                                     "nested": {"x": 1, "y": 2}}})
    assert obj == {"apiVersion": "x/v1", "kind": "K", "metadata": {"name": "n", "whatever": 1},
                   "spec": {"labels": {"a": "b"}, "raw": {"any": {"thing": [1]}}, "nested": {"x": 1},
                            "mode": "a"}}


def test_defaults_fill_missing_and_null_fields_and_nested_defaults():
    assert shaped({"spec": {"mode": None}})["spec"] == {"mode": "a", "nested": {"x": 7}}
    assert shaped({"spec": {"name": None}})["spec"]["name"] is None      # nullable: kept


def test_validation_messages_are_kubernetes_words():
    causes = check({"spec": {"port": True, "name": "long", "mode": "c", "tags": ["a", "b", "c"],
                             "labels": {"k": 1}, "ratio": 0}}, SCHEMA)
    assert {c["field"]: c["message"] for c in causes} == {
        "spec.port": 'Invalid value: "boolean": spec.port in body must be of type integer,string: "boolean"',
        "spec.name": "Too long: may not be longer than 3",
        "spec.mode": 'Unsupported value: "c": supported values: "a", "b"',
        "spec.tags": "Too many: 3: must have at most 2 items",
        "spec.labels.k": 'Invalid value: "integer": spec.labels.k in body must be of type string: "integer"',
        "spec.ratio": "Invalid value: 0: spec.ratio in body should be greater than 0",
    }
    assert check({"spec": {}}, SCHEMA) == [{"type": "FieldValueRequired", "field": "spec.mode",
                                            "message": "Required value"}]
    assert check({"spec": {"port": "http", "name": None, "mode": "b"}}, SCHEMA) == []


def test_schemas_must_be_structural():
    bad = {"type": "object", "properties": {"spec": {"properties": {"a": {"type": "null"}}},
                                            "list": {"type": "array"},
                                            "m": {"type": "object", "properties": {"a": {"type": "string"}},
                                                  "additionalProperties": {"type": "string"}},
                                            "d": {"type": "integer", "default": "x"}}}
    fields = {c["field"]: c["message"] for c in schema_errors(bad, "s")}
    assert fields["s.properties[spec].type"] == "Required value: must not be empty for specified object fields"
    assert fields["s.properties[spec].properties[a].type"] == "Forbidden: type cannot be set to null"
    assert fields["s.properties[list].items"] == "Required value: must be specified"
    assert fields["s.properties[m].additionalProperties"].startswith("Forbidden: additionalProperties and")
    assert "must be of type integer" in fields["s.properties[d].default"]
    assert schema_errors({"type": "string"}, "s") == [
        {"type": "FieldValueInvalid", "field": "s.type", "message": 'Invalid value: "string": must be object at the root'}]


def crontab():
    return yaml.safe_load(open("examples/crds/crontab-printer-columns-crd.yaml"))


def test_crd_defaults_and_a_valid_crd():
    crd = apply_defaults(CRD, crontab())
    assert crd["spec"]["names"]["listKind"] == "CronTabList"
    assert crd["spec"]["conversion"] == {"strategy": "None"}
    assert crd["status"]["storedVersions"] == ["v1"]
    assert validate(CRD, crd) == []


@pytest.mark.parametrize("group, message", [
    ("example", "should be a domain with at least one dot"),
    ("Stable.example.com", "a lowercase RFC 1123 subdomain"),
])
def test_crd_group_rules(group, message):
    crd = crontab()
    crd["spec"]["group"] = group
    crd["metadata"]["name"] = f"crontabs.{group}"
    assert any(c["field"] == "spec.group" and message in c["message"] for c in validate(CRD, crd))


def test_protected_groups_need_the_approval_annotation():
    crd = apply_defaults(CRD, crontab())
    crd["spec"]["group"] = "stable.k8s.io"
    crd["metadata"]["name"] = "crontabs.stable.k8s.io"
    assert [c["field"] for c in validate(CRD, crd)] == ["metadata.annotations[api-approved.kubernetes.io]"]


def test_printer_columns_and_kinds_of_a_crd():
    kind = kinds_of(crontab())[0]
    assert (kind.api_version, kind.plural, kind.singular, kind.short_names, kind.namespaced) == \
        ("stable.example.com/v1", "crontabs", "crontab", ("ct",), True)
    assert kind.etcd_key("ns", "x") == "/registry/stable.example.com/crontabs/ns/x"
    assert [c["name"] for c in kind.columns] == ["Name", "Spec", "Replicas", "Age"]
    row = kind.row({"metadata": {"name": "a", "creationTimestamp": "2020-01-01T00:00:00Z"},
                    "spec": {"cronSpec": "* * *", "replicas": "x"}})
    assert row[:3] == ["a", "* * *", None] and "y" in row[3]         # a wrong type is left out
    columns, row = printer([{"name": "Ready", "type": "string",
                             "jsonPath": '.status.conditions[?(@.type=="Ready")].status'}])
    assert row({"metadata": {"name": "a"}, "status": {"conditions": [{"type": "X", "status": "False"},
                                                                      {"type": "Ready", "status": "True"}]}}) \
        == ["a", "True"]
    assert cell("string", {"a": 1}) == '{"a": 1}' and cell("boolean", True) is True


def test_deep_copies_of_defaults():
    schema = copy.deepcopy(SCHEMA)
    a, b = {"spec": {"mode": "a"}}, {"spec": {"mode": "a"}}
    default(a, schema)
    default(b, schema)
    a["spec"]["nested"]["x"] = 1
    assert b["spec"]["nested"]["x"] == 7
