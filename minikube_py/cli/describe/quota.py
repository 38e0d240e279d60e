"""Describing a ResourceQuota (used against hard, per resource) and a LimitRange (one
row per type and resource), as kubectl's describers lay them out."""
from __future__ import annotations

from .text import Writer, name_lines

SCOPE_HELP = {
    "Terminating": "Matches all pods that have an active deadline. These pods have a limited lifespan "
                   "on a node before being actively terminated by the system.",
    "NotTerminating": "Matches all pods that do not have an active deadline. These pods usually include "
                      "long running pods whose container command is not expected to terminate.",
    "BestEffort": "Matches all pods that do not have resource requirements set. These pods have a best "
                  "effort quality of service.",
    "NotBestEffort": "Matches all pods that have at least one resource requirement set. These pods have "
                     "a burstable or guaranteed quality of service.",
}


def describe_quota(c, w: Writer, quota: dict) -> None:
    name_lines(w, quota["metadata"])
    scopes = sorted((quota.get("spec") or {}).get("scopes") or [])
    if scopes:
        w.write(0, f"Scopes:\t{', '.join(scopes)}\n")
        for scope in scopes:
            if scope in SCOPE_HELP:
                w.write(0, f" * {SCOPE_HELP[scope]}\n")
    w.write(0, "Resource\tUsed\tHard\n")
    w.write(0, "--------\t----\t----\n")
    status = quota.get("status") or {}
    hard, used = status.get("hard") or {}, status.get("used") or {}
    for resource in sorted(hard):
        w.write(0, f"{resource}\t{used.get(resource, '0')}\t{hard[resource]}\n")


def describe_limit_range(c, w: Writer, lr: dict) -> None:
    name_lines(w, lr["metadata"])
    w.write(0, "Type\tResource\tMin\tMax\tDefault Request\tDefault Limit\tMax Limit/Request Ratio\n")
    w.write(0, "----\t--------\t---\t---\t---------------\t-------------\t-----------------------\n")
    sections = ("min", "max", "defaultRequest", "default", "maxLimitRequestRatio")
    for item in (lr.get("spec") or {}).get("limits") or []:
        names = sorted({name for s in sections for name in (item.get(s) or {})})
        for name in names:
            cells = [str((item.get(s) or {}).get(name, "-")) for s in sections]
            w.write(0, "\t".join([item.get("type", ""), name, *cells]) + "\n")
