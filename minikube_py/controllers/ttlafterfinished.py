"""The TTL-after-finished controller: delete a finished Job ``ttlSecondsAfterFinished`` later.

Kubernetes' pkg/controller/ttlafterfinished. A Job with ``spec.ttlSecondsAfterFinished``
that has finished (condition Complete or Failed) is deleted that many seconds after it
finished (its completionTime, or when its terminal condition turned True), with
propagationPolicy Background so that the garbage collector removes its pods too. Before
deleting, the controller reads the Job fresh from the apiserver (the TTL may have been
changed meanwhile) and deletes with a uid precondition (a new Job of the same name is
left alone). A Job that is not due yet is looked at again when it is.

    watches  jobs
    writes   jobs (delete)
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

from ..api import meta
from ..api.conditions import get_condition
from ..client import errors
from .base import Controller

__all__ = ["TTLAfterFinishedController", "finish_time", "time_left"]


def finish_time(job: dict) -> Optional[datetime]:
    """When the Job finished, or None while it runs."""
    status = job.get("status") or {}
    for type_ in ("Complete", "Failed"):
        cond = get_condition(status, type_)
        if cond and cond.get("status") == "True":
            stamp = status.get("completionTime") if type_ == "Complete" else None
            stamp = stamp or cond.get("lastTransitionTime")
            return meta.parse_time(stamp) if stamp else None
    return None


def time_left(job: dict, now: datetime) -> Optional[float]:
    """Seconds until the Job is due for deletion (<= 0: now); None: never (no TTL, not finished)."""
    ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
    if ttl is None or job["metadata"].get("deletionTimestamp"):
        return None
    finished = finish_time(job)
    if finished is None:
        return None
    return ttl - (now - finished).total_seconds()


class TTLAfterFinishedController(Controller):
    name = "ttl-after-finished"
    workers = 5                      # --concurrent-ttl-after-finished-syncs

    def __init__(self, client, informers):
        super().__init__(client, informers)
        self.jobs = informers.get("jobs")
        self.jobs.add_handler(on_add=self._job_changed, on_update=lambda old, new: self._job_changed(new))

    def _job_changed(self, job: dict):
        if (job.get("spec") or {}).get("ttlSecondsAfterFinished") is not None and finish_time(job) is not None:
            self.enqueue(job)

    def sync(self, key: str) -> None:
        job = self.jobs.get(key)
        if job is None:
            return
        left = time_left(job, datetime.now(timezone.utc))
        if left is None:
            return
        if left > 0:
            self.queue.add_after(key, left)
            return
        namespace, name = key.split("/", 1)
        try:
            fresh = self.client.get("jobs", name, namespace=namespace)     # the TTL may have changed
        except errors.NotFound:
            return
        left = time_left(fresh, datetime.now(timezone.utc))
        if left is None:
            return
        if left > 0:
            self.queue.add_after(key, left)
            return
        try:
            self.client.delete("jobs", name, namespace=namespace, propagation_policy="Background",
                               preconditions={"uid": fresh["metadata"]["uid"]})
            self.log.info("deleted job %s: finished %ss ago", key, fresh["spec"]["ttlSecondsAfterFinished"])
        except (errors.NotFound, errors.Conflict):
            pass
