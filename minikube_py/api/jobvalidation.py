"""What the apiserver accepts as a Job or a CronJob (batch/v1), and what may change.

kube-apiserver's pkg/apis/batch/validation, rule by rule, with its field paths and
messages, so a 422 reads as it would on a real cluster:

- a JobSpec (a Job's, or a CronJob's ``jobTemplate.spec``): counts not negative;
  completionMode NonIndexed or Indexed (Indexed needs ``completions``;
  ``backoffLimitPerIndex`` / ``maxFailedIndexes`` and ``successPolicy`` need Indexed);
  ``podFailurePolicy`` rules (actions, exit codes, pod conditions; restartPolicy Never);
  the pod template, whose restartPolicy is OnFailure or Never;
- a Job's selector matches its template (and is the generated one unless
  ``manualSelector``);
- on update the selector, completion mode, podFailurePolicy, successPolicy,
  backoffLimitPerIndex and (outside the elastic Indexed case) completions are fixed;
  the pod template too, except the scheduling directives of a Job that is suspended
  and has never started;
- a CronJob's schedule parses as robfig/cron parses it, its time zone exists.

The kinds themselves (defaults, columns, protobuf) are declared in kinds/batch.py.
"""
from __future__ import annotations

import copy
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from . import cron
from .indexset import IndexSetError, count_indexes
from .names import is_qualified_name
from .podvalidation import validate_pod_spec
from .selectors import LabelSelector, SelectorError
from .validation import _cause, duplicate, invalid, non_negative, not_supported, required, validate_labels

CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
COMPLETION_MODES = ("NonIndexed", "Indexed")
JOB_RESTART_POLICIES = ("OnFailure", "Never")
CONCURRENCY_POLICIES = ("Allow", "Forbid", "Replace")
POD_REPLACEMENT_POLICIES = ("Failed", "TerminatingOrFailed")
POD_FAILURE_ACTIONS = ("Count", "FailIndex", "FailJob", "Ignore")
EXIT_CODE_OPERATORS = ("In", "NotIn")
CONDITION_STATUSES = ("False", "True", "Unknown")
MAX_COMPLETIONS_INDEXED = 10 ** 5
MAX_PARALLELISM_INDEXED = 10 ** 5
MAX_FAILED_INDEXES = 10 ** 5
MAX_POD_FAILURE_RULES = 20
MAX_ON_CONDITIONS = 20
MAX_EXIT_CODES = 255
MAX_SUCCESS_RULES = 20
MAX_SUCCEEDED_INDEXES_LEN = 64 * 1024

__all__ = ["validate_job", "validate_job_update", "validate_job_spec", "validate_cronjob",
           "validate_schedule", "validate_time_zone"]


def too_many(field: str, count: int, limit: int) -> dict:
    return _cause("FieldValueTooMany", field, f"Too many: {count}: must have at most {limit} items")


def invalid_without_value(field: str, detail: str) -> dict:
    """field.Invalid with OmitValueType: the message names no value."""
    return _cause("FieldValueInvalid", field, f"Invalid value: {detail}")


def _int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


