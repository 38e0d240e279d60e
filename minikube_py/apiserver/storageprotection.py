"""StorageObjectInUseProtection admission: new claims and volumes get their protection finalizer.

Deleting a PersistentVolumeClaim that a pod still mounts, or a PersistentVolume still
bound to a claim, would pull the storage out from under a running container. So, as
kube-apiserver's plugin of this name does, every new claim gets the finalizer
``kubernetes.io/pvc-protection`` and every new volume ``kubernetes.io/pv-protection``:
a delete then only marks the object (deletionTimestamp, `kubectl get` shows Terminating)
and the protection controllers (controllers/storageprotection.py) remove
the finalizer once nothing uses it, which lets the apiserver delete it.
"""
from __future__ import annotations

from ..api.volumebinding import PV_PROTECTION, PVC_PROTECTION

_FINALIZER_OF = {"PersistentVolumeClaim": PVC_PROTECTION, "PersistentVolume": PV_PROTECTION}


def admit(rt, obj: dict) -> None:
    """On create: add the kind's protection finalizer (in place), once."""
    finalizer = _FINALIZER_OF.get(rt.kind) if rt.group == "" else None
    if finalizer is None:
        return
    finalizers = obj.setdefault("metadata", {}).setdefault("finalizers", [])
    if finalizer not in finalizers:
        finalizers.append(finalizer)
