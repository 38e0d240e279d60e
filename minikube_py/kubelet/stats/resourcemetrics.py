"""``GET /metrics/resource``: the Summary's CPU and memory as Prometheus text, with the
names and labels kubelet's resource metrics endpoint uses (what metrics-server >= 0.6
scrapes):

    node_cpu_usage_seconds_total, node_memory_working_set_bytes,
    pod_cpu_usage_seconds_total{namespace,pod}, pod_memory_working_set_bytes{...},
    container_cpu_usage_seconds_total{container,namespace,pod},
    container_memory_working_set_bytes{...}, container_start_time_seconds{...},
    scrape_error

Each sample carries the time its figures were read (as the kubelet's do).
"""
from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from ...api.meta import parse_time

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _ts(text: str | None) -> float | None:
    return parse_time(text).timestamp() if text else None


class _SummaryCollector:
    """A prometheus-client collector over one Summary document."""

    def __init__(self, summary: dict | None):
        self.summary = summary

    def collect(self):
        error = GaugeMetricFamily("scrape_error", "1 if there was an error while getting container "
                                                  "metrics, 0 otherwise")
        error.add_metric([], 0 if self.summary is not None else 1)
        yield error
        if self.summary is None:
            return
        node = self.summary["node"]
        cpu = CounterMetricFamily("node_cpu_usage_seconds", "Cumulative cpu time consumed by the "
                                                            "node in core-seconds")
        mem = GaugeMetricFamily("node_memory_working_set_bytes",
                                "Current working set of the node in bytes")
        cpu.add_metric([], node["cpu"]["usageCoreNanoSeconds"] / 1e9,
                       timestamp=_ts(node["cpu"]["time"]))
        mem.add_metric([], node["memory"]["workingSetBytes"],
                       timestamp=_ts(node["memory"]["time"]))
        yield cpu
        yield mem
        pod_cpu = CounterMetricFamily("pod_cpu_usage_seconds", "Cumulative cpu time consumed by "
                                      "the pod in core-seconds", labels=["namespace", "pod"])
        pod_mem = GaugeMetricFamily("pod_memory_working_set_bytes", "Current working set of the "
                                    "pod in bytes", labels=["namespace", "pod"])
        c_cpu = CounterMetricFamily("container_cpu_usage_seconds", "Cumulative cpu time consumed "
                                    "by the container in core-seconds",
                                    labels=["container", "namespace", "pod"])
        c_mem = GaugeMetricFamily("container_memory_working_set_bytes", "Current working set of "
                                  "the container in bytes", labels=["container", "namespace", "pod"])
        c_start = GaugeMetricFamily("container_start_time_seconds", "Start time of the container "
                                    "since unix epoch in seconds",
                                    labels=["container", "namespace", "pod"])
        for pod in self.summary["pods"]:
            ref = [pod["podRef"]["namespace"], pod["podRef"]["name"]]
            pod_cpu.add_metric(ref, pod["cpu"]["usageCoreNanoSeconds"] / 1e9,
                               timestamp=_ts(pod["cpu"]["time"]))
            pod_mem.add_metric(ref, pod["memory"]["workingSetBytes"],
                               timestamp=_ts(pod["memory"]["time"]))
            for c in pod["containers"]:
                labels = [c["name"], *ref]
                c_cpu.add_metric(labels, c["cpu"]["usageCoreNanoSeconds"] / 1e9,
                                 timestamp=_ts(c["cpu"]["time"]))
                c_mem.add_metric(labels, c["memory"]["workingSetBytes"],
                                 timestamp=_ts(c["memory"]["time"]))
                if c.get("startTime"):
                    c_start.add_metric(labels, _ts(c["startTime"]))
        yield from (pod_cpu, pod_mem, c_cpu, c_mem, c_start)


def render(summary: dict | None) -> bytes:
    """The Prometheus text of a Summary (None: the scrape failed, scrape_error 1)."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_SummaryCollector(summary))
    return generate_latest(registry)
