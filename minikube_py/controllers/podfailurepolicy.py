"""A Job's podFailurePolicy: what one failed pod means for its Job.

Kubernetes' pkg/controller/job/pod_failure_policy.go. The rules are tried in order
on a pod in phase Failed; the first that matches decides:

- ``FailJob``: the whole Job fails now (reason PodFailurePolicy), its pods are stopped;
- ``FailIndex``: the pod's index fails for good (Indexed Jobs with backoffLimitPerIndex);
- ``Ignore``: the failure does not count toward backoffLimit; a new pod replaces it
  (a pod evicted by a drain, condition DisruptionTarget, is the usual case);
- ``Count``: counted, as if no rule had matched.

A rule matches on exit codes (``onExitCodes``: In / NotIn the values, for one
container or any; exit code 0 never matches) or on pod conditions
(``onPodConditions``: a condition of that type with that status).
"""
from __future__ import annotations

from typing import Optional

__all__ = ["match_pod_failure_policy"]


def match_pod_failure_policy(policy: Optional[dict], pod: dict) -> tuple[Optional[str], Optional[str]]:
    """(action, message) of the first rule the failed pod matches; (None, None) when none does."""
    md = pod.get("metadata") or {}
    pod_name = f"{md.get('namespace')}/{md.get('name')}"
    for i, rule in enumerate((policy or {}).get("rules") or []):
        action = rule.get("action")
        if rule.get("onExitCodes") is not None:
            container = _matching_container(rule["onExitCodes"], pod)
            if container is not None:
                name, code = container
                return action, (f"Container {name} for pod {pod_name} failed with exit code {code} "
                                f"matching {action} rule at index {i}")
        for pattern in rule.get("onPodConditions") or []:
            for cond in (pod.get("status") or {}).get("conditions") or []:
                if cond.get("type") == pattern.get("type") and cond.get("status") == pattern.get("status", "True"):
                    return action, f"Pod {pod_name} has condition {cond['type']} matching {action} rule at index {i}"
    return None, None


def _matching_container(req: dict, pod: dict) -> Optional[tuple[str, int]]:
    """(container name, exit code) of the first container whose non-zero exit code satisfies ``req``."""
    st = pod.get("status") or {}
    values, operator = set(req.get("values") or []), req.get("operator")
    for cs in (st.get("containerStatuses") or []) + (st.get("initContainerStatuses") or []):
        if req.get("containerName") is not None and cs.get("name") != req["containerName"]:
            continue
        terminated = (cs.get("state") or {}).get("terminated")
        code = (terminated or {}).get("exitCode")
        if not terminated or not code:
            continue
        if (operator == "In" and code in values) or (operator == "NotIn" and code not in values):
            return cs.get("name"), code
    return None
