"""The device plugin API: the generated code has Kubernetes' names and field numbers.

The bytes are checked by hand-encoding protobuf (tag = field number << 3 | wire
type), so a wrong field number in api.proto cannot go unnoticed: a real plugin
or kubelet would misread it.
"""
import pytest

from minikube_py.deviceplugin.api import (
    SocketPathTooLong, allocation_to_dict, is_extended_resource_name, natural_key, pb,
    socket_target,
)


def ld(field: int, payload: bytes) -> bytes:
    """A length-delimited field (strings, messages): tag, length, bytes."""
    return bytes([field << 3 | 2, len(payload)]) + payload


def varint(field: int, value: int) -> bytes:
    return bytes([field << 3 | 0, value])


def test_register_request_wire_format():
    msg = pb.RegisterRequest(version="v1beta1", endpoint="x.sock", resource_name="nvidia.com/gpu",
                             options=pb.DevicePluginOptions(pre_start_required=True,
                                                            get_preferred_allocation_available=True))
    expected = (ld(1, b"v1beta1") + ld(2, b"x.sock") + ld(3, b"nvidia.com/gpu")
                + ld(4, varint(1, 1) + varint(2, 1)))
    assert msg.SerializeToString() == expected
    assert pb.RegisterRequest.FromString(expected) == msg


def test_device_and_list_and_watch_wire_format():
    dev = pb.Device(ID="GPU-0", health="Healthy",
                    topology=pb.TopologyInfo(nodes=[pb.NUMANode(ID=1)]))
    dev_bytes = ld(1, b"GPU-0") + ld(2, b"Healthy") + ld(3, ld(1, varint(1, 1)))
    assert dev.SerializeToString() == dev_bytes
    resp = pb.ListAndWatchResponse(devices=[dev])
    assert resp.SerializeToString() == ld(1, dev_bytes)


def test_allocate_messages_wire_format():
    req = pb.AllocateRequest(container_requests=[pb.ContainerAllocateRequest(devices_ids=["GPU-1"])])
    assert req.SerializeToString() == ld(1, ld(1, b"GPU-1"))
    resp = pb.ContainerAllocateResponse(
        envs={"A": "b"}, mounts=[pb.Mount(container_path="/c", host_path="/h", read_only=True)],
        devices=[pb.DeviceSpec(container_path="/dev/x", host_path="/dev/y", permissions="rw")],
        annotations={"k": "v"}, cdi_devices=[pb.CDIDevice(name="nvidia.com/gpu=0")])
    expected = (ld(1, ld(1, b"A") + ld(2, b"b"))                      # map entry: key 1, value 2
                + ld(2, ld(1, b"/c") + ld(2, b"/h") + varint(3, 1))
                + ld(3, ld(1, b"/dev/x") + ld(2, b"/dev/y") + ld(3, b"rw"))
                + ld(4, ld(1, b"k") + ld(2, b"v"))
                + ld(5, ld(1, b"nvidia.com/gpu=0")))
    assert resp.SerializeToString() == expected


def test_preferred_allocation_and_prestart_wire_format():
    creq = pb.ContainerPreferredAllocationRequest(available_deviceIDs=["a", "b"],
                                                  must_include_deviceIDs=["a"], allocation_size=2)
    assert creq.SerializeToString() == ld(1, b"a") + ld(1, b"b") + ld(2, b"a") + varint(3, 2)
    cresp = pb.ContainerPreferredAllocationResponse(deviceIDs=["b"])
    assert cresp.SerializeToString() == ld(1, b"b")
    assert pb.PreStartContainerRequest(devices_ids=["z"]).SerializeToString() == ld(1, b"z")


def test_services_have_kubernetes_names():
    services = pb.DESCRIPTOR.services_by_name
    assert pb.DESCRIPTOR.package == "v1beta1"
    assert services["Registration"].full_name == "v1beta1.Registration"
    assert services["DevicePlugin"].full_name == "v1beta1.DevicePlugin"
    assert [m.name for m in services["Registration"].methods] == ["Register"]
    methods = {m.name: m for m in services["DevicePlugin"].methods}
    assert set(methods) == {"GetDevicePluginOptions", "ListAndWatch", "GetPreferredAllocation",
                            "Allocate", "PreStartContainer"}
    assert methods["ListAndWatch"].server_streaming and not methods["Allocate"].server_streaming
    assert methods["Allocate"].input_type.full_name == "v1beta1.AllocateRequest"


@pytest.mark.parametrize("name,ok", [
    ("nvidia.com/gpu", True), ("example.com/foo-bar_1.x", True), ("amd.com/gpu", True),
    ("gpu", False), ("cpu", False), ("kubernetes.io/gpu", False), ("foo.kubernetes.io/gpu", False),
    ("requests.nvidia.com/gpu", False), ("Nvidia.com/gpu", False), ("nvidia.com/", False),
    ("nvidia.com/-gpu", False), ("nvidia.com/gpu/x", False), ("", False), (None, False),
])
def test_is_extended_resource_name(name, ok):
    assert is_extended_resource_name(name) is ok


def test_natural_key_orders_numbers():
    ids = ["GPU-10", "GPU-2", "GPU-1", "GPU-0"]
    assert sorted(ids, key=natural_key) == ["GPU-0", "GPU-1", "GPU-2", "GPU-10"]


def test_socket_target():
    assert socket_target("/tmp/x/kubelet.sock") == "unix:///tmp/x/kubelet.sock"
    with pytest.raises(SocketPathTooLong):
        socket_target("/tmp/" + "d" * 120 + "/kubelet.sock")


def test_allocation_to_dict():
    resp = pb.ContainerAllocateResponse(envs={"NVIDIA_VISIBLE_DEVICES": "GPU-0"},
                                        mounts=[pb.Mount(container_path="/c", host_path="/h")])
    assert allocation_to_dict(resp) == {
        "env": {"NVIDIA_VISIBLE_DEVICES": "GPU-0"},
        "mounts": [{"container_path": "/c", "host_path": "/h", "read_only": False}],
        "devices": [], "annotations": {}, "cdi_devices": []}
