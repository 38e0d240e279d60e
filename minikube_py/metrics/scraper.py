"""The apiserver's metrics scraper: metrics-server, in small, inside the apiserver.

Every ``--metric-resolution`` seconds a background thread reads the Nodes, asks
each node's kubelet for its Summary (``GET http://<InternalIP>:<kubeletEndpoint.Port>
/stats/summary``, the address the kubelet posts in its Node status), and turns it
into NodeMetrics and PodMetrics:

* CPU is a *rate*: the cumulative CPU time (``usageCoreNanoSeconds``) of two
  scrapes, divided by the time between the two samples: ``window``.  So the first
  figures appear after the second scrape (metrics-server does the same).
* memory is the working set of the newest scrape.

A pod appears only when every one of its containers has figures (metrics-server
drops partial pods, so `kubectl top` never shows half a pod); a node whose
kubelet does not answer keeps no metrics (`kubectl top node` shows <unknown>).
"""
from __future__ import annotations

import concurrent.futures
import logging
import threading
import time
from dataclasses import dataclass

import requests

from ..api import meta

log = logging.getLogger(__name__)

DEFAULT_RESOLUTION = 15.0


def parse_time(text: str) -> float:
    """RFC 3339 (with or without fractions of a second) -> unix seconds."""
    return meta.parse_time(text).timestamp()


@dataclass
class Point:
    """One scrape of one object: cumulative CPU ns, working set bytes, when."""
    cpu_ns: int
    memory: int
    time: float
    start: float | None = None       # container start: a restart resets the counter


@dataclass
class Usage:
    """What NodeMetrics/PodMetrics show: a CPU rate over a window, and memory."""
    nanocores: int
    memory: int
    timestamp: float
    window: float


def rate(before: Point | None, now: Point) -> Usage | None:
    """The usage between two points; None without an earlier point of the same run."""
    if before is None or now.time <= before.time or now.cpu_ns < before.cpu_ns \
            or (now.start is not None and before.start is not None and now.start != before.start):
        return None
    dt = now.time - before.time
    return Usage(int((now.cpu_ns - before.cpu_ns) / dt), now.memory, now.time, dt)


def _point(stats: dict, start: str | None = None) -> Point | None:
    cpu, mem = stats.get("cpu") or {}, stats.get("memory") or {}
    if "usageCoreNanoSeconds" not in cpu or "workingSetBytes" not in mem:
        return None
    return Point(int(cpu["usageCoreNanoSeconds"]), int(mem["workingSetBytes"]),
                 parse_time(cpu["time"]), parse_time(start) if start else None)


def node_fields(node: dict) -> dict:
    """What the scraper reads of a Node: its name, labels and kubelet endpoint
    (the apiserver keeps only this of each Node for it, see lister.py's ``keep``)."""
    md, status = node.get("metadata") or {}, node.get("status") or {}
    return {"metadata": {k: md[k] for k in ("name", "resourceVersion", "labels") if k in md},
            "status": {k: status[k] for k in ("addresses", "daemonEndpoints") if k in status}}


def pod_fields(pod: dict) -> dict:
    """What the scraper reads of a Pod: its name, namespace and labels."""
    md = pod.get("metadata") or {}
    return {"metadata": {k: md[k] for k in ("name", "namespace", "resourceVersion", "labels") if k in md}}