# ---------------------------------------------------------------- JobSpec
def validate_job_spec(spec, path: str = "spec") -> list:
    """validateJobSpec: what a Job's spec and a CronJob's jobTemplate.spec share."""
    if not isinstance(spec, dict):
        return [required(path)]
    causes = []
    if spec.get("parallelism") is not None:
        causes += non_negative(f"{path}.parallelism", spec["parallelism"])
    for field in ("completions", "activeDeadlineSeconds", "backoffLimit", "ttlSecondsAfterFinished",
                  "backoffLimitPerIndex", "maxFailedIndexes"):
        causes += non_negative(f"{path}.{field}", spec.get(field))
    per_index, max_failed = spec.get("backoffLimitPerIndex"), spec.get("maxFailedIndexes")
    completions, parallelism = spec.get("completions"), spec.get("parallelism")
    if max_failed is not None and per_index is None:
        causes.append(required(f"{path}.backoffLimitPerIndex", "when maxFailedIndexes is specified"))
    mode = spec.get("completionMode", "NonIndexed")
    if mode not in COMPLETION_MODES:
        causes.append(not_supported(f"{path}.completionMode", mode, COMPLETION_MODES))
    elif mode == "Indexed":
        if completions is None:
            causes.append(required(f"{path}.completions", "when completion mode is Indexed"))
        elif _int(completions) and completions > MAX_COMPLETIONS_INDEXED:
            causes.append(invalid(f"{path}.completions", completions,
                                  f"must be less than or equal to {MAX_COMPLETIONS_INDEXED} "
                                  "when completion mode is Indexed"))
        if _int(parallelism) and parallelism > MAX_PARALLELISM_INDEXED:
            causes.append(invalid(f"{path}.parallelism", parallelism,
                                  f"must be less than or equal to {MAX_PARALLELISM_INDEXED} "
                                  "when completion mode is Indexed"))
        if _int(completions) and _int(max_failed) and max_failed > completions:
            causes.append(invalid(f"{path}.maxFailedIndexes", max_failed, "must be less than or equal to completions"))
    else:
        for field, value in (("backoffLimitPerIndex", per_index), ("maxFailedIndexes", max_failed)):
            if value is not None:
                causes.append(invalid(f"{path}.{field}", value, "requires indexed completion mode"))
    if spec.get("podFailurePolicy") is not None:
        causes += _validate_pod_failure_policy(spec, f"{path}.podFailurePolicy")
    if spec.get("successPolicy") is not None:
        if mode != "Indexed":
            causes.append(invalid(f"{path}.successPolicy", spec["successPolicy"], "requires indexed completion mode"))
        else:
            causes += _validate_success_policy(spec, f"{path}.successPolicy")
    replacement = spec.get("podReplacementPolicy")
    if replacement is not None:
        if spec.get("podFailurePolicy") is not None and replacement != "Failed":
            causes.append(not_supported(f"{path}.podReplacementPolicy", replacement, ["Failed"]))
        elif replacement not in POD_REPLACEMENT_POLICIES:
            causes.append(not_supported(f"{path}.podReplacementPolicy", replacement, POD_REPLACEMENT_POLICIES))
    template = spec.get("template")
    if not isinstance(template, dict):
        return causes + [required(f"{path}.template")]
    causes += validate_labels((template.get("metadata") or {}).get("labels"), f"{path}.template.metadata.labels")
    pod_spec = template.get("spec")
    causes += validate_pod_spec(pod_spec, f"{path}.template.spec")
    if isinstance(pod_spec, dict):
        policy, rp_path = pod_spec.get("restartPolicy"), f"{path}.template.spec.restartPolicy"
        if policy in (None, "", "Always"):
            causes.append(required(rp_path, 'valid values: "OnFailure", "Never"'))
        elif policy not in JOB_RESTART_POLICIES:
            causes.append(not_supported(rp_path, policy, JOB_RESTART_POLICIES))
        elif spec.get("podFailurePolicy") is not None and policy != "Never":
            causes.append(invalid(rp_path, policy, 'only "Never" is supported when podFailurePolicy is specified'))
    return causes


def _validate_pod_failure_policy(spec: dict, path: str) -> list:
    policy = spec["podFailurePolicy"]
    rules = policy.get("rules") if isinstance(policy, dict) else None
    if not isinstance(rules, list):
        return [required(f"{path}.rules")]
    causes = []
    if len(rules) > MAX_POD_FAILURE_RULES:
        causes.append(too_many(f"{path}.rules", len(rules), MAX_POD_FAILURE_RULES))
    pod_spec = (spec.get("template") or {}).get("spec") or {}
    names = {c.get("name") for c in (pod_spec.get("containers") or []) + (pod_spec.get("initContainers") or [])}
    for i, rule in enumerate(rules):
        causes += _validate_failure_rule(spec, rule if isinstance(rule, dict) else {}, f"{path}.rules[{i}]", names)
    return causes


