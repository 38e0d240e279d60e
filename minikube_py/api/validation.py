"""Validation: is this object acceptable? The apiserver asks before it stores anything.

Every check returns a list of *causes*, empty when all is well. A cause is what a
Kubernetes apiserver puts into `Status.details.causes` of a 422 Invalid answer:

    {"type": "FieldValueInvalid", "field": "metadata.name",
     "message": 'Invalid value: "Foo_Bar": a lowercase RFC 1123 subdomain must ...'}

and kubectl prints them as `<field>: <message>`. The messages use Kubernetes' words.
Validation runs after defaulting (defaults.py), so fields that have defaults are
only checked when present. Each kind has one function; `validate` picks it.
"""
import copy
import json
import re

from .defaults import apply_defaults
from .names import (is_dns1035_label, is_dns1123_label, is_dns1123_subdomain,
                    is_qualified_name, is_valid_label_value, regex_error)
from .quantity import QUANTITY_REGEX, QuantityError, parse_quantity
from .selectors import LabelSelector, SelectorError

__all__ = ["validate", "validate_update", "validate_name", "validate_labels",
           "validate_annotations", "validate_pod_spec", "validate_resources"]


# ---------------------------------------------------------------- building causes

def _show(value) -> str:
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
    return _cause("FieldValueInvalid", field, f"Invalid value: {_show(value)}: {detail}")


def required(field, detail=""):
    return _cause("FieldValueRequired", field, "Required value" + (f": {detail}" if detail else ""))


def not_supported(field, value, supported):
    allowed = ", ".join(_show(s) for s in supported)
    return _cause("FieldValueNotSupported", field,
                  f"Unsupported value: {_show(value)}: supported values: {allowed}")


def duplicate(field, value):
    return _cause("FieldValueDuplicate", field, f"Duplicate value: {_show(value)}")


def not_found(field, value):
    return _cause("FieldValueNotFound", field, f"Not found: {_show(value)}")


def forbidden(field, detail):
    return _cause("FieldValueForbidden", field, f"Forbidden: {detail}")


def _non_negative(field, value):
    if isinstance(value, int) and not isinstance(value, bool) and value < 0:
        return [invalid(field, value, "must be greater than or equal to 0")]
    return []


# ---------------------------------------------------------------- metadata

# Most names are DNS-1123 subdomains; these kinds are stricter.
_NAME_RULES = {"Namespace": is_dns1123_label, "Service": is_dns1035_label}


def validate_name(name, kind) -> list:
    """Check metadata.name against the naming rule of `kind`."""
    if not name:
        return [required("metadata.name", "name or generateName is required")]
    if not isinstance(name, str):
        return [invalid("metadata.name", name, "must be a string")]
    check = _NAME_RULES.get(kind, is_dns1123_subdomain)
    return [invalid("metadata.name", name, msg) for msg in check(name)]


def validate_labels(labels, field="metadata.labels") -> list:
    """Label keys must be qualified names, values valid label values."""
    if labels is None:
        return []
    if not isinstance(labels, dict):
        return [invalid(field, labels, "must be a map of string keys to string values")]
    causes = []
    for key, value in labels.items():
        causes += [invalid(field, key, msg) for msg in is_qualified_name(key)]
        if not isinstance(value, str):
            causes.append(invalid(field, value, "must be a string"))
        else:
            causes += [invalid(field, value, msg) for msg in is_valid_label_value(value)]
    return causes


def validate_annotations(annotations, field="metadata.annotations") -> list:
    """Annotation keys must be qualified names; the values are free text."""
    if annotations is None:
        return []
    if not isinstance(annotations, dict):
        return [invalid(field, annotations, "must be a map of string keys to string values")]
    causes = []
    for key, value in annotations.items():
        causes += [invalid(field, key, msg) for msg in is_qualified_name(key.lower())]
        if not isinstance(value, str):
            causes.append(invalid(field, value, "must be a string"))
    return causes


