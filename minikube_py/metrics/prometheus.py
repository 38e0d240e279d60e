"""The components' Prometheus ``/metrics``, under Kubernetes' metric names.

Each component keeps its own ``CollectorRegistry`` (tests run several apiservers
or schedulers in one process; the library's global registry would refuse the
second one).  Two ways to fill it, chosen by cost:

* figures a component already keeps (a scheduler's attempt counts, a work
  queue's depth) are *read when scraped*, by a collector: nothing is added to
  the hot path;
* the apiserver's requests are counted and timed as they happen
  (``RequestMetrics``), with prometheus-client's counters and histograms; the
  labelled children are looked up in a plain dict, so a request costs a dict
  read and the library's own per-value locks.

``serve(registry, port)`` runs the library's HTTP server for a component that
has none of its own (scheduler, controller-manager: ``--metrics-port``).
"""
from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, start_http_server
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# kube-apiserver's buckets for apiserver_request_duration_seconds
REQUEST_BUCKETS = (0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1.0, 1.25, 1.5, 2, 3, 4, 5, 6, 8,
                   10, 15, 20, 30, 45, 60)


def render(registry: CollectorRegistry) -> bytes:
    return generate_latest(registry)


def serve(registry: CollectorRegistry, port: int, address: str = "127.0.0.1"):
    """Serve ``registry`` on http://address:port/metrics in a daemon thread."""
    server, _thread = start_http_server(port, address, registry=registry)
    return server


# ------------------------------------------------------------------ apiserver
def request_verb(method: str, name: str | None, args) -> str:
    """kube-apiserver's verb label: LIST/WATCH for collections, APPLY for apply patches."""
    if method in ("GET", "HEAD"):
        if name is None:
            return "WATCH" if args.get("watch") in ("1", "true", "True") else "LIST"
        return "GET"
    if method == "DELETE" and name is None:
        return "DELETECOLLECTION"
    return method


class RequestMetrics:
    """apiserver_request_total and apiserver_request_duration_seconds."""

    LABELS = ("verb", "group", "version", "resource", "subresource", "scope", "component")

    def __init__(self, registry: CollectorRegistry):
        self.total = Counter("apiserver_request_total", "Counter of apiserver requests broken out "
                             "for each verb, dry run value, group, version, resource, scope, "
                             "component, and HTTP response code.",
                             self.LABELS + ("code",), registry=registry)
        self.duration = Histogram("apiserver_request_duration_seconds", "Response latency "
                                  "distribution in seconds for each verb, group, version, resource, "
                                  "subresource, scope and component.", self.LABELS,
                                  buckets=REQUEST_BUCKETS, registry=registry)
        self._totals: dict = {}
        self._durations: dict = {}

    def observe(self, labels: tuple, code: int, seconds: float | None) -> None:
        """One request: ``labels`` as LABELS; ``seconds`` None for a watch (long-running)."""
        key = labels + (str(code),)
        child = self._totals.get(key)
        if child is None:
            child = self._totals[key] = self.total.labels(*key)
        child.inc()
        if seconds is not None:
            child = self._durations.get(labels)
            if child is None:
                child = self._durations[labels] = self.duration.labels(*labels)
            child.observe(seconds)


def resource_labels(group: str, version: str, parts: list[str], method: str, args,
                    content_type: str = "") -> tuple:
    """RequestMetrics labels of a resource path's parts (after /api/v1 or /apis/g/v)."""
    scope = "cluster"
    if len(parts) >= 3 and parts[0] == "namespaces":
        scope, parts = "namespace", parts[2:]
    elif parts and parts[0] == "namespaces" and len(parts) == 2:
        scope = "resource"
    resource = parts[0] if parts else ""
    name = parts[1] if len(parts) > 1 else None
    if name is not None and scope == "cluster":
        scope = "resource"
    sub = parts[2] if len(parts) > 2 else ""
    verb = request_verb(method, name, args)
    if method == "PATCH" and "apply-patch" in content_type:
        verb = "APPLY"
    return (verb, group, version, resource, sub, scope, "apiserver")


def timer() -> float:
    return time.perf_counter()


# ------------------------------------------------------------------ collectors
class SchedulerCollector:
    """scheduler_schedule_attempts_total{result,profile} and scheduler_pending_pods{queue},
    read from the scheduler's own counts when scraped."""

    RESULTS = (("scheduled", "scheduled"), ("unschedulable", "unschedulable"), ("errors", "error"))

    def __init__(self, scheduler):
        self.scheduler = scheduler

    def collect(self):
        s = self.scheduler
        attempts = CounterMetricFamily("scheduler_schedule_attempts", "Number of attempts to "
                                       "schedule pods, by the result.", labels=["result", "profile"])
        for key, result in self.RESULTS:
            attempts.add_metric([result, s.name], s.stats.get(key, 0))
        yield attempts
        pending = GaugeMetricFamily("scheduler_pending_pods", "Number of pending pods, by the queue "
                                    "type.", labels=["queue"])
        for queue, n in s.queue.counts().items():
            if queue != "in-flight":          # being scheduled now: not pending
                pending.add_metric([queue], n)
        yield pending
        binds = CounterMetricFamily("scheduler_bind_failures", "Bindings the apiserver refused.")
        binds.add_metric([], s.stats.get("bind_failures", 0))
        yield binds


class WorkQueueCollector:
    """workqueue_depth, workqueue_adds_total and workqueue_retries_total{name}, for the work
    queues that ``queues()`` returns when scraped (client-go's names)."""

    def __init__(self, queues):
        self.queues = queues

    def collect(self):
        depth = GaugeMetricFamily("workqueue_depth", "Current depth of workqueue", labels=["name"])
        adds = CounterMetricFamily("workqueue_adds", "Total number of adds handled by workqueue",
                                   labels=["name"])
        retries = CounterMetricFamily("workqueue_retries", "Total number of retries handled by "
                                      "workqueue", labels=["name"])
        for q in self.queues():
            depth.add_metric([q.name], len(q))
            adds.add_metric([q.name], q.adds)
            retries.add_metric([q.name], q.retries)
        yield from (depth, adds, retries)


def registry_with(*collectors) -> CollectorRegistry:
    registry = CollectorRegistry(auto_describe=False)
    for c in collectors:
        registry.register(c)
    return registry
