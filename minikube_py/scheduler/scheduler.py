"""The scheduler itself: informers feed the cache and the queue; one loop places pods.

Informer handlers (on the informer threads) only record facts:

* Node added/changed/deleted -> cache; if the change can help waiting pods
  (new node, more allocatable, labels, taints, unschedulable, Ready), they get
  another go (``queue.move_all_to_active_or_backoff``).
* Pod with a node -> cache (that also confirms our own assumed pods); deleted or
  finished -> freed in the cache, and waiting pods get another go.
* Pod without a node, for this scheduler -> queue.

The scheduling loop (one thread) pops a pod, runs the profile's filters and
scorers over the cache's nodes *holding the cache lock*, assumes the pod on the
chosen node, and hands the bind to a thread pool -- the next pod is already
being placed while the binding travels. Failures end in :meth:`Scheduler._fail`:
a FailedScheduling event, the PodScheduled=False condition, and back to the queue.

Nothing is kept that the API cannot rebuild: after a restart the informers list
every pod again, and pending ones are simply queued again.
"""
from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Optional

from ..api.conditions import condition, condition_status, object_condition
from ..api.meta import now_rfc3339
from ..client.errors import ApiError, Conflict, NotFound
from ..client.events import EventRecorder
from ..client.informer import Informer
from .cache import Cache
from .framework import PodInfo, PodSpecError, pod_key
from .plugins.volume_binding import VolumeBinding
from .profile import FitError, PluginError, Profile
from .queue import SchedulingQueue

__all__ = ["Scheduler", "DEFAULT_SCHEDULER_NAME"]

log = logging.getLogger(__name__)

DEFAULT_SCHEDULER_NAME = "default-scheduler"


def _assigned(pod: dict) -> bool:
    return bool((pod.get("spec") or {}).get("nodeName"))


def _terminal(pod: dict) -> bool:
    return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")


def _deleting(pod: dict) -> bool:
    return bool((pod.get("metadata") or {}).get("deletionTimestamp"))


def _ready(node: dict) -> Optional[str]:
    return condition_status(node, "Ready")


def node_change_helps(old: dict, new: dict) -> bool:
    """Could this Node update make a waiting pod fit? (kube's nodeSchedulingPropertiesChange)

    Heartbeats (a new lastHeartbeatTime every few seconds) must not wake every
    unschedulable pod, so only these count: unschedulable, allocatable, labels,
    taints and the Ready condition's status.
    """
    o_spec, n_spec = old.get("spec") or {}, new.get("spec") or {}
    o_st, n_st = old.get("status") or {}, new.get("status") or {}
    return (bool(o_spec.get("unschedulable")) != bool(n_spec.get("unschedulable"))
            or o_spec.get("taints") != n_spec.get("taints")
            or (old.get("metadata") or {}).get("labels") != (new.get("metadata") or {}).get("labels")
            or (o_st.get("allocatable") or o_st.get("capacity"))
            != (n_st.get("allocatable") or n_st.get("capacity"))
            or _ready(old) != _ready(new))


# kube-scheduler's event client (its clientConnection defaults): 50 events a second after
# a burst of 100, so a burst of thousands of pods costs the apiserver a small, fixed rate
# of events; and the events give way to the binds (see client/events.py).
EVENT_QPS, EVENT_BURST = 50.0, 100


