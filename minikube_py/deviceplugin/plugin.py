"""The plugin side of the device plugin protocol, shared by the simulated and nvidia plugins.

A device plugin is a small gRPC server next to the kubelet. Its life, as in
Kubernetes' design (and NVIDIA's k8s-device-plugin):

1. serve the DevicePlugin service on its own socket in the device-plugins dir;
2. call Register on the kubelet's ``kubelet.sock`` with (version, socket file
   name, resource name); the kubelet dials back and opens ListAndWatch;
3. stream the full device list on ListAndWatch, again whenever it changes
   (a device turned Unhealthy, ...); the kubelet turns it into the node's
   capacity/allocatable for the resource;
4. answer Allocate for pods the kubelet admits;
5. watch ``kubelet.sock``: a restarted kubelet recreates it and has forgotten
   every plugin, so register again; if our own socket disappears (a kubelet
   cleaning the directory), serve again and register again.

Subclasses say which devices exist (``list_devices``), what a container gets
(``allocate_container``) and optionally which devices they prefer
(``preferred_allocation``); ``refresh`` is their periodic health check.
"""
from __future__ import annotations

import logging
import os
import threading
from concurrent import futures

import grpc

from minikube_py.deviceplugin.api import (
    KUBELET_SOCKET, VERSION, dial, pb, pb_grpc, socket_target,
)

log = logging.getLogger(__name__)


class RegistrationRejected(RuntimeError):
    """The kubelet refused our registration (bad version or resource name): retrying won't help."""


