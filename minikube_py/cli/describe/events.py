"""The Events section every describer ends with.

Events are separate objects; describe finds those about this object with a field
selector on ``involvedObject`` (as kubectl asks) and prints them oldest first.
"""
from __future__ import annotations

from .text import Writer, since


def events(c, obj: dict) -> list[dict]:
    """Events about this object: a field selector on involvedObject, as kubectl asks."""
    md = obj["metadata"]
    ns = md.get("namespace", "")
    uids = [md.get("uid", "")] + ([md["name"]] if obj.get("kind") == "Node" else [])
    found = []
    for uid in uids:  # the kubelet names a Node's events by the node's name, not its uid
        fsel = (f"involvedObject.name={md['name']},involvedObject.namespace={ns},"
                f"involvedObject.uid={uid}")
        found += c.list_of("events", ns or None, field_selector=fsel)
    return sorted(found, key=lambda e: e.get("lastTimestamp") or e.get("eventTime") or "")


def describe_events(w: Writer, items: list[dict]) -> None:
    if not items:
        w.write(0, "Events:\t<none>\n")
        return
    w.flush()   # the events table is aligned on its own
    w.write(0, "Events:\n  Type\tReason\tAge\tFrom\tMessage\n")
    w.write(1, "----\t------\t----\t----\t-------\n")
    for e in items:
        first = since(e.get("eventTime") or e.get("firstTimestamp"))
        series = e.get("series")
        if series:
            interval = f"{since(series.get('lastObservedTime'))} (x{series.get('count')} over {first})"
        elif int(e.get("count") or 1) > 1:
            interval = f"{since(e.get('lastTimestamp'))} (x{e['count']} over {first})"
        else:
            interval = first
        source = (e.get("source") or {}).get("component") or e.get("reportingComponent") or ""
        w.write(1, f"{e.get('type', '')}\t{e.get('reason', '')}\t{interval}\t{source}\t"
                   f"{(e.get('message') or '').strip()}\n")
