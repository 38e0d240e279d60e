"""`?fieldValidation=Strict|Warn|Ignore`: unknown and duplicate fields in a request body.

kube-apiserver decodes a body into its Go type; a field the type does not have is
dropped -- silently (Ignore), with a `Warning: 299 - "unknown field \\"spec.foo\\""`
header (Warn), or the request fails (Strict):

    create/update  400  Deployment in version "v1" cannot be handled as a Deployment:
                        strict decoding error: unknown field "spec.foo"
    patch          422  the patched object fails the same way, reported on field `patch`

kubectl 1.32 sends Strict on create and apply unless told `--validate=false|warn`, so
this runs on every `kubectl apply`; clients that do not ask (controllers, kubelets, the
Python client) pay nothing. "Known" fields are those of the kind's protobuf message,
plus the upstream fields it names as left out (`reserved`), so a manifest from the
Kubernetes docs is never refused for a field this subset does not describe. A kind with
its own schema (a CRD) knows the fields of that schema.
"""
from __future__ import annotations

import json
import threading
from typing import Optional

from .. import errors
from ..protobuf import MAGIC, MESSAGES, SPECIAL as SPECIAL_MESSAGES
from .schema import object_fields, is_map, reserved_names

STRICT, WARN = "Strict", "Warn"

# A compiled shape: ("object", Fields) | ("list", shape) | ("map", shape) | ANY
ANY = ("any", None)


class Fields:
    """The fields one JSON object may have; `open`: any field (x-kubernetes-preserve-unknown-fields)."""
    __slots__ = ("known", "open")

    def __init__(self, open_: bool = False):
        self.known: dict[str, tuple] = {}
        self.open = open_


_by_message: dict[str, Fields] = {}
_by_schema: dict[int, tuple] = {}        # id(Kind.schema) -> (schema, shape): the schema is held
_lock = threading.Lock()


def kind_shape(kind) -> tuple:
    """The shape of an object of this kind (compiled once per message or schema)."""
    with _lock:
        if kind.schema is not None:
            hit = _by_schema.get(id(kind.schema))
            if hit is None or hit[0] is not kind.schema:
                hit = _by_schema[id(kind.schema)] = (kind.schema, _from_schema(kind.schema, top=True))
            return hit[1]
        if kind.proto not in MESSAGES:
            return ANY
        fields = _message(MESSAGES[kind.proto].DESCRIPTOR)
        top = Fields()
        top.known = dict(fields.known, apiVersion=ANY, kind=ANY)
        return ("object", top)


def _message(descriptor) -> Fields:
    fields = _by_message.get(descriptor.full_name)
    if fields is None:
        fields = _by_message[descriptor.full_name] = Fields()    # before the fields: messages may recurse
        for name, field in object_fields(descriptor):
            fields.known[name] = _field(field)
        for name in reserved_names(descriptor):
            fields.known.setdefault(name, ANY)
    return fields


def _field(field) -> tuple:
    if is_map(field):
        return ("map", _value(field.message_type.fields_by_name["value"]))
    if field.is_repeated:
        return ("list", _value(field))
    return _value(field)


def _value(field) -> tuple:
    if field.message_type is None or field.message_type.full_name in SPECIAL_MESSAGES:
        return ANY
    return ("object", _message(field.message_type))


def _from_schema(schema: dict, top: bool = False) -> tuple:
    """A structural (CRD) schema's shape."""
    if not isinstance(schema, dict):
        return ANY
    if schema.get("type") == "array":
        return ("list", _from_schema(schema.get("items") or {}))
    props = schema.get("properties")
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict) and not props:
        return ("map", _from_schema(extra))
    if props is None and not top:
        return ANY                                   # a free-form value: nothing to check
    fields = Fields(open_=bool(schema.get("x-kubernetes-preserve-unknown-fields")) or extra is True)
    fields.known = {name: _from_schema(sub) for name, sub in (props or {}).items()}
    if top:
        fields.known.update(apiVersion=ANY, kind=ANY, metadata=ANY)
    return ("object", fields)


# ---------------------------------------------------------------- finding them

