"""The hub: informers on the cluster, and every open page subscribed to their changes.

One informer per resource the page shows (nodes, pods, deployments, replicasets,
events, tfjobs) keeps a current copy, however many browsers are open; each change
becomes a record (views.py) and is queued for every subscriber. A record equal to the
last one sent is not sent again: a kubelet's status heartbeat that changes nothing
the page shows costs the browsers nothing.

A page that connects gets a snapshot of every record, then the changes after it,
in order (the snapshot and the subscription are taken under one lock). A page that
falls far behind is dropped; its EventSource reconnects and starts from a fresh
snapshot, as an informer re-lists after a 410.

metrics.k8s.io has no watch: its figures are read every ``metrics_period`` seconds
(the apiserver itself only scrapes the kubelets every --metric-resolution), together
with the GPU ids each container was given, which only the kubelet knows (its Summary
API's ``accelerators``, read through the apiserver's node proxy).
"""
from __future__ import annotations

import logging
import threading
from typing import Optional

from ..api.quantity import QuantityError, cpu_millis, parse_quantity
from ..client import errors
from ..client.informer import Informer, meta_key
from .views import VIEWS

log = logging.getLogger(__name__)

RECENT_EVENTS = 100          # the snapshot's events: the newest this many


class Subscriber:
    """One open page: the messages not yet written to it."""

    MAX_PENDING = 20000       # more than this and the page is dropped (it reconnects)

    def __init__(self):
        self._pending: list[dict] = []
        self._cond = threading.Condition()
        self.dropped = False

    def put(self, message: dict) -> None:
        with self._cond:
            if len(self._pending) >= self.MAX_PENDING:
                self.dropped = True
            else:
                self._pending.append(message)
            self._cond.notify()

    def take(self, timeout: float) -> list[dict]:
        """Every pending message (waiting up to ``timeout`` for one); [] on timeout."""
        with self._cond:
            if not self._pending and not self.dropped:
                self._cond.wait(timeout)
            batch, self._pending = self._pending, []
            return batch


