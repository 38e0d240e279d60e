"""What a container is started with besides its spec: devices, environment, volumes.

The kubelet works these out before it asks the runtime for a container (upstream's
``generateContainerConfig``): the device plugin's allocation (devices/runoptions.py),
the environment with its ConfigMap/Secret references resolved (envvars.py) and
the host paths of the pod's volumes (volumemanager.py).  A reference that cannot
be resolved raises ContainerStartError(CreateContainerConfigError) -- the
container waits with that reason, and a Warning ``Failed`` event says why.

A hollow node (``volumes is None``) passes the allocation only: its runtime
needs no files and no environment.
"""
from __future__ import annotations

from .devices.runoptions import run_options
from .envvars import resolve_env
from .events import pod_ref
from .objectcache import ObjectError
from .runtime.base import ContainerStartError


def start_options(pod: dict, container: dict, *, allocation: dict | None, gpu_mode: str,
                  volumes, mounted, recorder, node_name: str, pod_ip: str,
                  host_ip: str) -> dict:
    """Keyword arguments for ``runtime.start_container``."""
    opts = run_options(allocation, gpu_mode)
    if volumes is None or mounted is None:
        return opts
    try:
        services = volumes.objects.services((pod.get("metadata") or {}).get("namespace", "default"))
    except ObjectError as e:
        raise ContainerStartError("CreateContainerConfigError", e.message) from None
    opts["env"] = resolve_env(
        pod, container, node_name=node_name, pod_ip=pod_ip, host_ip=host_ip,
        extra_env=opts.pop("extra_env", None), objects=volumes.objects,
        allocatable=volumes.allocatable,
        warn=lambda reason, message: recorder.warning(pod_ref(pod), reason, message),
        services=services)
    opts["volume_host_paths"] = dict(mounted.paths)
    opts["read_only_volumes"] = set(mounted.read_only)
    return opts
