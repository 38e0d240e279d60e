"""The TFJob controller: one pod and one headless Service per replica, until the job is over.

Informers on tfjobs, pods and services feed one work queue of TFJob keys; a pod or
service event queues the TFJob that controls it (its ownerReference). ``sync(key)``
follows the training operator's ReconcileJobs (pkg/controller.v1/common/job.go):

1. Skip a job being deleted, one managed by another controller (runPolicy.managedBy),
   or one whose own creates/deletes the caches have not shown yet (expectations).
   Apply the defaults (spec.py) to a copy; a job without a valid replica spec Fails
   (TFJobFailedValidation). A new job gets Created=True (TFJobCreated).
2. A **finished** job (Succeeded or Failed): delete its pods and services as
   ``cleanPodPolicy`` says (None: keep all, Running: running and pending ones, All),
   count a succeeded job's still-active replicas as succeeded, and once
   ``ttlSecondsAfterFinished`` has passed since completionTime, delete the TFJob.
3. A **suspended** job (runPolicy.suspend): delete its pods and services, Suspended=True.
4. **Limits**: past ``backoffLimit`` restarts or ``activeDeadlineSeconds`` since
   startTime, the job Fails: every pod and service goes, completionTime is set.
5. Otherwise, per replica type and index: create the missing pod and Service
   (replicas.py), delete those beyond ``replicas``, and look at each pod that Failed --
   under ExitCode with a retryable exit code (>= 128), or under OnFailure/Always, the
   pod is deleted (made again on the next sync) and the job is Restarting; under ExitCode
   with any other code, or under Never, the job Fails.
6. Status: replicaStatuses (active = Running pods, succeeded, failed), startTime, and the
   job's state: with a Chief/Master it follows that replica; otherwise Succeeded when
   worker 0 succeeded (successPolicy "") or every worker did (AllWorkers), Running while
   a worker runs, Failed when a replica failed and nothing restarts it.

Backoff, as the operator counts it: containers the kubelet restarted in place
(OnFailure/Always: restartCount of running pods) reach ``backoffLimit`` -> Failed. Pods
this controller made again (ExitCode, or a pod that Failed under OnFailure) count too:
a retryable failure once ``backoffLimit`` of them have been made again Fails the job.
That count lives in this process, as the operator's (its work queue's requeue count) does.

    watches  tfjobs.kubeflow.org, pods, services
    writes   pods, services (create, delete), tfjobs/status, tfjobs (delete after the TTL), events
"""
from __future__ import annotations

import copy
import threading
from datetime import datetime, timezone
from typing import Optional

from ...api import meta
from ...api.conditions import get_condition
from ...client import errors
from ...client.informer import meta_key
from ...controllers.base import Controller, event_recorder
from ...controllers.expectations import Expectations
from ...controllers.mutationcache import MutationCache
from ...controllers.refmanager import CONTROLLER_INDEX, ensure_indexes
from . import status as st
from .replicas import new_pod, new_service, slices
from .spec import (CLEAN_POD_POLICIES, CONTROLLER_NAME, DEFAULT_CONTAINER, KIND, MANAGED_BY_THIS, PLURAL,
                   REPLICA_TYPE_LABEL, REPLICA_TYPES, RESTART_POLICIES, SUCCESS_POLICY_ALL_WORKERS, WORKER, has_chief_or_master,
                   replica_specs, with_defaults)

RESTARTING_POLICIES = ("OnFailure", "Always", "ExitCode")


def validation_error(job: dict) -> Optional[str]:
    """What makes a (defaulted) TFJob impossible to run, as the operator's webhook says it."""
    specs = (job.get("spec") or {}).get("tfReplicaSpecs") or {}
    if not specs:
        return "TFJobSpec is not valid: tfReplicaSpecs must not be empty"
    for rtype, rspec in specs.items():
        if rtype not in REPLICA_TYPES:
            return f"TFJobSpec is not valid: unknown replica type {rtype!r} (one of {', '.join(REPLICA_TYPES)})"
        if not isinstance(rspec, dict):
            return f"TFJobSpec is not valid: tfReplicaSpecs.{rtype} must be an object"
        containers = ((rspec.get("template") or {}).get("spec") or {}).get("containers") or []
        if not containers:
            return f"TFJobSpec is not valid: containers definition expected in {rtype}"
        if not any(c.get("name") == DEFAULT_CONTAINER for c in containers):
            return f"TFJobSpec is not valid: There is no container named {DEFAULT_CONTAINER} in {rtype}"
        if any(not c.get("image") for c in containers):
            return f"TFJobSpec is not valid: Image is undefined in the container of {rtype}"
        if rspec.get("restartPolicy") not in RESTART_POLICIES:
            return f"TFJobSpec is not valid: restartPolicy {rspec.get('restartPolicy')!r} of {rtype}"
    chiefs = sum(int(specs[t].get("replicas", 1)) for t in ("Chief", "Master") if t in specs)
    if chiefs > 1:
        return "TFJobSpec is not valid: There must be only 1 chief replica"
    if job["spec"]["runPolicy"].get("cleanPodPolicy") not in CLEAN_POD_POLICIES:
        return "TFJobSpec is not valid: cleanPodPolicy must be None, Running or All"
    return None