class Scheduler:
    """One scheduler (one profile) for pods whose ``spec.schedulerName`` is ``name``."""

    def __init__(self, client, name: str = DEFAULT_SCHEDULER_NAME, profile: Optional[Profile] = None,
                 bind_workers: int = 8, initial_backoff: float = 1.0, max_backoff: float = 10.0,
                 max_unschedulable: float = 300.0, event_workers: int = 1,
                 event_qps: float = EVENT_QPS, event_burst: int = EVENT_BURST):
        self.client = client
        self.name = name
        self.profile = profile or Profile()
        self.cache = Cache()
        self.queue = SchedulingQueue(initial_backoff=initial_backoff, max_backoff=max_backoff,
                                     max_unschedulable=max_unschedulable)
        self._binds_in_flight = 0
        self._last_bind = 0.0                    # monotonic time the last bind ended
        self._binds_lock = threading.Lock()
        self.recorder = EventRecorder(client, component=name, workers=event_workers,
                                      busy=self.binding, qps=event_qps, burst=event_burst)
        self.binder = ThreadPoolExecutor(max_workers=bind_workers, thread_name_prefix="bind")
        self.nodes = Informer(client, "nodes")
        self.pods = Informer(client, "pods")
        self.nodes.add_handler(self._node_added, self._node_updated, self._node_deleted)
        self.pods.add_handler(self._pod_added, self._pod_updated, self._pod_deleted)
        # The claims, volumes and classes the VolumeBinding plugin reads; a change to any of
        # them may let a pod waiting for its volumes fit.
        self.claims = Informer(client, "persistentvolumeclaims")
        self.volumes = Informer(client, "persistentvolumes")
        self.classes = Informer(client, "storageclasses")
        for inf, event in ((self.claims, "PvcChange"), (self.volumes, "PvChange"), (self.classes, "StorageClassAdd")):
            inf.add_handler(lambda obj, e=event: self.queue.move_all_to_active_or_backoff(e),
                            lambda old, new, e=event: self.queue.move_all_to_active_or_backoff(e))
        self.profile.add_plugin(VolumeBinding(self.claims, self.volumes, self.classes, client=client))
        self.stats = {"scheduled": 0, "unschedulable": 0, "errors": 0, "bind_failures": 0}
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None

    # ------------------------------------------------------------------ lifecycle
    def start(self, sync_timeout: float = 60.0) -> "Scheduler":
        """Start informers, wait for their first list, then run the loop in a thread."""
        informers = (self.nodes, self.pods, self.claims, self.volumes, self.classes)
        for inf in informers:
            inf.start()
        deadline = time.monotonic() + sync_timeout
        for inf in informers:
            if not inf.wait_for_sync(max(deadline - time.monotonic(), 0)):
                raise TimeoutError(f"{inf!r} did not sync in {sync_timeout}s")
        log.info("scheduler %s: caches synced (%d nodes, %d pending pods)", self.name,
                 len(self.cache.nodes()), len(self.queue))
        self._thread = threading.Thread(target=self.run, name="scheduling-loop", daemon=True)
        self._thread.start()
        return self

    def run(self) -> None:
        """The scheduling loop; returns when stop() is called."""
        while not self._stop.is_set():
            try:
                self.schedule_one(timeout=0.5)
            except Exception:          # never let one pod kill the loop
                log.exception("scheduling loop error")
                self._stop.wait(0.1)

    def stop(self) -> None:
        self._stop.set()
        self.queue.close()
        for inf in (self.nodes, self.pods, self.claims, self.volumes, self.classes):
            inf.stop()
        if self._thread and self._thread is not threading.current_thread():
            self._thread.join(5)
        self.binder.shutdown(wait=True, cancel_futures=False)
        self.recorder.flush(2)
        self.recorder.stop()

    # ------------------------------------------------------------------ informer handlers
    def responsible_for(self, pod: dict) -> bool:
        return ((pod.get("spec") or {}).get("schedulerName") or DEFAULT_SCHEDULER_NAME) == self.name

    def _node_added(self, node: dict) -> None:
        self.cache.add_node(node)
        self.queue.move_all_to_active_or_backoff("NodeAdd")

    def _node_updated(self, old: dict, new: dict) -> None:
        self.cache.update_node(new)
        if node_change_helps(old, new):
            self.queue.move_all_to_active_or_backoff("NodeUpdate")

    def _node_deleted(self, node: dict) -> None:
        self.cache.remove_node(node)

    def _pod_added(self, pod: dict) -> None:
        if _assigned(pod):
            if not _terminal(pod):
                self.cache.add_pod(pod)
        elif self._pending_for_us(pod) and not self.cache.is_assumed(pod_key(pod)):
            self.queue.add(pod)

    def _pod_updated(self, old: dict, new: dict) -> None:
        if _assigned(new):
            if not _assigned(old):
                self.queue.delete(new)            # it has been bound (by us or anyone)
            if _terminal(new):
                self.cache.remove_pod(new)
                if not _terminal(old):
                    self.queue.move_all_to_active_or_backoff("AssignedPodTerminated")
            else:
                self.cache.update_pod(new)
        elif not self._pending_for_us(new):
            self.queue.delete(new)                # another scheduler's now, or going away
        elif not self.cache.is_assumed(pod_key(new)):
            self.queue.update(old, new)
        # else: it is being bound right now; the bind's outcome decides what happens next

    def _pod_deleted(self, pod: dict) -> None:
        if _assigned(pod):
            self.cache.remove_pod(pod)
            self.queue.move_all_to_active_or_backoff("AssignedPodDelete")
        else:
            self.queue.delete(pod)

    def _pending_for_us(self, pod: dict) -> bool:
        """An unbound pod this scheduler should place: ours, not finished, not going away."""
        return self.responsible_for(pod) and not _deleting(pod) and not _terminal(pod)

    # ------------------------------------------------------------------ one cycle
    def schedule_one(self, timeout: Optional[float] = None) -> bool:
        """Take one pod off the queue and try to place it; False if none came."""
        qpi = self.queue.pop(timeout)
        if qpi is None:
            return False
        pod = qpi.pod
        if qpi.deleted or _assigned(pod) or _deleting(pod) or self.cache.is_assumed(qpi.key):
            self.queue.done(qpi)
            return True
        try:
            info = PodInfo(pod)
        except PodSpecError as err:
            self._fail(qpi, f"the pod's spec cannot be scheduled: {err}", unschedulable=True)
            return True

        with self.cache.lock:
            try:
                node = self.profile.schedule(info, self.cache.nodes())
            except FitError as err:
                node, failure, unschedulable = None, str(err), True
            except PluginError as err:
                node, failure, unschedulable = None, str(err), err.bad_spec
                if not err.bad_spec:
                    log.error("pod %s: %s", qpi.key, err, exc_info=err.__cause__)
            if node is not None:
                self.cache.assume(info, node.name)
        if node is None:
            self._fail(qpi, failure, unschedulable)
            return True
        log.debug("pod %s -> node %s", qpi.key, node.name)
        self._count_bind(+1)
        try:
            self.binder.submit(self._bind, qpi, info, node.name)
        except RuntimeError:             # shutting down: undo, the next scheduler will do it
            self._count_bind(-1)
            self.cache.forget(qpi.key)
        return True

    def _count_bind(self, delta: int) -> None:
        with self._binds_lock:
            self._binds_in_flight += delta
            self._last_bind = time.monotonic()

    BUSY_QUIET_PERIOD = 0.2

    def binding(self) -> bool:
        """Are pods being bound (now, or within the last 0.2 s)? Events wait meanwhile."""
        return self._binds_in_flight > 0 or \
            time.monotonic() - self._last_bind < self.BUSY_QUIET_PERIOD

    def _bind(self, qpi, info: PodInfo, node_name: str) -> None:
        """The binding cycle, on a pool thread."""
        try:
            self._bind_one(qpi, info, node_name)
        finally:
            self._count_bind(-1)

    def _bind_one(self, qpi, info: PodInfo, node_name: str) -> None:
        """POST pods/{name}/binding; on failure forget the assumption and requeue or drop."""
        pod = qpi.pod
        try:
            if not self.cache.has_node(node_name):
                raise _NodeGone(f'node "{node_name}" was deleted before the pod could be bound')
            for plugin in self.profile.pre_binders:      # VolumeBinding: the claims first
                try:
                    plugin.pre_bind(info, node_name)
                except Exception as err:
                    raise _PreBindFailed(f'running PreBind plugin "{plugin.name}": {err}') from err
            self.client.bind(info.namespace, info.name, node_name)
        except NotFound:
            self.cache.forget(info.key)       # the pod is gone: nothing to do
            self.stats["bind_failures"] += 1
            self.queue.done(qpi)
            return
        except Exception as err:
            self.cache.forget(info.key)
            self.stats["bind_failures"] += 1
            if isinstance(err, Conflict) and ("already assigned" in err.message
                                              or "being deleted" in err.message):
                log.info("pod %s: %s", info.key, err.message)
                self.queue.done(qpi)          # bound elsewhere / going away: the informer tells
                return
            message = err.message if isinstance(err, ApiError) else str(err)
            log.warning("pod %s: binding to %s failed: %s", info.key, node_name, message)
            self._fail(qpi, message if isinstance(err, _PreBindFailed) else f"Binding rejected: {message}",
                       unschedulable=False)
            return
        self.stats["scheduled"] += 1
        self.queue.done(qpi)
        self.recorder.event(pod, "Normal", "Scheduled",
                            f"Successfully assigned {info.namespace}/{info.name} to {node_name}")

    # ------------------------------------------------------------------ failures
    def _fail(self, qpi, message: str, unschedulable: bool) -> None:
        """Tell the user why (event + condition) and put the pod back in the queue."""
        self.stats["unschedulable" if unschedulable else "errors"] += 1
        pod = qpi.pod
        log.info("pod %s not scheduled: %s", qpi.key, message)
        if qpi.deleted:
            return                            # deleted or bound meanwhile
        self.recorder.event(pod, "Warning", "FailedScheduling", message)
        # The condition first, the queue after: a retry cannot overtake the write.
        self._set_unschedulable_condition(pod, message)
        self.queue.requeue(qpi, unschedulable=unschedulable)

    def _set_unschedulable_condition(self, pod: dict, message: str) -> None:
        """PodScheduled=False, reason Unschedulable, on pods/{name}/status (if it changed).

        Written synchronously, as kube-scheduler does, so that it can never land
        after a later successful bind of the same pod.
        """
        current = object_condition(pod, "PodScheduled")
        if current and current.get("status") == "False" and \
                current.get("reason") == "Unschedulable" and current.get("message") == message:
            return
        since = current.get("lastTransitionTime") if current and current.get("status") == "False" \
            else now_rfc3339()
        unschedulable = condition("PodScheduled", False, "Unschedulable", message,
                                  lastProbeTime=None, lastTransitionTime=since)
        md = pod["metadata"]
        try:
            self.client.patch("pods", md["name"], {"status": {"conditions": [unschedulable]}},
                              namespace=md.get("namespace"), patch_type="strategic",
                              subresource="status")
        except NotFound:
            pass
        except Exception as err:
            log.warning("pod %s/%s: could not write PodScheduled condition: %s",
                        md.get("namespace"), md["name"], err)


class _NodeGone(Exception):
    pass


class _PreBindFailed(Exception):
    pass
