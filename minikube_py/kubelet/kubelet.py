"""The kubelet: the agent on each node that turns pods bound to it into running containers.

It is a handful of loops around one idea -- *pod workers* that sync each pod:

```
  apiserver ──watch pods (spec.nodeName=me)──► informer ──► pod workers ──► runtime (Docker)
      ▲                                                         │  ▲
      │ Node, NodeStatus, Lease, pod status, events             │  │ PLEG relist (1 s):
      └─────────────────────────────────────────────────────────┘  └ containers that died
```

* ``NodeStatusReporter`` registers the Node and posts its status, comparing against
  the Node as a second informer (``metadata.name=me``) holds it;
* ``NodeLease`` renews the node's Lease every 10 s (the heartbeat);
* the pod **informer** lists+watches the pods bound to this node and hands
  each change to that pod's worker (``PodWorkers``);
* each worker runs ``PodSyncer.sync_pod`` (or ``terminate``);
* ``PLEG`` relists the runtime and wakes the workers of pods whose containers
  changed; it also tells the node whether its runtime is healthy;
* ``ProbeManager`` runs liveness/readiness/startup probes;
* **housekeeping** removes containers of pods that no longer exist (deleted
  while the kubelet was down) and frees their devices;
* ``KubeletServer`` serves logs to the apiserver, and the node's stats
  (``/stats/summary``: ``StatsCollector`` reads cgroup files when asked).

Stopping the kubelet stops these loops only: the containers keep running, and
a kubelet started again adopts them (they carry the pod's uid in their labels).
"""
from __future__ import annotations

import logging
import threading

from ..client.informer import Informer
from . import nodestatus
from .config import KubeletConfig
from . import events
from .lease import NodeLease
from .loop import Loop, LoopRunner
from .objectcache import ObjectCache
from .pleg import PLEG
from .podstatus import TERMINAL_PHASES
from .podsync import PodSyncer
from .podworkers import PodWorkers
from .prober import ProbeManager
from .runtime.base import LABEL_GRACE_PERIOD, ContainerRuntimeError
from .stats import accelerators
from .stats.collector import SharedMachineSample, StatsCollector
from .stats.summary import summary as build_summary
from .statusmanager import StatusManager
from .volumemanager import VolumeManager

log = logging.getLogger(__name__)

_HOLLOW_MACHINE = SharedMachineSample()


def _semantic(pod: dict) -> tuple:
    """What of a pod matters to its worker: metadata (without resourceVersion) and spec."""
    meta = dict(pod.get("metadata") or {})
    meta.pop("resourceVersion", None)
    meta.pop("managedFields", None)
    return meta, pod.get("spec")


