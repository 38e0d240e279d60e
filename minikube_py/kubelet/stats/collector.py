"""The kubelet's stats collector: one pass over the node's running containers.

What cAdvisor does inside a real kubelet, in small: list the running containers
(one ``docker ps``), read each one's cgroup files (cgroups.py), the sandbox's
network counters (network.py), the size of its log file and the machine's
figures (machine.py), and keep
the previous pass, so that CPU *rates* can be computed: usageNanoCores =
Δ cumulative CPU ns / Δ seconds between two passes of the same container.

A pass runs when someone asks for the Summary (``/stats/summary``: the
apiserver's metrics scraper every ``--metric-resolution`` seconds, a curious
student) and the last pass is older than ``min_interval``; so its window is the
time between scrapes, and an idle cluster costs nothing.
"""
from __future__ import annotations

import datetime as _dt
import logging
import os
import threading
import time
from dataclasses import dataclass, field

from ..runtime.base import ContainerRuntimeError
from . import cgroups, machine, network

log = logging.getLogger(__name__)


def rfc3339(ts: float) -> str:
    """A sample's time, to the microsecond: a rate over a 15 s window needs better than
    the second (``parse_time`` in api/meta.py reads it back)."""
    return _dt.datetime.fromtimestamp(ts, _dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@dataclass
class Snapshot:
    """One pass: the machine's sample, and a sample per running container (by id)."""

    timestamp: float
    node: dict
    containers: list[dict] = field(default_factory=list)   # each: the info + cgroup figures
    networks: dict = field(default_factory=dict)           # pod uid -> [interface counters]
    errors: int = 0


def with_rate(sample: dict, previous: dict | None) -> dict:
    """``sample`` with ``cpu_nanocores`` over the time since ``previous`` (None: no rate yet)."""
    sample["cpu_nanocores"] = cgroups.cpu_nanocores(previous, sample) if previous else None
    return sample


class SharedMachineSample:
    """One machine sample for every kubelet of a process, at most ``max_age`` seconds old.

    The hollow nodes of a scale test all run on one machine: 5,000 of them, scraped
    every 15 s, would otherwise read /proc (every process's entry, the memory figures)
    333 times a second for the same answer.
    """

    def __init__(self, max_age: float = 1.0):
        self.max_age = max_age
        self._lock = threading.Lock()
        self._sample: dict | None = None

    def __call__(self, root: str, proc: str) -> dict:
        with self._lock:
            if self._sample is None or time.time() - self._sample["timestamp"] >= self.max_age:
                self._sample = machine.machine_sample(root, proc)
            return dict(self._sample)       # each collector adds its own rate to its copy


class StatsCollector:
    def __init__(self, runtime, *, cgroup_root: str = cgroups.CGROUP_ROOT, proc: str = machine.PROC,
                 min_interval: float = 1.0, machine_sample=machine.machine_sample):
        self.runtime = runtime
        self.machine_sample = machine_sample      # (cgroup root, proc) -> the node's sample
        self.cgroup_root = cgroup_root
        self.proc = proc
        self.min_interval = min_interval
        self._lock = threading.Lock()
        self._last: Snapshot | None = None
        self._paths: dict[str, cgroups.CgroupPaths] = {}     # container id -> its cgroup dirs
        self._pids: dict[str, int | None] = {}               # sandbox id -> its process
        self.passes = 0

    def snapshot(self) -> Snapshot:
        """The newest pass, taken now unless the last is younger than ``min_interval``."""
        with self._lock:
            if self._last is None or time.time() - self._last.timestamp >= self.min_interval:
                self._last = self._collect(self._last)
            return self._last

    # ------------------------------------------------------------ one pass
    def _collect(self, previous: Snapshot | None) -> Snapshot:
        before = {c["id"]: c for c in previous.containers} if previous else {}
        node = self.machine_sample(self.cgroup_root, self.proc)
        with_rate(node, previous.node if previous else None)
        snap = Snapshot(timestamp=node["timestamp"], node=node)
        try:
            # A hollow node's containers have no cgroup to read: looking for one per
            # container and scrape was 7% of a scale test's hollow kubelets (stop 34).
            infos = self.runtime.running_containers() if getattr(self.runtime, "has_cgroups", True) else []
        except ContainerRuntimeError as e:
            log.debug("stats: runtime unavailable: %s", e)
            infos = []
        alive = set()
        for info in infos:
            alive.add(info.id)
            sample = self._container(info)
            if sample is None:
                snap.errors += 1
                continue
            snap.containers.append(with_rate(sample, before.get(info.id)))
            if info.is_sandbox:
                pid = self._sandbox_pid(info.id)
                if pid:
                    snap.networks[info.pod_uid] = network.read_interfaces(pid, self.proc)
        for gone in set(self._paths) - alive:
            self._paths.pop(gone, None)
        for gone in set(self._pids) - alive:
            self._pids.pop(gone, None)
        self.passes += 1
        return snap

    def _container(self, info) -> dict | None:
        paths = self._paths.get(info.id)
        try:
            if paths is None:
                paths = self._paths[info.id] = cgroups.find_cgroup(info.id, info.pid, self.cgroup_root)
            figures = cgroups.read_cgroup(paths)
        except (cgroups.StatsUnavailable, OSError, KeyError, ValueError) as e:
            self._paths.pop(info.id, None)
            log.debug("stats: container %s: %s", info.id[:12], e)
            return None
        figures["timestamp"] = time.time()
        figures["log_bytes"] = self._log_bytes(info.id)
        figures.update(id=info.id, pod_uid=info.pod_uid, pod_name=info.pod_name,
                       namespace=info.namespace, container_name=info.container_name,
                       sandbox=info.is_sandbox, started_at=info.started_at or info.created_at)
        return figures

    def _log_bytes(self, container_id: str) -> int | None:
        """The size of the container's log file (the Summary's ``logs.usedBytes``)."""
        path_of = getattr(self.runtime, "container_log_path", None)
        path = path_of(container_id) if path_of else None
        try:
            return os.stat(path).st_size if path else None
        except OSError:
            return None

    def _sandbox_pid(self, sandbox_id: str) -> int | None:
        if sandbox_id not in self._pids:
            try:
                self._pids[sandbox_id] = self.runtime.inspect(sandbox_id).pid
            except ContainerRuntimeError:
                return None
        return self._pids[sandbox_id]
