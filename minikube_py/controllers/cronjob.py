"""The CronJob controller: a Job from ``jobTemplate`` each time the schedule fires.

Kubernetes' pkg/controller/cronjob/cronjob_controllerv2.go. One sync of a CronJob:

1. Read the Jobs it controls (ownerReference). A Job in ``status.active`` that has
   finished leaves the list (event SawCompletedJob); a succeeded one moves
   ``status.lastSuccessfulTime``; one that is gone is dropped.
2. Unless suspended, find the most recent time the schedule fired (api/cron.py, in
   ``spec.timeZone``) after ``lastScheduleTime`` (or the CronJob's creation), but not
   before ``now - startingDeadlineSeconds``. More than 100 missed times: event
   TooManyMissedTimes. Later than the deadline: event MissSchedule, no Job.
3. ``concurrencyPolicy``: Allow starts it anyway; Forbid skips it while a Job is
   active (event JobAlreadyActive); Replace deletes the active Jobs first.
4. Create the Job ``<cronjob>-<scheduled time in minutes since the epoch>`` (the name is
   the same for the same time, so a retry cannot start it twice), annotated with
   ``batch.kubernetes.io/cronjob-scheduled-timestamp``; add it to ``status.active`` and
   set ``lastScheduleTime``.
5. Keep ``successfulJobsHistoryLimit`` succeeded and ``failedJobsHistoryLimit`` failed
   Jobs, deleting the oldest (propagationPolicy Background: their pods go too).
6. Come back when the schedule next fires.

    watches  cronjobs, jobs
    writes   jobs (create, delete), cronjobs/status, events
"""
from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from typing import Optional
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ..api import cron, meta
from ..api.conditions import get_condition
from ..client import errors
from .base import Controller, event_recorder
from .refmanager import CONTROLLER_INDEX, controller_ref, ensure_indexes

COMPONENT = "cronjob-controller"
SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp"
TOO_MANY_MISSED = 100
COUNT_AT_MOST = 10_000           # missed times counted one by one; past this, jump to the last

__all__ = ["CronJobController", "job_name", "most_recent_schedule_time", "job_from_template"]


def job_finished(job: dict) -> Optional[str]:
    for type_ in ("Complete", "Failed"):
        cond = get_condition(job.get("status"), type_)
        if cond and cond.get("status") == "True":
            return type_
    return None


def job_name(cronjob_name: str, scheduled: datetime) -> str:
    """``<name>-<minutes since the epoch>``: one name per scheduled time."""
    return f"{cronjob_name}-{int(scheduled.timestamp()) // 60}"


def most_recent_schedule_time(cj: dict, schedule: cron.Schedule, now: datetime) -> tuple[Optional[datetime], int]:
    """(the latest time the schedule fired that no Job was made for yet, how many such times)."""
    spec, st = cj.get("spec") or {}, cj.get("status") or {}
    earliest = meta.parse_time(st.get("lastScheduleTime") or cj["metadata"]["creationTimestamp"])
    deadline = spec.get("startingDeadlineSeconds")
    if deadline is not None:
        earliest = max(earliest, now - timedelta(seconds=deadline))
    if schedule.every is not None:            # @every: fixed steps from the earliest time
        missed = int((now - earliest.replace(microsecond=0)) / schedule.every) if now > earliest else 0
        return (earliest.replace(microsecond=0) + missed * schedule.every if missed else None), missed
    latest, missed = None, 0
    t = schedule.next(earliest)
    while t is not None and t <= now:
        latest, missed = t, missed + 1
        if missed > COUNT_AT_MOST:            # find the last one from now, backwards
            back = now
            while True:
                back -= timedelta(minutes=1)
                prev = schedule.next(back)
                if prev is not None and prev <= now:
                    latest = max(latest, prev)
                    break
            break
        t = schedule.next(t)
    return latest, missed