class TFJobController(Controller):
    name = "tfjob"
    workers = 2                      # the operator's --threadiness default is 1 per framework
    quiet_retries = True

    def __init__(self, client, informers):
        super().__init__(client, informers)
        self.tfjobs = informers.get(PLURAL)
        self.pods = informers.get("pods")
        self.services = informers.get("services")
        ensure_indexes(self.pods)
        ensure_indexes(self.services)
        self.expectations = Expectations()
        self.written = MutationCache()           # our status writes, until the cache has them
        self.recorder = event_recorder(client, CONTROLLER_NAME)
        self._recreated: dict[str, int] = {}      # job uid -> pods made again after a failure
        self._lock = threading.Lock()
        self.tfjobs.add_handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new),
                                on_delete=self._job_deleted)
        for informer, what in ((self.pods, "pods"), (self.services, "services")):
            informer.add_handler(on_add=lambda obj, w=what: self._owned_added(obj, w),
                                 on_update=lambda old, new: self._owned_changed(new),
                                 on_delete=lambda obj, w=what: self._owned_deleted(obj, w))

    # ------------------------------------------------------------ event handlers
    def _job_of(self, obj: dict) -> Optional[dict]:
        ref = meta.owner_of(obj)
        if not ref or ref.get("kind") != KIND:
            return None
        job = self.tfjobs.get(f"{obj['metadata'].get('namespace')}/{ref.get('name')}")
        return job if job is not None and job["metadata"].get("uid") == ref.get("uid") else None

    def _owned_added(self, obj: dict, what: str):
        job = self._job_of(obj)
        if job is not None:
            self.expectations.creation_observed(f"{meta_key(job)}/{what}")
            self.enqueue(job)

    def _owned_changed(self, obj: dict):
        job = self._job_of(obj)
        if job is not None:
            self.enqueue(job)

    def _owned_deleted(self, obj: dict, what: str):
        job = self._job_of(obj)
        if job is not None:
            self.expectations.deletion_observed(f"{meta_key(job)}/{what}", meta_key(obj))
            self.enqueue(job)

    def _job_deleted(self, job: dict):
        key = meta_key(job)
        for what in ("pods", "services"):
            self.expectations.delete(f"{key}/{what}")
        self.written.forget(key)
        with self._lock:
            self._recreated.pop(job["metadata"].get("uid"), None)

    # ------------------------------------------------------------ sync
    def sync(self, key: str) -> None:
        stored = self.written.newest(self.tfjobs.get(key))
        if stored is None or stored["metadata"].get("deletionTimestamp"):
            return
        managed_by = ((stored.get("spec") or {}).get("runPolicy") or {}).get("managedBy")
        if managed_by and managed_by != MANAGED_BY_THIS:
            return
        if not (self.expectations.satisfied(f"{key}/pods") and self.expectations.satisfied(f"{key}/services")):
            return                   # our own writes are on their way; their events queue us again
        job = with_defaults(stored)
        status = copy.deepcopy(stored.get("status") or {})
        name = job["metadata"]["name"]
        if not any(c.get("type") == st.CREATED for c in status.get("conditions") or []):
            st.update_condition(status, st.CREATED, True, st.reason("Created"), f"TFJob {name} is created.")
            self.recorder.event(stored, "Normal", st.reason("Created"), f"TFJob {name} is created.")
        invalid = validation_error(job)
        if invalid is not None and not st.is_finished(status):
            st.update_condition(status, st.FAILED, True, st.reason("FailedValidation"), invalid)
            self.recorder.event(stored, "Warning", st.reason("FailedValidation"), invalid)
            self._write_status(stored, status)
            return
        uid = job["metadata"]["uid"]
        pods = self.pods.by_index(CONTROLLER_INDEX, uid)
        services = self.services.by_index(CONTROLLER_INDEX, uid)
        run_policy = job["spec"]["runPolicy"]

        if st.is_finished(status):
            self._clean_up(job, run_policy, status, pods, services)
            if st.is_succeeded(status):
                for counts in (status.get("replicaStatuses") or {}).values():
                    active = counts.pop("active", 0)       # zero counts are left out (Go's omitempty)
                    if active:
                        counts["succeeded"] = int(counts.get("succeeded") or 0) + active
            self._write_status(stored, status)
            self._expire(stored, run_policy, status)
            return

        if run_policy.get("suspend"):
            self._delete_all(job, pods, services)
            for counts in (status.get("replicaStatuses") or {}).values():
                counts.pop("active", None)
            message = f"TFJob {name} is suspended."
            if st.is_true(status, st.RUNNING):
                st.update_condition(status, st.RUNNING, False, st.reason("Suspended"), message)
            if not st.is_true(status, st.SUSPENDED):
                st.update_condition(status, st.SUSPENDED, True, st.reason("Suspended"), message)
                self.recorder.event(stored, "Normal", st.reason("Suspended"), message)
            self._write_status(stored, status)
            return
        if st.is_true(status, st.SUSPENDED):
            message = f"TFJob {name} is resumed."
            st.update_condition(status, st.SUSPENDED, False, st.reason("Resumed"), message)
            status["startTime"] = meta.now_rfc3339()
            self.recorder.event(stored, "Normal", st.reason("Resumed"), message)

        failure = self._past_limits(job, run_policy, status, pods)
        if failure is not None:
            status.setdefault("completionTime", meta.now_rfc3339())
            self._delete_all(job, pods, services)
            self.recorder.event(stored, "Normal", st.reason("Failed"), failure)
            st.update_condition(status, st.FAILED, True, st.reason("Failed"), failure)
            self._write_status(stored, status)
            self._expire(stored, run_policy, status)
            return

        for rtype, rspec in replica_specs(job).items():
            self._reconcile_pods(job, stored, status, pods, rtype, rspec)
            self._reconcile_services(job, services, rtype, rspec)
        self._update_job_status(job, stored, status, pods)
        self._write_status(stored, status)
        deadline = run_policy.get("activeDeadlineSeconds")
        if deadline is not None and status.get("startTime") and not st.is_finished(status):
            left = deadline - (datetime.now(timezone.utc) - meta.parse_time(status["startTime"])).total_seconds()
            self.queue.add_after(key, max(left, 0.1))     # look again when the deadline passes
        self._expire(stored, run_policy, status)

    # ------------------------------------------------------------ replicas
    def _reconcile_pods(self, job, stored, status, pods, rtype, rspec) -> None:
        key = meta_key(job)
        replicas = int(rspec.get("replicas", 1))
        policy = rspec.get("restartPolicy")
        counts = status.setdefault("replicaStatuses", {})[rtype] = {}
        to_delete = []
        for index, group in enumerate(slices(pods, rtype, replicas)):
            if len(group) > 1:
                self.log.warning("%s: %d pods for %s %d", key, len(group), rtype, index)
                continue
            if not group:
                if index < replicas:
                    self._create(job, "pods", new_pod(job, rtype, index), stored)
                continue
            pod = group[0]
            if index >= replicas:
                to_delete.append(pod)
            code = st.exit_code(pod, DEFAULT_CONTAINER)
            if code is not None:
                self.recorder.event(stored, "Normal", "ExitedWithCode",
                                    f"Pod: {pod['metadata']['namespace']}.{pod['metadata']['name']} "
                                    f"exited with code {code}")
            if (pod.get("status") or {}).get("phase") == "Failed" and not pod["metadata"].get("deletionTimestamp"):
                retry = (policy == "ExitCode" and st.is_retryable_exit_code(code)) \
                    or policy in ("OnFailure", "Always")
                if retry:
                    to_delete.append(pod)
                    with self._lock:
                        self._recreated[job["metadata"]["uid"]] = self._recreated.get(job["metadata"]["uid"], 0) + 1
                    message = f"job {job['metadata']['name']} is restarting because {rtype} replica(s) failed."
                    self.recorder.event(stored, "Warning", st.reason("Restarting"), message)
                    st.update_condition(status, st.RESTARTING, True, st.reason("Restarting"), message)
                elif policy == "ExitCode":
                    message = f'job "{job["metadata"]["name"]}" is failing because "{rtype}" replica(s) failed.'
                    self.recorder.event(stored, "Warning", st.reason("Failed"), message)
                    st.update_condition(status, st.FAILED, True, st.reason("Failed"), message)
            st.count_pod(counts, pod)
        self._delete_expected(job, "pods", to_delete)

    def _reconcile_services(self, job, services, rtype, rspec) -> None:
        replicas = int(rspec.get("replicas", 1))
        for index, group in enumerate(slices(services, rtype, replicas)):
            if not group and index < replicas:
                self._create(job, "services", new_service(job, rtype, index), job)
            elif len(group) == 1 and index >= replicas:
                self._delete_expected(job, "services", group)

    def _create(self, job: dict, resource: str, obj: dict, recorded: dict) -> None:
        ekey = f"{meta_key(job)}/{resource}"
        pending, _ = self.expectations.pending(ekey)
        self.expectations.expect_creations(ekey, pending + 1)
        kind = "Pod" if resource == "pods" else "Service"
        try:
            self.client.create(resource, obj, namespace=obj["metadata"]["namespace"])
            self.recorder.event(recorded, "Normal", f"SuccessfulCreate{kind}",
                                f"Created {kind.lower()}: {obj['metadata']['name']}")
        except errors.AlreadyExists:
            self.expectations.creation_observed(ekey)      # one left over: the cache will show it
        except errors.ApiError as err:
            self.expectations.creation_observed(ekey)
            self.recorder.event(recorded, "Warning", f"FailedCreate{kind}", f"Error creating: {err}")
            if not isinstance(err, errors.Forbidden):      # Forbidden: the namespace is going away
                raise

    def _delete(self, resource: str, obj: dict, recorded: dict) -> None:
        kind = "Pod" if resource == "pods" else "Service"
        try:
            self.client.delete(resource, obj["metadata"]["name"], namespace=obj["metadata"]["namespace"])
            self.recorder.event(recorded, "Normal", f"SuccessfulDelete{kind}",
                                f"Deleted {kind.lower()}: {obj['metadata']['name']}")
        except errors.NotFound:
            pass

    def _delete_all(self, job, pods, services) -> None:
        pods = [p for p in pods if not p["metadata"].get("deletionTimestamp")]
        self._delete_expected(job, "pods", pods)
        self._delete_expected(job, "services", services)

    def _delete_expected(self, job, resource: str, objs: list) -> None:
        """Delete, and wait for the informer to show every one of them gone before
        the next sync trusts its cache."""
        if not objs:
            return
        self.expectations.add_deletions(f"{meta_key(job)}/{resource}", [meta_key(o) for o in objs])
        for obj in objs:
            self._delete(resource, obj, job)

    def _clean_up(self, job, run_policy, status, pods, services) -> None:
        """cleanPodPolicy of a finished job: None keeps everything; Running deletes the pods
        still running or pending and their Services; All deletes every pod and Service."""
        policy = run_policy.get("cleanPodPolicy")
        if policy == "None":
            return
        doomed = [p for p in pods if policy == "All"
                  or (p.get("status") or {}).get("phase", "Pending") in ("Running", "Pending")]
        names = {p["metadata"]["name"] for p in doomed}
        self._delete_expected(job, "pods", [p for p in doomed if not p["metadata"].get("deletionTimestamp")])
        # a pod and its Service share their name
        self._delete_expected(job, "services", [s for s in services if policy == "All" or s["metadata"]["name"] in names])

    # ------------------------------------------------------------ limits and state
    def _past_limits(self, job, run_policy, status, pods) -> Optional[str]:
        """The failure message when backoffLimit or activeDeadlineSeconds is passed, else None."""
        name = job["metadata"]["name"]
        limit = run_policy.get("backoffLimit")
        if limit is not None:
            restarts = 0
            specs = replica_specs(job)
            for pod in pods:
                label = (pod["metadata"].get("labels") or {}).get(REPLICA_TYPE_LABEL)
                rtype = next((t for t in specs if t.lower() == label), None)
                if rtype is None or specs[rtype].get("restartPolicy") not in RESTARTING_POLICIES:
                    continue
                if (pod.get("status") or {}).get("phase") != "Running":
                    continue
                for cs in ((pod.get("status") or {}).get("initContainerStatuses") or []) + \
                        ((pod.get("status") or {}).get("containerStatuses") or []):
                    restarts += int(cs.get("restartCount") or 0)
            with self._lock:
                recreated = self._recreated.get(job["metadata"]["uid"], 0)
            new_failure = any((p.get("status") or {}).get("phase") == "Failed" for p in pods
                              if not p["metadata"].get("deletionTimestamp"))
            if (restarts > 0 if limit == 0 else restarts >= limit) or (new_failure and recreated >= limit):
                return f"Job {name} has failed because it has reached the specified backoff limit"
        deadline = run_policy.get("activeDeadlineSeconds")
        start = status.get("startTime")
        if deadline is not None and start and \
                (datetime.now(timezone.utc) - meta.parse_time(start)).total_seconds() >= deadline:
            return f"Job {name} has failed because it was active longer than specified deadline"
        return None

    def _update_job_status(self, job, stored, status, pods) -> None:
        """The job's state from its replicas (the operator's UpdateJobStatus)."""
        name = f"{job['metadata']['namespace']}/{job['metadata']['name']}"
        if not status.get("startTime"):
            status["startTime"] = meta.now_rfc3339()
        restarting = get_condition(status, st.RESTARTING)
        specs = replica_specs(job)
        chief_mode = has_chief_or_master(job)
        for rtype, rspec in specs.items():
            counts = (status.get("replicaStatuses") or {}).get(rtype) or {}
            expected = int(rspec.get("replicas", 1)) - int(counts.get("succeeded") or 0)
            running, failed = int(counts.get("active") or 0), int(counts.get("failed") or 0)
            if chief_mode:
                if rtype in ("Chief", "Master"):
                    if running > 0:
                        st.update_condition(status, st.RUNNING, True, st.reason("Running"), f"TFJob {name} is running.")
                    if expected == 0:
                        self._succeed(stored, status, name)
            elif rtype == WORKER:
                all_workers = job["spec"].get("successPolicy") == SUCCESS_POLICY_ALL_WORKERS
                if expected == 0 or (self._worker0_completed(pods) and not all_workers):
                    self._succeed(stored, status, name)
                elif running > 0:
                    st.update_condition(status, st.RUNNING, True, st.reason("Running"), f"TFJob {name} is running.")
            if failed > 0:
                if restarting is not None:
                    st.update_condition(status, st.RESTARTING, True, restarting.get("reason"), restarting.get("message"))
                elif job["spec"].get("enableDynamicWorker") and rtype == WORKER:
                    continue
                else:
                    message = f"TFJob {name} has failed because {failed} {rtype} replica(s) failed."
                    self.recorder.event(stored, "Normal", st.reason("Failed"), message)
                    status.setdefault("completionTime", meta.now_rfc3339())
                    st.update_condition(status, st.FAILED, True, st.reason("Failed"), message)

    def _succeed(self, stored, status, name) -> None:
        message = f"TFJob {name} successfully completed."
        if not st.is_succeeded(status):
            self.recorder.event(stored, "Normal", st.reason("Succeeded"), message)
        status.setdefault("completionTime", meta.now_rfc3339())
        st.update_condition(status, st.SUCCEEDED, True, st.reason("Succeeded"), message)

    @staticmethod
    def _worker0_completed(pods) -> bool:
        for pod in slices(pods, WORKER, 1)[0] if pods else []:
            if (pod.get("status") or {}).get("phase") == "Succeeded" and st.exit_code(pod, DEFAULT_CONTAINER) == 0:
                return True
        return False

    # ------------------------------------------------------------ writes
    def _write_status(self, stored: dict, status: dict) -> None:
        if status == (stored.get("status") or {}):
            return
        try:
            self.written.remember(self.client.update_status(PLURAL, dict(stored, status=status)))
        except errors.NotFound:
            pass

    def _expire(self, stored: dict, run_policy: dict, status: dict) -> None:
        """ttlSecondsAfterFinished: delete the finished job once it has passed (pods and
        services go with it, through the garbage collector); until then look again then."""
        ttl = run_policy.get("ttlSecondsAfterFinished")
        if ttl is None or not st.is_finished(status) or not status.get("completionTime") \
                or run_policy.get("suspend"):
            return
        left = ttl - (datetime.now(timezone.utc) - meta.parse_time(status["completionTime"])).total_seconds()
        if left > 0:
            self.queue.add_after(meta_key(stored), left)
            return
        try:
            self.client.delete(PLURAL, stored["metadata"]["name"], namespace=stored["metadata"]["namespace"],
                               propagation_policy="Background")
            self.recorder.event(stored, "Normal", "SuccessfulDeleteJob", f"Deleted job: {stored['metadata']['name']}")
        except errors.NotFound:
            pass
