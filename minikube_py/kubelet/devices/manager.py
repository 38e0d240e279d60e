"""The kubelet's device manager: device plugins in, node capacity and pod allocations out.

What it does, as Kubernetes' devicemanager does:

* serves the ``v1beta1.Registration`` service on ``<plugin_dir>/kubelet.sock``;
  a plugin that registers is dialled back (an ``Endpoint``) and its
  ListAndWatch stream keeps the manager's view of its devices current;
* ``capacity()`` counts a resource's devices, ``allocatable()`` only the
  Healthy ones; ``on_change()`` is called whenever either changes, so the
  kubelet posts its NodeStatus at once and the scheduler sees it;
* a plugin that goes away (stream ends) has all its devices marked Unhealthy
  at once (allocatable 0); after ``stop_grace_period`` they are forgotten
  (capacity 0, as Kubernetes reports a deleted resource). When the plugin
  registers again, everything comes back;
* ``allocate(pod)`` at admission: for each container asking for a resource a
  plugin serves, pick free Healthy devices (asking GetPreferredAllocation when
  the plugin offers it), call Allocate, remember the answer. Devices of init
  containers may be reused by the containers after them (they never run at the
  same time), as in Kubernetes;
* every assignment is written to a checkpoint (see checkpoint.py) before
  ``allocate`` returns, so a restarted kubelet never hands a GPU that a running
  pod holds to another pod.

Start-up differs from Kubernetes in one way: the real kubelet removes every
socket in the directory; we remove only a stale kubelet.sock and leave the
plugins' sockets alone (they re-register when kubelet.sock comes back).
"""
from __future__ import annotations

import logging
import os
import threading
import time
from concurrent import futures

import grpc

from minikube_py.api.quantity import QuantityError, parse_quantity
from minikube_py.deviceplugin.api import (
    HEALTHY, KUBELET_SOCKET, SUPPORTED_VERSIONS, UNHEALTHY, is_extended_resource_name,
    natural_key, pb, pb_grpc, socket_target,
)
from minikube_py.kubelet.devices.checkpoint import CheckpointCorrupt, read_checkpoint, write_checkpoint
from minikube_py.kubelet.devices.endpoint import Endpoint

log = logging.getLogger(__name__)

REASON = "UnexpectedAdmissionError"


class DeviceAllocationError(Exception):
    """A pod cannot get the devices it asks for; the kubelet fails its admission."""

    def __init__(self, message: str, reason: str = REASON):
        super().__init__(message)
        self.reason = reason
        self.message = message


class _Resource:
    """What the manager knows about one resource (e.g. nvidia.com/gpu)."""

    def __init__(self, name: str):
        self.name = name
        self.devices: dict[str, str] = {}     # device id -> "Healthy" | "Unhealthy"
        self.endpoint: Endpoint | None = None
        self.stopped_at: float | None = None  # when its plugin went away
        self.removed = False                  # grace period over: report 0

    def healthy(self) -> set[str]:
        if self.endpoint is None:
            return set()
        return {d for d, h in self.devices.items() if h == HEALTHY}


class _RegistrationService(pb_grpc.RegistrationServicer):
    """The kubelet's side of registration: validate, dial back, start watching."""

    def __init__(self, manager: "DeviceManager"):
        self.manager = manager

    def Register(self, request, context):
        log.info("registration request: resource %s, endpoint %s, version %s",
                 request.resource_name, request.endpoint, request.version)
        if request.version not in SUPPORTED_VERSIONS:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          f"requested device plugin version {request.version!r} is not supported; "
                          f"supported versions: {', '.join(SUPPORTED_VERSIONS)}")
        if not is_extended_resource_name(request.resource_name):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          f"invalid resource name {request.resource_name!r}: not an extended "
                          "resource name (like vendor.com/device)")
        ep = request.endpoint
        if not ep or "/" in ep or ep in (".", "..", KUBELET_SOCKET):
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          f"invalid endpoint {ep!r}: must be a socket file name in the "
                          "device-plugins directory")
        try:
            self.manager._connect(request.resource_name, ep)
        except (ConnectionError, grpc.RpcError, ValueError) as e:
            context.abort(grpc.StatusCode.UNAVAILABLE,
                          f"cannot connect to device plugin at {ep}: {e}")
        return pb.Empty()