def _validate_failure_rule(spec: dict, rule: dict, path: str, names: set) -> list:
    causes = []
    action = rule.get("action")
    if not action:
        causes.append(required(f"{path}.action", 'valid values: ["Count" "FailIndex" "FailJob" "Ignore"]'))
    elif action == "FailIndex":
        if spec.get("backoffLimitPerIndex") is None:
            causes.append(invalid(f"{path}.action", action, "requires the backoffLimitPerIndex to be set"))
    elif action not in POD_FAILURE_ACTIONS:
        causes.append(not_supported(f"{path}.action", action, POD_FAILURE_ACTIONS))
    on_codes, on_conditions = rule.get("onExitCodes"), rule.get("onPodConditions") or []
    if on_codes is not None:
        causes += _validate_on_exit_codes(on_codes, f"{path}.onExitCodes", names)
    if on_conditions:
        causes += _validate_on_conditions(on_conditions, f"{path}.onPodConditions")
    if on_codes is not None and on_conditions:
        causes.append(invalid_without_value(path, "specifying both OnExitCodes and OnPodConditions is not supported"))
    if on_codes is None and not on_conditions:
        causes.append(invalid_without_value(path, "specifying one of OnExitCodes and OnPodConditions is required"))
    return causes


def _validate_on_exit_codes(req: dict, path: str, names: set) -> list:
    causes = []
    operator = req.get("operator")
    if not operator:
        causes.append(required(f"{path}.operator", 'valid values: ["In" "NotIn"]'))
    elif operator not in EXIT_CODE_OPERATORS:
        causes.append(not_supported(f"{path}.operator", operator, EXIT_CODE_OPERATORS))
    name = req.get("containerName")
    if name is not None and name not in names:
        causes.append(invalid(f"{path}.containerName", name,
                              "must be one of the container or initContainer names in the pod template"))
    values = req.get("values") or []
    if not values:
        causes.append(invalid(f"{path}.values", values, "at least one value is required"))
    elif len(values) > MAX_EXIT_CODES:
        causes.append(too_many(f"{path}.values", len(values), MAX_EXIT_CODES))
    seen, ordered = set(), True
    for j, value in enumerate(values):
        if operator == "In" and value == 0:
            causes.append(invalid(f"{path}.values[{j}]", value, "must not be 0 for the In operator"))
        if value in seen:
            causes.append(duplicate(f"{path}.values[{j}]", value))
        seen.add(value)
        if j and _int(value) and _int(values[j - 1]) and values[j - 1] > value:
            ordered = False
    if not ordered:
        causes.append(invalid(f"{path}.values", values, "must be ordered"))
    return causes


def _validate_on_conditions(patterns: list, path: str) -> list:
    causes = []
    if len(patterns) > MAX_ON_CONDITIONS:
        causes.append(too_many(path, len(patterns), MAX_ON_CONDITIONS))
    for j, pattern in enumerate(patterns):
        pattern = pattern if isinstance(pattern, dict) else {}
        type_ = pattern.get("type") or ""
        causes += [invalid(f"{path}[{j}].type", type_, msg) for msg in is_qualified_name(type_)]
        status = pattern.get("status")
        if not status:
            causes.append(required(f"{path}[{j}].status", 'valid values: ["False" "True" "Unknown"]'))
        elif status not in CONDITION_STATUSES:
            causes.append(not_supported(f"{path}[{j}].status", status, CONDITION_STATUSES))
    return causes


