"""The kubelet's own Prometheus metrics (``GET /metrics``), under kubelet's names.

    kubelet_running_pods                         pods with a running sandbox
    kubelet_running_containers{container_state}  containers by state (created, running, exited)
    kubelet_node_name{node}                      1, naming the node
    kubelet_stats_collections_total              passes of the stats collector

They are computed when scraped, from what the kubelets of this server know (one
server may front several hollow kubelets: their figures add up).
"""
from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

from .runtime.base import ContainerRuntimeError


class KubeletCollector:
    def __init__(self, kubelets: list):
        self.kubelets = kubelets

    def collect(self):
        pods = GaugeMetricFamily("kubelet_running_pods", "Number of pods that have a running pod sandbox")
        containers = GaugeMetricFamily("kubelet_running_containers",
                                       "Number of containers currently running",
                                       labels=["container_state"])
        names = GaugeMetricFamily("kubelet_node_name", "The node's name. The count is always 1.",
                                  labels=["node"])
        passes = CounterMetricFamily("kubelet_stats_collections", "Passes of the stats collector "
                                     "over the node's containers")
        states: dict[str, int] = {}
        running_pods = 0
        n_passes = 0
        for k in self.kubelets:
            names.add_metric([k.node_name], 1)
            n_passes += k.stats.passes
            try:
                listed = k.runtime.relist()
                running = k.runtime.running_containers()
            except ContainerRuntimeError:
                continue
            for _cid, _uid, state in listed:
                states[state] = states.get(state, 0) + 1
            running_pods += len({c.pod_uid for c in running if c.is_sandbox})
        pods.add_metric([], running_pods)
        for state in ("created", "running", "exited"):
            containers.add_metric([state], states.get(state, 0))
        passes.add_metric([], n_passes)
        yield from (pods, containers, names, passes)


def render(kubelets: list) -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(KubeletCollector(kubelets))
    return generate_latest(registry)
