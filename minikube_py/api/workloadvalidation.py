"""Deployment and ReplicaSet validation: replicas, a selector that matches the pod
template's labels, a valid template, a rolling-update strategy that can make progress."""
import json
import re

from .names import regex_error
from .podvalidation import validate_pod_spec
from .selectors import LabelSelector, SelectorError
from .validation import forbidden, invalid, non_negative, not_supported, required, validate_labels

__all__ = ["validate_deployment", "validate_replicated", "validate_selector_unchanged"]


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
        return non_negative(path, value)
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


def validate_replicated(obj: dict) -> list:
    """What a Deployment and a ReplicaSet share: replicas, selector and pod template."""
    spec = obj.get("spec") or {}
    causes = non_negative("spec.replicas", spec.get("replicas"))
    causes += non_negative("spec.minReadySeconds", spec.get("minReadySeconds"))

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


def validate_deployment(obj: dict) -> list:
    spec = obj.get("spec") or {}
    causes = validate_replicated(obj)
    causes += non_negative("spec.revisionHistoryLimit", spec.get("revisionHistoryLimit"))
    causes += _validate_strategy(spec.get("strategy"), "spec.strategy")
    deadline = spec.get("progressDeadlineSeconds")
    if isinstance(deadline, int) and deadline <= (spec.get("minReadySeconds") or 0):
        causes.append(invalid("spec.progressDeadlineSeconds", deadline,
                              "must be greater than minReadySeconds"))
    return causes


def _selector_key(sel):
    try:
        return LabelSelector.from_dict(sel).to_string()
    except SelectorError:
        return json.dumps(sel, sort_keys=True)


def validate_selector_unchanged(old: dict, new: dict) -> list:
    """A Deployment's or ReplicaSet's selector is immutable (apps/v1)."""
    old_sel = (old.get("spec") or {}).get("selector")
    new_sel = (new.get("spec") or {}).get("selector")
    if _selector_key(old_sel) != _selector_key(new_sel):
        return [invalid("spec.selector", new_sel, "field is immutable")]
    return []
