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

class VolumeError(Exception):
    """A volume cannot be set up; ``str()`` is what follows ``MountVolume.SetUp failed``."""


def pod_dir(state_dir: str, uid: str) -> str:
    """Where a pod's files live on the node (as /var/lib/kubelet/pods/<uid>)."""
    return os.path.join(os.path.abspath(state_dir), "pods", uid)


def volume_dir(state_dir: str, uid: str, plugin: str, name: str) -> str:
    """``pods/<uid>/volumes/<plugin>/<name>``: the kubelet's own layout
    (plugin: ``kubernetes.io~empty-dir``, ``kubernetes.io~configmap`` ...)."""
    return os.path.join(pod_dir(state_dir, uid), "volumes", plugin, name)


def empty_dir(state_dir: str, uid: str, name: str) -> str:
    """An emptyDir: a world-writable directory that lives as long as the pod.

    ``medium: Memory`` is served from the same directory (no tmpfs, to keep it
    shareable and simple).
    """
    path = volume_dir(state_dir, uid, "kubernetes.io~empty-dir", name)
    os.makedirs(path, exist_ok=True)
    os.chmod(path, 0o777)          # Kubernetes makes emptyDirs world-writable
    return path


_TYPE_WORDS = {"Directory": "a directory", "File": "a file", "Socket": "a socket",
               "CharDevice": "a character device", "BlockDevice": "a block device"}


def host_path(source: dict) -> str:
    """A hostPath: the node's path, created or checked according to ``type``."""
    path, typ = source["path"], source.get("type", "") or ""
    if typ in ("", "DirectoryOrCreate") and not os.path.exists(path):
        os.makedirs(path, mode=0o755, exist_ok=True)
    elif typ == "FileOrCreate" and not os.path.exists(path):
        os.makedirs(os.path.dirname(path) or "/", exist_ok=True)
        open(path, "a").close()
    checks = {"Directory": os.path.isdir, "File": os.path.isfile,
              "Socket": lambda p: os.path.exists(p) and _is_socket(p),
              "CharDevice": lambda p: os.path.exists(p) and stat.S_ISCHR(os.stat(p).st_mode),
              "BlockDevice": lambda p: os.path.exists(p) and stat.S_ISBLK(os.stat(p).st_mode)}
    if typ in checks and not checks[typ](path):
        raise VolumeError(f"hostPath type check failed: {path} is not {_TYPE_WORDS[typ]}")
    return path


def prepare_volumes(pod: dict, state_dir: str) -> dict:
    """Create the host side of the pod's emptyDir and hostPath volumes.

    Returns ``{volume name: host path}`` for the volumes it knows; the API-backed
    types (configMap, secret, downwardAPI, projected) are the volume manager's
    (volumemanager.py), which also calls this.  Raises
    ContainerStartError(CreateContainerConfigError) for a hostPath of the wrong type.
    """
    uid = pod["metadata"]["uid"]
    out = {}
    for v in (pod.get("spec") or {}).get("volumes") or []:
        name = v["name"]
        try:
            if "emptyDir" in v:
                out[name] = empty_dir(state_dir, uid, name)
            elif "hostPath" in v:
                out[name] = host_path(v["hostPath"])
        except VolumeError as e:
            raise ContainerStartError("CreateContainerConfigError",
                                      f"hostPath volume {name!r}: {e}") from None
    return out


def _is_socket(path: str) -> bool:
    return stat.S_ISSOCK(os.stat(path).st_mode)


def make_subpaths(container_spec: dict, volume_host_paths: dict) -> None:
    """Create the ``subPath`` directories a container mounts (Kubernetes creates them too).

    A subPath that exists (a configMap key, a file) is left as it is.
    """
    for vm in container_spec.get("volumeMounts") or []:
        if vm.get("subPath") and vm["name"] in volume_host_paths:
            path = os.path.join(volume_host_paths[vm["name"]], vm["subPath"])
            if not os.path.lexists(path):
                os.makedirs(path, exist_ok=True)
