"""Deletion ranking: which pods a scale-down removes first.

Kubernetes' ActivePodsWithRanks (pkg/controller/controller_utils.go): the worst
pods go first (unscheduled, pending, not ready ...), and among equals those that
crowd a node, so what stays is spread out.
"""
from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Optional

from ..api import meta
from .podutil import is_pod_active, is_pod_ready, ready_since

_PHASE_ORDER = {"Pending": 0, "Unknown": 1, "Running": 2}
DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"


def _log_bucket(when: Optional[datetime], now: datetime) -> int:
    """floor(log2(age in ns)): ages within a factor of two compare as equal.

    Kubernetes compares ages on a log scale when choosing victims
    (LogarithmicScaleDown), so a pod 10 min old and one 11 min old are "as old" and
    the choice between them is random (by uid) rather than always the same node's.
    """
    if when is None:
        return -2
    age_ns = (now - when).total_seconds() * 1e9
    return int(math.floor(math.log2(age_ns))) if age_ns > 0 else -1


def deletion_rank_key(pod: dict, now: datetime, colocated: int = 0) -> tuple:
    """Sort key for choosing which pods a scale-down deletes: smallest first.

    Kubernetes' ActivePodsWithRanks, in its order:
    1. not yet scheduled before scheduled;
    2. Pending before Unknown before Running;
    3. not ready before ready;
    4. lower pod-deletion-cost annotation first;
    5. more pods of the same owner on its node first (spreads what stays);
    6. ready for a shorter time first (log scale);
    7. more container restarts first;
    8. newer before older (log scale); last, the uid, so the order is total.
    """
    md, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    try:
        cost = int((md.get("annotations") or {}).get(DELETION_COST, 0))
    except ValueError:
        cost = 0
    ready = is_pod_ready(pod)
    restarts = max((c.get("restartCount", 0) for c in status.get("containerStatuses") or []),
                   default=0)
    created = md.get("creationTimestamp")
    try:
        created_at = meta.parse_time(created) if created else None
    except ValueError:
        created_at = None
    return (1 if spec.get("nodeName") else 0,
            _PHASE_ORDER.get(status.get("phase"), 0),
            1 if ready else 0,
            cost,
            -colocated,
            _log_bucket(ready_since(pod), now) if ready else 0,
            -restarts,
            _log_bucket(created_at, now),
            md.get("uid", ""))


def pods_to_delete(pods: list[dict], related: list[dict], count: int,
                   now: Optional[datetime] = None) -> list[dict]:
    """The ``count`` pods a scale-down should remove, best victims first.

    ``related`` are the pods of the controller and its siblings (the other
    ReplicaSets of the same Deployment): a pod sharing its node with many of them
    goes first, so what remains is spread over more nodes.
    """
    now = now or datetime.now(timezone.utc)
    per_node: dict[str, int] = {}
    for p in related:
        node = (p.get("spec") or {}).get("nodeName")
        if node and is_pod_active(p):
            per_node[node] = per_node.get(node, 0) + 1
    ranked = sorted(pods, key=lambda p: deletion_rank_key(
        p, now, per_node.get((p.get("spec") or {}).get("nodeName") or "", 0)))
    return ranked[:count]
