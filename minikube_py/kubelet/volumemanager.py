"""The volume manager: a pod's volumes set up on the node before its containers start.

Upstream's volume manager mounts every volume of a pod before the pod's sandbox
is created (``WaitForAttachAndMount``) and keeps the API-backed ones current
while the pod runs.  Ours does the same, once per pod sync:

* emptyDir and hostPath: a directory (volumes.py);
* persistentVolumeClaim: the claim, then its bound PersistentVolume, then that
  volume's directory on the node (its hostPath or local path), bind-mounted like a
  hostPath. While the claim is not Bound the pod waits (FailedMount);
* configMap, secret, downwardAPI, projected: files made from the objects
  (projection.py, through the ObjectCache) and written by the atomic writer
  into ``pods/<uid>/volumes/kubernetes.io~<plugin>/<name>``.  Every sync writes
  them again if they changed, so an updated ConfigMap reaches a running pod
  within a sync period (plus the cache's TTL), as upstream's periodic remount;
* a volume that cannot be set up (its ConfigMap is missing, a key is wrong)
  gives a Warning event ``FailedMount``:
  ``MountVolume.SetUp failed for volume "cfg" : configmap "x" not found``.
  If it was never set up, the pod waits (ContainerCreating) and the pod
  worker tries again; if it was (the ConfigMap was deleted later), the pod
  keeps the last files, as upstream does.

Volume types it does not know (nfs, ...) are left out;
a container mounting one fails with CreateContainerConfigError.
"""
from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

from . import atomicwriter
from .events import pod_ref
from .objectcache import ObjectError
from .projection import ProjectionError, volume_payload
from .volumes import VolumeError, empty_dir, host_path, volume_dir

log = logging.getLogger(__name__)


@dataclass
class MountedVolumes:
    """What the runtime needs for a pod's containers' ``volumeMounts``."""
    paths: dict = field(default_factory=dict)        # volume name -> host path
    read_only: set = field(default_factory=set)      # names always mounted read-only


class VolumeManager:
    """``mount(pod)`` -> MountedVolumes, or None while a volume cannot be set up yet.

    ``objects``: an ObjectCache (ConfigMaps, Secrets, tokens); ``recorder``: for
    FailedMount events; ``allocatable()``: the node's allocatable resources, for
    a resourceFieldRef naming a limit the container does not set.
    """

    def __init__(self, state_dir: str, objects, recorder, allocatable=lambda: {}):
        self.state_dir = os.path.abspath(state_dir)
        self.objects = objects
        self.recorder = recorder
        self.allocatable = allocatable

    def mount(self, pod: dict) -> MountedVolumes | None:
        uid = pod["metadata"]["uid"]
        mounted, waiting = MountedVolumes(), False
        for v in (pod.get("spec") or {}).get("volumes") or []:
            name = v["name"]
            try:
                if "emptyDir" in v:
                    mounted.paths[name] = empty_dir(self.state_dir, uid, name)
                    continue
                if "hostPath" in v:
                    mounted.paths[name] = host_path(v["hostPath"])
                    continue
                if "persistentVolumeClaim" in v:
                    source = v["persistentVolumeClaim"] or {}
                    mounted.paths[name] = self._claimed_path(pod, source.get("claimName") or "")
                    if source.get("readOnly"):
                        mounted.read_only.add(name)
                    continue
                made = volume_payload(pod, v, self.objects, self.allocatable)
                if made is None:
                    continue                           # a type we do not serve
                plugin, payload = made
                path = volume_dir(self.state_dir, uid, plugin, name)
                atomicwriter.write(path, payload)
                mounted.paths[name] = path
                mounted.read_only.add(name)
            except (ProjectionError, VolumeError, atomicwriter.PayloadError, OSError) as e:
                self.recorder.warning(pod_ref(pod), "FailedMount",
                                      f'MountVolume.SetUp failed for volume "{name}" : {e}')
                path = _set_up_before(self.state_dir, uid, v)
                if path is None:
                    waiting = True
                else:
                    log.info("volume %s of pod %s: keeping the last files: %s", name, uid[:8], e)
                    mounted.paths[name] = path
                    mounted.read_only.add(name)
        return None if waiting else mounted


    def _claimed_path(self, pod: dict, claim_name: str) -> str:
        """The host path behind a claim: PVC -> its bound PV -> the PV's hostPath/local."""
        namespace = pod["metadata"].get("namespace") or "default"
        try:
            claim = self.objects.claim(namespace, claim_name)
            phase = (claim.get("status") or {}).get("phase", "")
            volume_name = (claim.get("spec") or {}).get("volumeName", "")
            if phase != "Bound" or not volume_name:
                raise VolumeError(f"PVC {namespace}/{claim_name} has non-bound phase ({phase!r}) "
                                  f"or empty pvc.Spec.VolumeName ({volume_name!r})")
            pv = self.objects.persistent_volume(volume_name)
        except ObjectError as e:
            raise VolumeError(f"error processing PVC {namespace}/{claim_name}: {e}") from None
        spec = pv.get("spec") or {}
        if spec.get("hostPath") is not None:
            return host_path(spec["hostPath"])
        if spec.get("local") is not None:
            path = spec["local"].get("path") or ""
            if not os.path.isdir(path):
                raise VolumeError(f'local volume {volume_name}: path "{path}" does not exist')
            return path
        raise VolumeError(f"volume {volume_name} has no source this kubelet mounts (hostPath or local)")


_PLUGINS = {"configMap": "kubernetes.io~configmap", "secret": "kubernetes.io~secret",
            "downwardAPI": "kubernetes.io~downward-api", "projected": "kubernetes.io~projected"}


def _set_up_before(state_dir: str, uid: str, volume: dict) -> str | None:
    """The volume's directory if it holds files from an earlier sync (even of an
    earlier kubelet: it is on disk), else None."""
    for key, plugin in _PLUGINS.items():
        if volume.get(key) is not None:
            path = volume_dir(state_dir, uid, plugin, volume["name"])
            if os.path.islink(os.path.join(path, atomicwriter.DATA_DIR)):
                return path
    return None
