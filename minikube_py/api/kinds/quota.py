"""core/v1 LimitRange and ResourceQuota: what a namespace's objects may ask for.

A ResourceQuota caps the totals of a namespace (`pods: 10`, `requests.cpu: 4`,
`count/deployments.apps: 5`), optionally only for pods in some scopes (BestEffort,
Terminating, a PriorityClass); a LimitRange bounds each Container, Pod or
PersistentVolumeClaim and fills in default requests and limits. Enforcing them is
admission's job and counting usage the quota controller's (both come in later
issues); here they are objects with Kubernetes' validation.

Quantities that do not parse are refused while decoding (400), as Go's
resource.Quantity refuses them; well-formed but wrong ones (negative, a fraction
of pods, min above max) get a 422 with field causes.
"""
from __future__ import annotations

from ..names import is_qualified_name
from ..quantity import QUANTITY_REGEX, QuantityError, parse_quantity
from ..validation import forbidden, invalid, required
from .columns import AGE, NAME, age_of, col
from .kind import Kind

LIMIT_TYPES = ("Pod", "Container", "PersistentVolumeClaim")
CONTAINER_RESOURCES = {"cpu", "memory", "ephemeral-storage"}
QUOTA_RESOURCES = {
    "cpu", "memory", "ephemeral-storage", "requests.cpu", "requests.memory", "requests.storage",
    "requests.ephemeral-storage", "limits.cpu", "limits.memory", "limits.ephemeral-storage", "pods",
    "resourcequotas", "services", "replicationcontrollers", "secrets", "persistentvolumeclaims",
    "configmaps", "services.nodeports", "services.loadbalancers"}
COUNTED_RESOURCES = {"pods", "resourcequotas", "services", "replicationcontrollers", "secrets",
                     "persistentvolumeclaims", "configmaps", "services.nodeports", "services.loadbalancers"}
POD_COMPUTE = {"cpu", "memory", "limits.cpu", "limits.memory", "requests.cpu", "requests.memory"}
SCOPES = ("Terminating", "NotTerminating", "BestEffort", "NotBestEffort", "PriorityClass",
          "CrossNamespacePodAffinity", "VolumeAttributesClass")
EXISTS_ONLY_SCOPES = ("Terminating", "NotTerminating", "BestEffort", "NotBestEffort",
                      "CrossNamespacePodAffinity")
CONFLICTING_SCOPES = ({"BestEffort", "NotBestEffort"}, {"Terminating", "NotTerminating"})
SCOPE_OPERATORS = ("In", "NotIn", "Exists", "DoesNotExist")
QUANTITY_MSG = f"quantities must match the regular expression '{QUANTITY_REGEX}'"


def bad_quantities(*maps) -> str | None:
    """decode_check: a quantity Go's JSON decoding would refuse (answered 400)."""
    for m in maps:
        if isinstance(m, dict):
            for value in m.values():
                try:
                    parse_quantity(value)
                except QuantityError:
                    return QUANTITY_MSG
    return None


def _quantities(m) -> dict:
    out = {}
    for name, raw in (m or {}).items():
        try:
            out[name] = parse_quantity(raw)
        except QuantityError:
            pass                     # refused while decoding already (decode_check)
    return out


def _resource_name(name: str, path: str, standard: set, what: str) -> list:
    errs = is_qualified_name(name) if isinstance(name, str) else ["must be a string"]
    causes = [invalid(path, name, msg) for msg in errs]
    if not causes and "/" not in name and name not in standard and not name.startswith(
            ("hugepages-", "requests.hugepages-")):
        causes.append(invalid(path, name, what))
    return causes


# ---------------------------------------------------------------- LimitRange
def _limit_resource(limit_type: str, name: str, path: str) -> list:
    if limit_type in ("Pod", "Container"):
        return _resource_name(name, path, CONTAINER_RESOURCES, "must be a standard resource for containers")
    return _resource_name(name, path, CONTAINER_RESOURCES | {"storage"},
                          "must be a standard resource type or fully qualified")


