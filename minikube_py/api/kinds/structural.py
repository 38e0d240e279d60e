"""A CRD's openAPIV3Schema at work: is it structural, and what it does to a custom object.

apiextensions.k8s.io/v1 requires a *structural* schema: every field the schema names has
a `type` (or is `x-kubernetes-int-or-string` / `x-kubernetes-preserve-unknown-fields`),
so the apiserver knows the shape of every object. With that shape it does three things
to each custom object it is asked to store, in Kubernetes' order:

  prune     fields the schema does not name are dropped (unless a node says
            `x-kubernetes-preserve-unknown-fields: true`), as the decoder does
  default   `default:` values fill in fields that are missing (or null and not nullable)
  validate  types, required, enum, minimum/maximum, pattern, lengths, items, ... ;
            each failure is a field cause worded as kube-apiserver words it:
            `spec.replicas: Invalid value: "string": spec.replicas in body must be of type integer: "string"`

The value checks are OpenAPI v3.0's subset of JSON Schema draft 4, so the `jsonschema`
library's Draft4Validator does them, on the schema rewritten for JSON Schema (`nullable`
and `x-kubernetes-int-or-string` become type lists). Only the messages are ours.
"""
from __future__ import annotations

import copy
import json
import re

from jsonschema import Draft4Validator
from jsonschema.exceptions import SchemaError

from ..validation import forbidden, invalid, not_supported, required

TYPES = ("array", "boolean", "integer", "number", "object", "string")
_JSON_TYPE = {bool: "boolean", int: "integer", float: "number", str: "string", dict: "object",
              list: "array", type(None): "null"}
_ROOT_KEPT = ("apiVersion", "kind", "metadata")


def json_type(value) -> str:
    return _JSON_TYPE.get(type(value), type(value).__name__)


# ---------------------------------------------------------------- is the schema structural?
def schema_errors(schema, path: str, root: bool = True) -> list:
    """Causes that make a CRD version's openAPIV3Schema unusable (as apiextensions checks it)."""
    if not isinstance(schema, dict):
        return [invalid(path, schema, "must be an object")]
    causes = []
    for key, why in (("$ref", "$ref is not supported"), ("id", "id is not supported"),
                     ("additionalItems", "additionalItems is not supported"),
                     ("patternProperties", "patternProperties is not supported"),
                     ("definitions", "definitions is not supported"),
                     ("dependencies", "dependencies is not supported")):
        if key in schema:
            causes.append(forbidden(f"{path}.{key}", why))
    if schema.get("uniqueItems") is True:
        causes.append(forbidden(f"{path}.uniqueItems", "uniqueItems cannot be set to true since "
                                                       "the runtime complexity becomes quadratic"))
    type_ = schema.get("type")
    int_or_string = schema.get("x-kubernetes-int-or-string") is True
    preserve = schema.get("x-kubernetes-preserve-unknown-fields")
    if preserve is False:
        causes.append(invalid(f"{path}.x-kubernetes-preserve-unknown-fields", False, "must be true or undefined"))
    if type_ == "null":
        causes.append(forbidden(f"{path}.type", "type cannot be set to null"))
    elif type_ is not None and type_ not in TYPES:
        causes.append(not_supported(f"{path}.type", type_, TYPES))
    if isinstance(schema.get("pattern"), str) and not matches_pattern(schema["pattern"]):
        causes.append(invalid(f"{path}.pattern", schema["pattern"], "must be a valid regular expression"))
    if root:
        if type_ is None:
            causes.append(required(f"{path}.type", "must not be empty at the root"))
        elif type_ != "object":
            causes.append(invalid(f"{path}.type", type_, "must be object at the root"))
        md = (schema.get("properties") or {}).get("metadata")
        if isinstance(md, dict) and set(md.get("properties") or {}) - {"name", "generateName"}:
            causes.append(forbidden(f"{path}.properties[metadata]", "must not specify anything other "
                                    "than name and generateName, but metadata is implicitly specified"))
    if int_or_string and type_ is not None:
        causes.append(invalid(f"{path}.type", type_, "must be empty if x-kubernetes-int-or-string is true"))
    props = schema.get("properties")
    addl = schema.get("additionalProperties")
    if props and addl is not None and addl is not True:
        causes.append(forbidden(f"{path}.additionalProperties",
                                "additionalProperties and properties are mutual exclusive"))
    if isinstance(props, dict):
        for name, sub in props.items():
            causes += _child_errors(sub, f"{path}.properties[{name}]", "object fields")
    if isinstance(addl, dict):
        causes += _child_errors(addl, f"{path}.additionalProperties", "object fields")
    items = schema.get("items")
    if isinstance(items, list):
        causes.append(forbidden(f"{path}.items", "items must be a schema object and not an array"))
    elif isinstance(items, dict):
        causes += _child_errors(items, f"{path}.items", "array items")
    elif type_ == "array":
        causes.append(required(f"{path}.items", "must be specified"))
    for combinator in ("allOf", "anyOf", "oneOf"):
        for i, sub in enumerate(schema.get(combinator) or []):
            causes += schema_errors(sub, f"{path}.{combinator}[{i}]", root=False)
    if root and not causes:
        try:
            validator_for(schema)
        except ValueError as err:
            causes.append(invalid(path, "", str(err)))
    if "default" in schema and not causes:
        # A default must itself be a valid value of its field (after pruning).
        value = copy.deepcopy(schema["default"])
        prune(value, schema, root=False)
        for cause in validate(value, schema, prefix="<default>"):
            causes.append(invalid(f"{path}.default", schema["default"], cause["message"]))
    return causes


