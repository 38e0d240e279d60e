"""Status conditions: the one list-of-{type, status, reason, message} shape every kind uses.

Pods, Nodes, Deployments and Namespaces all report `status.conditions`: a list in
which each `type` appears at most once and `status` is "True", "False" or "Unknown".
Controllers and the kubelet read one condition by type, build a new one, and replace
it only when it changed, keeping `lastTransitionTime` while the status stays the same.
"""
from __future__ import annotations

from typing import Optional, Union

from . import meta


def get_condition(status: Optional[dict], type_: str) -> Optional[dict]:
    """The condition of this type in a `status` dict, or None."""
    for c in (status or {}).get("conditions") or []:
        if c.get("type") == type_:
            return c
    return None


def object_condition(obj: dict, type_: str) -> Optional[dict]:
    """The condition of this type in an object's status (a pod's Ready, a node's Ready ...)."""
    return get_condition(obj.get("status"), type_)


def condition_status(obj: dict, type_: str) -> Optional[str]:
    """"True", "False", "Unknown" -- or None when the object has no such condition."""
    return (object_condition(obj, type_) or {}).get("status")


def is_true(obj: dict, type_: str) -> bool:
    cond = object_condition(obj, type_)
    return bool(cond) and cond.get("status") == "True"


def condition(type_: str, status: Union[bool, str], reason: Optional[str] = None,
              message: Optional[str] = None, **times) -> dict:
    """Build a condition; a bool status becomes "True"/"False"; None reason/message are left out.

    `times` are the kind's own timestamps (lastTransitionTime, lastUpdateTime,
    lastHeartbeatTime, lastProbeTime), added as given.
    """
    c = {"type": type_, "status": ("True" if status else "False") if isinstance(status, bool) else status}
    if reason is not None:
        c["reason"] = reason
    if message is not None:
        c["message"] = message
    c.update(times)
    return c


def timed_condition(type_: str, status: Union[bool, str], reason: str, message: str) -> dict:
    """A condition stamped now, as workload controllers write them (Deployment, Job)."""
    now = meta.now_rfc3339()
    return condition(type_, status, reason, message, lastUpdateTime=now, lastTransitionTime=now)


def set_condition(status: dict, cond: dict) -> None:
    """Add or replace a condition; same status and reason -> leave the old one as it is.

    A new reason with the same status keeps the old lastTransitionTime: the status
    did not transition.
    """
    current = get_condition(status, cond["type"])
    if current is not None and current.get("status") == cond["status"] \
            and current.get("reason") == cond.get("reason"):
        return
    if current is not None and current.get("status") == cond["status"]:
        cond = dict(cond, lastTransitionTime=current.get("lastTransitionTime"))
    remove_condition(status, cond["type"])
    status.setdefault("conditions", []).append(cond)


def remove_condition(status: dict, type_: str) -> None:
    conds = [c for c in status.get("conditions") or [] if c.get("type") != type_]
    if conds:
        status["conditions"] = conds
    else:
        status.pop("conditions", None)
