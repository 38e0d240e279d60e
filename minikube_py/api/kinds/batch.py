"""The batch group's kinds (`/apis/batch/v1`): Job and CronJob, as objects.

A Job runs pods to completion (restartPolicy Never or OnFailure, never Always);
a CronJob makes a Job from its `jobTemplate` on a cron schedule (controllers/job.py,
cronjob.py and ttlafterfinished.py run them; api/jobvalidation.py says what is valid).
Here is what the apiserver itself does with them, as kube-apiserver's batch
strategies and defaults do:

- a Job gets a generated selector: unless `manualSelector: true`, its pod template
  is labelled `batch.kubernetes.io/controller-uid: <the Job's uid>` and
  `batch.kubernetes.io/job-name: <name>` (and the legacy `controller-uid`, `job-name`),
  and `spec.selector` matches the uid label, so a Job's pods are never another's;
- completions and parallelism default to 1, backoffLimit to 6 (to the largest int32
  with backoffLimitPerIndex), completionMode to NonIndexed, a podFailurePolicy
  condition pattern's status to True; a CronJob's concurrencyPolicy to Allow and its history limits to 3 and 1.
"""
from __future__ import annotations

from ..defaults import default_pod_spec
from ..jobvalidation import validate_cronjob, validate_job, validate_job_update
from ..names import is_dns1123_subdomain
from ..meta import age, human_duration, parse_time
from ..selectors import LabelSelector
from .columns import AGE, NAME, age_of, col
from .kind import Kind

CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
JOB_NAME = "batch.kubernetes.io/job-name"
LEGACY_CONTROLLER_UID = "controller-uid"
LEGACY_JOB_NAME = "job-name"
CRONJOB_NAME_MAX = 52       # its Jobs are named <name>-<11 characters>


def _child(obj: dict, key: str) -> dict:
    if not isinstance(obj.get(key), dict):
        obj[key] = {}
    return obj[key]


def _default_job_spec(spec: dict):
    """What a JobSpec defaults to, in a Job and in a CronJob's jobTemplate alike (pod template)."""
    default_pod_spec(_child(_child(spec, "template"), "spec"))


