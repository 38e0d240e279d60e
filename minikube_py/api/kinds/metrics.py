"""The metrics.k8s.io group's kinds (`/apis/metrics.k8s.io/v1beta1`): NodeMetrics, PodMetrics.

Kubernetes serves them from metrics-server, an aggregated API; `kubectl top` reads
them.  They are not stored anywhere: the apiserver's metrics scraper
(metrics/scraper.py) keeps the latest figures in memory, and only `get` and
`list` are served (metrics/api.py).  A protobuf message would describe request
bodies, and these kinds take none: their OpenAPI schema is declared here.
"""
from __future__ import annotations

from .columns import NAME, col
from .kind import Kind

GROUP, VERSION = "metrics.k8s.io", "v1beta1"
READ_ONLY = ("get", "list")

_QUANTITIES = {"type": "object", "additionalProperties": {"type": "string"},
               "description": "The resources used (cpu in nanocores, memory in Ki), "
                              "as Kubernetes quantities."}
_WHEN = {"timestamp": {"type": "string", "format": "date-time",
                       "description": "The end of the window the figures were measured over."},
         "window": {"type": "string", "description": "How long the window was (a duration)."}}


def _usage_cells(usage: dict) -> list:
    return [usage.get("cpu", ""), usage.get("memory", "")]


NODE_METRICS = Kind(
    GROUP, VERSION, "NodeMetrics", "nodes", namespaced=False, verbs=READ_ONLY,
    has_status=False, counts_generation=False, eager_watch_cache=False,
    columns=(NAME, col("CPU"), col("Memory"), col("Window")),
    row=lambda m: [m["metadata"]["name"], *_usage_cells(m.get("usage") or {}), m.get("window", "")],
    schema={"description": "NodeMetrics sets resource usage metrics of a node.",
            "properties": {**_WHEN, "usage": _QUANTITIES}})

POD_METRICS = Kind(
    GROUP, VERSION, "PodMetrics", "pods", verbs=READ_ONLY,
    has_status=False, counts_generation=False, eager_watch_cache=False,
    columns=(NAME, col("Containers", "integer"), col("Window")),
    row=lambda m: [m["metadata"]["name"], len(m.get("containers") or []), m.get("window", "")],
    schema={"description": "PodMetrics sets resource usage metrics of a pod.",
            "properties": {**_WHEN, "containers": {
                "type": "array", "description": "Metrics for all containers collected within "
                                                "the same time window.",
                "items": {"type": "object", "properties": {"name": {"type": "string"},
                                                           "usage": _QUANTITIES}}}}})

KINDS = (NODE_METRICS, POD_METRICS)
