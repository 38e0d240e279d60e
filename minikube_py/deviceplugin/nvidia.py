"""The nvidia device plugin: real GPUs, found through NVML (the library behind nvidia-smi).

Like NVIDIA's k8s-device-plugin (in its default "envvar" mode): each GPU is a
device whose ID is its UUID; Allocate answers ``NVIDIA_VISIBLE_DEVICES=<uuids>``
and the nvidia container runtime (nvidia-docker2) does the rest: it mounts the
device nodes and driver libraries into the container.

NVML comes from the ``nvidia-ml-py`` package (``import pynvml``), imported only
when this plugin runs, so minikube-py installs and runs without it. Health: a
GPU whose NVML queries start failing (fallen off the bus, ...) is reported
Unhealthy; NVIDIA's plugin watches XID error events for the same purpose.
"""
from __future__ import annotations

import logging
import time

import grpc

from minikube_py.deviceplugin.api import HEALTHY, UNHEALTHY, pb
from minikube_py.deviceplugin.plugin import DevicePluginServer

log = logging.getLogger(__name__)


class NVMLUnavailable(RuntimeError):
    """No NVML here: the Python bindings or the driver's libnvidia-ml.so.1 are missing."""


def _text(value) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def load_nvml():
    """Import pynvml and initialise NVML, or raise NVMLUnavailable saying what is missing."""
    try:
        import pynvml  # noqa: PLC0415 - optional dependency, imported only when needed
    except ImportError:
        raise NVMLUnavailable(
            "the nvidia device plugin needs NVML's Python bindings: pip install nvidia-ml-py "
            "(on a machine without NVIDIA GPUs use `device-plugin simulated`)") from None
    try:
        pynvml.nvmlInit()
    except pynvml.NVMLError as e:
        raise NVMLUnavailable(
            f"NVML could not be initialised ({e}): is the NVIDIA driver installed and "
            "libnvidia-ml.so.1 on the library path? (on a machine without NVIDIA GPUs use "
            "`device-plugin simulated`)") from None
    return pynvml


def list_gpus(nvml) -> list[dict]:
    """Every GPU NVML sees: index, name, uuid, memory_mib, bus_id."""
    gpus = []
    for i in range(nvml.nvmlDeviceGetCount()):
        h = nvml.nvmlDeviceGetHandleByIndex(i)
        mem = nvml.nvmlDeviceGetMemoryInfo(h)
        try:
            bus_id = _text(nvml.nvmlDeviceGetPciInfo(h).busId)
        except nvml.NVMLError:
            bus_id = ""
        gpus.append({"index": i, "name": _text(nvml.nvmlDeviceGetName(h)),
                     "uuid": _text(nvml.nvmlDeviceGetUUID(h)),
                     "memory_mib": int(mem.total) // (1024 * 1024), "bus_id": bus_id})
    return gpus


def format_gpu_list(gpus: list[dict]) -> str:
    """One line per GPU, like ``nvidia-smi -L`` plus the memory."""
    if not gpus:
        return "No devices were found"
    return "\n".join(f"GPU {g['index']}: {g['name']} (UUID: {g['uuid']}) "
                     f"{g['memory_mib']} MiB, bus {g['bus_id']}" for g in gpus)


class NvidiaPlugin(DevicePluginServer):
    """nvidia.com/gpu from the GPUs NVML sees; IDs are the GPUs' UUIDs."""

    def __init__(self, plugin_dir: str, *, nvml=None, resource_name: str = "nvidia.com/gpu",
                 socket_name: str = "nvidia-gpu.sock", poll_interval: float = 1.0,
                 health_interval: float = 10.0):
        super().__init__(plugin_dir, resource_name, socket_name, poll_interval=poll_interval)
        self.nvml = nvml or load_nvml()
        self.gpus = list_gpus(self.nvml)
        self._by_uuid = {g["uuid"]: g for g in self.gpus}
        self.unhealthy: set[str] = set()
        self.health_interval = health_interval
        self._last_check = 0.0

    def list_devices(self):
        return [pb.Device(ID=g["uuid"], health=UNHEALTHY if g["uuid"] in self.unhealthy else HEALTHY)
                for g in self.gpus]

    def check_health(self) -> set[str]:
        """The UUIDs whose NVML queries fail now."""
        bad = set()
        for g in self.gpus:
            try:
                h = self.nvml.nvmlDeviceGetHandleByUUID(g["uuid"])
                self.nvml.nvmlDeviceGetMemoryInfo(h)
            except self.nvml.NVMLError as e:
                log.warning("GPU %s (%s) is unhealthy: %s", g["index"], g["uuid"], e)
                bad.add(g["uuid"])
        return bad

    def refresh(self) -> bool:
        now = time.monotonic()
        if now - self._last_check < self.health_interval:
            return False
        self._last_check = now
        bad = self.check_health()
        if bad == self.unhealthy:
            return False
        self.unhealthy = bad
        return True

    def allocate_container(self, device_ids, context):
        unknown = [d for d in device_ids if d not in self._by_uuid]
        if unknown:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          f"unknown device(s) {', '.join(unknown)} for {self.resource_name}")
        return pb.ContainerAllocateResponse(envs={"NVIDIA_VISIBLE_DEVICES": ",".join(device_ids)})

    def stop(self):
        super().stop()
        try:
            self.nvml.nvmlShutdown()
        except Exception:  # noqa: BLE001 - shutting down; nothing to do about it
            pass