class DeviceManager:
    """Registered device plugins -> node resources and per-pod device assignments."""

    def __init__(self, plugin_dir: str, checkpoint_path: str, on_change=None, *,
                 stop_grace_period: float = 300.0, timeout: float = 10.0):
        self.plugin_dir = os.path.abspath(plugin_dir)
        self.socket_path = os.path.join(self.plugin_dir, KUBELET_SOCKET)
        self.checkpoint_path = checkpoint_path
        self.on_change = on_change
        self.stop_grace_period = stop_grace_period
        self.timeout = timeout
        self._lock = threading.RLock()            # guards _resources and _entries
        self._alloc_lock = threading.Lock()       # one admission at a time
        self._resources: dict[str, _Resource] = {}
        # (pod uid, container name, resource) -> {"device_ids": [...], "alloc": {...}}
        self._entries: dict[tuple[str, str, str], dict] = {}
        self._reported = None
        self._server: grpc.Server | None = None
        self._stop = threading.Event()
        self._reaper: threading.Thread | None = None
        self._load_checkpoint()

    # ------------------------------------------------------------ lifecycle
    def start(self):
        """Serve Registration on <plugin_dir>/kubelet.sock (plugins then register)."""
        os.makedirs(self.plugin_dir, exist_ok=True)
        target = socket_target(self.socket_path)
        try:
            os.unlink(self.socket_path)            # a stale one from a previous kubelet
        except FileNotFoundError:
            pass
        self._stop.clear()
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=4,
                                                        thread_name_prefix="device-registration"))
        pb_grpc.add_RegistrationServicer_to_server(_RegistrationService(self), server)
        server.add_insecure_port(target)
        server.start()
        self._server = server
        self._reaper = threading.Thread(target=self._reap_loop, name="device-plugin-reaper",
                                        daemon=True)
        self._reaper.start()
        log.info("device manager: serving Registration on %s", self.socket_path)

    def stop(self):
        """Stop serving and hang up on every plugin (assignments stay in the checkpoint)."""
        self._stop.set()
        if self._server is not None:
            self._server.stop(grace=0.5).wait(2)
            self._server = None
        with self._lock:
            endpoints = [r.endpoint for r in self._resources.values() if r.endpoint is not None]
        for ep in endpoints:
            ep.stop()
        for ep in endpoints:
            if ep.thread is not None:
                ep.thread.join(2)
        try:
            os.unlink(self.socket_path)
        except FileNotFoundError:
            pass
        if self._reaper is not None:
            self._reaper.join(2)

    # ------------------------------------------------------------ node resources
    def capacity(self) -> dict[str, int]:
        """All devices per resource (Healthy or not); 0 once a dead plugin's grace is over."""
        with self._lock:
            return {name: 0 if r.removed else len(r.devices) for name, r in self._resources.items()}

    def allocatable(self) -> dict[str, int]:
        """Healthy devices of live plugins per resource."""
        with self._lock:
            return {name: len(r.healthy()) for name, r in self._resources.items()}

    def _notify(self):
        """Call on_change if capacity/allocatable differ from what we last reported."""
        if self._stop.is_set():
            return
        with self._lock:
            now = (self.capacity(), self.allocatable())
            if now == self._reported:
                return
            self._reported = now
        log.info("device resources: capacity %s allocatable %s", now[0], now[1])
        if self.on_change is not None:
            try:
                self.on_change()
            except Exception:  # noqa: BLE001 - the kubelet's problem must not stop the stream
                log.exception("on_change failed")

    # ------------------------------------------------------------ plugins
    def _connect(self, resource_name: str, socket_name: str):
        """A plugin registered: dial it, then watch its devices (replacing an older endpoint)."""
        ep = Endpoint(self.plugin_dir, resource_name, socket_name, on_devices=self._on_devices,
                      on_stopped=self._on_stopped, timeout=self.timeout)
        ep.connect()
        with self._lock:
            res = self._resources.setdefault(resource_name, _Resource(resource_name))
            old, res.endpoint = res.endpoint, ep
            res.stopped_at = None
            res.removed = False
        if old is not None:
            log.info("%s: a new registration replaces the old plugin connection", resource_name)
            old.stop()
        ep.start()       # its first device list will update capacity and call on_change
        log.info("%s: plugin at %s connected (options: pre_start_required=%s, "
                 "get_preferred_allocation_available=%s)", resource_name, socket_name,
                 ep.options.pre_start_required, ep.options.get_preferred_allocation_available)

    def _on_devices(self, ep: Endpoint, devices: dict[str, str]):
        with self._lock:
            res = self._resources.get(ep.resource_name)
            if res is None or res.endpoint is not ep:
                return                               # an old, replaced connection
            changed_ids = set(devices) != set(res.devices)
            res.devices = dict(devices)
            if changed_ids:
                self._save()
        self._notify()

    def _on_stopped(self, ep: Endpoint):
        with self._lock:
            res = self._resources.get(ep.resource_name)
            if res is None or res.endpoint is not ep:
                return
            res.endpoint = None
            res.stopped_at = time.monotonic()
            res.devices = {d: UNHEALTHY for d in res.devices}
        self._notify()

    def _reap_loop(self):
        """Forget the devices of plugins gone for longer than the grace period."""
        interval = max(0.05, min(1.0, self.stop_grace_period / 4))
        while not self._stop.wait(interval):
            self._reap()

    def _reap(self):
        now = time.monotonic()
        with self._lock:
            expired = [r for r in self._resources.values()
                       if r.endpoint is None and not r.removed and r.stopped_at is not None
                       and now - r.stopped_at >= self.stop_grace_period]
            for r in expired:
                log.info("%s: plugin gone for %.0fs; removing its %d device(s)", r.name,
                         now - r.stopped_at, len(r.devices))
                r.devices = {}
                r.removed = True
            if expired:
                self._save()
        if expired:
            self._notify()

    # ------------------------------------------------------------ allocation
    def _requests(self, container: dict) -> dict[str, int]:
        """{resource: count} for the plugin-served resources a container asks for."""
        resources = container.get("resources") or {}
        wanted = dict(resources.get("requests") or {})
        wanted.update(resources.get("limits") or {})       # limits are what counts
        out = {}
        with self._lock:
            known = set(self._resources)
        for name, qty in wanted.items():
            if name not in known:
                continue
            try:
                value = parse_quantity(qty)
            except QuantityError as e:
                raise DeviceAllocationError(f"invalid quantity {qty!r} for {name}: {e}") from None
            if value.denominator != 1 or value < 0:
                raise DeviceAllocationError(f"{name} must be a whole, non-negative number, not {qty!r}")
            if value > 0:
                out[name] = int(value)
        return out

    def _pick(self, resource: str, count: int, reusable: set[str]) -> list[str]:
        """Choose ``count`` devices: reusable ones first, then free Healthy ones."""
        reuse = sorted(reusable, key=natural_key)
        if len(reuse) >= count:
            return reuse[:count]
        with self._lock:
            res = self._resources[resource]
            in_use = {d for e in self._entries.values() if e["resource"] == resource
                      for d in e["device_ids"]}
            available = res.healthy() - in_use - reusable
            ep = res.endpoint
        need = count - len(reuse)
        if len(available) < need:
            raise DeviceAllocationError(
                f"Allocate failed due to requested number of devices unavailable for {resource}. "
                f"Requested: {count}, Available: {len(available) + len(reuse)}, which is unexpected")
        if ep is not None and ep.options.get_preferred_allocation_available:
            try:
                preferred = ep.preferred_allocation(sorted(available | reusable, key=natural_key),
                                                    reuse, count)
                if (len(preferred) == count and len(set(preferred)) == count
                        and set(preferred) <= (available | reusable)
                        and set(reuse) <= set(preferred)):
                    return preferred
                log.warning("%s: ignoring invalid preferred allocation %s", resource, preferred)
            except (grpc.RpcError, ValueError) as e:
                log.warning("%s: GetPreferredAllocation failed: %s", resource, e)
        return reuse + sorted(available, key=natural_key)[:need]

    def allocate(self, pod: dict) -> dict[str, dict]:
        """Devices for a pod being admitted: {container name: allocation}.

        An allocation is {"env", "mounts", "devices", "annotations", "device_ids",
        "resource", "resources"}. Idempotent: a pod that already has devices gets
        the same answer again (from the checkpoint, without calling the plugin).
        Raises DeviceAllocationError (reason UnexpectedAdmissionError) when there
        are not enough free Healthy devices or the plugin fails; nothing of this
        call is kept then.
        """
        meta = pod.get("metadata") or {}
        uid = meta.get("uid")
        if not uid:
            raise DeviceAllocationError("pod has no metadata.uid")
        spec = pod.get("spec") or {}
        containers = [(c, True) for c in spec.get("initContainers") or []]
        containers += [(c, False) for c in spec.get("containers") or []]
        with self._alloc_lock:
            added: list[tuple] = []
            reuse: dict[str, set[str]] = {}
            result: dict[str, dict] = {}
            try:
                for container, is_init in containers:
                    name = container.get("name", "")
                    for resource, count in sorted(self._requests(container).items()):
                        key = (uid, name, resource)
                        with self._lock:
                            entry = self._entries.get(key)
                        if entry is None:
                            entry = self._allocate_one(resource, count, reuse.get(resource, set()))
                            entry["resource"] = resource
                            with self._lock:
                                self._entries[key] = entry
                            added.append(key)
                        ids = set(entry["device_ids"])
                        # An init container's devices are free again for the containers after
                        # it; an app (or restartable init) container keeps them.
                        restartable = is_init and container.get("restartPolicy") == "Always"
                        if is_init and not restartable:
                            reuse.setdefault(resource, set()).update(ids)
                        else:
                            reuse.setdefault(resource, set()).difference_update(ids)
                        _merge(result.setdefault(name, _empty_allocation()), resource, entry)
                if added:
                    with self._lock:
                        self._save()
            except BaseException:
                with self._lock:
                    for key in added:
                        self._entries.pop(key, None)
                raise
        if added:
            log.info("pod %s/%s (%s): allocated %s", meta.get("namespace"), meta.get("name"), uid,
                     {c: a["device_ids"] for c, a in result.items()})
        return result

    def _allocate_one(self, resource: str, count: int, reusable: set[str]) -> dict:
        ids = self._pick(resource, count, reusable)
        with self._lock:
            ep = self._resources[resource].endpoint
        if ep is None:
            raise DeviceAllocationError(f"Allocate failed due to no device plugin serving {resource}, "
                                        "which is unexpected")
        try:
            alloc = ep.allocate(ids)
        except (grpc.RpcError, ValueError) as e:
            detail = f"{e.code().name}: {e.details()}" if isinstance(e, grpc.RpcError) else str(e)
            raise DeviceAllocationError(f"Allocate failed due to the {resource} device plugin's "
                                        f"error ({detail}), which is unexpected") from None
        return {"device_ids": ids, "alloc": alloc}

    def pre_start_container(self, pod_uid: str, container_name: str):
        """Call PreStartContainer on plugins that asked for it (before each container start)."""
        with self._lock:
            todo = [(self._resources.get(res), e["device_ids"])
                    for (uid, c, res), e in self._entries.items()
                    if uid == pod_uid and c == container_name]
        for res, ids in todo:
            ep = res.endpoint if res else None
            if ep is not None and ep.options.pre_start_required:
                ep.pre_start_container(ids)

    def release(self, pod_uid: str):
        """The pod is gone: its devices are free."""
        with self._lock:
            keys = [k for k in self._entries if k[0] == pod_uid]
            for k in keys:
                del self._entries[k]
            if keys:
                self._save()
                log.info("pod %s: released %d device assignment(s)", pod_uid, len(keys))

    def retain_only(self, active_pod_uids):
        """Free the devices of every pod not in ``active_pod_uids`` (after a relist/restart)."""
        active = set(active_pod_uids)
        with self._lock:
            gone = {k[0] for k in self._entries if k[0] not in active}
        for uid in gone:
            self.release(uid)

    def assignments(self) -> dict[str, dict[str, list[str]]]:
        """{pod uid: {container name: [device ids]}} (all resources together)."""
        out: dict[str, dict[str, list[str]]] = {}
        with self._lock:
            for (uid, container, _res), e in self._entries.items():
                out.setdefault(uid, {}).setdefault(container, []).extend(e["device_ids"])
        return out

    # ------------------------------------------------------------ checkpoint
    def _save(self):
        """Write the checkpoint (caller holds _lock)."""
        data = {
            "podDeviceEntries": [
                {"podUID": uid, "containerName": c, "resourceName": res,
                 "deviceIDs": e["device_ids"], "allocResp": e["alloc"]}
                for (uid, c, res), e in self._entries.items()],
            "registeredDevices": {name: sorted(r.devices, key=natural_key)
                                  for name, r in self._resources.items() if not r.removed},
        }
        write_checkpoint(self.checkpoint_path, data)

    def _load_checkpoint(self):
        """Restore assignments, and the devices plugins had, from the checkpoint.

        Restored devices count in capacity (not allocatable) until their plugin
        registers again, or for the grace period if it never does. A damaged
        checkpoint is moved aside (``.corrupt``) and we start empty, as the
        kubelet goes on after failing to read its checkpoint.
        """
        try:
            data = read_checkpoint(self.checkpoint_path)
        except CheckpointCorrupt as e:
            aside = f"{self.checkpoint_path}.corrupt"
            log.error("%s; moving it to %s and starting without device assignments", e, aside)
            os.replace(self.checkpoint_path, aside)
            return
        if not data:
            return
        now = time.monotonic()
        for name, ids in (data.get("registeredDevices") or {}).items():
            res = self._resources.setdefault(name, _Resource(name))
            res.devices = {d: UNHEALTHY for d in ids}
            res.stopped_at = now
        for e in data.get("podDeviceEntries") or []:
            key = (e["podUID"], e["containerName"], e["resourceName"])
            self._entries[key] = {"device_ids": list(e["deviceIDs"]), "alloc": e.get("allocResp") or {},
                                  "resource": e["resourceName"]}
            self._resources.setdefault(e["resourceName"], _Resource(e["resourceName"]))
        log.info("device manager: restored %d assignment(s) from %s", len(self._entries),
                 self.checkpoint_path)


def _empty_allocation() -> dict:
    return {"env": {}, "mounts": [], "devices": [], "annotations": {}, "device_ids": [],
            "resource": None, "resources": {}}


def _merge(into: dict, resource: str, entry: dict):
    """Add one resource's allocation to a container's combined allocation."""
    alloc = entry.get("alloc") or {}
    into["env"].update(alloc.get("env") or {})
    into["mounts"].extend(alloc.get("mounts") or [])
    into["devices"].extend(alloc.get("devices") or [])
    into["annotations"].update(alloc.get("annotations") or {})
    into["device_ids"].extend(entry["device_ids"])
    into["resources"][resource] = list(entry["device_ids"])
    if into["resource"] is None or resource == "nvidia.com/gpu":
        into["resource"] = resource