def _validate_meta(kind: str, obj: dict) -> list:
    meta = obj.get("metadata") or {}
    return (validate_name(meta.get("name"), kind) + validate_labels(meta.get("labels"))
            + validate_annotations(meta.get("annotations")))


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


# ---------------------------------------------------------------- pods

RESTART_POLICIES = ["Always", "OnFailure", "Never"]
PULL_POLICIES = ["Always", "IfNotPresent", "Never"]
DNS_POLICIES = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"]
PROTOCOLS = ["TCP", "UDP", "SCTP"]
TAINT_EFFECTS = ["NoSchedule", "PreferNoSchedule", "NoExecute"]


def _validate_container(c: dict, path: str, volume_names: set) -> list:
    causes = []
    if not c.get("image"):
        causes.append(required(f"{path}.image"))
    policy = c.get("imagePullPolicy")
    if policy is not None and policy not in PULL_POLICIES:
        causes.append(not_supported(f"{path}.imagePullPolicy", policy, PULL_POLICIES))
    for j, port in enumerate(c.get("ports") or []):
        pp = f"{path}.ports[{j}]"
        number = port.get("containerPort")
        if not isinstance(number, int) or not 1 <= number <= 65535:
            causes.append(invalid(f"{pp}.containerPort", number,
                                  "must be between 1 and 65535, inclusive"))
        if port.get("protocol") is not None and port["protocol"] not in PROTOCOLS:
            causes.append(not_supported(f"{pp}.protocol", port["protocol"], PROTOCOLS))
    for j, env in enumerate(c.get("env") or []):
        if not env.get("name"):
            causes.append(required(f"{path}.env[{j}].name"))
    for j, mount in enumerate(c.get("volumeMounts") or []):
        mp = f"{path}.volumeMounts[{j}]"
        if not mount.get("name"):
            causes.append(required(f"{mp}.name"))
        elif mount["name"] not in volume_names:
            causes.append(not_found(f"{mp}.name", mount["name"]))
        if not mount.get("mountPath"):
            causes.append(required(f"{mp}.mountPath"))
    return causes + validate_resources(c.get("resources"), f"{path}.resources")


def _validate_tolerations(tolerations, path: str) -> list:
    causes = []
    for i, t in enumerate(tolerations or []):
        tp = f"{path}[{i}]"
        operator = t.get("operator") or "Equal"
        if operator not in ("Equal", "Exists"):
            causes.append(not_supported(f"{tp}.operator", operator, ["Equal", "Exists"]))
        if operator == "Exists" and t.get("value"):
            causes.append(invalid(f"{tp}.operator", t["value"],
                                  "value must be empty when `operator` is 'Exists'"))
        if not t.get("key") and operator != "Exists":
            causes.append(invalid(f"{tp}.operator", operator,
                                  "operator must be Exists when `key` is empty, "
                                  "which means \"match all values and all keys\""))
        if t.get("effect") and t["effect"] not in TAINT_EFFECTS:
            causes.append(not_supported(f"{tp}.effect", t["effect"], TAINT_EFFECTS))
    return causes