def _file_id(path: str):
    """Identity of a socket file: a recreated file gets a new (inode, ctime)."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return None
    return (st.st_ino, st.st_ctime_ns)


class DevicePluginServer(pb_grpc.DevicePluginServicer):
    """Serves one resource (e.g. nvidia.com/gpu) to the kubelet of one device-plugins dir."""

    def __init__(self, plugin_dir: str, resource_name: str, socket_name: str, *,
                 pre_start_required: bool = False, poll_interval: float = 1.0,
                 max_workers: int = 8):
        self.plugin_dir = os.path.abspath(plugin_dir)
        self.resource_name = resource_name
        self.socket_name = socket_name
        self.socket_path = os.path.join(self.plugin_dir, socket_name)
        self.kubelet_socket = os.path.join(self.plugin_dir, KUBELET_SOCKET)
        self.pre_start_required = pre_start_required
        self.poll_interval = poll_interval
        self.max_workers = max_workers
        socket_target(self.socket_path)            # fail early on a too-long path
        self._server: grpc.Server | None = None
        self._socket_id = None                     # identity of the socket file we serve
        self._registered_with = None               # identity of the kubelet.sock we registered at
        self._changed = threading.Condition()
        self._generation = 0                       # bumped on every device list change
        self._stopping = threading.Event()
        self.registrations = 0                     # how often we registered (for tests and logs)

    # ------------------------------------------------------------ for subclasses
    def list_devices(self) -> list:
        """The devices now, as pb.Device messages (ID, health)."""
        raise NotImplementedError

    def allocate_container(self, device_ids: list[str], context) -> "pb.ContainerAllocateResponse":
        """What one container needs for these devices; abort the context on bad ids."""
        raise NotImplementedError

    def preferred_allocation(self, available: list[str], must_include: list[str],
                             size: int) -> list[str] | None:
        """The devices we would rather hand out, or None when we have no opinion."""
        return None

    def refresh(self) -> bool:
        """Periodic check (health ...); return True if the device list changed."""
        return False

    # ------------------------------------------------------------ gRPC service
    def GetDevicePluginOptions(self, request, context):
        return self.options()

    def options(self) -> "pb.DevicePluginOptions":
        offers_preferred = type(self).preferred_allocation is not DevicePluginServer.preferred_allocation
        return pb.DevicePluginOptions(pre_start_required=self.pre_start_required,
                                      get_preferred_allocation_available=offers_preferred)

    def ListAndWatch(self, request, context):
        """Send the list now, then after every change, until the kubelet hangs up or we stop."""
        seen = None
        log.info("%s: kubelet opened ListAndWatch", self.resource_name)
        while not self._stopping.is_set() and context.is_active():
            with self._changed:
                if seen == self._generation:
                    self._changed.wait(timeout=0.5)
                if seen == self._generation:
                    continue
                seen = self._generation
            yield pb.ListAndWatchResponse(devices=self.list_devices())

    def GetPreferredAllocation(self, request, context):
        resp = pb.PreferredAllocationResponse()
        for creq in request.container_requests:
            chosen = self.preferred_allocation(list(creq.available_deviceIDs),
                                               list(creq.must_include_deviceIDs),
                                               creq.allocation_size) or []
            resp.container_responses.add(deviceIDs=chosen)
        return resp

    def Allocate(self, request, context):
        resp = pb.AllocateResponse()
        for creq in request.container_requests:
            ids = list(creq.devices_ids)
            log.info("%s: Allocate %s", self.resource_name, ",".join(ids))
            resp.container_responses.append(self.allocate_container(ids, context))
        return resp

    def PreStartContainer(self, request, context):
        log.info("%s: PreStartContainer %s", self.resource_name, ",".join(request.devices_ids))
        return pb.PreStartContainerResponse()

    # ------------------------------------------------------------ machinery
    def notify_changed(self):
        """Wake every ListAndWatch stream: the device list changed."""
        with self._changed:
            self._generation += 1
            self._changed.notify_all()

    def serve(self):
        """Start the gRPC server on our socket (replacing a stale socket file)."""
        os.makedirs(self.plugin_dir, exist_ok=True)
        try:
            os.unlink(self.socket_path)
        except FileNotFoundError:
            pass
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=self.max_workers,
                                                        thread_name_prefix="device-plugin"))
        pb_grpc.add_DevicePluginServicer_to_server(self, server)
        server.add_insecure_port(socket_target(self.socket_path))
        server.start()
        self._server = server
        self._socket_id = _file_id(self.socket_path)
        log.info("%s: serving on %s", self.resource_name, self.socket_path)

    def register(self, timeout: float = 5.0):
        """Register with the kubelet. RegistrationRejected if it says no for good."""
        request = pb.RegisterRequest(version=VERSION, endpoint=self.socket_name,
                                     resource_name=self.resource_name, options=self.options())
        kubelet_id = _file_id(self.kubelet_socket)
        channel = dial(self.kubelet_socket, timeout=timeout)
        try:
            pb_grpc.RegistrationStub(channel).Register(request, timeout=timeout)
        except grpc.RpcError as e:
            if e.code() in (grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.ALREADY_EXISTS,
                            grpc.StatusCode.FAILED_PRECONDITION):
                raise RegistrationRejected(e.details()) from None
            raise ConnectionError(f"Register failed: {e.code().name}: {e.details()}") from None
        finally:
            channel.close()
        self._registered_with = kubelet_id
        self.registrations += 1
        log.info("%s: registered with the kubelet at %s", self.resource_name, self.kubelet_socket)

    def _shutdown_server(self):
        if self._server is not None:
            self._server.stop(grace=0.5).wait(2)
            self._server = None
            # Remove the socket only if it is still the one we made.
            if self._socket_id is not None and _file_id(self.socket_path) == self._socket_id:
                try:
                    os.unlink(self.socket_path)
                except FileNotFoundError:
                    pass
            self._socket_id = None

    def tick(self):
        """One round of the watch loop: health, our socket, the kubelet's socket."""
        if self.refresh():
            self.notify_changed()
        if self._server is None or _file_id(self.socket_path) != self._socket_id:
            log.warning("%s: our socket %s is gone; serving again", self.resource_name,
                        self.socket_path)
            self._shutdown_server()
            self.serve()
            self._registered_with = None
        kubelet_id = _file_id(self.kubelet_socket)
        if kubelet_id is None:
            if self._registered_with is not None:
                log.warning("%s: kubelet socket is gone; waiting for the kubelet",
                            self.resource_name)
            self._registered_with = None
        elif kubelet_id != self._registered_with:
            try:
                self.register()
            except ConnectionError as e:
                log.info("%s: kubelet not ready (%s); will retry", self.resource_name, e)

    def run(self, stop: threading.Event | None = None):
        """Serve, register, and keep watching until ``stop`` is set (or ``stop()``).

        Raises RegistrationRejected when the kubelet refuses the registration,
        as real plugins exit then.
        """
        stop = stop or self._stopping
        try:
            if self._server is None:
                self.serve()
            while not stop.is_set() and not self._stopping.is_set():
                self.tick()
                stop.wait(self.poll_interval)
        finally:
            self.stop()

    def start(self) -> threading.Thread:
        """Run in a background thread (for tests and in-process use)."""
        self.serve()
        self._thread = threading.Thread(target=self.run, name=f"plugin-{self.socket_name}",
                                        daemon=True)
        self._thread.start()
        return self._thread

    def stop(self):
        """Stop serving: ListAndWatch streams end, so the kubelet sees the plugin go away."""
        self._stopping.set()
        with self._changed:
            self._changed.notify_all()
        self._shutdown_server()
