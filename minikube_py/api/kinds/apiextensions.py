"""apiextensions.k8s.io/v1 CustomResourceDefinition: a kind declared at run time.

A CRD names a new kind (group, names, scope, versions) and, per version, the structural
schema its objects must fit, its subresources and its printer columns. Applying one
makes the apiserver serve the kind at once (apiserver/customresources.py turns it into
a `Kind` declaration, customresource.py); deleting one deletes every object of the kind
first. This module is the CRD's own declaration: its defaults, and the validation
kube-apiextensions does before it stores one (a 422 with field causes otherwise).
"""
from __future__ import annotations

import re

from ..names import is_dns1035_label, is_dns1123_subdomain
from ..validation import invalid, not_supported, required
from . import structural
from .columns import NAME, col
from .kind import Kind

GROUP = "apiextensions.k8s.io"
CLEANUP_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"
SCOPES = ("Cluster", "Namespaced")
COLUMN_TYPES = ("integer", "number", "string", "boolean", "date")
COLUMN_FORMATS = ("int32", "int64", "float", "double", "byte", "date", "date-time", "password")
APPROVAL = "api-approved.kubernetes.io"


def _spec(crd: dict) -> dict:
    spec = crd.get("spec")
    return spec if isinstance(spec, dict) else {}


# ---------------------------------------------------------------- defaults
def default_crd(crd: dict):
    """names.singular and listKind from the kind; conversion None; a fresh status on create."""
    spec = _spec(crd)
    names = spec.get("names")
    if isinstance(names, dict) and isinstance(names.get("kind"), str) and names["kind"]:
        names.setdefault("singular", names["kind"].lower())
        names.setdefault("listKind", names["kind"] + "List")
    if isinstance(spec, dict) and spec:
        spec.setdefault("conversion", {"strategy": "None"})
    status = crd.get("status")
    if not isinstance(status, dict):
        status = {"conditions": [], "acceptedNames": {"plural": "", "kind": ""}}
    storage = [v.get("name") for v in spec.get("versions") or [] if isinstance(v, dict) and v.get("storage")]
    stored = list(status.get("storedVersions") or [])
    if len(storage) == 1 and storage[0] not in stored:
        stored.append(storage[0])
    # a copy: on an update, status is still the stored object's own
    crd["status"] = {**status, "storedVersions": stored}


# ---------------------------------------------------------------- validation
def _label_errors(field: str, value, message_prefix: str = "", lower: bool = False) -> list:
    if not isinstance(value, str):
        return [invalid(field, value, "must be a string")]
    return [invalid(field, value, message_prefix + msg) for msg in is_dns1035_label(value.lower() if lower else value)]


def validate_names(names, path: str = "spec.names") -> list:
    if not isinstance(names, dict):
        return [required(path)]
    causes = []
    for field in ("plural", "singular", "kind", "listKind"):
        if not names.get(field):
            causes.append(required(f"{path}.{field}"))
    for field, mixed in (("plural", False), ("singular", False), ("kind", True), ("listKind", True)):
        if names.get(field):
            causes += _label_errors(f"{path}.{field}", names[field],
                                    "may have mixed case, but should otherwise match: " if mixed else "", mixed)
    if names.get("kind") and names.get("kind") == names.get("listKind"):
        causes.append(invalid(f"{path}.listKind", names["listKind"], "kind and listKind may not be the same"))
    for field in ("shortNames", "categories"):
        for i, value in enumerate(names.get(field) or []):
            causes += _label_errors(f"{path}.{field}[{i}]", value)
    return causes


def _simple_path(value, under: tuple) -> str | None:
    """Why a scale path is not a simple JSON path under one of `under`, or None."""
    if not isinstance(value, str) or not re.fullmatch(r"(\.[A-Za-z0-9_-]+)+", value):
        return "must be a simple json path starting with ."
    if not any(value.startswith(u + ".") for u in under):
        return "should be a json path under " + " or ".join(under)
    return None


