"""A container's device allocation as arguments for starting it (upstream's
``GetDeviceRunContainerOptions``).

What a device plugin's Allocate answered (env, mounts, device nodes) goes to the
runtime as is.  NVIDIA GPUs need one more thing, chosen by the kubelet's
``gpu_mode``: the ``nvidia`` OCI runtime (nvidia-docker2 style, reading
``NVIDIA_VISIBLE_DEVICES``), or Docker's ``device_requests`` (``--gpus``).
"""
from __future__ import annotations


def run_options(alloc: dict | None, gpu_mode: str = "runtime") -> dict:
    """Keyword arguments for ``runtime.start_container`` from one container's allocation."""
    if not alloc:
        return {}
    args = {"extra_env": dict(alloc.get("env") or {}),
            "extra_mounts": list(alloc.get("mounts") or []),
            "devices": list(alloc.get("devices") or [])}
    if alloc.get("resource") == "nvidia.com/gpu":
        if gpu_mode == "device-requests":
            import docker.types
            args["device_requests"] = [docker.types.DeviceRequest(
                driver="nvidia", device_ids=[str(d) for d in alloc.get("device_ids") or []],
                capabilities=[["gpu"]])]
        else:
            args["runtime"] = "nvidia"
    return args
