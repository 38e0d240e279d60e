"""Validation: is this object acceptable? The apiserver asks before it stores anything.

Every check returns a list of *causes*, empty when all is well. A cause is what a
Kubernetes apiserver puts into `Status.details.causes` of a 422 Invalid answer:

    {"type": "FieldValueInvalid", "field": "metadata.name",
     "message": 'Invalid value: "Foo_Bar": a lowercase RFC 1123 subdomain must ...'}

and kubectl prints them as `<field>: <message>`. The messages use Kubernetes' words.
Validation runs after defaulting (defaults.py), so fields that have defaults are
only checked when present.

This module holds the building blocks every kind uses (causes, names, labels,
resources, quantities) and the rules of the small cluster objects (Node, Event,
Lease). Pods have podvalidation.py, Deployments and ReplicaSets workloadvalidation.py;
each kind's declaration (api/kinds/) names its function.
"""
import json

from .names import is_dns1123_subdomain, is_qualified_name, is_valid_label_value
from .quantity import QUANTITY_REGEX, QuantityError, parse_quantity

__all__ = ["validate_name", "validate_labels", "validate_annotations", "validate_meta",
           "validate_resources", "validate_node", "validate_event", "validate_lease"]

TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"]


# ---------------------------------------------------------------- building causes

def show(value) -> str:
    """A bad value as Kubernetes shows it: strings quoted, numbers bare, objects as JSON."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if value is None:
        return "null"
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def _cause(kind: str, field: str, message: str) -> dict:
    return {"type": kind, "message": message, "field": field}


def invalid(field, value, detail):
    return _cause("FieldValueInvalid", field, f"Invalid value: {show(value)}: {detail}")


def required(field, detail=""):
    return _cause("FieldValueRequired", field, "Required value" + (f": {detail}" if detail else ""))


def not_supported(field, value, supported):
    allowed = ", ".join(show(s) for s in supported)
    return _cause("FieldValueNotSupported", field,
                  f"Unsupported value: {show(value)}: supported values: {allowed}")


def duplicate(field, value):
    return _cause("FieldValueDuplicate", field, f"Duplicate value: {show(value)}")


def not_found(field, value):
    return _cause("FieldValueNotFound", field, f"Not found: {show(value)}")


def forbidden(field, detail):
    return _cause("FieldValueForbidden", field, f"Forbidden: {detail}")


def diff_lines(old, new, path: str) -> list[str]:
    """Lines naming each place where two JSON values differ, for the message of an
    "is immutable" cause (where Kubernetes prints a cmp.Diff)."""
    if isinstance(old, dict) and isinstance(new, dict):
        lines = []
        for key in sorted(set(old) | set(new), key=str):
            lines += diff_lines(old.get(key), new.get(key), f"{path}.{key}")
        return lines
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [line for i, (a, b) in enumerate(zip(old, new)) for line in diff_lines(a, b, f"{path}[{i}]")]
    return [] if old == new else [f"  {path}: {show(old)} -> {show(new)}"]


def non_negative(field, value):
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        return [invalid(field, value, "must be greater than or equal to 0")]
    return []


# ---------------------------------------------------------------- metadata

def validate_name(name, rule=None) -> list:
    """Check metadata.name against a kind's naming rule (`Kind.name_rule`): most names are
    DNS-1123 subdomains; some kinds are stricter (a Namespace's is a DNS-1123 label)."""
    if not name:
        return [required("metadata.name", "name or generateName is required")]
    if not isinstance(name, str):
        return [invalid("metadata.name", name, "must be a string")]
    check = rule or is_dns1123_subdomain
    return [invalid("metadata.name", name, msg) for msg in check(name)]


def _string_map(m, field: str, check_key, check_value=None) -> list:
    """Labels and annotations: a map of string keys to string values, each checked."""
    if m is None:
        return []
    if not isinstance(m, dict):
        return [invalid(field, m, "must be a map of string keys to string values")]
    causes = []
    for key, value in m.items():
        causes += [invalid(field, key, msg) for msg in check_key(key)]
        if not isinstance(value, str):
            causes.append(invalid(field, value, "must be a string"))
        elif check_value is not None:
            causes += [invalid(field, value, msg) for msg in check_value(value)]
    return causes


def validate_labels(labels, field="metadata.labels") -> list:
    """Label keys must be qualified names, values valid label values."""
    return _string_map(labels, field, is_qualified_name, is_valid_label_value)


def validate_annotations(annotations, field="metadata.annotations") -> list:
    """Annotation keys must be qualified names; the values are free text."""
    return _string_map(annotations, field, lambda key: is_qualified_name(key.lower()))


def validate_meta(obj: dict, name_rule=None) -> list:
    """What every kind's metadata must be: a valid name, labels and annotations."""
    meta = obj.get("metadata") or {}
    return (validate_name(meta.get("name"), name_rule) + validate_labels(meta.get("labels"))
            + validate_annotations(meta.get("annotations")))


def validate_metadata_update(old: dict, new: dict) -> list:
    """No kind's name, namespace or uid changes on an update."""
    causes = []
    old_meta, new_meta = old.get("metadata") or {}, new.get("metadata") or {}
    for field in ("name", "namespace", "uid"):
        if old_meta.get(field) and new_meta.get(field) and old_meta[field] != new_meta[field]:
            causes.append(invalid(f"metadata.{field}", new_meta[field], "field is immutable"))
    return causes


def wrong_types(err: Exception) -> dict:
    """A field of the wrong type (a string where a map belongs, ...): a real apiserver
    refuses such a body while decoding it; we answer with one cause."""
    return _cause("FieldValueInvalid", "", f"the object has fields of the wrong type: {err}")


# ---------------------------------------------------------------- resources

_STANDARD_CONTAINER_RESOURCES = {"cpu", "memory", "ephemeral-storage"}


def _is_extended(name: str) -> bool:
    """Extended resources (nvidia.com/gpu, ...) live outside the kubernetes.io domain."""
    return "/" in name and "kubernetes.io/" not in name and not name.startswith("requests.")


def validate_resources(resources, field: str) -> list:
    """Check a container's `resources` (requests and limits).

    Amounts must be quantities >= 0; a request may not exceed its limit. Extended
    resources such as nvidia.com/gpu cannot be shared, so they must be whole numbers
    and, when both are given, the request must equal the limit.
    """
    if not resources:
        return []
    causes, amounts = [], {"limits": {}, "requests": {}}
    for section in ("limits", "requests"):
        for name, raw in (resources.get(section) or {}).items():
            path = f"{field}.{section}[{name}]"
            if "/" in name:
                bad = is_qualified_name(name)
            elif name in _STANDARD_CONTAINER_RESOURCES or name.startswith("hugepages-"):
                bad = []
            else:
                bad = ["must be a standard resource for containers"]
            causes += [invalid(path, name, msg) for msg in bad]
            try:
                value = parse_quantity(raw)
            except QuantityError:
                causes.append(invalid(path, raw, "quantities must match the regular "
                                                 f"expression '{QUANTITY_REGEX}'"))
                continue
            if value < 0:
                causes.append(invalid(path, raw, "must be greater than or equal to 0"))
            elif _is_extended(name) and value.denominator != 1:
                causes.append(invalid(path, raw, "must be an integer"))
            amounts[section][name] = (value, raw)

    limits, requests = amounts["limits"], amounts["requests"]
    for name, (request, raw) in requests.items():
        if name in limits:
            limit, limit_raw = limits[name]
            if _is_extended(name) and request != limit:
                causes.append(invalid(f"{field}.requests", raw,
                                      f"must be equal to {name} limit of {limit_raw}"))
            elif request > limit:
                causes.append(invalid(f"{field}.requests", raw,
                                      f"must be less than or equal to {name} limit of {limit_raw}"))
        elif _is_extended(name):
            causes.append(required(f"{field}.limits",
                                   "Limit must be set for non overcommitable resources"))
    return causes


# ---------------------------------------------------------------- other kinds

def _validate_quantities(amounts, path: str) -> list:
    causes = []
    for name, raw in (amounts or {}).items():
        try:
            if parse_quantity(raw) < 0:
                causes.append(invalid(f"{path}[{name}]", raw, "must be greater than or equal to 0"))
        except QuantityError:
            causes.append(invalid(f"{path}[{name}]", raw,
                                  f"quantities must match the regular expression '{QUANTITY_REGEX}'"))
    return causes


def validate_node(obj: dict) -> list:
    spec, status = obj.get("spec") or {}, obj.get("status") or {}
    causes = []
    for i, taint in enumerate(spec.get("taints") or []):
        tp = f"spec.taints[{i}]"
        if not taint.get("key"):
            causes.append(required(f"{tp}.key"))
        else:
            causes += [invalid(f"{tp}.key", taint["key"], m) for m in is_qualified_name(taint["key"])]
        if taint.get("effect") not in TAINT_EFFECTS:
            causes.append(not_supported(f"{tp}.effect", taint.get("effect"), TAINT_EFFECTS))
    causes += _validate_quantities(status.get("capacity"), "status.capacity")
    causes += _validate_quantities(status.get("allocatable"), "status.allocatable")
    return causes


def validate_event(obj: dict) -> list:
    causes = []
    namespace = (obj.get("metadata") or {}).get("namespace")
    involved = obj.get("involvedObject") or {}
    if namespace and involved.get("namespace") and involved["namespace"] != namespace:
        causes.append(invalid("involvedObject.namespace", involved["namespace"],
                              "does not match event.namespace"))
    if obj.get("type") and obj["type"] not in ("Normal", "Warning"):
        causes.append(not_supported("type", obj["type"], ["Normal", "Warning"]))
    return causes


def validate_lease(obj: dict) -> list:
    spec = obj.get("spec") or {}
    causes = []
    duration = spec.get("leaseDurationSeconds")
    if duration is not None and (not isinstance(duration, int) or duration <= 0):
        causes.append(invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
    causes += non_negative("spec.leaseTransitions", spec.get("leaseTransitions"))
    return causes