def validate_limit_range(lr: dict) -> list:
    limits = (lr.get("spec") or {}).get("limits") or []
    if not isinstance(limits, list):
        return [invalid("spec.limits", limits, "must be a list")]
    causes, seen = [], set()
    for i, limit in enumerate(limits):
        ip = f"spec.limits[{i}]"
        type_ = limit.get("type", "")
        type_errs = is_qualified_name(type_) if type_ else ["name part must be non-empty"]
        causes += [invalid(f"{ip}.type", type_, msg) for msg in type_errs]
        if not type_errs and "/" not in type_ and type_ not in LIMIT_TYPES:
            causes.append(invalid(f"{ip}.type", type_, "must be a standard limit type or fully qualified"))
        if type_ in seen:
            causes.append({"type": "FieldValueDuplicate", "field": f"{ip}.type",
                           "message": f'Duplicate value: "{type_}"'})
        seen.add(type_)
        sections = ["max", "min", "maxLimitRequestRatio"]
        if type_ == "Pod":
            for field in ("default", "defaultRequest"):
                if limit.get(field):
                    causes.append(forbidden(f"{ip}.{field}", "may not be specified when `type` is 'Pod'"))
        else:
            sections += ["default", "defaultRequest"]
        values = {}
        for section in sections:
            for name in limit.get(section) or {}:
                causes += _limit_resource(type_, name, f"{ip}.{section}[{name}]")
            values[section] = _quantities(limit.get(section))
        if type_ == "PersistentVolumeClaim" and "storage" not in values["min"] and "storage" not in values["max"]:
            causes.append(required(f"{ip}.limits", "either minimum or maximum storage value is required, "
                                                   "but neither was provided"))
        causes += _limit_order(ip, values, limit)
    return causes


# The pairs upstream checks, in its order: (smaller, larger, the field blamed, the value
# shown, its message).
ORDERED_PAIRS = (
    ("min", "max", "min", "min", "min value {min} is greater than max value {max}"),
    ("min", "defaultRequest", "defaultRequest", "defaultRequest",
     "min value {min} is greater than default request value {defaultRequest}"),
    ("defaultRequest", "max", "defaultRequest", "defaultRequest",
     "default request value {defaultRequest} is greater than max value {max}"),
    ("defaultRequest", "default", "defaultRequest", "defaultRequest",
     "default request value {defaultRequest} is greater than default limit value {default}"),
    ("min", "default", "default", "min", "min value {min} is greater than default value {default}"),
    ("default", "max", "default", "max", "default value {default} is greater than max value {max}"))


def _limit_order(ip: str, v: dict, raw: dict) -> list:
    """min <= defaultRequest <= default <= max, and a ratio of at least 1."""
    lo, hi, ratio = (v.get(s, {}) for s in ("min", "max", "maxLimitRequestRatio"))
    causes = []
    for k in sorted(set().union(*v.values())):
        def text(section):
            return str((raw.get(section) or {}).get(k))
        for small, large, field, shown, message in ORDERED_PAIRS:
            if k in v.get(small, {}) and k in v.get(large, {}) and v[small][k] > v[large][k]:
                causes.append(invalid(f"{ip}.{field}[{k}]", text(shown),
                                      message.format(**{s: text(s) for s in (small, large)})))
        if k in ratio and ratio[k] < 1:
            causes.append(invalid(f"{ip}.maxLimitRequestRatio[{k}]", text("maxLimitRequestRatio"),
                                  f"ratio {text('maxLimitRequestRatio')} is less than 1"))
        if k in ratio and k in lo and k in hi and lo[k] > 0 and ratio[k] > hi[k] / lo[k]:
            causes.append(invalid(f"{ip}.maxLimitRequestRatio[{k}]", text("maxLimitRequestRatio"),
                                  f"ratio {text('maxLimitRequestRatio')} is greater than max/min = "
                                  f"{float(hi[k] / lo[k]):f}"))
    return causes


def default_limit_range(lr: dict) -> None:
    """A Container limit's defaults, as upstream's SetDefaults_LimitRangeItem: the default
    limit is the max when not given, the default request the default limit, else the min."""
    for limit in (lr.get("spec") or {}).get("limits") or []:
        if not isinstance(limit, dict) or limit.get("type") != "Container":
            continue
        default = limit.setdefault("default", {})
        request = limit.setdefault("defaultRequest", {})
        for source, target in ((limit.get("max"), default), (default, request), (limit.get("min"), request)):
            for name, value in (source or {}).items():
                target.setdefault(name, value)
        for field in ("default", "defaultRequest"):
            if not limit[field]:
                del limit[field]


LIMIT_RANGE = Kind(
    "", "v1", "LimitRange", "limitranges", short_names=("limits",), has_status=False, counts_generation=False,
    default=default_limit_range, validate=validate_limit_range,
    decode_check=lambda lr: bad_quantities(*[item.get(s) for item in ((lr.get("spec") or {}).get("limits") or [])
                                             if isinstance(item, dict)
                                             for s in ("max", "min", "default", "defaultRequest",
                                                       "maxLimitRequestRatio")]),
    columns=(NAME, col("Created At", "date")),
    row=lambda lr: [lr["metadata"]["name"], lr["metadata"].get("creationTimestamp")],
    proto="k8s.io.api.core.v1.LimitRange")