def job_from_template(cj: dict, scheduled: datetime, tz) -> dict:
    """getJobFromTemplate2: the template's labels, annotations and spec, owned by the CronJob."""
    template = (cj.get("spec") or {}).get("jobTemplate") or {}
    tmeta = template.get("metadata") or {}
    annotations = dict(tmeta.get("annotations") or {})
    annotations[SCHEDULED_TIMESTAMP] = scheduled.astimezone(tz).isoformat().replace("+00:00", "Z")
    md = {"name": job_name(cj["metadata"]["name"], scheduled), "namespace": cj["metadata"]["namespace"],
          "labels": dict(tmeta.get("labels") or {}), "annotations": annotations,
          "ownerReferences": [controller_ref(dict(cj, apiVersion="batch/v1", kind="CronJob"))]}
    if not md["labels"]:
        del md["labels"]
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": md,
            "spec": copy.deepcopy(template.get("spec") or {})}


def _ref(job: dict) -> dict:
    md = job["metadata"]
    return {"kind": "Job", "namespace": md.get("namespace"), "name": md["name"], "uid": md["uid"],
            "apiVersion": "batch/v1", "resourceVersion": md.get("resourceVersion")}


def _start_of(job: dict) -> str:
    return (job.get("status") or {}).get("startTime") or job["metadata"].get("creationTimestamp", "")


