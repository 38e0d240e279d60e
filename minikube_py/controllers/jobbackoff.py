"""The pause before a Job replaces a failed pod: 10 s, doubling with each failure, at most 6 min.

Kubernetes' pkg/controller/job/backoff_utils.go. A pod that fails is not replaced at
once: after the n-th failure in a row (a success resets the run) the Job waits
``base * 2**(n-1)`` seconds, capped at ``cap``, counted from when the last failed pod
finished. ``base`` is the controller-manager's ``--job-pod-failure-backoff``
(Kubernetes' DefaultJobPodFailureBackOff, 10 s; tests use 1 s). Everything here is
read from the pods themselves, so it survives a controller restart.
"""
from __future__ import annotations

from datetime import datetime
from typing import Iterable, Optional

from ..api import meta

DEFAULT_BACKOFF = 10.0        # seconds
MAX_BACKOFF = 360.0           # six minutes

__all__ = ["DEFAULT_BACKOFF", "MAX_BACKOFF", "finish_time", "remaining_backoff"]


def finish_time(pod: dict) -> Optional[datetime]:
    """When the pod finished: its containers' last finishedAt, else its last condition change,
    else when it was created."""
    st, md = pod.get("status") or {}, pod.get("metadata") or {}
    stamps = [((cs.get("state") or {}).get("terminated") or {}).get("finishedAt")
              for cs in (st.get("containerStatuses") or []) + (st.get("initContainerStatuses") or [])]
    stamps = [s for s in stamps if s]
    if not stamps:
        stamps = [c.get("lastTransitionTime") for c in st.get("conditions") or [] if c.get("lastTransitionTime")]
    if not stamps and md.get("creationTimestamp"):
        stamps = [md["creationTimestamp"]]
    times = []
    for s in stamps:
        try:
            times.append(meta.parse_time(s))
        except ValueError:
            pass
    return max(times) if times else None


def remaining_backoff(finished: Iterable[tuple[dict, bool]], now: datetime, base: float = DEFAULT_BACKOFF,
                      cap: float = MAX_BACKOFF) -> float:
    """Seconds to wait before the next pod, given the finished pods as (pod, failed) pairs."""
    ordered = sorted(((finish_time(p), failed) for p, failed in finished), key=lambda x: (x[0] is None, x[0]))
    failures, last_failure = 0, None
    for when, failed in ordered:
        if failed:
            failures, last_failure = failures + 1, when or last_failure
        else:
            failures = 0
    if not failures or last_failure is None:
        return 0.0
    delay = min(base * 2 ** (failures - 1), cap)
    return max(0.0, delay - (now - last_failure).total_seconds())
