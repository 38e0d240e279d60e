"""A TFJob's status: conditions with the training operator's rules, and replica counts.

Conditions (type, status, reason, message, lastUpdateTime, lastTransitionTime) follow
pkg/util/status.go of the training operator, which differs from the usual
set-a-condition in three ways:

- once the job has Failed=True, no condition changes any more;
- Running and Restarting exclude each other: setting one removes the other;
- Succeeded or Failed turn a Running condition to status False (kept, for its times).

The last condition is the job's state (kubectl's STATE column shows
``.status.conditions[-1:].type``). Reasons are the kind plus a word:
TFJobCreated, TFJobRunning, TFJobRestarting, TFJobSucceeded, TFJobFailed,
TFJobSuspended, TFJobResumed, TFJobFailedValidation.
"""
from __future__ import annotations

from typing import Optional

from ...api import meta
from ...api.conditions import get_condition
from .spec import KIND

CREATED, RUNNING, RESTARTING, SUCCEEDED, SUSPENDED, FAILED = (
    "Created", "Running", "Restarting", "Succeeded", "Suspended", "Failed")


def reason(word: str) -> str:
    """``TFJob`` + ``Running`` -> ``TFJobRunning`` (commonutil.NewReason)."""
    return KIND + word


def is_true(status: Optional[dict], type_: str) -> bool:
    cond = get_condition(status, type_)
    return bool(cond) and cond.get("status") == "True"


def is_succeeded(status: Optional[dict]) -> bool:
    return is_true(status, SUCCEEDED)


def is_failed(status: Optional[dict]) -> bool:
    return is_true(status, FAILED)


def is_finished(status: Optional[dict]) -> bool:
    return is_succeeded(status) or is_failed(status)


def update_condition(status: dict, type_: str, value: bool, why: str, message: str) -> None:
    """Set one condition as the operator's UpdateJobConditions does (see the module doc)."""
    if is_failed(status):
        return
    cond_status = "True" if value else "False"
    current = get_condition(status, type_)
    if current is not None and current.get("status") == cond_status and current.get("reason") == why:
        return
    now = meta.now_rfc3339()
    new = {"type": type_, "status": cond_status, "reason": why, "message": message,
           "lastUpdateTime": now, "lastTransitionTime": now}
    if current is not None and current.get("status") == cond_status:
        new["lastTransitionTime"] = current.get("lastTransitionTime") or now
    kept = []
    for c in status.get("conditions") or []:
        if c.get("type") == type_ or {type_, c.get("type")} == {RUNNING, RESTARTING}:
            continue
        if type_ in (FAILED, SUCCEEDED) and c.get("type") == RUNNING:
            c = dict(c, status="False")
        kept.append(c)
    status["conditions"] = kept + [new]


def replica_status(status: dict, rtype: str) -> dict:
    return status.setdefault("replicaStatuses", {}).setdefault(rtype, {})


def count_pod(counts: dict, pod: dict) -> None:
    """Running pods are active; Succeeded and Failed ones are counted as such (Pending: none)."""
    phase = (pod.get("status") or {}).get("phase")
    field = {"Running": "active", "Succeeded": "succeeded", "Failed": "failed"}.get(phase)
    if field:
        counts[field] = counts.get(field, 0) + 1


def total_failed(status: dict) -> int:
    return sum(int(s.get("failed") or 0) for s in (status.get("replicaStatuses") or {}).values())


def exit_code(pod: dict, container: str) -> Optional[int]:
    """The exit code of the pod's ``container`` once it has terminated, else None."""
    for cs in (pod.get("status") or {}).get("containerStatuses") or []:
        terminated = (cs.get("state") or {}).get("terminated")
        if cs.get("name") == container and terminated:
            return terminated.get("exitCode")
    return None


def is_retryable_exit_code(code: Optional[int]) -> bool:
    """128 and above: killed by a signal (130 SIGINT, 137 SIGKILL, 138 SIGUSR1, 143 SIGTERM),
    something outside the program -- worth another try. 1-127: the program's own error."""
    return code is not None and code >= 128
