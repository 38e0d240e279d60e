"""A device plugin with N simulated GPUs, for labs and tests on machines without GPUs.

It speaks the real protocol, so the kubelet cannot tell it from NVIDIA's plugin:

* devices ``GPU-0`` .. ``GPU-<N-1>``; each has a UUID derived from the node name
  and its index (``GPU-<uuid5>``), so it is stable across restarts and differs
  between nodes, like a real GPU's;
* Allocate answers as NVIDIA's plugin does, ``NVIDIA_VISIBLE_DEVICES=GPU-0,GPU-1``,
  plus ``MINIKUBE_PY_SIMULATED_GPUS``: a JSON list describing those GPUs
  (id, uuid, name, memory_mib, bus_id) that the lab's simulated nvidia runtime
  turns into what ``nvidia-smi`` prints inside the container;
* health can be flipped while it runs, for labs: write the file
  ``<plugin-dir>/simulated-health.json``::

      {"unhealthy": ["GPU-1"]}

  The plugin polls it (every ``poll_interval``), sends the new list on
  ListAndWatch and the kubelet drops the device from allocatable. Removing the
  file goes back to the ``--unhealthy`` list given at start. A file that is not
  valid JSON is reported and ignored (the last good state stays).
"""
from __future__ import annotations

import json
import logging
import os
import socket
import uuid

import grpc

from minikube_py.deviceplugin.api import HEALTHY, UNHEALTHY, natural_key, pb
from minikube_py.deviceplugin.plugin import DevicePluginServer

log = logging.getLogger(__name__)

HEALTH_FILE = "simulated-health.json"
DEFAULT_GPU_NAME = "NVIDIA H200"
DEFAULT_MEMORY_MIB = 143771           # what nvidia-smi reports for a 141 GB H200
ENV_VISIBLE = "NVIDIA_VISIBLE_DEVICES"
ENV_SIMULATED = "MINIKUBE_PY_SIMULATED_GPUS"
# A fixed namespace, so the same node and index always give the same UUID.
UUID_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://minikube-py/simulated-gpu")


def gpu_uuid(node_name: str, index: int) -> str:
    """The stable UUID of simulated GPU ``index`` on ``node_name``, as nvidia-smi shows it."""
    return "GPU-" + str(uuid.uuid5(UUID_NAMESPACE, f"{node_name}/{index}"))


def simulated_gpus(count: int, node_name: str, name: str = DEFAULT_GPU_NAME,
                   memory_mib: int = DEFAULT_MEMORY_MIB) -> list[dict]:
    """The descriptions of the node's GPUs: id, index, uuid, name, memory_mib, bus_id."""
    return [{"id": f"GPU-{i}", "index": i, "uuid": gpu_uuid(node_name, i), "name": name,
             "memory_mib": memory_mib, "bus_id": f"00000000:{0x18 + i:02X}:00.0"}
            for i in range(count)]


def read_health_file(path: str) -> set[str] | None:
    """The unhealthy ids the file names; None if there is no file. ValueError if malformed."""
    try:
        with open(path) as f:
            text = f.read()
    except FileNotFoundError:
        return None
    data = json.loads(text)
    if not isinstance(data, dict) or not isinstance(data.get("unhealthy", []), list):
        raise ValueError('expected {"unhealthy": ["GPU-1", ...]}')
    return {str(x) for x in data.get("unhealthy", [])}


class SimulatedGPUPlugin(DevicePluginServer):
    """N fake GPUs behind the real device plugin protocol."""

    def __init__(self, plugin_dir: str, count: int, *, resource_name: str = "nvidia.com/gpu",
                 node_name: str | None = None, unhealthy=(), health_file: str | None = None,
                 gpu_name: str = DEFAULT_GPU_NAME, memory_mib: int = DEFAULT_MEMORY_MIB,
                 socket_name: str | None = None, poll_interval: float = 0.5):
        if count < 0:
            raise ValueError("count must be >= 0")
        socket_name = socket_name or f"simulated-{resource_name.rpartition('/')[2]}.sock"
        super().__init__(plugin_dir, resource_name, socket_name, poll_interval=poll_interval)
        self.node_name = node_name or os.environ.get("NODE_NAME") or socket.gethostname()
        self.gpus = simulated_gpus(count, self.node_name, gpu_name, memory_mib)
        self._by_id = {g["id"]: g for g in self.gpus}
        unknown = set(unhealthy) - set(self._by_id)
        if unknown:
            raise ValueError(f"unknown device(s) {', '.join(sorted(unknown))}; "
                             f"this plugin has GPU-0..GPU-{count - 1}")
        self.initial_unhealthy = set(unhealthy)
        self.unhealthy = set(unhealthy)
        self.health_file = health_file or os.path.join(self.plugin_dir, HEALTH_FILE)
        self._health_stamp = None
        self.refresh()

    # ------------------------------------------------------------ devices
    def list_devices(self):
        return [pb.Device(ID=g["id"], health=UNHEALTHY if g["id"] in self.unhealthy else HEALTHY)
                for g in self.gpus]

    def refresh(self) -> bool:
        """Re-read the health file when it changed; True if any device's health changed."""
        try:
            st = os.stat(self.health_file)
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            stamp = None
        if stamp == self._health_stamp:
            return False
        self._health_stamp = stamp
        try:
            named = read_health_file(self.health_file)
        except (ValueError, OSError) as e:
            log.warning("ignoring %s: %s", self.health_file, e)
            return False
        wanted = self.initial_unhealthy if named is None else named
        unknown = wanted - set(self._by_id)
        if unknown:
            log.warning("%s names unknown device(s) %s", self.health_file, ", ".join(sorted(unknown)))
        wanted = wanted & set(self._by_id)
        if wanted == self.unhealthy:
            return False
        log.info("health changed: unhealthy now %s", ", ".join(sorted(wanted)) or "none")
        self.unhealthy = wanted
        return True

    # ------------------------------------------------------------ allocation
    def preferred_allocation(self, available, must_include, size):
        """The required devices first, then the lowest-numbered free ones."""
        chosen = [d for d in must_include if d in self._by_id]
        for d in sorted(available, key=natural_key):
            if len(chosen) >= size:
                break
            if d not in chosen and d in self._by_id:
                chosen.append(d)
        return chosen[:size]

    def allocate_container(self, device_ids, context):
        unknown = [d for d in device_ids if d not in self._by_id]
        if unknown:
            context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                          f"unknown device(s) {', '.join(unknown)} for {self.resource_name}")
        described = [{k: self._by_id[d][k] for k in ("id", "uuid", "name", "memory_mib", "bus_id")}
                     for d in device_ids]
        return pb.ContainerAllocateResponse(envs={
            ENV_VISIBLE: ",".join(device_ids),
            ENV_SIMULATED: json.dumps(described, separators=(",", ":")),
        })