def _validate_success_policy(spec: dict, path: str) -> list:
    rules = (spec["successPolicy"] or {}).get("rules") or []
    causes = []
    if not rules:
        causes.append(required(f"{path}.rules", "at least one rules must be specified when the successPolicy is specified"))
    if len(rules) > MAX_SUCCESS_RULES:
        causes.append(too_many(f"{path}.rules", len(rules), MAX_SUCCESS_RULES))
    completions = spec.get("completions") if _int(spec.get("completions")) else 0
    for i, rule in enumerate(rules):
        rule, rpath = rule if isinstance(rule, dict) else {}, f"{path}.rules[{i}]"
        indexes, count = rule.get("succeededIndexes"), rule.get("succeededCount")
        if indexes is None and count is None:
            causes.append(required(rpath, "at least one of succeededCount or succeededIndexes must be specified"))
        total = 0
        if indexes is not None:
            if len(indexes) > MAX_SUCCEEDED_INDEXES_LEN:
                causes.append(_cause("FieldValueTooLong", f"{rpath}.succeededIndexes",
                                     f"Too long: may not be more than {MAX_SUCCEEDED_INDEXES_LEN} bytes"))
            try:
                total = count_indexes(indexes, completions)
            except IndexSetError as err:
                causes.append(invalid(f"{rpath}.succeededIndexes", indexes, f"error parsing succeededIndexes: {err}"))
        if count is not None:
            causes += non_negative(f"{rpath}.succeededCount", count)
            if _int(count) and count > completions:
                causes.append(invalid(f"{rpath}.succeededCount", count,
                                      f"must be less than or equal to {completions} (the number of specified completions)"))
            if indexes is not None and _int(count) and count > total:
                causes.append(invalid(f"{rpath}.succeededCount", count,
                                      f"must be less than or equal to {total} (the number of indexes in the "
                                      "specified succeededIndexes field)"))
    return causes


# ---------------------------------------------------------------- Job
def validate_job(job: dict) -> list:
    spec = job.get("spec")
    causes = validate_job_spec(spec, "spec")
    if not isinstance(spec, dict):
        return causes
    sel = spec.get("selector")
    if sel is None:
        return causes + [required("spec.selector")]
    try:
        selector = LabelSelector.from_dict(sel)
    except SelectorError as err:
        return causes + [invalid("spec.selector", sel, str(err))]
    labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
    if selector.empty or not selector.matches(labels):
        causes.append(invalid("spec.template.metadata.labels", labels,
                              "`selector` does not match template `labels`"))
    uid = (job.get("metadata") or {}).get("uid")
    if not spec.get("manualSelector") and uid:
        if (sel.get("matchLabels") or {}).get(CONTROLLER_UID) != uid:
            causes.append(invalid("spec.selector", sel, "`selector` not auto-generated"))
    return causes


# what a suspended Job that never ran may still change in its template (scheduling directives)
MUTABLE_WHILE_SUSPENDED = ("nodeSelector", "tolerations", "schedulingGates")


def validate_job_update(old: dict, new: dict) -> list:
    """ValidateJobSpecUpdate: fields fixed once the Job exists."""
    o, n = old.get("spec") or {}, new.get("spec") or {}
    causes = []
    if o.get("completions") != n.get("completions"):
        if n.get("completionMode") != "Indexed":
            causes.append(invalid("spec.completions", n.get("completions"), "field is immutable"))
        elif n.get("completions") is not None and n.get("completions") != n.get("parallelism"):
            causes.append(invalid("spec.completions", n.get("completions"),
                                  "can only be modified in tandem with spec.parallelism"))
    if o.get("selector") != n.get("selector"):
        causes.append(invalid("spec.selector", n.get("selector"), "field is immutable"))
    if _template_for_comparison(old, n.get("template")) != n.get("template"):
        causes.append(invalid("spec.template", n.get("template"), "field is immutable"))
    for field in ("completionMode", "podFailurePolicy", "backoffLimitPerIndex", "managedBy", "successPolicy"):
        if o.get(field) != n.get(field):
            causes.append(invalid(f"spec.{field}", n.get(field), "field is immutable"))
    return causes


