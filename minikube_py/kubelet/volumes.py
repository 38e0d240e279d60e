"""The host side of a pod's volumes: its directory on the node, emptyDir and hostPath.

As the kubelet's volume manager does before a pod's containers start: every
pod gets a directory (``/var/lib/kubelet/pods/<uid>`` upstream), an ``emptyDir``
is a directory in it that lives as long as the pod, a ``hostPath`` is a path of
the node, checked (or created) according to its ``type``.  The runtime then
bind-mounts these host paths into the containers (``volumeMounts``).
"""
from __future__ import annotations

import os
import stat

from .runtime.base import ContainerStartError

def pod_dir(state_dir: str, uid: str) -> str:
    """Where a pod's files live on the node (as /var/lib/kubelet/pods/<uid>)."""
    return os.path.join(os.path.abspath(state_dir), "pods", uid)


def prepare_volumes(pod: dict, state_dir: str) -> dict:
    """Create the host side of the pod's emptyDir and hostPath volumes.

    Returns ``{volume name: host path}`` for the volumes it knows; other volume
    types (configMap, secret, ...) are for the caller to write out and add.
    emptyDir lives in ``<state_dir>/pods/<uid>/volumes/kubernetes.io~empty-dir/<name>``
    (the kubelet's own layout) and is removed with the pod.  ``medium: Memory``
    is served from the same directory (no tmpfs, to keep it shareable and simple).
    """
    uid = pod["metadata"]["uid"]
    out = {}
    for v in (pod.get("spec") or {}).get("volumes") or []:
        name = v["name"]
        if "emptyDir" in v:
            path = os.path.join(pod_dir(state_dir, uid), "volumes",
                                "kubernetes.io~empty-dir", name)
            os.makedirs(path, exist_ok=True)
            os.chmod(path, 0o777)          # Kubernetes makes emptyDirs world-writable
            out[name] = path
        elif "hostPath" in v:
            hp = v["hostPath"]
            path, typ = hp["path"], hp.get("type", "") or ""
            if typ in ("", "DirectoryOrCreate") and not os.path.exists(path):
                os.makedirs(path, mode=0o755, exist_ok=True)
            elif typ == "FileOrCreate" and not os.path.exists(path):
                os.makedirs(os.path.dirname(path) or "/", exist_ok=True)
                open(path, "a").close()
            checks = {"Directory": os.path.isdir, "File": os.path.isfile,
                      "Socket": lambda p: os.path.exists(p) and _is_socket(p),
                      "CharDevice": os.path.exists, "BlockDevice": os.path.exists}
            if typ in checks and not checks[typ](path):
                raise ContainerStartError(
                    "CreateContainerConfigError",
                    f"hostPath volume {name!r}: {path} is not a {typ}")
            out[name] = path
    return out


def _is_socket(path: str) -> bool:
    return stat.S_ISSOCK(os.stat(path).st_mode)


def make_subpaths(container_spec: dict, volume_host_paths: dict) -> None:
    """Create the ``subPath`` directories a container mounts (Kubernetes creates them too)."""
    for vm in container_spec.get("volumeMounts") or []:
        if vm.get("subPath") and vm["name"] in volume_host_paths:
            os.makedirs(os.path.join(volume_host_paths[vm["name"]], vm["subPath"]), exist_ok=True)
