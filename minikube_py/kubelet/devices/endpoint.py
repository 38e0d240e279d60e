"""The kubelet's connection to one registered device plugin.

After a plugin registers, the kubelet dials the plugin's socket, asks for its
options and keeps one ListAndWatch stream open: every message on it is the
plugin's full device list. When the stream ends (the plugin exited, its socket
went away) the endpoint reports itself stopped. Allocate and
GetPreferredAllocation go over the same channel at pod admission.
"""
from __future__ import annotations

import logging
import os
import threading

import grpc

from minikube_py.deviceplugin.api import allocation_to_dict, dial, pb, pb_grpc

log = logging.getLogger(__name__)


class Endpoint:
    """One plugin as the kubelet sees it: options, a device stream, RPCs."""

    def __init__(self, plugin_dir: str, resource_name: str, socket_name: str, *,
                 on_devices, on_stopped, timeout: float = 10.0):
        self.resource_name = resource_name
        self.socket_name = socket_name
        self.socket_path = os.path.join(plugin_dir, socket_name)
        self.timeout = timeout
        self._on_devices = on_devices          # on_devices(endpoint, {id: health})
        self._on_stopped = on_stopped          # on_stopped(endpoint)
        self._channel = None
        self._stub = None
        self._call = None
        self._stopped = threading.Event()
        self.options = pb.DevicePluginOptions()
        self.thread = None

    def connect(self):
        """Dial the plugin and read its options. ConnectionError / grpc.RpcError on failure."""
        self._channel = dial(self.socket_path, timeout=self.timeout)
        self._stub = pb_grpc.DevicePluginStub(self._channel)
        try:
            self.options = self._stub.GetDevicePluginOptions(pb.Empty(), timeout=self.timeout)
        except grpc.RpcError:
            self._channel.close()
            raise

    def start(self):
        """Open ListAndWatch in a background thread."""
        self.thread = threading.Thread(target=self._watch, daemon=True,
                                       name=f"list-and-watch-{self.resource_name}")
        self.thread.start()

    def _watch(self):
        try:
            self._call = self._stub.ListAndWatch(pb.Empty())
            if self._stopped.is_set():          # stop() came before the call existed
                self._call.cancel()
            for resp in self._call:
                self._on_devices(self, {d.ID: d.health for d in resp.devices})
        except grpc.RpcError as e:
            if not self._stopped.is_set():
                log.warning("%s: ListAndWatch ended: %s %s", self.resource_name,
                            e.code().name, e.details())
        except Exception:  # noqa: BLE001 - a bug in a callback must not hide the plugin's exit
            log.exception("%s: ListAndWatch failed", self.resource_name)
        finally:
            if not self._stopped.is_set():
                log.warning("%s: device plugin at %s stopped", self.resource_name, self.socket_path)
            self._on_stopped(self)

    def stop(self):
        """Hang up: cancel the stream and close the channel."""
        self._stopped.set()
        if self._call is not None:
            self._call.cancel()
        if self._channel is not None:
            self._channel.close()

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    # ------------------------------------------------------------ RPCs
    def preferred_allocation(self, available: list[str], must_include: list[str],
                             size: int) -> list[str]:
        req = pb.PreferredAllocationRequest()
        req.container_requests.add(available_deviceIDs=available,
                                   must_include_deviceIDs=must_include, allocation_size=size)
        resp = self._stub.GetPreferredAllocation(req, timeout=self.timeout)
        if len(resp.container_responses) != 1:
            raise ValueError(f"GetPreferredAllocation returned {len(resp.container_responses)} "
                             "answers for 1 container")
        return list(resp.container_responses[0].deviceIDs)

    def allocate(self, device_ids: list[str]) -> dict:
        """Allocate for one container: env, mounts, devices, annotations (plain dicts)."""
        req = pb.AllocateRequest()
        req.container_requests.add(devices_ids=device_ids)
        resp = self._stub.Allocate(req, timeout=self.timeout)
        if len(resp.container_responses) != 1:
            raise ValueError(f"Allocate returned {len(resp.container_responses)} answers "
                             "for 1 container")
        return allocation_to_dict(resp.container_responses[0])

    def pre_start_container(self, device_ids: list[str]):
        self._stub.PreStartContainer(pb.PreStartContainerRequest(devices_ids=device_ids),
                                     timeout=self.timeout)