def validate_pod_spec(spec, path: str = "spec") -> list:
    """Check a pod spec; `path` is where it sits ("spec" or "spec.template.spec")."""
    if not isinstance(spec, dict):
        return [required(path)]
    causes, volume_names = [], set()
    for i, vol in enumerate(spec.get("volumes") or []):
        vp, name = f"{path}.volumes[{i}].name", vol.get("name")
        if not name:
            causes.append(required(vp))
            continue
        causes += [invalid(vp, name, msg) for msg in is_dns1123_label(name)]
        if name in volume_names:
            causes.append(duplicate(vp, name))
        volume_names.add(name)

    if not spec.get("containers"):
        causes.append(required(f"{path}.containers"))
    seen = set()                 # container names are unique across all container lists
    for group in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(group) or []):
            cp, name = f"{path}.{group}[{i}]", c.get("name")
            if not name:
                causes.append(required(f"{cp}.name"))
            else:
                causes += [invalid(f"{cp}.name", name, msg) for msg in is_dns1123_label(name)]
                if name in seen:
                    causes.append(duplicate(f"{cp}.name", name))
                seen.add(name)
            causes += _validate_container(c, cp, volume_names)

    for field, allowed in (("restartPolicy", RESTART_POLICIES), ("dnsPolicy", DNS_POLICIES)):
        value = spec.get(field)
        if value is not None and value not in allowed:
            causes.append(not_supported(f"{path}.{field}", value, allowed))
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and not (isinstance(deadline, int) and 1 <= deadline <= 2**31 - 1):
        causes.append(invalid(f"{path}.activeDeadlineSeconds", deadline,
                              "must be between 1 and 2147483647, inclusive"))
    causes += _non_negative(f"{path}.terminationGracePeriodSeconds",
                            spec.get("terminationGracePeriodSeconds"))
    causes += validate_labels(spec.get("nodeSelector"), f"{path}.nodeSelector")
    causes += _validate_tolerations(spec.get("tolerations"), f"{path}.tolerations")
    return causes


def _validate_pod(obj: dict) -> list:
    return validate_pod_spec(obj.get("spec"), "spec")


# ---------------------------------------------------------------- workloads

_PERCENT_FMT = "[0-9]+%"


def _int_or_percent(value, path: str) -> list:
    """maxSurge / maxUnavailable: a non-negative integer or a percentage like "25%"."""
    if isinstance(value, str):
        if not re.fullmatch(_PERCENT_FMT, value):
            return [invalid(path, value, regex_error(
                "a valid percent string must be a numeric string followed by an ending '%'",
                _PERCENT_FMT, "1%", "93%"))]
        return []
    if isinstance(value, int) and not isinstance(value, bool):
        return _non_negative(path, value)
    return [invalid(path, value, "must be an integer or percentage (e.g '5%')")]


def _validate_strategy(strategy, path: str) -> list:
    strategy = strategy or {}
    kind = strategy.get("type")
    if kind is not None and kind not in ("Recreate", "RollingUpdate"):
        return [not_supported(f"{path}.type", kind, ["Recreate", "RollingUpdate"])]
    rolling = strategy.get("rollingUpdate")
    if kind == "Recreate" and rolling is not None:
        return [forbidden(f"{path}.rollingUpdate",
                          "may not be specified when strategy `type` is 'Recreate'")]
    if not rolling:
        return []
    rp = f"{path}.rollingUpdate"
    surge, unavailable = rolling.get("maxSurge"), rolling.get("maxUnavailable")
    causes = []
    for name, value in (("maxUnavailable", unavailable), ("maxSurge", surge)):
        if value is not None:
            causes += _int_or_percent(value, f"{rp}.{name}")
    if isinstance(unavailable, str) and re.fullmatch(_PERCENT_FMT, unavailable) \
            and int(unavailable[:-1]) > 100:
        causes.append(invalid(f"{rp}.maxUnavailable", unavailable, "must not be greater than 100%"))
    if unavailable in (0, "0%") and surge in (0, "0%"):
        causes.append(invalid(f"{rp}.maxUnavailable", unavailable,
                              "may not be 0 when `maxSurge` is 0"))
    return causes