class CronJobController(Controller):
    name = "cronjob"
    workers = 5                      # --concurrent-cron-job-syncs
    quiet_retries = True

    def __init__(self, client, informers):
        super().__init__(client, informers)
        self.cronjobs = informers.get("cronjobs")
        self.jobs = informers.get("jobs")
        ensure_indexes(self.jobs)
        self.recorder = event_recorder(client, COMPONENT)
        self.cronjobs.add_handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new))
        self.jobs.add_handler(on_add=self._job_changed, on_update=lambda old, new: self._job_changed(new),
                              on_delete=self._job_changed)

    def _job_changed(self, job: dict):
        ref = meta.owner_of(job)
        if ref and ref.get("kind") == "CronJob":
            self.queue.add(f"{job['metadata'].get('namespace')}/{ref.get('name')}")

    # ------------------------------------------------------------ sync
    def sync(self, key: str) -> None:
        cj = self.cronjobs.get(key)
        if cj is None:
            return
        jobs = self.jobs.by_index(CONTROLLER_INDEX, cj["metadata"]["uid"])
        status = copy.deepcopy(cj.get("status") or {})
        self._reconcile_active(cj, status, jobs)
        requeue = None
        if not cj["metadata"].get("deletionTimestamp"):
            requeue = self._schedule(cj, status)
        if status != (cj.get("status") or {}):
            try:
                cj = self.client.update_status("cronjobs", dict(cj, status=status))
            except errors.NotFound:
                return
        self._cleanup(cj, jobs)
        if requeue is not None:
            self.queue.add_after(key, max(requeue, 0.1))

    def _reconcile_active(self, cj: dict, status: dict, jobs: list) -> None:
        """Drop finished and vanished Jobs from status.active; note the last success."""
        active = status.get("active") or []
        mine = {j["metadata"]["uid"]: j for j in jobs}
        for job in jobs:
            listed = any(ref.get("uid") == job["metadata"]["uid"] for ref in active)
            done = job_finished(job)
            if not listed and not done:
                self.recorder.event(cj, "Warning", "UnexpectedJob",
                                    f"Saw a job that the controller did not create or forgot: {job['metadata']['name']}")
            elif listed and done:
                active = [ref for ref in active if ref.get("uid") != job["metadata"]["uid"]]
                self.recorder.event(cj, "Normal", "SawCompletedJob",
                                    f"Saw completed job: {job['metadata']['name']}, condition: {done}")
            if done == "Complete":
                finished_at = (job.get("status") or {}).get("completionTime")
                last = status.get("lastSuccessfulTime")
                if finished_at and (not last or meta.parse_time(finished_at) > meta.parse_time(last)):
                    status["lastSuccessfulTime"] = finished_at
        kept = []
        for ref in active:
            if ref.get("uid") in mine:
                kept.append(ref)
                continue
            try:                              # not in the cache: is it really gone?
                job = self.client.get("jobs", ref["name"], namespace=ref.get("namespace"))
                if job["metadata"]["uid"] == ref.get("uid"):
                    kept.append(ref)
            except errors.NotFound:
                pass
        if kept:
            status["active"] = kept
        else:
            status.pop("active", None)

    def _schedule(self, cj: dict, status: dict) -> Optional[float]:
        """Start the Job the schedule asks for now, if any; seconds until it next fires."""
        spec = cj.get("spec") or {}
        tz = timezone.utc
        if spec.get("timeZone"):
            try:
                tz = ZoneInfo(spec["timeZone"])
            except (ZoneInfoNotFoundError, ValueError):
                self.recorder.event(cj, "Warning", "UnknownTimeZone", f"invalid timeZone: {spec['timeZone']!r}")
                return None
        try:
            schedule = cron.Schedule(spec.get("schedule", ""), tz)
        except (cron.CronError, ZoneInfoNotFoundError, ValueError) as err:
            self.recorder.event(cj, "Warning", "UnparseableSchedule",
                                f"unparseable schedule: {spec.get('schedule')!r} : {err}")
            return None
        if spec.get("suspend"):
            return None
        now = datetime.now(timezone.utc)
        view = dict(cj, status=status)
        scheduled, missed = most_recent_schedule_time(view, schedule, now)
        if missed > TOO_MANY_MISSED:
            self.recorder.event(cj, "Warning", "TooManyMissedTimes",
                                f"too many missed start times: {missed}. Set or decrease "
                                ".spec.startingDeadlineSeconds or check clock skew")
        if scheduled is not None:
            self._start(cj, status, scheduled, schedule.tz or tz, now)
        upcoming = schedule.next(now)
        return None if upcoming is None else (upcoming - now).total_seconds() + 0.1

    def _start(self, cj: dict, status: dict, scheduled: datetime, tz, now: datetime) -> None:
        spec = cj.get("spec") or {}
        deadline = spec.get("startingDeadlineSeconds")
        if deadline is not None and scheduled + timedelta(seconds=deadline) < now:
            self.recorder.event(cj, "Warning", "MissSchedule", "Missed scheduled time to start a job: "
                                + scheduled.astimezone(timezone.utc).strftime("%a, %d %b %Y %H:%M:%S +0000"))
            return
        name = job_name(cj["metadata"]["name"], scheduled)
        active = status.get("active") or []
        last = status.get("lastScheduleTime")
        if any(ref.get("name") == name for ref in active) or (last and meta.parse_time(last) == scheduled):
            return
        policy = spec.get("concurrencyPolicy", "Allow")
        if policy == "Forbid" and active:
            self.recorder.event(cj, "Normal", "JobAlreadyActive",
                                "Not starting job because prior execution is running and concurrency policy is Forbid")
            return
        if policy == "Replace":
            for ref in list(active):
                self._delete_job(cj, ref["name"], ref.get("uid"))
                active = [r for r in active if r.get("uid") != ref.get("uid")]
        try:
            job = self.client.create("jobs", job_from_template(cj, scheduled, tz), namespace=cj["metadata"]["namespace"])
        except errors.AlreadyExists:
            return                  # made by an earlier try whose status write was lost
        except errors.ApiError as err:
            self.recorder.event(cj, "Warning", "FailedCreate", f"Error creating job: {err}")
            raise
        self.recorder.event(cj, "Normal", "SuccessfulCreate", f"Created job {name}")
        status["active"] = active + [_ref(job)]
        status["lastScheduleTime"] = scheduled.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _cleanup(self, cj: dict, jobs: list) -> None:
        """Delete the oldest finished Jobs beyond the history limits."""
        spec = cj.get("spec") or {}
        active = {ref.get("uid") for ref in (cj.get("status") or {}).get("active") or []}
        for outcome, field in (("Complete", "successfulJobsHistoryLimit"), ("Failed", "failedJobsHistoryLimit")):
            limit = spec.get(field)
            if limit is None:
                continue
            done = sorted((j for j in jobs if job_finished(j) == outcome and j["metadata"]["uid"] not in active
                           and not j["metadata"].get("deletionTimestamp")), key=_start_of)
            for job in done[:max(len(done) - limit, 0)]:
                self._delete_job(cj, job["metadata"]["name"], job["metadata"]["uid"])

    def _delete_job(self, cj: dict, name: str, uid: Optional[str]) -> None:
        try:
            self.client.delete("jobs", name, namespace=cj["metadata"]["namespace"], propagation_policy="Background",
                               preconditions={"uid": uid} if uid else None)
            self.recorder.event(cj, "Normal", "SuccessfulDelete", f"Deleted job {name}")
        except (errors.NotFound, errors.Conflict):
            pass