def _child_errors(sub, path: str, what: str) -> list:
    causes = schema_errors(sub, path, root=False)
    if isinstance(sub, dict) and not sub.get("type") and not sub.get("x-kubernetes-int-or-string") \
            and not sub.get("x-kubernetes-preserve-unknown-fields"):
        causes.append(required(f"{path}.type", f"must not be empty for specified {what}"))
    return causes


# ---------------------------------------------------------------- pruning and defaulting
def prune(value, schema, root: bool = True):
    """Drop, in place, every field the schema does not name."""
    if not isinstance(schema, dict):
        return
    if isinstance(value, dict):
        props = schema.get("properties")
        addl = schema.get("additionalProperties")
        keep_unknown = schema.get("x-kubernetes-preserve-unknown-fields") is True or addl is True
        embedded = schema.get("x-kubernetes-embedded-resource") is True
        for key in list(value):
            if (root or embedded) and key in _ROOT_KEPT:
                continue            # metadata is ObjectMeta: the apiserver's, not the schema's
            if props and key in props:
                prune(value[key], props[key], root=False)
            elif isinstance(addl, dict):
                prune(value[key], addl, root=False)
            elif not keep_unknown:
                del value[key]
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            prune(item, schema["items"], root=False)


def default(value, schema, root: bool = True):
    """Fill in, in place, the `default:` of every missing field (and of null non-nullable ones)."""
    if not isinstance(schema, dict):
        return
    if isinstance(value, dict):
        props = schema.get("properties") or {}
        for key, sub in props.items():
            if not isinstance(sub, dict) or (root and key == "metadata"):
                continue
            if "default" in sub and (key not in value or (value[key] is None and not sub.get("nullable"))):
                value[key] = copy.deepcopy(sub["default"])
        for key, item in value.items():
            if root and key in _ROOT_KEPT:
                continue
            if key in props:
                default(item, props[key], root=False)
            elif isinstance(schema.get("additionalProperties"), dict):
                default(item, schema["additionalProperties"], root=False)
    elif isinstance(value, list) and isinstance(schema.get("items"), dict):
        for item in value:
            default(item, schema["items"], root=False)