def unknown_fields(shape: tuple, value, path: str = "", patch: bool = False, out=None) -> list[str]:
    """Paths (`spec.template.spec.containers[0].foo`) of the fields `shape` does not know.

    `patch`: value is a merge or strategic merge patch -- `$`-directives and nulls
    (deletions) are not fields."""
    out = [] if out is None else out
    kind, inner = shape
    if kind == "object" and isinstance(value, dict):
        if inner.open:
            return out
        for key, sub in value.items():
            if patch and (key.startswith("$") or sub is None):
                continue
            where = f"{path}.{key}" if path else key
            child = inner.known.get(key)
            if child is None:
                out.append(where)
            elif child is not ANY:
                unknown_fields(child, sub, where, patch, out)
    elif kind == "list" and isinstance(value, list) and inner is not ANY:
        for i, item in enumerate(value):
            unknown_fields(inner, item, f"{path}[{i}]", patch, out)
    elif kind == "map" and isinstance(value, dict) and inner is not ANY:
        for key, item in value.items():
            unknown_fields(inner, item, f"{path}[{key}]", patch, out)
    return out


def json_patch_unknown_fields(shape: tuple, ops) -> list[str]:
    """The unknown fields a JSON patch would add: each add/replace's path and value."""
    out = []
    for op in ops if isinstance(ops, list) else ():
        if not isinstance(op, dict) or op.get("op") not in ("add", "replace") or not isinstance(op.get("path"), str):
            continue
        here, path = shape, ""
        for seg in (s.replace("~1", "/").replace("~0", "~") for s in op["path"].split("/")[1:]):
            kind, inner = here
            if kind == "object":
                path = f"{path}.{seg}" if path else seg
                if inner.open:
                    here = ANY
                    break
                here = inner.known.get(seg)
                if here is None:
                    out.append(path)
                    break
            elif kind in ("list", "map"):
                path += f"[{seg}]"
                here = inner
            else:
                break
        else:
            unknown_fields(here, op.get("value"), path, False, out)
    return out


def duplicate_fields(data: bytes) -> list[str]:
    """Paths of keys given twice in one JSON object (orjson, like Go, keeps the last one)."""
    objects = []         # first the cheap question, answered at C speed: any duplicate at all?
    try:
        json.loads(data, object_pairs_hook=objects.append)
    except ValueError:
        return []
    if all(len(pairs) == len(dict(pairs)) for pairs in objects if len(pairs) > 1):
        return []
    found = []

    def pairs(items):
        obj = _Object()
        for key, value in items:
            if key in obj:
                obj.dups.append(key)
            obj[key] = value
        return obj
    try:
        parsed = json.loads(data, object_pairs_hook=pairs)
    except ValueError:
        return []
    _dup_paths(parsed, "", found)
    return found


class _Object(dict):
    __slots__ = ("dups",)

    def __init__(self):
        super().__init__()
        self.dups = []


def _dup_paths(value, path, out):
    if isinstance(value, _Object):
        out.extend(f"{path}.{k}" if path else k for k in value.dups)
        for key, sub in value.items():
            _dup_paths(sub, f"{path}.{key}" if path else key, out)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            _dup_paths(item, f"{path}[{i}]", out)


# ---------------------------------------------------------------- the request

def check(kind, directive: Optional[str], body, raw: bytes, patch_type: Optional[str] = None) -> list[str]:
    """Check a create/update (patch_type None) or patch body as `directive` asks.

    Strict: raises the APIError kube-apiserver answers. Warn: returns the warnings
    (`unknown field "spec.foo"`). Otherwise (Ignore, absent) returns [] at once."""
    if directive not in (STRICT, WARN):
        return []
    shape = kind_shape(kind)
    if patch_type == "json":
        unknown = json_patch_unknown_fields(shape, body)
    elif patch_type in (None, "merge", "strategic"):
        unknown = unknown_fields(shape, body, patch=patch_type is not None)
    else:
        return []       # server-side apply (YAML) is checked where it is decoded
    problems = [f'unknown field "{p}"' for p in unknown]
    if not raw.startswith(MAGIC):                   # protobuf cannot repeat a field
        problems += [f'duplicate field "{p}"' for p in duplicate_fields(raw)]
    if not problems or directive == WARN:
        return problems
    message = "strict decoding error: " + ", ".join(problems)
    if patch_type is None:
        raise errors.bad_request(f'{kind.kind} in version "{kind.version}" cannot be handled as a '
                                 f'{kind.kind}: {message}')
    value = raw.decode("utf-8", "replace")
    raise errors.APIError(422, "Invalid", f' "" is invalid: patch: Invalid value: "{value}": {message}',
                          {"causes": [{"reason": "FieldValueInvalid", "field": "patch",
                                       "message": f'Invalid value: "{value}": {message}'}]})


def warning_header(text: str) -> str:
    """An RFC 7234 warning as kube-apiserver writes it: `299 - "unknown field \\"spec.foo\\""`."""
    return "299 - " + json.dumps(text, ensure_ascii=False)