def _validate_replicated(obj: dict) -> list:
    """What a Deployment and a ReplicaSet share: replicas, selector and pod template."""
    spec = obj.get("spec") or {}
    causes = _non_negative("spec.replicas", spec.get("replicas"))
    causes += _non_negative("spec.minReadySeconds", spec.get("minReadySeconds"))

    selector, sel_dict = None, spec.get("selector")
    if sel_dict is None:
        causes.append(required("spec.selector"))
    else:
        try:
            selector = LabelSelector.from_dict(sel_dict)
        except SelectorError as err:
            causes.append(invalid("spec.selector", sel_dict, str(err)))
        else:
            if selector.empty:
                causes.append(invalid("spec.selector", sel_dict,
                                      "empty selector is invalid for deployment"))

    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    causes += validate_labels(labels, "spec.template.metadata.labels")
    if selector is not None and not selector.empty and not selector.matches(labels):
        causes.append(invalid("spec.template.metadata.labels", labels,
                              "`selector` does not match template `labels`"))
    pod_spec = template.get("spec")
    causes += validate_pod_spec(pod_spec, "spec.template.spec")
    if isinstance(pod_spec, dict):
        policy = pod_spec.get("restartPolicy")
        if policy is not None and policy != "Always":
            causes.append(not_supported("spec.template.spec.restartPolicy", policy, ["Always"]))
        if pod_spec.get("activeDeadlineSeconds") is not None:
            causes.append(forbidden("spec.template.spec.activeDeadlineSeconds",
                                    "activeDeadlineSeconds in ReplicaSet is not Supported"))
    return causes


def _validate_deployment(obj: dict) -> list:
    spec = obj.get("spec") or {}
    causes = _validate_replicated(obj)
    causes += _non_negative("spec.revisionHistoryLimit", spec.get("revisionHistoryLimit"))
    causes += _validate_strategy(spec.get("strategy"), "spec.strategy")
    deadline = spec.get("progressDeadlineSeconds")
    if isinstance(deadline, int) and deadline <= (spec.get("minReadySeconds") or 0):
        causes.append(invalid("spec.progressDeadlineSeconds", deadline,
                              "must be greater than minReadySeconds"))
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


def _validate_node(obj: dict) -> list:
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


def _validate_event(obj: dict) -> list:
    causes = []
    namespace = (obj.get("metadata") or {}).get("namespace")
    involved = obj.get("involvedObject") or {}
    if namespace and involved.get("namespace") and involved["namespace"] != namespace:
        causes.append(invalid("involvedObject.namespace", involved["namespace"],
                              "does not match event.namespace"))
    if obj.get("type") and obj["type"] not in ("Normal", "Warning"):
        causes.append(not_supported("type", obj["type"], ["Normal", "Warning"]))
    return causes


def _validate_lease(obj: dict) -> list:
    spec = obj.get("spec") or {}
    causes = []
    duration = spec.get("leaseDurationSeconds")
    if duration is not None and (not isinstance(duration, int) or duration <= 0):
        causes.append(invalid("spec.leaseDurationSeconds", duration, "must be greater than 0"))
    causes += _non_negative("spec.leaseTransitions", spec.get("leaseTransitions"))
    return causes


_VALIDATORS = {
    "Namespace": lambda obj: [],
    "Pod": _validate_pod,
    "Node": _validate_node,
    "Event": _validate_event,
    "Lease": _validate_lease,
    "Deployment": _validate_deployment,
    "ReplicaSet": _validate_replicated,
}


def validate(kind: str, obj: dict) -> list:
    """All causes that make `obj` (of `kind`) invalid; [] for valid objects and unknown kinds."""
    check = _VALIDATORS.get(kind)
    if check is None:
        return []
    try:
        return _validate_meta(kind, obj) + check(obj)
    except (AttributeError, TypeError, ValueError) as err:
        # A field of the wrong type (a string where a map belongs, ...): a real apiserver
        # refuses such a body while decoding it; we answer with one cause.
        return [_cause("FieldValueInvalid", "", f"the object has fields of the wrong type: {err}")]


# ---------------------------------------------------------------- updates

UPDATABLE_POD_FIELDS = [
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
]


def _diff(old, new, path: str) -> list[str]:
    """Lines naming each place where two JSON values differ (for error messages)."""
    if isinstance(old, dict) and isinstance(new, dict):
        lines = []
        for key in sorted(set(old) | set(new), key=str):
            lines += _diff(old.get(key), new.get(key), f"{path}.{key}")
        return lines
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        return [line for i, (a, b) in enumerate(zip(old, new)) for line in _diff(a, b, f"{path}[{i}]")]
    return [] if old == new else [f"  {path}: {_show(old)} -> {_show(new)}"]