# ---------------------------------------------------------------- ResourceQuota
def _quota_amounts(m, path: str) -> list:
    causes = []
    for name, raw in (m or {}).items():
        rp = f"{path}[{name}]"
        causes += _resource_name(name, rp, QUOTA_RESOURCES, "must be a standard resource for quota")
        value = _quantities({name: raw}).get(name)
        if value is None:
            continue
        if value < 0:
            causes.append(invalid(rp, str(raw), "must be greater than or equal to 0"))
        elif (name in COUNTED_RESOURCES or name.startswith("count/")) and value.denominator != 1:
            causes.append(invalid(rp, str(raw), "must be an integer"))
    return causes


def _scopes_on_resources(scope: str, hard: dict) -> bool:
    """BestEffort pods have no requests or limits: such a quota may only count pods."""
    if scope in ("BestEffort", "CrossNamespacePodAffinity"):
        return not any(k in POD_COMPUTE or k in CONTAINER_RESOURCES for k in hard)
    return True


def validate_resource_quota(rq: dict) -> list:
    spec = rq.get("spec") or {}
    hard = spec.get("hard") or {}
    causes = _quota_amounts(hard, "spec.hard")
    scopes = spec.get("scopes") or []
    for scope in scopes:
        if scope not in SCOPES:
            causes.append(invalid("spec.scopes", scopes, "unsupported scope"))
        elif not _scopes_on_resources(scope, hard):
            causes.append(invalid("spec.scopes", scopes, "unsupported scope applied to resource"))
    if any(pair <= set(scopes) for pair in CONFLICTING_SCOPES):
        causes.append(invalid("spec.scopes", scopes, "conflicting scopes"))
    selector = spec.get("scopeSelector")
    if selector:
        ep = "spec.scopeSelector.matchExpressions"
        names = set()
        for req in selector.get("matchExpressions") or []:
            name, op, values = req.get("scopeName"), req.get("operator"), req.get("values") or []
            if name not in SCOPES:
                causes.append(invalid(f"{ep}.scopeName", name, "unsupported scope"))
            elif not _scopes_on_resources(name, hard):
                causes.append(invalid(f"{ep}.scopeName", name, "unsupported scope applied to resource"))
            if name in EXISTS_ONLY_SCOPES and op != "Exists":
                causes.append(invalid(f"{ep}.operator", op, "must be 'Exist' when scope is any of "
                                      "ResourceQuotaScopeTerminating, ResourceQuotaScopeNotTerminating, "
                                      "ResourceQuotaScopeBestEffort, ResourceQuotaScopeNotBestEffort or "
                                      "ResourceQuotaScopeCrossNamespacePodAffinity"))
            if op in ("In", "NotIn") and not values:
                causes.append(required(f"{ep}.values", "must be at least one value when `operator` is "
                                                       "'In' or 'NotIn' for scope selector"))
            elif op in ("Exists", "DoesNotExist") and values:
                causes.append(invalid(f"{ep}.values", values, "must be no value when `operator` is 'Exist' "
                                                              "or 'DoesNotExist' for scope selector"))
            elif op not in SCOPE_OPERATORS:
                causes.append(invalid(f"{ep}.operator", op, "not a valid selector operator"))
            names.add(name)
        if any(pair <= names for pair in CONFLICTING_SCOPES):
            causes.append(invalid("spec.scopeSelector.matchExpressions", selector, "conflicting scopes"))
    status = rq.get("status") or {}
    causes += _quota_amounts(status.get("hard"), "status.hard")
    causes += _quota_amounts(status.get("used"), "status.used")
    return causes


def quota_cells(rq: dict) -> tuple[str, str]:
    """REQUEST and LIMIT: `pods: 1/10, requests.cpu: 500m/4` from status.hard and status.used.

    Until the quota controller has written status.hard, the spec's hard limits are
    shown, with nothing used yet counted as 0.
    """
    status = rq.get("status") or {}
    hard = status.get("hard") or (rq.get("spec") or {}).get("hard") or {}
    used = status.get("used") or {}
    request, limit = [], []
    for name in sorted(hard):
        (limit if name.split(".")[0] == "limits" and "." in name else request).append(
            f"{name}: {used.get(name, '0')}/{hard[name]}")
    return ", ".join(request), ", ".join(limit)


RESOURCE_QUOTA = Kind(
    "", "v1", "ResourceQuota", "resourcequotas", short_names=("quota",), subresources=("status",),
    counts_generation=False, validate=validate_resource_quota,
    decode_check=lambda rq: bad_quantities((rq.get("spec") or {}).get("hard"),
                                           (rq.get("status") or {}).get("hard"),
                                           (rq.get("status") or {}).get("used")),
    columns=(NAME, AGE, col("Request"), col("Limit")),
    row=lambda rq: [rq["metadata"]["name"], age_of(rq), *quota_cells(rq)],
    proto="k8s.io.api.core.v1.ResourceQuota")

KINDS = (LIMIT_RANGE, RESOURCE_QUOTA)
