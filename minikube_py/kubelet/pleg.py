"""PLEG, the Pod Lifecycle Event Generator: notice what changed in the runtime.

The kubelet is told about pods by the apiserver (watch), but nobody tells it
that a container died, or that someone ran ``docker rm -f`` on it.  So, as the
real kubelet's "generic PLEG" does, it *relists* the runtime every second --
one cheap ``docker ps -a`` -- compares each container's state with the last
relist, and wakes the worker of every pod whose containers changed.

The relist is also the kubelet's health check of its runtime: when it fails
(Docker is down), the node reports NotReady ("container runtime is down"); when
it works again, the node is Ready and every pod gets a fresh sync.
"""
from __future__ import annotations

import logging
import time

from .runtime.base import ContainerRuntimeError
from .loop import Loop

log = logging.getLogger(__name__)


class PLEG(Loop):
    def __init__(self, runtime, period: float, on_pod_change, on_health):
        self.runtime = runtime
        self.period = period
        self.on_pod_change = on_pod_change      # on_pod_change(pod uid)
        self.on_health = on_health              # on_health(healthy: bool, message: str)
        self._states: dict[str, tuple[str, str]] | None = None   # container id -> (uid, state)
        super().__init__(f"pleg-{runtime.node_name}", self._relist_step, period)
        self.healthy: bool | None = None
        self.message = ""
        self.pod_uids: set[str] = set()         # pods that have containers, as of the last relist
        self.last_relist = 0.0                  # monotonic time of the last successful relist
        self.relists = 0

    def _relist_step(self) -> None:
        self.relist()

    def relist(self) -> set[str]:
        """One relist; returns the uids of the pods whose containers changed."""
        try:
            listed = self.runtime.relist()
        except ContainerRuntimeError as e:
            self._set_health(False, f"container runtime is down: {e}")
            return set()
        except Exception as e:  # noqa: BLE001 - any failure to list means unhealthy
            self._set_health(False, f"container runtime is down: {e}")
            return set()
        now = {cid: (uid, state) for cid, uid, state in listed}
        changed: set[str] = set()
        if self._states is not None:
            for cid, (uid, state) in now.items():
                if self._states.get(cid) != (uid, state):
                    changed.add(uid)
            for cid, (uid, _) in self._states.items():
                if cid not in now:
                    changed.add(uid)                 # removed behind our back
        self._states = now
        self.pod_uids = {uid for uid, _ in now.values()}
        self.last_relist = time.monotonic()
        self.relists += 1
        self._set_health(True, "")
        for uid in changed:
            if uid:
                self.on_pod_change(uid)
        return changed

    def _set_health(self, healthy: bool, message: str) -> None:
        if healthy != self.healthy:
            if healthy:
                log.info("%s: container runtime is up", self.runtime.node_name)
            else:
                log.warning("%s: %s", self.runtime.node_name, message)
            self.healthy, self.message = healthy, message
            self.on_health(healthy, message)
