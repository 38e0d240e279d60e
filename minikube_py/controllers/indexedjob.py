"""Indexed Jobs: pods that each own one completion index, 0 .. completions-1.

Kubernetes' pkg/controller/job/indexed_job_utils.go and success_policy.go. Each pod
of an Indexed Job carries its index in the annotation and label
``batch.kubernetes.io/job-completion-index``; its containers read it as
``JOB_COMPLETION_INDEX`` (a downward-API reference to that annotation); its hostname
is ``<job>-<index>``, so with a headless Service the workers find each other. The Job
is complete when every index has a succeeded pod -- or when its ``successPolicy``
says enough have. With ``backoffLimitPerIndex`` each index has its own retry budget:
the pods carry ``batch.kubernetes.io/job-index-failure-count`` and an index that
exceeds it (or whose pod matched a FailIndex rule) is failed for good.
"""
from __future__ import annotations

import copy
from typing import Optional

from ..api.indexset import IndexSetError, parse_indexes

COMPLETION_INDEX = "batch.kubernetes.io/job-completion-index"
INDEX_FAILURE_COUNT = "batch.kubernetes.io/job-index-failure-count"
INDEX_ENV = "JOB_COMPLETION_INDEX"

__all__ = ["COMPLETION_INDEX", "INDEX_FAILURE_COUNT", "completion_index", "failure_count",
           "indexed_template", "matched_success_rule"]


def completion_index(pod: dict, completions: int) -> Optional[int]:
    """The pod's index from its annotation (or label); None when missing or out of range."""
    md = pod.get("metadata") or {}
    text = (md.get("annotations") or {}).get(COMPLETION_INDEX) or (md.get("labels") or {}).get(COMPLETION_INDEX)
    if text is None or not str(text).isdigit():
        return None
    index = int(text)
    return index if index < completions else None


def failure_count(pod: dict) -> int:
    """How many pods of this index had failed before this one was made (its annotation)."""
    text = ((pod.get("metadata") or {}).get("annotations") or {}).get(INDEX_FAILURE_COUNT, "0")
    return int(text) if str(text).isdigit() else 0


def indexed_template(job: dict, index: int, failures: Optional[int]) -> dict:
    """The Job's pod template for one index: annotation, label, hostname, JOB_COMPLETION_INDEX."""
    template = copy.deepcopy((job.get("spec") or {}).get("template") or {})
    md = template.setdefault("metadata", {})
    md.setdefault("annotations", {})[COMPLETION_INDEX] = str(index)
    md.setdefault("labels", {})[COMPLETION_INDEX] = str(index)
    if failures is not None:                  # backoffLimitPerIndex: the index's failures so far
        md["annotations"][INDEX_FAILURE_COUNT] = str(failures)
    spec = template.setdefault("spec", {})
    if not spec.get("hostname"):
        spec["hostname"] = f"{job['metadata']['name']}-{index}"
    for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        env = container.setdefault("env", [])
        if not any(e.get("name") == INDEX_ENV for e in env):
            env.append({"name": INDEX_ENV, "valueFrom": {"fieldRef": {
                "fieldPath": f"metadata.annotations['{COMPLETION_INDEX}']"}}})
    return template


def matched_success_rule(policy: Optional[dict], succeeded: set, completions: int) -> Optional[int]:
    """The index of the first successPolicy rule the succeeded indexes satisfy, or None.

    A rule with ``succeededIndexes`` looks only at those indexes: all of them must have
    succeeded, or ``succeededCount`` of them if it is set; a rule with only
    ``succeededCount`` wants that many indexes, whichever they are.
    """
    for i, rule in enumerate((policy or {}).get("rules") or []):
        count = rule.get("succeededCount")
        if rule.get("succeededIndexes") is not None:
            try:
                wanted = parse_indexes(rule["succeededIndexes"], completions)
            except IndexSetError:
                continue
            done = len(wanted & succeeded)
            if done >= (count if count is not None else len(wanted)) and done:
                return i
        elif count is not None and len(succeeded) >= count:
            return i
    return None