# ---------------------------------------------------------------- validation
def to_json_schema(schema):
    """OpenAPI v3.0 (Kubernetes' dialect) -> JSON Schema draft 4, which jsonschema checks."""
    if isinstance(schema, list):
        return [to_json_schema(s) for s in schema]
    if not isinstance(schema, dict):
        return schema
    out = {}
    for key, sub in schema.items():
        if key in ("properties",) and isinstance(sub, dict):
            out[key] = {name: to_json_schema(s) for name, s in sub.items()}
        elif key in ("items", "additionalProperties", "not", "allOf", "anyOf", "oneOf"):
            out[key] = to_json_schema(sub)
        elif key in ("format", "default", "example", "nullable") or key.startswith("x-"):
            continue        # formats: Kubernetes checks a few; we check none (see module docstring)
        else:
            out[key] = sub
    types = ["integer", "string"] if schema.get("x-kubernetes-int-or-string") else \
        [schema["type"]] if isinstance(schema.get("type"), str) else []
    if types:
        out["type"] = types + (["null"] if schema.get("nullable") else [])
        if len(out["type"]) == 1:
            out["type"] = out["type"][0]
    if schema.get("nullable") and "enum" in out:
        out["enum"] = list(out["enum"]) + [None]
    return out


def validator_for(schema: dict) -> Draft4Validator:
    """The checker of one schema; build it once per CRD version (customresource.py keeps it)."""
    js = to_json_schema(schema)
    try:
        Draft4Validator.check_schema(js)
    except SchemaError as err:
        raise ValueError(f"error building validator: {err.message}") from None
    return Draft4Validator(js)


def _path(parts, prefix: str = "") -> str:
    out = prefix
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out


def validate(obj, schema: dict, prefix: str = "", validator: Draft4Validator | None = None) -> list:
    """Field causes for every way obj breaks the schema, worded as kube-apiserver words them.

    The root's apiVersion, kind and metadata are the apiserver's business (checked as
    for every kind), so they are left out here unless the schema is about a field.
    """
    if prefix == "" and isinstance(obj, dict):
        obj = {k: v for k, v in obj.items() if k not in _ROOT_KEPT}
    causes = []
    validator = validator or validator_for(schema)
    for err in sorted(validator.iter_errors(obj), key=lambda e: list(map(str, e.absolute_path))):
        causes += _cause(err, _path(err.absolute_path, prefix))
    return causes


def _bound(value) -> str:
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def _cause(err, path: str) -> list:
    """One jsonschema error as the field cause kube-openapi's validator gives for it."""
    kw, want, value = err.validator, err.validator_value, err.instance
    name = path or "<root>"
    if kw == "required":
        return [required(f"{path}.{p}" if path else p) for p in want
                if isinstance(value, dict) and p not in value]
    if kw == "type":
        got = json_type(value)
        wanted = ",".join(want) if isinstance(want, list) else want
        return [{"type": "FieldValueTypeInvalid", "field": name,
                 "message": f'Invalid value: "{got}": {name} in body must be of type {wanted}: "{got}"'}]
    if kw == "enum":
        return [not_supported(name, value, [v if isinstance(v, str) else json.dumps(v) for v in want])]
    if kw == "maxLength":
        return [{"type": "FieldValueTooLong", "field": name, "message": f"Too long: may not be longer than {want}"}]
    if kw in ("maxItems", "maxProperties"):
        what = "items" if kw == "maxItems" else "properties"
        return [{"type": "FieldValueTooMany", "field": name,
                 "message": f"Too many: {len(value)}: must have at most {want} {what}"}]
    exclusive = err.schema.get("exclusiveMinimum" if kw == "minimum" else "exclusiveMaximum")
    detail = {
        "minimum": f"should be greater than {'' if exclusive else 'or equal to '}{_bound(want)}",
        "maximum": f"should be less than {'' if exclusive else 'or equal to '}{_bound(want)}",
        "minLength": f"should be at least {want} chars long",
        "pattern": f"should match '{want}'",
        "minItems": f"should have at least {want} items",
        "minProperties": f"should have at least {want} properties",
        "multipleOf": f"should be a multiple of {_bound(want)}",
        "additionalProperties": "must not have properties the schema does not name",
    }.get(kw)
    if detail is None:
        detail = err.message
    return [invalid(name, value, f"{name} in body {detail}")]


def matches_pattern(pattern: str) -> bool:
    try:
        re.compile(pattern)
        return True
    except re.error:
        return False
