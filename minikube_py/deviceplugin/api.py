"""The device plugin protocol's constants and small helpers shared by both sides.

Both the kubelet's device manager and the plugins speak Kubernetes' device plugin
API v1beta1 (see v1beta1/api.proto) over gRPC on Unix sockets that live in one
directory, /var/lib/kubelet/device-plugins on a real node:

    kubelet.sock        served by the kubelet: the Registration service
    <plugin>.sock       served by each plugin: the DevicePlugin service

Messages: ``pb`` (generated from api.proto); services: ``pb_grpc``.
"""
from __future__ import annotations

import os
import re

import grpc

from minikube_py.deviceplugin.v1beta1 import api_pb2 as pb
from minikube_py.deviceplugin.v1beta1 import api_pb2_grpc as pb_grpc

__all__ = ["pb", "pb_grpc", "VERSION", "SUPPORTED_VERSIONS", "KUBELET_SOCKET",
           "DEFAULT_PLUGIN_DIR", "HEALTHY", "UNHEALTHY", "socket_target", "dial",
           "is_extended_resource_name", "allocation_to_dict", "natural_key",
           "SocketPathTooLong"]

VERSION = "v1beta1"                     # what our plugins send in RegisterRequest.version
SUPPORTED_VERSIONS = ("v1beta1",)       # what our kubelet accepts
KUBELET_SOCKET = "kubelet.sock"
DEFAULT_PLUGIN_DIR = "/var/lib/kubelet/device-plugins"
HEALTHY = "Healthy"
UNHEALTHY = "Unhealthy"

# sun_path in struct sockaddr_un is 108 bytes, one of them the final NUL.
MAX_SOCKET_PATH = 107


class SocketPathTooLong(ValueError):
    """A Unix socket path longer than the kernel allows (gRPC's error is obscure)."""


def socket_target(path: str) -> str:
    """The gRPC address of a Unix socket: ``unix:///abs/path``."""
    path = os.path.abspath(path)
    if len(path.encode()) > MAX_SOCKET_PATH:
        raise SocketPathTooLong(f"Unix socket path is {len(path.encode())} bytes, more than "
                                f"{MAX_SOCKET_PATH}: {path} (use a shorter directory)")
    return "unix://" + path


def dial(path: str, timeout: float = 5.0) -> grpc.Channel:
    """Open a channel to a Unix socket and wait until it is connected.

    Like the kubelet's dial (grpc.WithBlock and a timeout), so that a socket
    nobody listens on fails here with a clear error rather than at the first call.
    """
    channel = grpc.insecure_channel(socket_target(path))
    try:
        grpc.channel_ready_future(channel).result(timeout=timeout)
    except grpc.FutureTimeoutError:
        channel.close()
        raise ConnectionError(f"cannot connect to {path} within {timeout}s") from None
    return channel


# A DNS-1123 subdomain, then "/", then a qualified name (Kubernetes' rules).
_DOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_NAME = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?")


def is_extended_resource_name(name: str) -> bool:
    """Can a device plugin advertise this resource? ("nvidia.com/gpu": yes).

    As Kubernetes' IsExtendedResourceName: it needs a domain prefix that is not
    kubernetes.io (those names are native resources such as cpu and memory),
    must not start with "requests.", and both parts must be valid names.
    """
    if not isinstance(name, str) or "/" not in name or name.startswith("requests."):
        return False
    domain, _, rest = name.partition("/")
    if domain == "kubernetes.io" or domain.endswith(".kubernetes.io"):
        return False
    return (len(domain) <= 253 and bool(_DOMAIN.fullmatch(domain))
            and len(rest) <= 63 and bool(_NAME.fullmatch(rest)))


def allocation_to_dict(resp: "pb.ContainerAllocateResponse") -> dict:
    """A ContainerAllocateResponse as plain JSON-able data (for checkpoints and the kubelet)."""
    return {
        "env": dict(resp.envs),
        "mounts": [{"container_path": m.container_path, "host_path": m.host_path,
                    "read_only": m.read_only} for m in resp.mounts],
        "devices": [{"container_path": d.container_path, "host_path": d.host_path,
                     "permissions": d.permissions} for d in resp.devices],
        "annotations": dict(resp.annotations),
        "cdi_devices": [c.name for c in resp.cdi_devices],
    }


def natural_key(device_id: str):
    """Sort key so that GPU-2 comes before GPU-10."""
    return [(0, int(part), "") if part.isdigit() else (1, 0, part)
            for part in re.split(r"(\d+)", device_id)]
