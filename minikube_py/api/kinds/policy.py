"""The policy group's kind (`/apis/policy/v1`): PodDisruptionBudget.

A PodDisruptionBudget says how many of an application's pods must stay up while
someone *voluntarily* takes pods away (`kubectl drain`, a cluster upgrade): either
`minAvailable` or `maxUnavailable`, a count or a percentage, over the pods its
selector picks. The disruption controller (controllers/disruption.py) keeps its
status; the eviction subresource (apiserver/subresources.py) reads it before it
deletes a pod. Involuntary disruptions (a node dies) are not stopped by a budget.
"""
from __future__ import annotations

import re

from ..selectors import LabelSelector, SelectorError
from ..validation import invalid, non_negative, not_supported
from .columns import AGE, NAME, age_of, col
from .kind import Kind

UNHEALTHY_POD_EVICTION_POLICIES = ("IfHealthyBudget", "AlwaysAllow")
_PERCENT = re.compile(r"[0-9]+%")


def _positive_int_or_percent(value, path: str) -> list:
    """ValidatePositiveIntOrPercent + IsNotMoreThan100Percent, as upstream words them."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        return [invalid(path, value, "must be an integer or percentage (e.g '5%')")]
    if isinstance(value, int):
        return non_negative(path, value)
    if not _PERCENT.fullmatch(value):
        return [invalid(path, value, "must be an integer or percentage (e.g '5%')")]
    if int(value[:-1]) > 100:
        return [invalid(path, value, "must not be greater than 100%")]
    return []


def validate_pdb(pdb: dict) -> list:
    spec = pdb.get("spec") or {}
    causes = []
    if spec.get("minAvailable") is not None and spec.get("maxUnavailable") is not None:
        causes.append(invalid("spec", spec, "minAvailable and maxUnavailable cannot be both set"))
    for name in ("minAvailable", "maxUnavailable"):
        if spec.get(name) is not None:
            causes += _positive_int_or_percent(spec[name], f"spec.{name}")
    try:
        LabelSelector.from_dict(spec.get("selector"))
    except (SelectorError, TypeError, AttributeError) as err:
        causes.append(invalid("spec.selector", spec.get("selector"), str(err)))
    policy = spec.get("unhealthyPodEvictionPolicy")
    if policy is not None and policy not in UNHEALTHY_POD_EVICTION_POLICIES:
        causes.append(not_supported("spec.unhealthyPodEvictionPolicy", policy,
                                    list(UNHEALTHY_POD_EVICTION_POLICIES)))
    status = pdb.get("status") or {}
    for name in ("disruptionsAllowed", "currentHealthy", "desiredHealthy", "expectedPods"):
        if status.get(name) is not None:
            causes += non_negative(f"status.{name}", status[name])
    return causes


def pdb_row(pdb: dict) -> list:
    spec, status = pdb.get("spec") or {}, pdb.get("status") or {}
    shown = lambda v: "N/A" if v is None else str(v)      # noqa: E731 - as kubectl prints an unset bound
    return [pdb["metadata"]["name"], shown(spec.get("minAvailable")), shown(spec.get("maxUnavailable")),
            status.get("disruptionsAllowed", 0), age_of(pdb)]


POD_DISRUPTION_BUDGET = Kind(
    "policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", short_names=("pdb",),
    subresources=("status",), validate=validate_pdb,
    columns=(NAME, col("Min Available"), col("Max Unavailable"), col("Allowed Disruptions", "integer"), AGE),
    row=pdb_row,
    proto="k8s.io.api.policy.v1.PodDisruptionBudget")

KINDS = (POD_DISRUPTION_BUDGET,)
