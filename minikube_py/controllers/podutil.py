"""Pods as the workload controllers see them: active, ready, available; made from a template.

Kubernetes keeps the predicates in pkg/api/v1/pod and pkg/controller/controller_utils.go
(GetPodFromTemplate). The rest of what ReplicaSet and Deployment share has a module
of its own: refmanager (ownership, claim), expectations, ranking (which pods to
delete), slowstart, mutationcache; base has the event recorder and retry policy.
"""
from __future__ import annotations

import copy
from datetime import datetime, timezone
from typing import Optional

from ..api import meta
from ..api.conditions import is_true, object_condition
from .refmanager import controller_ref


def is_pod_active(pod: dict) -> bool:
    """Counts toward a controller's replicas: not finished and not being deleted."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not (pod.get("metadata") or {}).get(
        "deletionTimestamp")


def is_pod_ready(pod: dict) -> bool:
    """The kubelet sets condition Ready=True when every container passes its readiness probe."""
    return is_true(pod, "Ready")


def ready_since(pod: dict) -> Optional[datetime]:
    """When the pod last became Ready (the Ready condition's lastTransitionTime), or None."""
    cond = object_condition(pod, "Ready")
    if not cond or cond.get("status") != "True" or not cond.get("lastTransitionTime"):
        return None
    try:
        return meta.parse_time(cond["lastTransitionTime"])
    except ValueError:
        return None


def is_pod_available(pod: dict, min_ready_seconds: int, now: Optional[datetime] = None) -> bool:
    """Ready, and has stayed ready for at least ``min_ready_seconds``.

    minReadySeconds guards a rollout against pods that pass their probe and crash a
    moment later: a pod counts as available only after it has been ready that long.
    """
    if not is_pod_ready(pod):
        return False
    if not min_ready_seconds:
        return True
    since = ready_since(pod)
    now = now or datetime.now(timezone.utc)
    return since is not None and (now - since).total_seconds() >= min_ready_seconds


def seconds_until_available(pod: dict, min_ready_seconds: int,
                            now: Optional[datetime] = None) -> Optional[float]:
    """For a ready but not yet available pod: how long until it is. Else None."""
    since = ready_since(pod)
    if not min_ready_seconds or since is None:
        return None
    now = now or datetime.now(timezone.utc)
    left = min_ready_seconds - (now - since).total_seconds()
    return left if left > 0 else None


def pod_from_template(template: dict, owner: dict, generate_name: str) -> dict:
    """The pod a controller creates: the template's metadata and spec, owned by ``owner``."""
    tmeta = template.get("metadata") or {}
    md = {"generateName": generate_name, "namespace": owner["metadata"]["namespace"],
          "ownerReferences": [controller_ref(owner)]}
    for field in ("labels", "annotations", "finalizers"):
        if tmeta.get(field):
            md[field] = copy.deepcopy(tmeta[field])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md,
            "spec": copy.deepcopy(template.get("spec") or {})}
