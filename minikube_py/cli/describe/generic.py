"""Describing a Namespace (its resource quotas), and any other kind: its fields as
an indented outline (kubectl's generic describer).
"""
from __future__ import annotations

import re

from .events import describe_events, events
from .text import Writer, labels_and_annotations


def describe_namespace(c, w: Writer, ns: dict) -> None:
    md = ns["metadata"]
    w.write(0, f"Name:\t{md['name']}\n")
    labels_and_annotations(w, md)
    w.write(0, f"Status:\t{(ns.get('status') or {}).get('phase', 'Active')}\n")
    try:
        c.resolve_one("resourcequotas")
    except Exception:
        return  # this server has no quotas: nothing more to say
    quotas = c.list_of("resourcequotas", md["name"])
    if not quotas:
        w.write(0, "\nNo resource quota.\n")
    for q in quotas:
        w.flush()
        w.write(0, f"\nResource Quotas\n  Name:\t{q['metadata']['name']}\n  Resource\tUsed\tHard\n  --------\t---\t---\n")
        hard, used = (q.get("status") or {}).get("hard") or (q.get("spec") or {}).get("hard") or {}, \
            (q.get("status") or {}).get("used") or {}
        for r in sorted(hard):
            w.write(1, f"{r}\t{used.get(r, '0')}\t{hard[r]}\n")


def label_for(field: str) -> str:
    """``apiVersion`` -> ``API Version``, ``nodeName`` -> ``Node Name`` (kubectl's smartLabelFor)."""
    words = re.findall(r"[A-Z]+(?=[A-Z][a-z]|\d|$)|[A-Z]?[a-z]+|\d+|[A-Z]+", field) or [field]
    special = {"api": "API", "url": "URL", "uid": "UID", "ip": "IP", "id": "ID", "cpu": "CPU", "gpu": "GPU"}
    return " ".join(special.get(w.lower(), w[0].upper() + w[1:]) for w in words)


def generic_content(w: Writer, level: int, content: dict, path: str, skip: set) -> None:
    for field in sorted(content):
        value, here = content[field], f"{path}.{field}"
        if here in skip:
            continue
        if isinstance(value, dict):
            w.write(level, f"{label_for(field)}:\n")
            generic_content(w, level + 1, value, here, skip)
        elif isinstance(value, list):
            w.write(level, f"{label_for(field)}:\n")
            for item in value:
                if isinstance(item, dict):
                    generic_content(w, level + 1, item, here, skip)
                else:
                    w.write(level + 1, f"{item}\n")
        else:
            text = "true" if value is True else "false" if value is False else value
            w.write(level, f"{label_for(field)}:\t{text}\n")


def describe_generic(c, w: Writer, obj: dict) -> None:
    """Any other kind: its fields as an indented ``Key: value`` outline."""
    md = obj.get("metadata") or {}
    w.write(0, f"Name:\t{md.get('name', '')}\n")
    w.write(0, f"Namespace:\t{md.get('namespace', '')}\n")
    labels_and_annotations(w, md)
    generic_content(w, 0, obj, "", {".metadata.name", ".metadata.namespace", ".metadata.labels",
                                    ".metadata.annotations", ".metadata.managedFields"})
    describe_events(w, events(c, obj))
