"""Both sides of the device plugin protocol, each talked to by a plain gRPC peer.

* The kubelet's DeviceManager is driven by a hand-written plugin (a bare
  DevicePlugin servicer from the generated code) that records what the kubelet
  sends: GetDevicePluginOptions, ListAndWatch, GetPreferredAllocation, Allocate.
* The simulated plugin is driven by a hand-written kubelet (a bare Registration
  servicer) that records the RegisterRequest, then by a plain DevicePlugin client.

Real gRPC over real Unix sockets; nothing is mocked.
"""
import os
import queue
import shutil
import tempfile
import threading
import time
from concurrent import futures

import grpc
import pytest

from minikube_py.deviceplugin.api import dial, pb, pb_grpc, socket_target
from minikube_py.deviceplugin.plugin import RegistrationRejected
from minikube_py.deviceplugin.simulated import SimulatedGPUPlugin, gpu_uuid
from minikube_py.kubelet.devices import DeviceAllocationError, DeviceManager


@pytest.fixture
def plugin_dir():
    d = tempfile.mkdtemp(prefix="dp-", dir="/tmp")     # Unix socket paths must stay short
    yield d
    shutil.rmtree(d, ignore_errors=True)


def wait_for(cond, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = cond()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def serve(servicer, add, path):
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    add(servicer, server)
    server.add_insecure_port(socket_target(path))
    server.start()
    return server


# ---------------------------------------------------------------- kubelet side
class RecordingPlugin(pb_grpc.DevicePluginServicer):
    """A minimal plugin that records every request the kubelet sends."""

    def __init__(self, devices):
        self.devices = devices
        self.calls = []
        self.updates = queue.Queue()
        self.stopped = threading.Event()

    def GetDevicePluginOptions(self, request, context):
        self.calls.append(("GetDevicePluginOptions", request))
        return pb.DevicePluginOptions(get_preferred_allocation_available=True,
                                      pre_start_required=True)

    def ListAndWatch(self, request, context):
        self.calls.append(("ListAndWatch", request))
        yield pb.ListAndWatchResponse(devices=self.devices)
        while not self.stopped.is_set() and context.is_active():
            try:
                yield pb.ListAndWatchResponse(devices=self.updates.get(timeout=0.2))
            except queue.Empty:
                pass

    def GetPreferredAllocation(self, request, context):
        self.calls.append(("GetPreferredAllocation", request))
        creq = request.container_requests[0]
        # Prefer the highest ids, to see that the kubelet follows the plugin's preference.
        chosen = sorted(creq.available_deviceIDs, reverse=True)[:creq.allocation_size]
        return pb.PreferredAllocationResponse(
            container_responses=[pb.ContainerPreferredAllocationResponse(deviceIDs=chosen)])

    def Allocate(self, request, context):
        self.calls.append(("Allocate", request))
        return pb.AllocateResponse(container_responses=[
            pb.ContainerAllocateResponse(
                envs={"DEVS": ",".join(c.devices_ids)},
                mounts=[pb.Mount(container_path="/usr/lib/x", host_path="/opt/x", read_only=True)],
                devices=[pb.DeviceSpec(container_path="/dev/x0", host_path="/dev/null",
                                       permissions="rw")])
            for c in request.container_requests])

    def PreStartContainer(self, request, context):
        self.calls.append(("PreStartContainer", request))
        return pb.PreStartContainerResponse()


def gpu_pod(uid, count=1):
    return {"metadata": {"uid": uid, "name": uid, "namespace": "default"},
            "spec": {"containers": [{"name": "main", "image": "busybox",
                                     "resources": {"limits": {"example.com/dev": str(count)}}}]}}


def test_kubelet_registration_and_wire_messages(plugin_dir):
    changes = []
    mgr = DeviceManager(plugin_dir, os.path.join(plugin_dir, "ckpt.json"),
                        on_change=lambda: changes.append(mgr.allocatable()), timeout=1)
    mgr.start()
    plugin = RecordingPlugin([pb.Device(ID=f"dev-{i}", health="Healthy") for i in range(3)])
    server = serve(plugin, pb_grpc.add_DevicePluginServicer_to_server,
                   os.path.join(plugin_dir, "rec.sock"))
    try:
        channel = dial(os.path.join(plugin_dir, "kubelet.sock"))
        register = pb_grpc.RegistrationStub(channel).Register

        # Refusals: each a gRPC error with a reason, never a crash.
        bad = [pb.RegisterRequest(version="v1alpha", endpoint="rec.sock", resource_name="example.com/dev"),
               pb.RegisterRequest(version="v1beta1", endpoint="rec.sock", resource_name="dev"),
               pb.RegisterRequest(version="v1beta1", endpoint="../rec.sock",
                                  resource_name="example.com/dev")]
        for req in bad:
            with pytest.raises(grpc.RpcError) as err:
                register(req, timeout=5)
            assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        with pytest.raises(grpc.RpcError) as err:          # nobody listens there
            register(pb.RegisterRequest(version="v1beta1", endpoint="nobody.sock",
                                        resource_name="example.com/dev"), timeout=30)
        assert err.value.code() == grpc.StatusCode.UNAVAILABLE
        assert mgr.capacity() == {}

        register(pb.RegisterRequest(version="v1beta1", endpoint="rec.sock",
                                    resource_name="example.com/dev"), timeout=5)
        wait_for(lambda: mgr.allocatable() == {"example.com/dev": 3}, what="3 devices")
        assert [c[0] for c in plugin.calls[:2]] == ["GetDevicePluginOptions", "ListAndWatch"]
        wait_for(lambda: changes and changes[-1] == {"example.com/dev": 3}, what="on_change")

        # A device turns unhealthy: capacity stays, allocatable drops.
        plugin.updates.put([pb.Device(ID="dev-0", health="Healthy"),
                            pb.Device(ID="dev-1", health="Unhealthy"),
                            pb.Device(ID="dev-2", health="Healthy")])
        wait_for(lambda: mgr.allocatable() == {"example.com/dev": 2}, what="unhealthy dev-1")
        assert mgr.capacity() == {"example.com/dev": 3}

        alloc = mgr.allocate(gpu_pod("pod-a", 2))
        name, pref = plugin.calls[-2]
        assert name == "GetPreferredAllocation"
        creq = pref.container_requests[0]
        assert sorted(creq.available_deviceIDs) == ["dev-0", "dev-2"]   # not the unhealthy one
        assert list(creq.must_include_deviceIDs) == [] and creq.allocation_size == 2
        name, areq = plugin.calls[-1]
        assert name == "Allocate"
        assert list(areq.container_requests[0].devices_ids) == ["dev-2", "dev-0"]  # the preference
        assert alloc == {"main": {
            "env": {"DEVS": "dev-2,dev-0"},
            "mounts": [{"container_path": "/usr/lib/x", "host_path": "/opt/x", "read_only": True}],
            "devices": [{"container_path": "/dev/x0", "host_path": "/dev/null", "permissions": "rw"}],
            "annotations": {}, "device_ids": ["dev-2", "dev-0"], "resource": "example.com/dev",
            "resources": {"example.com/dev": ["dev-2", "dev-0"]}}}
        calls = len(plugin.calls)
        assert mgr.allocate(gpu_pod("pod-a", 2)) == alloc          # idempotent, no new RPC
        assert len(plugin.calls) == calls
        mgr.pre_start_container("pod-a", "main")                   # the plugin asked for it
        name, preq = plugin.calls[-1]
        assert name == "PreStartContainer" and list(preq.devices_ids) == ["dev-2", "dev-0"]
        with pytest.raises(DeviceAllocationError) as err:
            mgr.allocate(gpu_pod("pod-b", 1))
        assert err.value.reason == "UnexpectedAdmissionError"
        assert "Requested: 1, Available: 0" in err.value.message
        channel.close()
    finally:
        plugin.stopped.set()
        server.stop(0)
        mgr.stop()


# ---------------------------------------------------------------- plugin side
class RecordingKubelet(pb_grpc.RegistrationServicer):
    def __init__(self):
        self.requests = []

    def Register(self, request, context):
        self.requests.append(request)
        return pb.Empty()


def test_simulated_plugin_wire_messages_and_reregistration(plugin_dir):
    kubelet = RecordingKubelet()
    kubelet_sock = os.path.join(plugin_dir, "kubelet.sock")
    server = serve(kubelet, pb_grpc.add_RegistrationServicer_to_server, kubelet_sock)
    plugin = SimulatedGPUPlugin(plugin_dir, 2, node_name="wire-node", poll_interval=0.05)
    plugin.start()
    try:
        wait_for(lambda: kubelet.requests, what="RegisterRequest")
        req = kubelet.requests[0]
        assert (req.version, req.endpoint, req.resource_name) == ("v1beta1", "simulated-gpu.sock",
                                                                  "nvidia.com/gpu")
        assert req.options.get_preferred_allocation_available and not req.options.pre_start_required

        channel = dial(os.path.join(plugin_dir, req.endpoint))
        stub = pb_grpc.DevicePluginStub(channel)
        opts = stub.GetDevicePluginOptions(pb.Empty(), timeout=5)
        assert opts.get_preferred_allocation_available
        stream = stub.ListAndWatch(pb.Empty(), timeout=30)
        first = next(stream)
        assert [(d.ID, d.health) for d in first.devices] == [("GPU-0", "Healthy"), ("GPU-1", "Healthy")]

        with open(os.path.join(plugin_dir, "simulated-health.json"), "w") as f:
            f.write('{"unhealthy": ["GPU-0"]}')
        second = next(stream)                                   # pushed when health changes
        assert [(d.ID, d.health) for d in second.devices] == [("GPU-0", "Unhealthy"),
                                                              ("GPU-1", "Healthy")]
        stream.cancel()

        resp = stub.Allocate(pb.AllocateRequest(container_requests=[
            pb.ContainerAllocateRequest(devices_ids=["GPU-1"]),
            pb.ContainerAllocateRequest(devices_ids=["GPU-0", "GPU-1"])]), timeout=5)
        assert [c.envs["NVIDIA_VISIBLE_DEVICES"] for c in resp.container_responses] == \
            ["GPU-1", "GPU-0,GPU-1"]
        assert gpu_uuid("wire-node", 1) in resp.container_responses[0].envs["MINIKUBE_PY_SIMULATED_GPUS"]
        with pytest.raises(grpc.RpcError) as err:
            stub.Allocate(pb.AllocateRequest(container_requests=[
                pb.ContainerAllocateRequest(devices_ids=["GPU-7"])]), timeout=5)
        assert err.value.code() == grpc.StatusCode.INVALID_ARGUMENT

        pref = stub.GetPreferredAllocation(pb.PreferredAllocationRequest(container_requests=[
            pb.ContainerPreferredAllocationRequest(available_deviceIDs=["GPU-1", "GPU-0"],
                                                   must_include_deviceIDs=["GPU-1"],
                                                   allocation_size=2)]), timeout=5)
        assert list(pref.container_responses[0].deviceIDs) == ["GPU-1", "GPU-0"]
        stub.PreStartContainer(pb.PreStartContainerRequest(devices_ids=["GPU-1"]), timeout=5)
        channel.close()

        # The kubelet restarts (its socket is recreated): the plugin registers again.
        server.stop(0).wait()
        if os.path.exists(kubelet_sock):
            os.unlink(kubelet_sock)
        server = serve(kubelet, pb_grpc.add_RegistrationServicer_to_server, kubelet_sock)
        wait_for(lambda: len(kubelet.requests) >= 2, what="re-registration")
        assert kubelet.requests[1].endpoint == "simulated-gpu.sock"
    finally:
        plugin.stop()
        server.stop(0)


def test_plugin_started_before_the_kubelet_waits_for_it(plugin_dir):
    plugin = SimulatedGPUPlugin(plugin_dir, 1, node_name="early", poll_interval=0.05)
    plugin.start()
    mgr = None
    try:
        time.sleep(0.2)                                  # no kubelet yet: the plugin just waits
        assert plugin.registrations == 0
        mgr = DeviceManager(plugin_dir, os.path.join(plugin_dir, "ckpt.json"))
        mgr.start()
        wait_for(lambda: mgr.allocatable() == {"nvidia.com/gpu": 1}, what="late registration")
    finally:
        plugin.stop()
        if mgr:
            mgr.stop()


class RejectingKubelet(pb_grpc.RegistrationServicer):
    def Register(self, request, context):
        context.abort(grpc.StatusCode.INVALID_ARGUMENT, "resource name taken")


def test_plugin_gives_up_when_the_kubelet_rejects_it(plugin_dir):
    server = serve(RejectingKubelet(), pb_grpc.add_RegistrationServicer_to_server,
                   os.path.join(plugin_dir, "kubelet.sock"))
    plugin = SimulatedGPUPlugin(plugin_dir, 1, node_name="rejected", poll_interval=0.05)
    try:
        with pytest.raises(RegistrationRejected, match="resource name taken"):
            plugin.run()
        assert not os.path.exists(plugin.socket_path)          # it cleaned up after itself
    finally:
        plugin.stop()
        server.stop(0)
