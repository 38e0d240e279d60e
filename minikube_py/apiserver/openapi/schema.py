"""OpenAPI schemas of the kinds, read off their protobuf messages.

Kubernetes generates its OpenAPI definitions from its Go types; here the protobuf
messages of k8sproto/ are those types (the same field names as the JSON), so walking
their descriptors gives the same definitions, named as Kubernetes names them
(`io.k8s.api.apps.v1.Deployment`):

    message            -> {"type": "object", "properties": ...}
    repeated field     -> {"type": "array", "items": ...}
    map field          -> {"type": "object", "additionalProperties": ...}
    embedded Go struct -> its fields inline (protobuf.INLINE: a Volume's volumeSource)
    Quantity, IntOrString, Time, MicroTime, FieldsV1, RawExtension -> their JSON forms (SPECIAL below)

Lists that strategic merge patch merges by key (api/patch.py's MERGE_KEYS) carry the
`x-kubernetes-patch-merge-key` / `-strategy` and `list-type` extensions: kubectl apply
computes its patches from them. Upstream fields a message leaves out are named in its
`reserved` list (see core.proto); they appear as fields we accept but do not describe.
A kind that brings its own schema (a CRD's, `Kind.schema`) is used as it is.
"""
from __future__ import annotations

from google.protobuf import descriptor_pb2
from google.protobuf.descriptor import FieldDescriptor

from ...api import patch as patching
from ..k8sproto import meta_pb2
from ..k8sproto.descriptions import DESCRIPTIONS
from ..protobuf import INLINE, MESSAGES

# The messages whose JSON is not an object of their fields (protobuf.SPECIAL decodes them).
SPECIAL = {
    "k8s.io.apimachinery.pkg.api.resource.Quantity": {"type": "string"},
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": {"type": "string", "format": "int-or-string",
                                                        "x-kubernetes-int-or-string": True},
    "k8s.io.apimachinery.pkg.apis.meta.v1.Time": {"type": "string", "format": "date-time"},
    "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime": {"type": "string", "format": "date-time"},
    "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1": {"type": "object"},
    "k8s.io.apimachinery.pkg.runtime.RawExtension": {"type": "object"},
}

# OpenAPI v3 can say "either" (kubectl explain then names the type: <IntOrString>, <Quantity>)
SPECIAL_V3 = {
    "k8s.io.apimachinery.pkg.api.resource.Quantity": {"oneOf": [{"type": "string"}, {"type": "number"}]},
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": {"format": "int-or-string", "x-kubernetes-int-or-string": True,
                                                        "oneOf": [{"type": "integer"}, {"type": "string"}]},
}

SCALARS = {
    FieldDescriptor.TYPE_STRING: {"type": "string"},
    FieldDescriptor.TYPE_BYTES: {"type": "string", "format": "byte"},
    FieldDescriptor.TYPE_BOOL: {"type": "boolean"},
    FieldDescriptor.TYPE_INT32: {"type": "integer", "format": "int32"},
    FieldDescriptor.TYPE_INT64: {"type": "integer", "format": "int64"},
    FieldDescriptor.TYPE_DOUBLE: {"type": "number", "format": "double"},
    FieldDescriptor.TYPE_FLOAT: {"type": "number", "format": "double"},
}

UNDESCRIBED = ("Accepted and stored as given; this apiserver's schema does not describe it "
               "(a field of Kubernetes that minikube-py's protobuf subset leaves out).")


def definition_name(kind) -> str:
    """`io.k8s.api.apps.v1.Deployment`; for a CRD, its group reversed: `com.example.stable.v1.CronTab`."""
    if kind.schema is None and kind.proto in MESSAGES:
        return message_name(kind.proto)
    return ".".join(reversed(kind.group.split("."))) + f".{kind.version}.{kind.kind}"


def message_name(full_name: str) -> str:
    """A proto message's definition name: the package k8s.io.api.apps.v1 is io.k8s.api.apps.v1."""
    return "io.k8s." + full_name[len("k8s.io."):] if full_name.startswith("k8s.io.") else full_name


def reserved_names(descriptor) -> list[str]:
    """The upstream fields a message leaves out (its `reserved "name", ...;` lines), with
    those of the structs embedded in it (a Volume's are its VolumeSource's)."""
    proto = descriptor_pb2.DescriptorProto()
    descriptor.CopyToProto(proto)
    names = list(proto.reserved_name)
    for field in descriptor.fields:
        if field.name in INLINE.get(descriptor.name, ()):
            names += reserved_names(field.message_type)
    return names


def is_map(field) -> bool:
    return field.message_type is not None and field.message_type.GetOptions().map_entry


def object_fields(descriptor):
    """(JSON name, field descriptor) of a message, with embedded structs' fields inline."""
    for field in descriptor.fields:
        if field.name in INLINE.get(descriptor.name, ()):
            yield from object_fields(field.message_type)
        else:
            yield field.name, field


def merge_key(field) -> str | None:
    """The key strategic merge patch merges this list by (MERGE_KEYS), None if it replaces it."""
    if field.name not in patching.MERGE_KEYS or field.message_type is None:
        return None
    item_fields = dict(object_fields(field.message_type))
    key = patching.MERGE_KEYS[field.name] or ("containerPort" if "containerPort" in item_fields else "port")
    return key if key in item_fields else None