def _validate_pod_update(old: dict, new: dict) -> list:
    """Only a few fields of a running pod's spec may change (see UPDATABLE_POD_FIELDS)."""
    # Default a copy of the old pod too, so that a pod stored before some default was
    # added does not look changed when the new copy gets that default.
    old = apply_defaults("Pod", copy.deepcopy(old))
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    causes = []
    old_deadline, new_deadline = old_spec.get("activeDeadlineSeconds"), new_spec.get("activeDeadlineSeconds")
    if new_deadline is None and old_deadline is not None:
        causes.append(invalid("spec.activeDeadlineSeconds", None,
                              "must not update from a positive integer to nil value"))
    elif new_deadline is not None and old_deadline is not None and new_deadline > old_deadline:
        causes.append(invalid("spec.activeDeadlineSeconds", new_deadline,
                              "must be less than or equal to previous value"))
    old_tolerations = old_spec.get("tolerations") or []
    new_tolerations = new_spec.get("tolerations") or []
    if any(t not in new_tolerations for t in old_tolerations):
        causes.append(forbidden("spec.tolerations",
                                "existing toleration can not be modified except its tolerationSeconds"))

    # Copy the new spec and undo the allowed changes; whatever differs then is forbidden.
    munged = copy.deepcopy(new_spec)
    for group in ("containers", "initContainers"):
        for c_new, c_old in zip(munged.get(group) or [], old_spec.get(group) or []):
            if "image" in c_old:
                c_new["image"] = c_old["image"]
    for field in ("activeDeadlineSeconds", "tolerations"):
        munged.pop(field, None)
        if field in old_spec:
            munged[field] = old_spec[field]
    grace = old_spec.get("terminationGracePeriodSeconds")
    if isinstance(grace, int) and grace < 0 and munged.get("terminationGracePeriodSeconds") == 1:
        munged["terminationGracePeriodSeconds"] = grace
    if munged != old_spec:
        detail = ("pod updates may not change fields other than " + ",".join(UPDATABLE_POD_FIELDS)
                  + "\n" + "\n".join(_diff(old_spec, munged, "spec")))
        causes.append(forbidden("spec", detail))
    return causes


def _selector_key(sel):
    try:
        return LabelSelector.from_dict(sel).to_string()
    except SelectorError:
        return json.dumps(sel, sort_keys=True)


def validate_update(kind: str, old: dict, new: dict) -> list:
    """The checks that only an update has: fields that may not change.

    Call `validate(kind, new)` as well; this function does not repeat it. `new`
    should have had its defaults applied (as the apiserver does before validating),
    or the missing defaults would look like changes.
    """
    causes = []
    old_meta, new_meta = old.get("metadata") or {}, new.get("metadata") or {}
    for field in ("name", "namespace", "uid"):
        if old_meta.get(field) and new_meta.get(field) and old_meta[field] != new_meta[field]:
            causes.append(invalid(f"metadata.{field}", new_meta[field], "field is immutable"))
    if kind in ("Deployment", "ReplicaSet"):
        old_sel = (old.get("spec") or {}).get("selector")
        new_sel = (new.get("spec") or {}).get("selector")
        if _selector_key(old_sel) != _selector_key(new_sel):
            causes.append(invalid("spec.selector", new_sel, "field is immutable"))
    elif kind == "Pod":
        causes += _validate_pod_update(old, new)
        old_phase = (old.get("status") or {}).get("phase")
        new_phase = (new.get("status") or {}).get("phase")
        if old_phase in ("Succeeded", "Failed") and new_phase != old_phase:
            # A pod that finished stays finished (ValidatePodStatusUpdate).
            causes.append(forbidden("status.phase", f"cannot transition from terminal phase "
                                                    f"{old_phase!r} to {new_phase!r}"))
    return causes