# ---------------------------------------------------------------- Job
def default_job(job: dict):
    spec = _child(job, "spec")
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    spec.setdefault("parallelism", 1)
    spec.setdefault("backoffLimit", 2 ** 31 - 1 if spec.get("backoffLimitPerIndex") is not None else 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    spec.setdefault("podReplacementPolicy", "Failed" if spec.get("podFailurePolicy") else "TerminatingOrFailed")
    spec.setdefault("manualSelector", False)
    for rule in (spec.get("podFailurePolicy") or {}).get("rules") or []:
        for pattern in (rule.get("onPodConditions") or []) if isinstance(rule, dict) else []:
            if isinstance(pattern, dict):
                pattern.setdefault("status", "True")
    _default_job_spec(spec)
    md = _child(job, "metadata")
    if not spec.get("manualSelector") and md.get("uid"):
        _generate_selector(spec, md)
    labels = (spec["template"].get("metadata") or {}).get("labels")
    if labels and not md.get("labels"):
        md["labels"] = dict(labels)


def _generate_selector(spec: dict, md: dict):
    """kube-apiserver's generateSelector: the template carries the Job's uid and name; the
    selector selects the uid (labels the user already set are left for validation to judge)."""
    labels = _child(_child(spec["template"], "metadata"), "labels")
    for key in (LEGACY_JOB_NAME, JOB_NAME):
        labels.setdefault(key, md.get("name", ""))
    for key in (LEGACY_CONTROLLER_UID, CONTROLLER_UID):
        labels.setdefault(key, md["uid"])
    match = _child(_child(spec, "selector"), "matchLabels")
    match.setdefault(CONTROLLER_UID, md["uid"])


def _has_condition(status: dict, type_: str) -> bool:
    return any(c.get("type") == type_ and c.get("status") == "True" for c in status.get("conditions") or [])


def job_status_text(job: dict) -> str:
    st = job.get("status") or {}
    for type_, text in (("Complete", "Complete"), ("Failed", "Failed")):
        if _has_condition(st, type_):
            return text
    if (job.get("metadata") or {}).get("deletionTimestamp"):
        return "Terminating"
    for type_ in ("Suspended", "FailureTarget", "SuccessCriteriaMet"):
        if _has_condition(st, type_):
            return type_
    return "Running"


def job_completions_text(job: dict) -> str:
    spec, succeeded = job.get("spec") or {}, (job.get("status") or {}).get("succeeded", 0)
    if spec.get("completions") is not None:
        return f"{succeeded}/{spec['completions']}"
    parallelism = spec.get("parallelism") or 0
    return f"{succeeded}/1 of {parallelism}" if parallelism > 1 else f"{succeeded}/1"


def job_duration_text(job: dict) -> str:
    st = job.get("status") or {}
    if not st.get("startTime"):
        return ""
    if not st.get("completionTime"):
        return age(st["startTime"])
    return human_duration((parse_time(st["completionTime"]) - parse_time(st["startTime"])).total_seconds())


def _workload_cells(spec: dict) -> list:
    """CONTAINERS, IMAGES and SELECTOR (-o wide) of a JobSpec."""
    containers = (((spec.get("template") or {}).get("spec") or {}).get("containers")) or []
    sel = spec.get("selector")
    return [",".join(c.get("name", "") for c in containers), ",".join(c.get("image", "") for c in containers),
            LabelSelector.from_dict(sel).to_string() if sel else "<none>"]


WORKLOAD_COLUMNS = (col("Containers", priority=1), col("Images", priority=1), col("Selector", priority=1))

JOB = Kind(
    "batch", "v1", "Job", "jobs", categories=("all",), subresources=("status",),
    default=default_job, validate=validate_job, validate_update=validate_job_update,
    columns=(NAME, col("Status"), col("Completions"), col("Duration"), AGE) + WORKLOAD_COLUMNS,
    row=lambda j: [j["metadata"]["name"], job_status_text(j), job_completions_text(j), job_duration_text(j),
                   age_of(j)] + _workload_cells(j.get("spec") or {}),
    proto="k8s.io.api.batch.v1.Job")


# ---------------------------------------------------------------- CronJob
def default_cronjob(cj: dict):
    spec = _child(cj, "spec")
    spec.setdefault("concurrencyPolicy", "Allow")
    spec.setdefault("suspend", False)
    spec.setdefault("successfulJobsHistoryLimit", 3)
    spec.setdefault("failedJobsHistoryLimit", 1)
    _default_job_spec(_child(_child(spec, "jobTemplate"), "spec"))


def cronjob_name_rule(name: str) -> list:
    errors = is_dns1123_subdomain(name)
    if len(name) > CRONJOB_NAME_MAX:
        errors.append(f"must be no more than {CRONJOB_NAME_MAX} characters")
    return errors


def cronjob_row(cj: dict) -> list:
    spec, st = cj.get("spec") or {}, cj.get("status") or {}
    suspend = spec.get("suspend")
    return [cj["metadata"]["name"], spec.get("schedule", ""), spec.get("timeZone") or "<none>",
            "<unset>" if suspend is None else str(bool(suspend)), len(st.get("active") or []),
            age(st["lastScheduleTime"]) if st.get("lastScheduleTime") else "<none>", age_of(cj)] \
        + _workload_cells(((spec.get("jobTemplate") or {}).get("spec")) or {})


CRONJOB = Kind(
    "batch", "v1", "CronJob", "cronjobs", short_names=("cj",), categories=("all",), subresources=("status",),
    default=default_cronjob, validate=validate_cronjob, name_rule=cronjob_name_rule,
    columns=(NAME, col("Schedule"), col("Timezone"), col("Suspend", "boolean"), col("Active", "integer"),
             col("Last Schedule", "date"), AGE) + WORKLOAD_COLUMNS,
    row=cronjob_row,
    proto="k8s.io.api.batch.v1.CronJob")

KINDS = (JOB, CRONJOB)