def _template_for_comparison(old: dict, new_template) -> dict:
    """The old template, with the scheduling directives a suspended, never started Job may
    change taken from the new one (nodeSelector, tolerations, labels, annotations, node
    affinity, scheduling gates)."""
    template = copy.deepcopy((old.get("spec") or {}).get("template"))
    if not (old.get("spec") or {}).get("suspend") or (old.get("status") or {}).get("startTime") \
            or not isinstance(template, dict) or not isinstance(new_template, dict):
        return template
    new_meta, new_spec = new_template.get("metadata") or {}, new_template.get("spec") or {}
    tmeta, tspec = template.setdefault("metadata", {}), template.setdefault("spec", {})
    for field in ("labels", "annotations"):
        _copy_field(new_meta, tmeta, field)
    for field in MUTABLE_WHILE_SUSPENDED:
        _copy_field(new_spec, tspec, field)
    affinity = dict(tspec.get("affinity") or {})
    affinity.pop("nodeAffinity", None)
    if (new_spec.get("affinity") or {}).get("nodeAffinity") is not None:
        affinity["nodeAffinity"] = new_spec["affinity"]["nodeAffinity"]
    if affinity or "affinity" in new_spec:
        tspec["affinity"] = affinity if affinity or new_spec.get("affinity") is not None else None
        if tspec["affinity"] is None:
            tspec.pop("affinity")
    else:
        tspec.pop("affinity", None)
    if not tmeta and "metadata" not in new_template:
        template.pop("metadata")
    return template


def _copy_field(src: dict, dst: dict, field: str):
    if field in src:
        dst[field] = copy.deepcopy(src[field])
    else:
        dst.pop(field, None)


# ---------------------------------------------------------------- CronJob
def validate_schedule(schedule, path: str = "spec.schedule") -> list:
    if not schedule:
        return [required(path)]
    if not isinstance(schedule, str):
        return [invalid(path, schedule, "must be a string")]
    causes = []
    try:
        cron.parse(schedule)
    except cron.CronError as err:
        causes.append(invalid(path, schedule, str(err)))
    if "TZ" in schedule:
        causes.append(invalid(path, schedule, "cannot use TZ or CRON_TZ in schedule, use timeZone field instead"))
    return causes


def validate_time_zone(tz, path: str = "spec.timeZone") -> list:
    if tz is None:
        return []
    if not isinstance(tz, str) or not tz:
        return [invalid(path, tz, "timeZone must be nil or non-empty string")]
    if tz.lower() == "local":
        return [invalid(path, tz, "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones")]
    try:
        if tz != tz.strip() or any(part in (".", "..") or part.startswith("-") for part in tz.split("/")):
            raise ValueError
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        return [invalid(path, tz, f"unknown time zone {tz}")]
    return []


def validate_cronjob(cj: dict) -> list:
    """validateCronJobSpec (a TZ= prefix in the schedule is refused: spec.timeZone says it)."""
    spec = cj.get("spec")
    if not isinstance(spec, dict):
        return [required("spec")]
    causes = validate_schedule(spec.get("schedule"))
    causes += non_negative("spec.startingDeadlineSeconds", spec.get("startingDeadlineSeconds"))
    causes += validate_time_zone(spec.get("timeZone"))
    policy = spec.get("concurrencyPolicy")
    if policy not in CONCURRENCY_POLICIES:
        causes.append(not_supported("spec.concurrencyPolicy", policy, CONCURRENCY_POLICIES) if policy
                      else required("spec.concurrencyPolicy"))
    template = spec.get("jobTemplate")
    if not isinstance(template, dict):
        return causes + [required("spec.jobTemplate")]
    jp = "spec.jobTemplate.spec"
    job_spec = template.get("spec")
    causes += validate_job_spec(job_spec, jp)
    if isinstance(job_spec, dict):
        if job_spec.get("selector") is not None:
            causes.append(invalid(f"{jp}.selector", job_spec["selector"], "`selector` will be auto-generated"))
        if job_spec.get("manualSelector"):
            causes.append(not_supported(f"{jp}.manualSelector", True, ["nil", "false"]))
    for field in ("successfulJobsHistoryLimit", "failedJobsHistoryLimit"):
        causes += non_negative(f"spec.{field}", spec.get(field))
    return causes