def validate_version(v, path: str) -> list:
    if not isinstance(v, dict):
        return [invalid(path, v, "must be an object")]
    causes = []
    if not v.get("name"):
        causes.append(required(f"{path}.name"))
    else:
        causes += _label_errors(f"{path}.name", v["name"])
    for flag in ("served", "storage"):
        if not isinstance(v.get(flag), bool):
            causes.append(required(f"{path}.{flag}") if flag not in v else
                          invalid(f"{path}.{flag}", v[flag], "must be a boolean"))
    schema = (v.get("schema") or {}).get("openAPIV3Schema") if isinstance(v.get("schema"), dict) else None
    if schema is None:
        causes.append(required(f"{path}.schema.openAPIV3Schema", "schemas are required"))
    else:
        causes += structural.schema_errors(schema, f"{path}.schema.openAPIV3Schema")
    sub = v.get("subresources") or {}
    scale = sub.get("scale") if isinstance(sub, dict) else None
    if isinstance(scale, dict):
        spath = f"{path}.subresources.scale"
        for field, under in (("specReplicasPath", (".spec",)), ("statusReplicasPath", (".status",))):
            if not scale.get(field):
                causes.append(required(f"{spath}.{field}"))
            elif _simple_path(scale[field], under):
                causes.append(invalid(f"{spath}.{field}", scale[field], _simple_path(scale[field], under)))
        if scale.get("labelSelectorPath") and _simple_path(scale["labelSelectorPath"], (".spec", ".status")):
            causes.append(invalid(f"{spath}.labelSelectorPath", scale["labelSelectorPath"],
                                  _simple_path(scale["labelSelectorPath"], (".spec", ".status"))))
    for i, c in enumerate(v.get("additionalPrinterColumns") or []):
        cpath = f"{path}.additionalPrinterColumns[{i}]"
        if not isinstance(c, dict):
            causes.append(invalid(cpath, c, "must be an object"))
            continue
        for field in ("name", "type", "jsonPath"):
            if not c.get(field):
                causes.append(required(f"{cpath}.{field}"))
        if c.get("type") and c["type"] not in COLUMN_TYPES:
            causes.append(not_supported(f"{cpath}.type", c["type"], COLUMN_TYPES))
        if c.get("format") and c["format"] not in COLUMN_FORMATS:
            causes.append(not_supported(f"{cpath}.format", c["format"], COLUMN_FORMATS))
        if c.get("jsonPath") and not str(c["jsonPath"]).startswith("."):
            causes.append(invalid(f"{cpath}.jsonPath", c["jsonPath"], "must be a simple json path"))
    return causes


def validate_crd(crd: dict) -> list:
    spec = crd.get("spec")
    if not isinstance(spec, dict):
        return [required("spec")]
    causes = []
    group = spec.get("group")
    if not group:
        causes.append(required("spec.group"))
    elif not isinstance(group, str) or is_dns1123_subdomain(group):
        causes.append(invalid("spec.group", group, ",".join(is_dns1123_subdomain(str(group)))))
    elif len(group.split(".")) < 2:
        causes.append(invalid("spec.group", group, "should be a domain with at least one dot"))
    elif (group in ("k8s.io", "kubernetes.io") or group.endswith((".k8s.io", ".kubernetes.io"))) and \
            not ((crd.get("metadata") or {}).get("annotations") or {}).get(APPROVAL):
        causes.append(required(f"metadata.annotations[{APPROVAL}]", f'protected groups must have approval '
                               f'annotation "{APPROVAL}", see https://github.com/kubernetes/enhancements/pull/1111'))
    names = spec.get("names")
    causes += validate_names(names)
    name = (crd.get("metadata") or {}).get("name")
    if isinstance(names, dict) and group and name != f"{names.get('plural')}.{group}":
        causes.append(invalid("metadata.name", name, 'must be spec.names.plural+"."+spec.group'))
    scope = spec.get("scope")
    if not scope:
        causes.append(required("spec.scope"))
    elif scope not in SCOPES:
        causes.append(not_supported("spec.scope", scope, SCOPES))
    versions = spec.get("versions")
    if not isinstance(versions, list) or not versions:
        causes.append(invalid("spec.versions", versions or [], "must have exactly one version marked as "
                                                               "storage version"))
        versions = []
    else:
        for i, v in enumerate(versions):
            causes += validate_version(v, f"spec.versions[{i}]")
        listed = [v.get("name") for v in versions if isinstance(v, dict)]
        if len(set(listed)) != len(listed):
            causes.append(invalid("spec.versions", listed, "must contain unique version names"))
        if sum(1 for v in versions if isinstance(v, dict) and v.get("storage") is True) != 1:
            causes.append(invalid("spec.versions", listed, "must have exactly one version marked as "
                                                           "storage version"))
    if spec.get("preserveUnknownFields") is True:
        causes.append(invalid("spec.preserveUnknownFields", True, "cannot set to true, set "
                              "x-kubernetes-preserve-unknown-fields to true in spec.versions[*].schema instead"))
    strategy = (spec.get("conversion") or {}).get("strategy", "None")
    if strategy not in ("None", "Webhook"):
        causes.append(not_supported("spec.conversion.strategy", strategy, ("None", "Webhook")))
    stored = (crd.get("status") or {}).get("storedVersions") or []
    served = {v.get("name") for v in versions if isinstance(v, dict)}
    for i, v in enumerate(stored):
        if v not in served:
            causes.append(invalid(f"status.storedVersions[{i}]", v, "must appear in spec.versions"))
    return causes


