"""Describing Jobs and CronJobs, as kubectl's describeJob and describeCronJob print them.

A Job's text counts its pods (from ``status``), names its completed and failed indexes
when Indexed, and lists its events (pods created, completed, failed); a CronJob's
shows its schedule and policies, its Job template and the Jobs it is running.
"""
from __future__ import annotations

from ...api.meta import human_duration, parse_time
from .events import describe_events, events
from .podspec import pod_template
from .text import Writer, controller_text, labels_and_annotations, name_lines, selector_text, when

MAX_INDEXES_SHOWN = 50


def indexes_text(text: str | None) -> str:
    """kubectl's capIndexesListOrNone: at most 50 intervals, then "...", or <none>."""
    if not text:
        return "<none>"
    parts = text.split(",")
    return ",".join(parts[:MAX_INDEXES_SHOWN]) + (",..." if len(parts) > MAX_INDEXES_SHOWN else "")


def _count(spec: dict, field: str) -> str:
    return str(spec[field]) if spec.get(field) is not None else "<unset>"


def describe_job(c, w: Writer, job: dict) -> None:
    md, spec, st = job["metadata"], job.get("spec") or {}, job.get("status") or {}
    name_lines(w, md)
    w.write(0, f"Selector:\t{selector_text(spec.get('selector'))}\n")
    labels_and_annotations(w, md)
    if controller_text(job):
        w.write(0, f"Controlled By:\t{controller_text(job)}\n")
    if spec.get("parallelism") is not None:
        w.write(0, f"Parallelism:\t{spec['parallelism']}\n")
    w.write(0, f"Completions:\t{_count(spec, 'completions')}\n")
    if spec.get("completionMode"):
        w.write(0, f"Completion Mode:\t{spec['completionMode']}\n")
    if spec.get("suspend") is not None:
        w.write(0, f"Suspend:\t{str(bool(spec['suspend'])).lower()}\n")
    if spec.get("backoffLimit") is not None:
        w.write(0, f"Backoff Limit:\t{spec['backoffLimit']}\n")
    if spec.get("backoffLimitPerIndex") is not None:
        w.write(0, f"Backoff Limit Per Index:\t{spec['backoffLimitPerIndex']}\n")
    if spec.get("maxFailedIndexes") is not None:
        w.write(0, f"Max Failed Indexes:\t{spec['maxFailedIndexes']}\n")
    if spec.get("ttlSecondsAfterFinished") is not None:
        w.write(0, f"TTL Seconds After Finished:\t{spec['ttlSecondsAfterFinished']}\n")
    if st.get("startTime"):
        w.write(0, f"Start Time:\t{when(st['startTime'])}\n")
    if st.get("completionTime"):
        w.write(0, f"Completed At:\t{when(st['completionTime'])}\n")
    if st.get("startTime") and st.get("completionTime"):
        seconds = (parse_time(st["completionTime"]) - parse_time(st["startTime"])).total_seconds()
        w.write(0, f"Duration:\t{human_duration(seconds)}\n")
    if spec.get("activeDeadlineSeconds") is not None:
        w.write(0, f"Active Deadline Seconds:\t{spec['activeDeadlineSeconds']}s\n")
    ready = f" ({st['ready']} Ready)" if st.get("ready") is not None else ""
    w.write(0, f"Pods Statuses:\t{st.get('active', 0)} Active{ready} / {st.get('succeeded', 0)} Succeeded / "
               f"{st.get('failed', 0)} Failed\n")
    if spec.get("completionMode") == "Indexed":
        w.write(0, f"Completed Indexes:\t{indexes_text(st.get('completedIndexes'))}\n")
        if spec.get("backoffLimitPerIndex") is not None:
            w.write(0, f"Failed Indexes:\t{indexes_text(st.get('failedIndexes'))}\n")
    pod_template(w, spec.get("template"))
    describe_events(w, events(c, job))


def describe_cronjob(c, w: Writer, cj: dict) -> None:
    md, spec, st = cj["metadata"], cj.get("spec") or {}, cj.get("status") or {}
    name_lines(w, md)
    labels_and_annotations(w, md)
    w.write(0, f"Schedule:\t{spec.get('schedule', '')}\n")
    w.write(0, f"Concurrency Policy:\t{spec.get('concurrencyPolicy', '')}\n")
    suspend = spec.get("suspend")
    w.write(0, f"Suspend:\t{'<unset>' if suspend is None else str(bool(suspend))}\n")
    w.write(0, f"Successful Job History Limit:\t{_count(spec, 'successfulJobsHistoryLimit')}\n")
    w.write(0, f"Failed Job History Limit:\t{_count(spec, 'failedJobsHistoryLimit')}\n")
    deadline = spec.get("startingDeadlineSeconds")
    w.write(0, f"Starting Deadline Seconds:\t{'<unset>' if deadline is None else f'{deadline}s'}\n")
    job_spec = ((spec.get("jobTemplate") or {}).get("spec")) or {}
    sel = job_spec.get("selector")
    w.write(0, f"Selector:\t{selector_text(sel) if sel else '<unset>'}\n")
    w.write(0, f"Parallelism:\t{_count(job_spec, 'parallelism')}\n")
    w.write(0, f"Completions:\t{_count(job_spec, 'completions')}\n")
    if job_spec.get("activeDeadlineSeconds") is not None:
        w.write(0, f"Active Deadline Seconds:\t{job_spec['activeDeadlineSeconds']}s\n")
    pod_template(w, job_spec.get("template"))
    w.write(0, f"Last Schedule Time:\t{when(st.get('lastScheduleTime'))}\n")
    w.write(0, f"Active Jobs:\t{', '.join(a.get('name', '') for a in st.get('active') or []) or '<none>'}\n")
    describe_events(w, events(c, cj))