class MetricsScraper:
    """Scrapes every node's kubelet each ``resolution`` seconds; keeps the newest usage."""

    def __init__(self, list_nodes, list_pods=None, *, resolution: float = DEFAULT_RESOLUTION,
                 timeout: float = 10.0, workers: int = 8, session=None, scheme: str = "http"):
        self.list_nodes = list_nodes          # () -> [Node] (node_fields of them will do)
        self.list_pods = list_pods            # () -> [Pod] (for labels: pod_fields); optional
        self.resolution = resolution
        self.timeout = timeout
        self.session = session or requests.Session()   # or kubeletclient.KubeletConnections
        self.scheme = scheme                  # https: `session` carries the client certificate
        self._pool = concurrent.futures.ThreadPoolExecutor(workers, thread_name_prefix="metrics-scrape")
        self._lock = threading.Lock()
        self._points: dict[tuple, tuple] = {}   # key -> (previous, newest) Point
        self.nodes: dict[str, tuple[dict, Usage]] = {}        # name -> (labels, usage)
        self.pods: dict[tuple[str, str], tuple[dict, list[tuple[str, Usage]], Usage]] = {}
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.scrapes = 0

    # ------------------------------------------------------------ lifecycle
    def start(self) -> "MetricsScraper":
        self._thread = threading.Thread(target=self._loop, daemon=True, name="metrics-scraper")
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            try:
                self.scrape_once()
            except Exception:  # noqa: BLE001 - the next tick tries again
                log.exception("metrics scrape failed")
            self._stop.wait(max(0.0, self.resolution - (time.monotonic() - started)))

    # ------------------------------------------------------------ one tick
    def scrape_once(self) -> None:
        from ..apiserver.proxy import kubelet_endpoint
        nodes = self.list_nodes()
        labels_of_pod = {}
        if self.list_pods is not None:
            for p in self.list_pods():
                m = p["metadata"]
                labels_of_pod[(m.get("namespace"), m["name"])] = m.get("labels") or {}

        def fetch(node):
            name = node["metadata"]["name"]
            try:
                ip, port = kubelet_endpoint(node)
            except Exception:  # noqa: BLE001 - a node without an endpoint has no metrics
                return node, None
            try:
                r = self.session.get(f"{self.scheme}://{ip}:{port}/stats/summary", params={"node": name},
                                     timeout=self.timeout)
                r.raise_for_status()
                return node, r.json()
            except (requests.RequestException, ValueError) as e:
                log.info("unable to fetch metrics from node %s: %s", name, e)
                return node, None

        results = list(self._pool.map(fetch, nodes))
        keep_only = getattr(self.session, "keep_only", None)    # kubeletclient.KubeletConnections
        if keep_only is not None:
            endpoints = set()
            for node in nodes:
                try:
                    endpoints.add(kubelet_endpoint(node))
                except Exception:  # noqa: BLE001 - no endpoint, nothing to keep
                    pass
            keep_only(endpoints)
        new_nodes, new_pods, points = {}, {}, {}
        for node, summary in results:
            if summary is None:
                continue
            self._node(node, summary, new_nodes, points)
            for pod in summary.get("pods") or []:
                self._pod(pod, labels_of_pod, new_pods, points)
        with self._lock:
            self.nodes, self.pods, self._points = new_nodes, new_pods, points
        self.scrapes += 1

    def _node(self, node: dict, summary: dict, out: dict, points: dict) -> None:
        name = node["metadata"]["name"]
        p = _point(summary.get("node") or {})
        if p is None:
            return
        usage = self._advance(("node", name), p, points)
        if usage is not None:
            out[name] = (node["metadata"].get("labels") or {}, usage)

    def _pod(self, pod: dict, labels_of_pod: dict, out: dict, points: dict) -> None:
        ref = pod.get("podRef") or {}
        ns, name, uid = ref.get("namespace"), ref.get("name"), ref.get("uid")
        containers, complete = [], bool(pod.get("containers"))
        for c in pod.get("containers") or []:
            p = _point(c, c.get("startTime"))
            if p is None:
                complete = False
                continue
            usage = self._advance(("container", uid, c["name"]), p, points)
            if usage is None:
                complete = False
            else:
                containers.append((c["name"], usage))
        if complete:
            window = max(u.window for _, u in containers)
            stamp = max(u.timestamp for _, u in containers)
            total = Usage(sum(u.nanocores for _, u in containers),
                          sum(u.memory for _, u in containers), stamp, window)
            out[(ns, name)] = (labels_of_pod.get((ns, name), {}), containers, total)

    def _advance(self, key, p: Point, points: dict) -> Usage | None:
        """Remember ``p`` as the newest point of ``key`` and return the rate since the one
        before.  A kubelet answering twice from the same pass gives the same time again:
        the pair stays as it was (its rate with it)."""
        before, newest = self._points.get(key, (None, None))
        if newest is not None and newest.time == p.time:
            points[key] = (before, newest)
            return rate(before, newest)
        points[key] = (newest, p)
        return rate(newest, p)
