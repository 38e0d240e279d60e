"""Events the kubelet records (Pulled, Created, Started, Killing, BackOff, Unhealthy ...).

``kubectl describe pod`` shows them. They go through the shared recorder
(client/events.py), with two rules that keep them from flooding the apiserver, as
client-go's EventRecorder applies them for the kubelet:

* **aggregation**: the same event (same object, reason and message) seen again
  within ``AGGREGATE_WINDOW`` is not a new Event object; the existing one gets
  ``count + 1`` and a new ``lastTimestamp`` ("BackOff  (x7 over 3m)").
* **spam filter**: each object has a token bucket (``BURST`` events, then one
  per ``REFILL_SECONDS``); events beyond it are dropped and counted in the log.

Events are sent by a background thread, so a slow apiserver never delays a
pod worker.
"""
from __future__ import annotations

import time

from ..client.events import EventRecorder

AGGREGATE_WINDOW = 600.0     # seconds: repeat within this -> count++ on the same Event
BURST = 25                   # events per object before the spam filter kicks in
REFILL_SECONDS = 10.0        # one more token per object every this many seconds


def pod_ref(pod: dict, field_path: str | None = None) -> dict:
    """An ObjectReference to a pod (optionally to one container: ``spec.containers{web}``)."""
    meta = pod.get("metadata") or {}
    ref = {"kind": "Pod", "apiVersion": "v1", "name": meta.get("name"),
           "namespace": meta.get("namespace", "default"), "uid": meta.get("uid")}
    if field_path:
        ref["fieldPath"] = field_path
    return ref


def container_field_path(pod: dict, container_name: str) -> str:
    """``spec.containers{name}`` or ``spec.initContainers{name}``, as Kubernetes names them."""
    for c in (pod.get("spec") or {}).get("initContainers") or []:
        if c.get("name") == container_name:
            return f"spec.initContainers{{{container_name}}}"
    return f"spec.containers{{{container_name}}}"


def recorder(client, node: str, clock=time.monotonic) -> EventRecorder:
    """The kubelet's recorder for `node`: spam filter and aggregation as described above."""
    return EventRecorder(client, "kubelet", host=node, spam_burst=BURST, spam_refill=REFILL_SECONDS,
                         aggregate_window=AGGREGATE_WINDOW, clock=clock)
