"""The Job controller: run pods until ``completions`` of them have succeeded.

A Job is work that finishes. One sync (``sync(key)``), as Kubernetes' job_controller.go
does it for ``completionMode: NonIndexed``:

1. Read the Job and the pods it controls (ownerReference with its uid) from the caches;
   count them: **active** (not finished, not being deleted), **succeeded**, **failed**.
2. Decide whether the Job is over:
   - **Complete** once ``succeeded >= completions`` (with no ``completions``: once one
     pod has succeeded and none is active);
   - **Failed** when more than ``backoffLimit`` pods have failed
     (reason BackoffLimitExceeded) or when it ran longer than ``activeDeadlineSeconds``
     (DeadlineExceeded); its active pods are then deleted.
3. Otherwise, unless ``suspend`` is true (then it deletes its active pods), keep
   ``min(parallelism, completions - succeeded)`` pods active: create the missing ones
   from ``spec.template`` (``generateName: <job>-``), delete any surplus.
4. Write status: active, ready, succeeded, failed, startTime, completionTime, and the
   conditions (SuccessCriteriaMet + Complete, or FailureTarget + Failed, as Kubernetes
   1.31+ writes them; Suspended while suspended).

Pods are counted by their phase (the older way of Kubernetes; newer ones also put a
``batch.kubernetes.io/job-tracking`` finalizer on each pod so a deleted finished pod is
still counted -- not done here). Expectations keep it from creating twice while the
cache lags its own creates.

    watches  jobs, pods
    writes   pods (create, delete), jobs/status, events
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

from ..api import meta
from ..api.conditions import condition, get_condition, remove_condition, set_condition
from ..client import errors
from ..client.informer import meta_key
from .base import Controller, event_recorder
from .expectations import Expectations
from .podutil import is_pod_ready, pod_from_template
from .refmanager import CONTROLLER_INDEX, ensure_indexes

COMPONENT = "job-controller"


def finished(job: dict) -> Optional[str]:
    """"Complete" or "Failed" once the Job is over, else None."""
    status = job.get("status") or {}
    for type_ in ("Complete", "Failed"):
        cond = get_condition(status, type_)
        if cond and cond.get("status") == "True":
            return type_
    return None


def count_pods(pods: list[dict]) -> tuple[list[dict], int, int]:
    """(active pods, succeeded, failed)."""
    active, succeeded, failed = [], 0, 0
    for pod in pods:
        phase = (pod.get("status") or {}).get("phase")
        if phase == "Succeeded":
            succeeded += 1
        elif phase == "Failed":
            failed += 1
        elif not pod["metadata"].get("deletionTimestamp"):
            active.append(pod)
    return active, succeeded, failed


def wanted_active(spec: dict, succeeded: int) -> int:
    """How many pods should run now (NonIndexed)."""
    parallelism = spec.get("parallelism", 1)
    completions = spec.get("completions")
    if completions is None:          # a work queue: done when one pod succeeded
        return 0 if succeeded else parallelism
    return max(0, min(parallelism, completions - succeeded))


def failure(job: dict, failed: int, now: datetime) -> Optional[tuple[str, str]]:
    """(reason, message) when the Job has failed, else None."""
    spec = job.get("spec") or {}
    if failed > spec.get("backoffLimit", 6):
        return "BackoffLimitExceeded", "Job has reached the specified backoff limit"
    deadline = spec.get("activeDeadlineSeconds")
    start = (job.get("status") or {}).get("startTime")
    if deadline is not None and start and (now - meta.parse_time(start)).total_seconds() >= deadline:
        return "DeadlineExceeded", "Job was active longer than specified deadline"
    return None


class JobController(Controller):
    name = "job"
    workers = 5                      # kube-controller-manager's --concurrent-job-syncs
    quiet_retries = True

    def __init__(self, client, informers):
        super().__init__(client, informers)
        self.jobs = informers.get("jobs")
        self.pods = informers.get("pods")
        ensure_indexes(self.pods)
        self.expectations = Expectations()
        self.recorder = event_recorder(client, COMPONENT)
        self.jobs.add_handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new),
                              on_delete=self._job_deleted)
        self.pods.add_handler(on_add=self._pod_added, on_update=lambda old, new: self._pod_changed(new),
                              on_delete=self._pod_changed)

    def _job_of(self, pod: dict) -> Optional[dict]:
        ref = meta.owner_of(pod)
        if not ref or ref.get("kind") != "Job":
            return None
        job = self.jobs.get(f"{pod['metadata'].get('namespace')}/{ref.get('name')}")
        return job if job is not None and job["metadata"].get("uid") == ref.get("uid") else None

    def _pod_added(self, pod: dict):
        job = self._job_of(pod)
        if job is not None:
            self.expectations.creation_observed(meta_key(job))
            self.enqueue(job)

    def _pod_changed(self, pod: dict):
        job = self._job_of(pod)
        if job is not None:
            self.enqueue(job)

    def _job_deleted(self, job: dict):
        self.expectations.delete(meta_key(job))

    # ------------------------------------------------------------ sync
    def sync(self, key: str) -> None:
        job = self.jobs.get(key)
        if job is None or finished(job):
            return
        spec = job.get("spec") or {}
        pods = self.pods.by_index(CONTROLLER_INDEX, job["metadata"]["uid"])
        active, succeeded, failed = count_pods(pods)
        now = datetime.now(timezone.utc)
        status = dict(job.get("status") or {})
        if not status.get("startTime") and not spec.get("suspend"):
            status["startTime"] = meta.now_rfc3339()
        job_now = dict(job, status=status)

        done_reason = None
        fail = failure(job_now, failed, now)
        completions = spec.get("completions")
        if fail is None and ((completions is not None and succeeded >= completions)
                             or (completions is None and succeeded > 0 and not active)):
            done_reason = "CompletionsReached"
        if fail is not None or spec.get("suspend"):
            for pod in active:           # a failed or suspended Job keeps no pod running
                self._delete_pod(pod)
            active = []
        elif done_reason is None and self.expectations.satisfied(key):
            want = wanted_active(spec, succeeded)
            if want > len(active):
                self._create_pods(job, want - len(active))
            elif want < len(active):
                for pod in sorted(active, key=lambda p: (is_pod_ready(p), p["metadata"]["name"]))[:len(active) - want]:
                    self._delete_pod(pod)

        status.update(active=len(active), succeeded=succeeded, failed=failed,
                      ready=sum(1 for p in active if is_pod_ready(p)))
        stamp = meta.now_rfc3339()
        if not spec.get("suspend"):
            remove_condition(status, "Suspended")
        else:              # kept as it is while it stays suspended (set_condition)
            set_condition(status, condition("Suspended", True, "JobSuspended", "Job suspended",
                                            lastProbeTime=stamp, lastTransitionTime=stamp))
        if fail is not None:
            reason, message = fail
            for type_ in ("FailureTarget", "Failed"):
                set_condition(status, condition(type_, True, reason, message,
                                                lastProbeTime=stamp, lastTransitionTime=stamp))
            self.recorder.event(job, "Warning", reason, message)
        elif done_reason is not None:
            for type_ in ("SuccessCriteriaMet", "Complete"):
                set_condition(status, condition(type_, True, done_reason, "Reached expected number of succeeded pods",
                                                lastProbeTime=stamp, lastTransitionTime=stamp))
            status["completionTime"] = stamp
            self.recorder.event(job, "Normal", "Completed", "Job completed")
        if status != (job.get("status") or {}):
            try:
                self.client.update_status("jobs", dict(job, status=status))
            except errors.NotFound:
                pass
        if fail is None and done_reason is None and spec.get("activeDeadlineSeconds") is not None \
                and status.get("startTime"):
            left = spec["activeDeadlineSeconds"] - (now - meta.parse_time(status["startTime"])).total_seconds()
            self.queue.add_after(key, max(left, 0.1))      # look again when the deadline passes

    def _create_pods(self, job: dict, count: int) -> None:
        key = meta_key(job)
        self.expectations.expect_creations(key, count)
        for _ in range(count):
            pod = pod_from_template((job.get("spec") or {}).get("template") or {}, job,
                                    f"{job['metadata']['name']}-")
            try:
                created = self.client.create("pods", pod, namespace=job["metadata"]["namespace"])
                self.recorder.event(job, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")
            except errors.ApiError as err:
                self.expectations.creation_observed(key)       # it will never show up
                self.recorder.event(job, "Warning", "FailedCreate", f"Error creating: {err}")
                if isinstance(err, errors.Forbidden):
                    return           # the namespace is terminating
                raise

    def _delete_pod(self, pod: dict) -> None:
        try:
            self.client.delete("pods", pod["metadata"]["name"], namespace=pod["metadata"]["namespace"])
        except errors.NotFound:
            pass


__all__ = ["JobController", "count_pods", "failure", "finished", "wanted_active"]