class Hub:
    def __init__(self, client, metrics_period: float = 10.0):
        self.client = client
        self.metrics_period = metrics_period
        self.informers = {resource: Informer(client, resource) for resource in VIEWS}
        # not drawn: the namespaces a user's access is asked about (access.py)
        self.namespaces = Informer(client, "namespaces")
        self._records: dict[str, dict[str, dict]] = {resource: {} for resource in VIEWS}
        self._metrics: dict = {"nodes": {}, "pods": {}, "gpuDevices": {}}
        self._subscribers: set[Subscriber] = set()
        self._lock = threading.Lock()
        self._stopped = threading.Event()

    # ------------------------------------------------------------ informers in
    def start(self) -> "Hub":
        for resource, informer in self.informers.items():
            informer.add_handler(
                on_add=lambda obj, r=resource: self._changed(r, obj),
                on_update=lambda old, obj, r=resource: self._changed(r, obj),
                on_delete=lambda obj, r=resource: self._deleted(r, obj))
            informer.start()
        self.namespaces.start()
        threading.Thread(target=self._metrics_loop, daemon=True, name="dashboard-metrics").start()
        return self

    def wait_for_sync(self, timeout: float) -> bool:
        """The core resources are loaded (tfjobs may wait for their CRD)."""
        return all(inf.wait_for_sync(timeout) for r, inf in self.informers.items() if r != "tfjobs") \
            and self.namespaces.wait_for_sync(timeout)

    def stop(self) -> None:
        self._stopped.set()
        for informer in [*self.informers.values(), self.namespaces]:
            informer.stop()

    def namespace_names(self, timeout: float = 10.0) -> list[str]:
        """Every namespace (waiting for the first list: a user allowed in one namespace
        only would otherwise meet a 403 in the dashboard's first second)."""
        self.namespaces.wait_for_sync(timeout)
        return sorted(ns["metadata"]["name"] for ns in self.namespaces.list())

    def _changed(self, resource: str, obj: dict) -> None:
        key = meta_key(obj)
        record = VIEWS[resource](obj)
        with self._lock:
            if self._records[resource].get(key) == record:
                return
            self._records[resource][key] = record
            self._publish({"op": "put", "resource": resource, "key": key, "record": record})

    def _deleted(self, resource: str, obj: dict) -> None:
        key = meta_key(obj)
        with self._lock:
            if self._records[resource].pop(key, None) is not None:
                self._publish({"op": "delete", "resource": resource, "key": key})

    def _publish(self, message: dict) -> None:
        """Queue a message for every page (called with the lock held: order is kept)."""
        for sub in list(self._subscribers):
            sub.put(message)
            if sub.dropped:
                self._subscribers.discard(sub)

    # ------------------------------------------------------------ pages out
    def subscribe(self) -> tuple[Subscriber, dict]:
        """A new subscriber and the snapshot its messages follow."""
        sub = Subscriber()
        with self._lock:
            records = {resource: dict(recs) for resource, recs in self._records.items()}
            records["events"] = dict(sorted(records["events"].items(), key=lambda kv: kv[1]["time"])
                                     [-RECENT_EVENTS:])
            self._subscribers.add(sub)
            snapshot = {"op": "snapshot", "records": records, "metrics": self._metrics}
        return sub, snapshot

    def unsubscribe(self, sub: Subscriber) -> None:
        with self._lock:
            self._subscribers.discard(sub)

    def events_of(self, kind: str, namespace: str, name: str, uid: Optional[str] = None) -> list[dict]:
        """The Events about one object, oldest first (what `kubectl describe` lists)."""
        found = []
        for event in self.informers["events"].list():
            inv = event.get("involvedObject") or {}
            if inv.get("kind") == kind and inv.get("name") == name \
                    and (inv.get("namespace") or "") == (namespace or "") \
                    and (not uid or not inv.get("uid") or inv.get("uid") == uid):
                found.append(VIEWS["events"](event))
        return sorted(found, key=lambda e: e["time"])

    # ------------------------------------------------------------ metrics
    def _metrics_loop(self) -> None:
        while not self._stopped.is_set():
            try:
                metrics = self.read_metrics()
            except Exception as e:  # noqa: BLE001 - the apiserver may be restarting; try next time
                log.debug("reading metrics failed: %s", e)
                metrics = None
            if metrics is not None:
                with self._lock:
                    if metrics != self._metrics:
                        self._metrics = metrics
                        self._publish({"op": "metrics", "metrics": metrics})
            self._stopped.wait(self.metrics_period)

    def read_metrics(self) -> dict:
        """{"nodes": {name: usage}, "pods": {ns/name: usage}, "gpuDevices": {ns/name: [ids]}};
        usage is {"cpu": millicores, "memory": bytes}."""
        out: dict = {"nodes": {}, "pods": {}, "gpuDevices": {}}
        base = "/apis/metrics.k8s.io/v1beta1"
        try:
            for item in self.client.get_raw(f"{base}/nodes").json().get("items") or []:
                out["nodes"][item["metadata"]["name"]] = _usage(item.get("usage") or {})
            for item in self.client.get_raw(f"{base}/pods").json().get("items") or []:
                total = {"cpu": 0, "memory": 0}
                for c in item.get("containers") or []:
                    u = _usage(c.get("usage") or {})
                    total = {k: total[k] + u[k] for k in total}
                out["pods"][meta_key(item)] = total
        except errors.ApiError as e:          # no metrics API on this apiserver
            log.debug("no metrics.k8s.io: %s", e)
        for node in self.informers["nodes"].list():
            if VIEWS["nodes"](node)["gpus"]:
                out["gpuDevices"].update(self._gpu_devices(node["metadata"]["name"]))
        return out

    def _gpu_devices(self, node: str) -> dict:
        """{ns/name: [GPU ids]} of the pods on one node, from its kubelet's Summary."""
        try:
            summary = self.client.get_raw(f"/api/v1/nodes/{node}/proxy/stats/summary").json()
        except (errors.ApiError, ValueError) as e:   # a hollow or unreachable kubelet
            log.debug("no Summary from node %s: %s", node, e)
            return {}
        found = {}
        for pod in summary.get("pods") or []:
            ref = pod.get("podRef") or {}
            ids = [a.get("id") for c in pod.get("containers") or [] for a in c.get("accelerators") or []]
            if ids:
                found[f"{ref.get('namespace')}/{ref.get('name')}"] = sorted(set(ids))
        return found


def _usage(usage: dict) -> dict:
    try:
        return {"cpu": cpu_millis(usage.get("cpu", "0")),
                "memory": int(parse_quantity(usage.get("memory", "0")))}
    except QuantityError:
        return {"cpu": 0, "memory": 0}
