"""The Job controller: run pods until enough of them have succeeded, or give up.

A Job is work that finishes. One sync (``sync(key)``), as Kubernetes'
pkg/controller/job/job_controller.go does it:

1. Read the Job and the pods it controls (ownerReference with its uid) from the caches;
   sort them into **active** (running or pending), **terminating** (being deleted),
   **succeeded** and **failed**. A failed pod is judged by the ``podFailurePolicy``
   (podfailurepolicy.py): it may fail the Job, fail its index, be ignored or counted.
2. Decide whether the Job is over. It has **failed** when a FailJob rule matched
   (reason PodFailurePolicy), when more than ``backoffLimit`` pods failed -- or, with
   restartPolicy OnFailure, their containers restarted ``backoffLimit`` times
   (BackoffLimitExceeded), when it ran longer than ``activeDeadlineSeconds``
   (DeadlineExceeded), or, Indexed with ``backoffLimitPerIndex``, when more than
   ``maxFailedIndexes`` indexes failed (MaxFailedIndexesExceeded) or every index ended and
   some failed (FailedIndexes). It has **succeeded** when ``completions`` pods (Indexed:
   indexes) succeeded (CompletionsReached) or a ``successPolicy`` rule is met
   (SuccessPolicy). As Kubernetes 1.31+ writes it: first the condition FailureTarget or
   SuccessCriteriaMet, the remaining pods are deleted, and only once none is left
   Failed or Complete (with ``completionTime``).
3. Otherwise, unless suspended (then its pods are deleted, condition Suspended; on
   resume Suspended=False and a new startTime), keep ``parallelism`` pods active:
   NonIndexed, ``min(parallelism, completions - succeeded)`` pods named ``<job>-xxxxx``;
   Indexed, one pod per index still to do (indexedjob.py). A failed pod is replaced
   only after the back-off (jobbackoff.py: 10 s doubling, at most 6 min).
4. Write status: active, ready, terminating, succeeded, failed, completedIndexes,
   failedIndexes, startTime, completionTime and the conditions.

Pods are counted by their phase (newer Kubernetes also puts a
``batch.kubernetes.io/job-tracking`` finalizer on each pod so that a finished pod
deleted early still counts -- not done here). Expectations keep the controller from
creating twice while its cache lags its own writes.

    watches  jobs, pods
    writes   pods (create, delete), jobs/status, events
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Optional

from ..api import meta
from ..api.conditions import condition, get_condition, set_condition
from ..api.indexset import IndexSetError, format_indexes, parse_indexes
from ..client import errors
from ..client.informer import meta_key
from .base import Controller, event_recorder
from .expectations import Expectations
from .mutationcache import MutationCache
from .indexedjob import completion_index, failure_count, indexed_template, matched_success_rule
from .jobbackoff import MAX_BACKOFF, remaining_backoff
from .podfailurepolicy import match_pod_failure_policy
from .podutil import is_pod_ready, pod_from_template
from .refmanager import CONTROLLER_INDEX, cached_controller, ensure_indexes

COMPONENT = "job-controller"

MESSAGES = {
    "BackoffLimitExceeded": "Job has reached the specified backoff limit",
    "DeadlineExceeded": "Job was active longer than specified deadline",
    "MaxFailedIndexesExceeded": "Job has exceeded the specified maximum number of failed indexes",
    "FailedIndexes": "Job has failed indexes",
    "CompletionsReached": "Reached expected number of succeeded pods",
}


def finished(job: dict) -> Optional[str]:
    """"Complete" or "Failed" once the Job is over, else None."""
    status = job.get("status") or {}
    for type_ in ("Complete", "Failed"):
        cond = get_condition(status, type_)
        if cond and cond.get("status") == "True":
            return type_
    return None


def wanted_active(spec: dict, succeeded: int) -> int:
    """How many pods should run now (NonIndexed)."""
    parallelism = spec.get("parallelism", 1)
    completions = spec.get("completions")
    if completions is None:          # a work queue: done when one pod succeeded
        return 0 if succeeded else parallelism
    return max(0, min(parallelism, completions - succeeded))


def past_backoff_limit_on_failure(spec: dict, active: list[dict]) -> bool:
    """restartPolicy OnFailure: the kubelet restarts containers in place and no pod fails, so
    the restarts of the running pods count toward backoffLimit instead."""
    if ((spec.get("template") or {}).get("spec") or {}).get("restartPolicy") != "OnFailure":
        return False
    restarts = sum(cs.get("restartCount", 0) for pod in active
                   if (pod.get("status") or {}).get("phase", "Pending") in ("Pending", "Running")
                   for cs in (pod["status"].get("containerStatuses") or []) + (pod["status"].get("initContainerStatuses") or []))
    limit = spec.get("backoffLimit", 6)
    return restarts > 0 if limit == 0 else restarts >= limit


class JobPods:
    """A Job's pods sorted out: active, terminating, succeeded, failed (with the policy's verdict)."""

    def __init__(self, job: dict, pods: list[dict]):
        spec = job.get("spec") or {}
        self.indexed = spec.get("completionMode") == "Indexed"
        self.completions = spec.get("completions")
        self.active, self.terminating, self.succeeded = [], [], []
        self.failed: list[tuple[dict, Optional[str], Optional[str]]] = []   # (pod, action, message)
        for pod in pods:
            phase = (pod.get("status") or {}).get("phase")
            if phase == "Succeeded":
                self.succeeded.append(pod)
            elif phase == "Failed":
                self.failed.append((pod, *match_pod_failure_policy(spec.get("podFailurePolicy"), pod)))
            elif pod["metadata"].get("deletionTimestamp"):
                self.terminating.append(pod)
            else:
                self.active.append(pod)
        self.counted_failures = [p for p, action, _ in self.failed if action != "Ignore"]

    def index(self, pod: dict) -> Optional[int]:
        return completion_index(pod, self.completions or 0) if self.indexed else None

    def succeeded_indexes(self) -> set:
        return {i for i in (self.index(p) for p in self.succeeded) if i is not None}

    def index_failures(self) -> dict:
        """Failures per index so far: the most any of its pods knew of, plus its own."""
        counts: dict[int, int] = {}
        for pod in self.active + self.terminating + self.succeeded + [p for p, _, _ in self.failed]:
            i = self.index(pod)
            if i is not None:
                counts[i] = max(counts.get(i, 0), failure_count(pod) + (1 if pod in self.counted_failures else 0))
        return counts


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
        self.written = MutationCache()     # our status writes, until the job informer shows them
        self.recorder = event_recorder(client, COMPONENT)
        self.jobs.add_handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new),
                              on_delete=self._job_deleted)
        self.pods.add_handler(on_add=self._pod_added, on_update=lambda old, new: self._pod_changed(new),
                              on_delete=lambda pod: self._pod_changed(pod, gone=True))

    def _job_of(self, pod: dict) -> Optional[dict]:
        return cached_controller(self.jobs, pod, "Job")

    def _pod_added(self, pod: dict):
        job = self._job_of(pod)
        if job is not None:
            self.expectations.creation_observed(meta_key(job))
            self.enqueue(job)

    def _pod_changed(self, pod: dict, gone: bool = False):
        job = self._job_of(pod)
        if job is not None:
            if gone or pod["metadata"].get("deletionTimestamp"):
                self.expectations.deletion_observed(meta_key(job), meta_key(pod))
            self.enqueue(job)

    def _job_deleted(self, job: dict):
        self.expectations.delete(meta_key(job))
        self.written.forget(meta_key(job))

    @property
    def backoff_base(self) -> float:
        return self.config.job_pod_failure_backoff

    # ------------------------------------------------------------ sync
    def sync(self, key: str) -> None:
        # Our own last status write if the cache lags: a sync woken by the DELETE of a pod
        # we just removed must see the FailureTarget we wrote, or it would start a new pod.
        job = self.written.newest(self.jobs.get(key))
        if job is None or finished(job) or job["metadata"].get("deletionTimestamp"):
            return
        spec = job.get("spec") or {}
        pods = JobPods(job, self.pods.by_index(CONTROLLER_INDEX, job["metadata"]["uid"]))
        now = datetime.now(timezone.utc)
        stamp = meta.now_rfc3339()
        status = dict(job.get("status") or {})
        status["conditions"] = [dict(c) for c in status.get("conditions") or []]
        events: list[tuple[str, str, str]] = []     # recorded once the status is written
        self._suspend_and_start(job, status, stamp, events)
        wait = None                           # seconds until a back-off ends
        doomed: list = []                     # active pods of a decided Job

        succeeded_indexes = failed_indexes = None
        if pods.indexed:
            succeeded_indexes = pods.succeeded_indexes()
            failed_indexes = self._failed_indexes(job, pods, status) - succeeded_indexes
        succeeded = len(succeeded_indexes) if pods.indexed else len(pods.succeeded)

        target = self._verdict(job, status, pods, now, succeeded_indexes, failed_indexes)
        active = pods.active
        if target is not None:
            type_, reason, message = target
            interim = "FailureTarget" if type_ == "Failed" else "SuccessCriteriaMet"
            if get_condition(status, interim) is None:
                set_condition(status, condition(interim, True, reason, message, lastProbeTime=stamp,
                                                lastTransitionTime=stamp))
            remaining = active + pods.terminating
            doomed = active               # deleted once the decision is written (below)
            if not remaining:                 # every pod has stopped: the Job is over
                set_condition(status, condition(type_, True, reason, message, lastProbeTime=stamp,
                                                lastTransitionTime=stamp))
                if type_ == "Complete":
                    status["completionTime"] = stamp
                    events.append(("Normal", "Completed", "Job completed"))
                else:
                    events.append(("Warning", reason, message))
            active = []
        elif spec.get("suspend"):
            self._delete_pods(job, active)
            active = []
        elif self.expectations.satisfied(key):
            if pods.indexed:
                wait = self._manage_indexed(job, pods, succeeded_indexes, failed_indexes, now)
            else:
                wait = self._manage(job, pods, succeeded, now)

        status.update(active=len(active), ready=sum(1 for p in active if is_pod_ready(p)),
                      terminating=len(pods.terminating), succeeded=succeeded, failed=len(pods.counted_failures))
        if pods.indexed:
            status.pop("completedIndexes", None)
            if succeeded_indexes:
                status["completedIndexes"] = format_indexes(succeeded_indexes)
            if spec.get("backoffLimitPerIndex") is not None:
                status["failedIndexes"] = format_indexes(failed_indexes)
        if not status["conditions"]:
            del status["conditions"]
        if status != (job.get("status") or {}):
            try:
                self.written.remember(self.client.update_status("jobs", dict(job, status=status)))
            except errors.NotFound:
                return
        self._delete_pods(job, doomed)       # after the decision is stored: a retry finds it there
        for type_, reason, message in events:
            self.recorder.event(job, type_, reason, message)
        self._look_again(key, job, status, target, now, wait)

    @staticmethod
    def _suspend_and_start(job: dict, status: dict, stamp: str, events: list) -> None:
        """Suspended=True while suspended; on resume Suspended=False and a fresh startTime
        (activeDeadlineSeconds counts the time a Job is continuously active)."""
        cond = get_condition(status, "Suspended")
        if (job.get("spec") or {}).get("suspend"):
            if not cond or cond.get("status") != "True":
                set_condition(status, condition("Suspended", True, "JobSuspended", "Job suspended",
                                                lastProbeTime=stamp, lastTransitionTime=stamp))
                events.append(("Normal", "Suspended", "Job suspended"))
            return
        if cond and cond.get("status") == "True":
            set_condition(status, condition("Suspended", False, "JobResumed", "Job resumed",
                                            lastProbeTime=stamp, lastTransitionTime=stamp))
            events.append(("Normal", "Resumed", "Job resumed"))
            status["startTime"] = stamp
        elif not status.get("startTime"):
            status["startTime"] = stamp

    def _failed_indexes(self, job: dict, pods: JobPods, status: dict) -> set:
        """Indexes failed for good: over backoffLimitPerIndex, or matched by a FailIndex rule."""
        spec = job.get("spec") or {}
        limit = spec.get("backoffLimitPerIndex")
        if limit is None:
            return set()
        try:
            failed = parse_indexes(status.get("failedIndexes") or "", spec.get("completions") or 0)
        except IndexSetError:
            failed = set()
        failed |= {i for i, n in pods.index_failures().items() if n > limit}
        failed |= {pods.index(p) for p, action, _ in pods.failed
                   if action == "FailIndex" and pods.index(p) is not None}
        return failed

    def _verdict(self, job, status, pods: JobPods, now, succeeded_indexes, failed_indexes):
        """("Failed" | "Complete", reason, message) once the Job is decided, else None."""
        for interim, final in (("FailureTarget", "Failed"), ("SuccessCriteriaMet", "Complete")):
            cond = get_condition(status, interim)
            if cond and cond.get("status") == "True":       # decided earlier: it stays decided
                return final, cond.get("reason"), cond.get("message")
        spec = job.get("spec") or {}
        for pod, action, message in sorted(pods.failed, key=lambda f: f[0]["metadata"].get("name", "")):
            if action == "FailJob":
                return "Failed", "PodFailurePolicy", message
        per_index = spec.get("backoffLimitPerIndex") is not None
        if not per_index and (len(pods.counted_failures) > spec.get("backoffLimit", 6)
                              or past_backoff_limit_on_failure(spec, pods.active)):
            return "Failed", "BackoffLimitExceeded", MESSAGES["BackoffLimitExceeded"]
        if per_index and spec.get("maxFailedIndexes") is not None and len(failed_indexes) > spec["maxFailedIndexes"]:
            return "Failed", "MaxFailedIndexesExceeded", MESSAGES["MaxFailedIndexesExceeded"]
        if self._past_deadline(job, status, now):
            return "Failed", "DeadlineExceeded", MESSAGES["DeadlineExceeded"]
        completions = spec.get("completions")
        if pods.indexed:
            rule = matched_success_rule(spec.get("successPolicy"), succeeded_indexes, completions)
            if rule is not None:
                return "Complete", "SuccessPolicy", f"Matched rules at index {rule}"
            if len(succeeded_indexes) >= completions:
                return "Complete", "CompletionsReached", MESSAGES["CompletionsReached"]
            if failed_indexes and len(succeeded_indexes) + len(failed_indexes) >= completions:
                return "Failed", "FailedIndexes", MESSAGES["FailedIndexes"]
            return None
        if (completions is not None and len(pods.succeeded) >= completions) or \
                (completions is None and pods.succeeded and not pods.active):
            return "Complete", "CompletionsReached", MESSAGES["CompletionsReached"]
        return None

    @staticmethod
    def _past_deadline(job: dict, status: dict, now: datetime) -> bool:
        deadline = (job.get("spec") or {}).get("activeDeadlineSeconds")
        if deadline is None or not status.get("startTime") or (job.get("spec") or {}).get("suspend"):
            return False
        return (now - meta.parse_time(status["startTime"])).total_seconds() >= deadline

    # ------------------------------------------------------------ pods
    def _manage(self, job: dict, pods: JobPods, succeeded: int, now: datetime) -> Optional[float]:
        """Create or delete pods toward ``wanted_active``; the back-off still to wait, if any."""
        spec = job.get("spec") or {}
        active = pods.active
        busy = len(active) + (len(pods.terminating) if spec.get("podReplacementPolicy") == "Failed" else 0)
        want = wanted_active(spec, succeeded)
        if want > busy:
            wait = remaining_backoff([(p, False) for p in pods.succeeded] + [(p, True) for p in pods.counted_failures],
                                     now, self.backoff_base, MAX_BACKOFF)
            if wait > 0:
                return wait
            self._create_pods(job, [None] * (want - busy))
        elif want < len(active):
            surplus = sorted(active, key=lambda p: (is_pod_ready(p), p["metadata"]["name"]))[:len(active) - want]
            self._delete_pods(job, surplus)
        return None

    def _manage_indexed(self, job: dict, pods: JobPods, succeeded: set, failed: set,
                        now: datetime) -> Optional[float]:
        """One pod per index to do, lowest first, at most ``parallelism``; the back-off to wait, if any."""
        spec = job.get("spec") or {}
        by_index: dict[int, list] = {}
        extra = []
        for pod in pods.active:
            i = pods.index(pod)
            if i is None or i in succeeded or i in failed:
                extra.append(pod)                   # no index, or one that is already done
            else:
                by_index.setdefault(i, []).append(pod)
        for same in by_index.values():              # one pod per index: keep the oldest
            same.sort(key=lambda p: (not is_pod_ready(p), p["metadata"].get("creationTimestamp", ""),
                                     p["metadata"]["name"]))
            extra += same[1:]
        running = {i for i in by_index}
        parallelism = spec.get("parallelism", 1)
        if len(running) > parallelism:              # parallelism went down: stop the highest indexes
            for i in sorted(running)[parallelism:]:
                extra.append(by_index[i][0])
                running.discard(i)
        self._delete_pods(job, extra)
        busy = set(running)
        if spec.get("podReplacementPolicy") == "Failed":
            busy |= {pods.index(p) for p in pods.terminating}
        todo = [i for i in range(spec.get("completions") or 0) if i not in succeeded and i not in failed
                and i not in busy]
        room = parallelism - len(running) - (len(busy) - len(running))
        if room <= 0 or not todo:
            return None
        per_index = spec.get("backoffLimitPerIndex") is not None
        failures = pods.index_failures()
        finished = [(p, False) for p in pods.succeeded] + [(p, True) for p in pods.counted_failures]
        global_wait = 0.0 if per_index else remaining_backoff(finished, now, self.backoff_base, MAX_BACKOFF)
        if global_wait > 0:
            return global_wait
        chosen, waits = [], []
        for i in todo:
            if len(chosen) >= room:
                break
            if per_index:
                mine = [(p, failed) for p, failed in finished if pods.index(p) == i]
                wait = remaining_backoff(mine, now, self.backoff_base, MAX_BACKOFF)
                if wait > 0:
                    waits.append(wait)
                    continue
            chosen.append((i, failures.get(i, 0) if per_index else None))
        self._create_pods(job, chosen)
        return min(waits) if waits else None

    def _create_pods(self, job: dict, indexes: list) -> None:
        """One pod per entry: None (NonIndexed) or (index, failures so far or None)."""
        key = meta_key(job)
        if not indexes:
            return
        self.expectations.expect_creations(key, len(indexes))
        name = job["metadata"]["name"]
        for entry in indexes:
            if entry is None:
                pod = pod_from_template((job.get("spec") or {}).get("template") or {}, job, f"{name}-")
            else:
                index, failures = entry
                pod = pod_from_template(indexed_template(job, index, failures), job, f"{name}-{index}-")
            try:
                created = self.client.create("pods", pod, namespace=job["metadata"]["namespace"])
                self.recorder.event(job, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")
            except errors.ApiError as err:
                self.expectations.creation_observed(key)       # it will never show up
                self.recorder.event(job, "Warning", "FailedCreate", f"Error creating: {err}")
                if isinstance(err, errors.Forbidden):
                    return           # the namespace is terminating
                raise

    def _delete_pods(self, job: dict, pods: list) -> None:
        if not pods:
            return
        key = meta_key(job)
        self.expectations.expect_deletions(key, [meta_key(p) for p in pods])
        for pod in pods:
            try:
                self.client.delete("pods", pod["metadata"]["name"], namespace=pod["metadata"]["namespace"])
                self.recorder.event(job, "Normal", "SuccessfulDelete", f"Deleted pod: {pod['metadata']['name']}")
            except errors.NotFound:
                self.expectations.deletion_observed(key, meta_key(pod))

    # ------------------------------------------------------------ timers
    def _look_again(self, key: str, job: dict, status: dict, target, now: datetime,
                    wait: Optional[float]) -> None:
        """Come back when a back-off ends or the deadline passes, even if no event comes."""
        deadline = (job.get("spec") or {}).get("activeDeadlineSeconds")
        if target is None and deadline is not None and status.get("startTime") and not job["spec"].get("suspend"):
            left = max(deadline - (now - meta.parse_time(status["startTime"])).total_seconds(), 0.1)
            wait = left if wait is None else min(wait, left)
        if wait is not None:
            self.queue.add_after(key, max(wait, 0.05))


__all__ = ["JobController", "JobPods", "finished", "past_backoff_limit_on_failure", "wanted_active"]
