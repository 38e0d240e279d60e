"""``/apis/metrics.k8s.io/v1beta1``: NodeMetrics and PodMetrics, read from the scraper.

The objects are built on each request from the scraper's newest figures, in the
shapes metrics-server serves: CPU in nanocores (``"250000000n"``), memory in
kibibytes (``"204800Ki"``), ``timestamp`` (the end of the window) and ``window``
(its length, e.g. ``"15.012s"``).  ``labelSelector`` and ``fieldSelector``
(metadata.name) filter as on any list; ``get`` of an object without figures is a
404, as metrics-server answers ("podmetrics.metrics.k8s.io "x" not found").
"""
from __future__ import annotations

import datetime as _dt

from ..api import meta
from ..api.kinds.metrics import NODE_METRICS, POD_METRICS
from ..apiserver import errors
from ..apiserver.registry import matches, parse_selectors


def _stamp(ts: float) -> str:
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def usage(nanocores: int, memory: int) -> dict:
    return {"cpu": f"{int(nanocores)}n", "memory": f"{int(memory) // 1024}Ki"}


def _window(seconds: float) -> str:
    return f"{seconds:.3f}".rstrip("0").rstrip(".") + "s"


def node_metrics(name: str, labels: dict, u) -> dict:
    return {"kind": "NodeMetrics", "apiVersion": NODE_METRICS.api_version,
            "metadata": {"name": name, "creationTimestamp": meta.now_rfc3339(), "labels": labels},
            "timestamp": _stamp(u.timestamp), "window": _window(u.window),
            "usage": usage(u.nanocores, u.memory)}


def pod_metrics(namespace: str, name: str, labels: dict, containers, total) -> dict:
    return {"kind": "PodMetrics", "apiVersion": POD_METRICS.api_version,
            "metadata": {"name": name, "namespace": namespace,
                         "creationTimestamp": meta.now_rfc3339(), "labels": labels},
            "timestamp": _stamp(total.timestamp), "window": _window(total.window),
            "containers": [{"name": c, "usage": usage(u.nanocores, u.memory)}
                           for c, u in containers]}


def all_objects(scraper, rt, namespace: str | None) -> list[dict]:
    if rt is NODE_METRICS:
        return [node_metrics(n, labels, u) for n, (labels, u) in sorted(scraper.nodes.items())]
    return [pod_metrics(ns, name, labels, containers, total)
            for (ns, name), (labels, containers, total) in sorted(scraper.pods.items())
            if namespace in (None, ns)]


def serve_list(scraper, rt, namespace, label_selector=None, field_selector=None) -> dict:
    lsel, fsel = parse_selectors(label_selector, field_selector)
    items = [o for o in all_objects(scraper, rt, namespace) if matches(o, lsel, fsel)]
    return {"kind": rt.kind + "List", "apiVersion": rt.api_version,
            "metadata": {"resourceVersion": ""}, "items": items}


def serve_get(scraper, rt, namespace, name) -> dict:
    for obj in all_objects(scraper, rt, namespace):
        if obj["metadata"]["name"] == name:
            return obj
    raise errors.not_found(rt, name)