class Kubelet:
    def __init__(self, config: KubeletConfig, client, runtime, server, device_manager=None,
                 loops: LoopRunner | None = None, pod_loops: LoopRunner | None = None):
        """``loops``: run the periodic loops (Lease, NodeStatus, housekeeping) on these shared
        threads (the hollow nodes of one process), not on a thread each; ``pod_loops``: the
        pod workers, on threads of their own so that a burst of pods never delays a Lease."""
        self.config = config
        self.client = client
        self.runtime = runtime
        self.server = server
        self.device_manager = device_manager
        self.node_name = config.node_name
        self.hollow = getattr(runtime, "name", "") == "hollow"
        self._stop = threading.Event()
        self._runtime_version: str | None = None
        self.runtime_ok = True
        self.runtime_message = ""

        self.recorder = events.recorder(client, self.node_name)
        self.status_manager = StatusManager(client)
        self.prober = ProbeManager(runtime, self._wake_pod, self.recorder, enabled=not self.hollow)
        # ConfigMaps/Secrets (env, volumes) through the API; a hollow node needs no files.
        self.volumes = None if self.hollow else VolumeManager(
            config.state_dir, ObjectCache(client, config.object_cache_ttl), self.recorder,
            allocatable=self._allocatable)
        self.syncer = PodSyncer(
            runtime=runtime, client=client, status_manager=self.status_manager,
            recorder=self.recorder, prober=self.prober, node_name=self.node_name,
            host_ip=config.address, backoff_base=config.backoff_seconds,
            backoff_max=config.backoff_max_seconds, device_manager=device_manager,
            gpu_mode=config.gpu_mode, resync=config.sync_frequency, volumes=self.volumes)
        self.workers = PodWorkers(self._sync, idle_delay=config.sync_frequency, runner=pod_loops)
        # A hollow runtime changes only when we change it: nothing to relist.
        self.pleg = None if self.hollow else PLEG(runtime, config.relist_seconds,
                                                  self._wake_pod, self._on_runtime_health)
        self.pods = Informer(client, "pods", field_selector=f"spec.nodeName={self.node_name}")
        # Our own Node, watched (the apiserver indexes these watches by name): each status
        # update compares against it instead of GETting the Node.
        self.node = Informer(client, "nodes", field_selector=f"metadata.name={self.node_name}")
        self.reporter = nodestatus.NodeStatusReporter(
            client, self.node_name, compute_status=self._node_status, labels=config.labels,
            taints=config.taints, update_seconds=config.status_update_seconds,
            report_seconds=config.status_report_seconds, runner=loops,
            node_lister=self._own_node)
        self.lease = NodeLease(client, self.node_name, config.lease_seconds,
                               node_uid=lambda: self.reporter.node_uid, runner=loops)
        self.housekeeper = Loop(f"housekeeping-{self.node_name}", self._housekeeping_step,
                                config.housekeeping_seconds, wait_first=True, runner=loops)
        # Hollow nodes: one machine, one sample for all of a process's nodes.
        self.stats = StatsCollector(runtime, machine_sample=_HOLLOW_MACHINE) if self.hollow \
            else StatsCollector(runtime)
        self._gpu_source = None if device_manager is None else accelerators.load_source()

    # ================================================================== lifecycle
    def start(self) -> "Kubelet":
        """Register the node and start every loop (returns once registered)."""
        self.server.add(self)
        if self.device_manager is not None:
            self.device_manager.start()
        self.recorder.start()
        if self.pleg is not None:
            self.pleg.relist()            # know the runtime's health before the first status
        if not self.reporter.register_until_done(self._stop):
            return self
        self.node.start()
        self.lease.start()
        self.reporter.start()
        self.pods.add_handler(on_add=self._on_add, on_update=self._on_update,
                              on_delete=self._on_delete)
        self.pods.start()
        if self.pleg is not None:
            self.pleg.start()
        self.housekeeper.start()
        log.info("kubelet %s started (runtime %s, server port %d)", self.node_name,
                 getattr(self.runtime, "name", "?"), self.server.port)
        return self

    def stop(self) -> None:
        """Stop the loops; containers keep running (a restarted kubelet adopts them)."""
        self._stop.set()
        self.pods.stop()
        self.node.stop()
        self.workers.stop()
        if self.pleg is not None:
            self.pleg.stop()
        self.prober.stop()
        self.lease.stop()
        self.reporter.stop()
        self.housekeeper.stop()
        self.recorder.stop()
        if self.device_manager is not None:
            try:
                self.device_manager.stop()
            except Exception as e:  # noqa: BLE001
                log.warning("device manager stop: %s", e)

    def _own_node(self) -> dict | None:
        """Our Node from the informer (None until it has listed)."""
        return self.node.get(self.node_name) if self.node.has_synced() else None

    # ================================================================== pods
    def _on_add(self, pod: dict) -> None:
        self.workers.update(pod)

    def _on_update(self, old: dict, new: dict) -> None:
        if old["metadata"].get("uid") != new["metadata"].get("uid"):
            self.workers.update(old, removed=True)     # deleted and re-created meanwhile
            self.workers.update(new)
            return
        # Our own status writes come back as updates too; they need no sync.
        self.workers.update(new, wake=_semantic(old) != _semantic(new))

    def _on_delete(self, pod: dict) -> None:
        self.workers.update(pod, removed=True)

    def _wake_pod(self, uid: str) -> None:
        self.workers.wake(uid)

    def _sync(self, pod: dict, removed: bool):
        """What a pod worker runs: terminate a pod that is going, else sync it."""
        if removed or pod["metadata"].get("deletionTimestamp"):
            return self.syncer.terminate(pod, removed), None
        return False, self.syncer.sync_pod(pod)

    def find_pod(self, namespace: str, name: str) -> dict | None:
        """A pod of this node with its newest status (for the log endpoint)."""
        pod = self.pods.store.get_by_name(name, namespace)
        return self.syncer.status_pod(pod) if pod is not None else None

    def list_pods(self) -> list[dict]:
        """The pods bound to this node, with their newest status (for ``GET /pods``)."""
        return [self.syncer.status_pod(p) for p in self.pods.list()]

    def summary(self) -> dict:
        """The Summary API document of this node (``GET /stats/summary``)."""
        devices = None
        if self.device_manager is not None:
            try:
                devices = self.device_manager.assignments()
            except Exception as e:  # noqa: BLE001
                log.debug("device assignments: %s", e)
        return build_summary(self.node_name, self.stats.snapshot(),
                             node_fs_path=self.config.state_dir,
                             image_fs_path=getattr(self.runtime, "image_fs_path", None),
                             devices=devices, gpu_source=self._gpu_source)

    # ================================================================== node
    def _on_runtime_health(self, healthy: bool, message: str) -> None:
        was = self.runtime_ok
        self.runtime_ok, self.runtime_message = healthy, message
        if was != healthy:
            self.reporter.post_soon()
            if healthy:
                self.workers.wake_all()         # catch up on what happened meanwhile

    def _allocatable(self) -> dict:
        """The node's allocatable cpu/memory (a resourceFieldRef on a limit nobody set)."""
        return nodestatus.capacity(self.config.cpu, self.config.memory, self.config.pods,
                                   self.config.state_dir)

    def _node_status(self, old_conditions) -> dict:
        cap = nodestatus.capacity(self.config.cpu, self.config.memory, self.config.pods,
                                  self.config.state_dir)
        alloc = dict(cap)
        if self.device_manager is not None:
            try:
                extended_cap = self.device_manager.capacity()
                extended_alloc = self.device_manager.allocatable()
            except Exception as e:  # noqa: BLE001
                log.warning("device manager: %s", e)
                extended_cap, extended_alloc = {}, {}
            for name, n in extended_cap.items():
                cap[name] = str(n)
                alloc[name] = str(extended_alloc.get(name, 0))
        images = []
        if self.runtime_ok:
            try:
                if self._runtime_version is None:
                    self._runtime_version = self.runtime.runtime_version()
                images = self.runtime.list_images()
            except ContainerRuntimeError as e:
                log.debug("runtime: %s", e)
        return nodestatus.node_status(
            capacity_=cap, allocatable_=alloc, address=self.config.address,
            node_name=self.node_name, port=self.server.port,
            runtime_version=self._runtime_version or "docker://unknown",
            runtime_ok=self.runtime_ok, runtime_message=self.runtime_message,
            images=images, old_conditions=old_conditions)

    # ================================================================== housekeeping
    def _housekeeping_step(self) -> None:
        try:
            self.housekeeping()
        except ContainerRuntimeError as e:
            log.debug("housekeeping: runtime unavailable: %s", e)
        except Exception:  # noqa: BLE001
            log.exception("housekeeping failed")

    def housekeeping(self) -> None:
        """Remove containers of pods that no longer exist; free their devices."""
        if not self.pods.has_synced() or not self.runtime_ok:
            return
        # List the runtime first (one cheap ``docker ps``): every container in
        # this list was made for a pod the informer had already seen, so no new
        # pod can pass for an orphan.
        in_runtime = {uid for _, uid, _ in self.runtime.relist() if uid}
        pods = self.pods.list()
        known = {p["metadata"]["uid"] for p in pods} | self.workers.uids()
        for uid in in_runtime - known:
            infos = self.runtime.list_containers(uid)
            if not infos:
                continue
            info = infos[0]
            try:
                grace = int(info.labels.get(LABEL_GRACE_PERIOD, 30))
            except ValueError:
                grace = 30
            log.info("removing the containers of pod %s/%s (%s): the pod no longer exists",
                     info.namespace, info.pod_name, uid[:8])
            self.workers.update({"metadata": {"name": info.pod_name, "namespace": info.namespace,
                                              "uid": uid},
                                 "spec": {"terminationGracePeriodSeconds": grace}}, removed=True)
        if self.device_manager is not None:
            active = {p["metadata"]["uid"] for p in pods
                      if ((self.status_manager.last(p["metadata"]["uid"]) or p.get("status") or {})
                          .get("phase")) not in TERMINAL_PHASES}
            try:
                self.device_manager.retain_only(active)
            except Exception as e:  # noqa: BLE001
                log.warning("device manager retain_only: %s", e)
        self.syncer.crash_backoff.gc()
        self.syncer.images.backoff.gc()
