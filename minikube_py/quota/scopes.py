"""Quota scopes: which pods a scoped ResourceQuota counts.

A quota with `scopes: [BestEffort]` (or the same as a `scopeSelector` expression) counts
only the pods in that scope; every scope of a quota must match. Scopes only ever match
pods: a scoped quota counts no Services, ConfigMaps, ... (pkg/quota/v1/evaluator/core).
"""
from __future__ import annotations

from ..api.defaults import qos_class


def selectors_of(quota: dict) -> list[dict]:
    """A quota's scopes and scopeSelector expressions, as `{scopeName, operator, values}`."""
    spec = quota.get("spec") or {}
    out = [{"scopeName": s, "operator": "Exists"} for s in spec.get("scopes") or []]
    out += ((spec.get("scopeSelector") or {}).get("matchExpressions") or [])
    return out


def is_terminating(pod: dict) -> bool:
    """A pod with an activeDeadlineSeconds ends by itself (a Job's pod, a batch run)."""
    deadline = (pod.get("spec") or {}).get("activeDeadlineSeconds")
    return deadline is not None and deadline >= 0


def _cross_namespace_affinity(pod: dict) -> bool:
    affinity = (pod.get("spec") or {}).get("affinity") or {}
    for kind in ("podAffinity", "podAntiAffinity"):
        rules = affinity.get(kind) or {}
        terms = list(rules.get("requiredDuringSchedulingIgnoredDuringExecution") or [])
        terms += [w.get("podAffinityTerm") or {} for w in
                  rules.get("preferredDuringSchedulingIgnoredDuringExecution") or []]
        if any(t.get("namespaces") or t.get("namespaceSelector") is not None for t in terms):
            return True
    return False


def pod_matches(selector: dict, pod: dict) -> bool:
    """Does one scope expression match this pod?"""
    name, op = selector.get("scopeName"), selector.get("operator")
    spec = pod.get("spec") or {}
    if name == "Terminating":
        return is_terminating(pod)
    if name == "NotTerminating":
        return not is_terminating(pod)
    if name == "BestEffort":
        return qos_class(spec) == "BestEffort"
    if name == "NotBestEffort":
        return qos_class(spec) != "BestEffort"
    if name == "CrossNamespacePodAffinity":
        return _cross_namespace_affinity(pod)
    if name == "PriorityClass":
        # As upstream, the pod is the label set {PriorityClass: its class name, maybe ""}:
        # Exists asks for a non-empty name, DoesNotExist never matches.
        value = spec.get("priorityClassName") or ""
        values = selector.get("values") or []
        return {"Exists": value != "", "DoesNotExist": False,
                "In": value in values, "NotIn": value not in values}.get(op, False)
    return False