class Definitions:
    """Builds the definitions of messages and kinds; `ref` writes a reference to one:
    `#/definitions/X` in OpenAPI v2, `#/components/schemas/X` in v3."""

    def __init__(self, v3: bool):
        self.v3 = v3
        self.defs: dict[str, dict] = {}

    def ref(self, name: str, in_property: bool = True) -> dict:
        if not self.v3:
            return {"$ref": f"#/definitions/{name}"}
        target = {"$ref": f"#/components/schemas/{name}"}
        # v3 puts a reference beside siblings (description, default) through allOf, as upstream does
        return {"allOf": [target], "default": {}} if in_property else target

    # ------------------------------------------------------------ messages
    def message(self, descriptor) -> str:
        """Define a message (and every message it uses); returns its definition name."""
        name = message_name(descriptor.full_name)
        if name in self.defs:
            return name
        if descriptor.full_name in SPECIAL:
            special = (SPECIAL_V3 if self.v3 else {}).get(descriptor.full_name) or SPECIAL[descriptor.full_name]
            self.defs[name] = _described(dict(special), descriptor.full_name)
            return name
        schema = self.defs[name] = _described({"type": "object"}, descriptor.full_name)
        props = {}
        for json_name, field in object_fields(descriptor):
            props[json_name] = _described(self.field(field), f"{field.containing_type.full_name}.{json_name}",
                                          json_name)
        for json_name in reserved_names(descriptor):
            props.setdefault(json_name, {"description": UNDESCRIBED, "x-kubernetes-preserve-unknown-fields": True})
        schema["properties"] = props
        return name

    def field(self, field) -> dict:
        if is_map(field):
            return {"type": "object", "additionalProperties": self.value(field.message_type.fields_by_name["value"])}
        if field.is_repeated:
            schema = {"type": "array", "items": self.value(field, in_property=False)}
            key = merge_key(field)
            if key:
                schema.update({"x-kubernetes-list-map-keys": [key], "x-kubernetes-list-type": "map",
                               "x-kubernetes-patch-merge-key": key, "x-kubernetes-patch-strategy": "merge"})
            elif field.message_type is None and patching._is_set_list(("metadata",), field.name) and \
                    field.containing_type.name == "ObjectMeta":
                schema.update({"x-kubernetes-list-type": "set", "x-kubernetes-patch-strategy": "merge"})
            return schema
        return self.value(field)

    def value(self, field, in_property: bool = True) -> dict:
        if field.type == FieldDescriptor.TYPE_MESSAGE:
            return self.ref(self.message(field.message_type), in_property)
        return dict(SCALARS.get(field.type, {"type": "string"}))

    # ------------------------------------------------------------ kinds
    def kind(self, kind) -> str:
        """Define a kind's object (and its List); returns the object's definition name."""
        gvk = [{"group": kind.group, "kind": kind.kind, "version": kind.version}]
        name = definition_name(kind)
        if kind.schema is not None:
            schema = dict(kind.schema)
            schema.setdefault("type", "object")
            props = schema["properties"] = dict(schema.get("properties") or {})
            props["metadata"] = _described(self.ref(self.message(meta_pb2.ObjectMeta.DESCRIPTOR)), "metadata")
        elif kind.proto in MESSAGES:
            schema = dict(self.defs[self.message(MESSAGES[kind.proto].DESCRIPTOR)])
            props = schema["properties"] = dict(schema["properties"])
        else:       # nothing describes it but its metadata: any object with an ObjectMeta
            schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
            props = {"metadata": _described(self.ref(self.message(meta_pb2.ObjectMeta.DESCRIPTOR)), "metadata")}
        for key in ("kind", "apiVersion"):
            props[key] = _described({"type": "string"}, key)
        schema["properties"] = dict(sorted(props.items()))
        schema["x-kubernetes-group-version-kind"] = gvk
        self.defs[name] = schema
        self.defs[name + "List"] = {
            "description": f"{kind.kind}List is a list of {kind.kind} objects.", "type": "object",
            "required": ["items"],
            "properties": {"apiVersion": _described({"type": "string"}, "apiVersion"),
                           "items": {"type": "array", "items": self.ref(name, in_property=False)},
                           "kind": _described({"type": "string"}, "kind"),
                           "metadata": {"type": "object", "description": "Standard list metadata."}},
            "x-kubernetes-group-version-kind": [dict(gvk[0], kind=kind.kind + "List")]}
        return name

    def reachable(self, roots) -> dict[str, dict]:
        """The definitions `roots` use, directly or through others (one group-version's share)."""
        prefix = "#/components/schemas/" if self.v3 else "#/definitions/"
        seen, todo = {}, list(roots)
        while todo:
            name = todo.pop()
            if name in seen or name not in self.defs:
                continue
            seen[name] = self.defs[name]
            todo.extend(ref[len(prefix):] for ref in _refs(self.defs[name]))
        return dict(sorted(seen.items()))


def _described(schema: dict, key: str, fallback: str | None = None) -> dict:
    text = DESCRIPTIONS.get(key) or (DESCRIPTIONS.get(fallback) if fallback in ("metadata", "spec", "status")
                                     else None)
    if text:
        schema = dict(schema, description=text)
    return schema


def _refs(value):
    if isinstance(value, dict):
        for k, v in value.items():
            if k == "$ref" and isinstance(v, str):
                yield v
            else:
                yield from _refs(v)
    elif isinstance(value, list):
        for v in value:
            yield from _refs(v)