def established(crd: dict) -> bool:
    return any(c.get("type") == "Established" and c.get("status") == "True"
               for c in (crd.get("status") or {}).get("conditions") or [])


def validate_crd_update(old: dict, new: dict) -> list:
    """group and plural name the storage: they never change; scope and kind not once established."""
    o, n = _spec(old), _spec(new)
    causes = []
    fields = [("spec.group", o.get("group"), n.get("group")),
              ("spec.names.plural", (o.get("names") or {}).get("plural"), (n.get("names") or {}).get("plural"))]
    if established(old):
        fields += [("spec.scope", o.get("scope"), n.get("scope")),
                   ("spec.names.kind", (o.get("names") or {}).get("kind"), (n.get("names") or {}).get("kind"))]
    for field, before, after in fields:
        if before != after:
            causes.append(invalid(field, after, "field is immutable"))
    return causes


def crd_row(crd: dict) -> list:
    return [crd["metadata"]["name"], crd["metadata"].get("creationTimestamp")]


def _any_object(description: str) -> dict:
    return {"type": "object", "description": description, "x-kubernetes-preserve-unknown-fields": True}


# The CRD kind has no protobuf message here, so this is its one schema (OpenAPI, kubectl
# explain, the patches kubectl computes); the rules live in validate_crd above.
CRD_SCHEMA = {
    "type": "object",
    "description": "CustomResourceDefinition represents a resource that should be exposed on the API server. "
                   "Its name MUST be in the format <.spec.name>.<.spec.group>.",
    "properties": {
        "spec": {
            "type": "object", "x-kubernetes-preserve-unknown-fields": True,
            "description": "spec describes how the user wants the resources to appear",
            "properties": {
                "group": {"type": "string", "description": "group is the API group of the defined custom "
                                                           "resource: /apis/<group>/..."},
                "names": _any_object("names specify the resource and kind names for the custom resource."),
                "scope": {"type": "string", "description": "scope indicates whether the defined custom "
                                                           "resource is cluster- or namespace-scoped: "
                                                           "`Cluster` or `Namespaced`."},
                "versions": {"type": "array", "description": "versions is the list of all API versions of "
                                                             "the defined custom resource.",
                             "items": _any_object("a version: name, served, storage, schema, subresources, "
                                                  "additionalPrinterColumns")},
                "conversion": _any_object("conversion defines conversion settings for the CRD."),
                "preserveUnknownFields": {"type": "boolean", "description": "must be false in v1"},
            }},
        "status": _any_object("status indicates the actual state of the CustomResourceDefinition"),
    }}


CUSTOM_RESOURCE_DEFINITION = Kind(
    GROUP, "v1", "CustomResourceDefinition", "customresourcedefinitions", namespaced=False,
    short_names=("crd", "crds"), categories=("api-extensions",), subresources=("status",),
    default=default_crd, validate=validate_crd, validate_update=validate_crd_update,
    columns=(NAME, col("Created At", "date", description="CreationTimestamp is a timestamp representing "
                       "the server time when this object was created.")),
    row=crd_row, schema=CRD_SCHEMA)

KINDS = (CUSTOM_RESOURCE_DEFINITION,)
