"""Taints and tolerations: does a pod's toleration cover a node's taint?

The scheduler asks it to keep pods off tainted nodes (NoSchedule, NoExecute) and the
node lifecycle controller asks it to decide which pods a NoExecute taint evicts.
"""
from __future__ import annotations


def tolerates(toleration: dict, taint: dict) -> bool:
    """Does this one toleration cover this one taint? (Kubernetes' ToleratesTaint.)

    - an empty effect matches every effect;
    - an empty key with operator Exists matches every taint;
    - Exists matches any value, Equal (the default) needs the same value.
    """
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    operator = toleration.get("operator") or "Equal"
    if key != (taint.get("key") or ""):
        if not (key == "" and operator == "Exists"):
            return False
    if operator == "Exists":
        return True
    if operator == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False
