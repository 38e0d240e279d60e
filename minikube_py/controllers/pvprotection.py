"""The PV protection controller: a volume being deleted goes only once no claim is bound to it.

Kubernetes' pkg/controller/volume/pvprotection. Every new PersistentVolume carries the
finalizer ``kubernetes.io/pv-protection`` (apiserver/storageprotection.py). An
administrator's `kubectl delete pv` of a volume still Bound to a claim only marks it
Terminating; `sync()` removes the finalizer once the volume is not Bound (its claim was
deleted and the PersistentVolume controller released it), and the apiserver deletes it.
A volume without the finalizer that is not being deleted gets it.

    watches  persistentvolumes
    writes   persistentvolumes (metadata.finalizers)
"""
from __future__ import annotations

from ..api.volumebinding import PV_PROTECTION
from ..client import errors
from .base import Controller

__all__ = ["PVProtectionController"]


class PVProtectionController(Controller):
    name = "pv-protection"
    workers = 1
    quiet_retries = True

    def __init__(self, client, informers):
        super().__init__(client, informers)
        self.volumes = informers.get("persistentvolumes")
        self.volumes.add_handler(on_add=self._volume_changed, on_update=lambda old, new: self._volume_changed(new))

    def _volume_changed(self, pv: dict):
        md = pv["metadata"]
        has = PV_PROTECTION in (md.get("finalizers") or ())
        if (md.get("deletionTimestamp") and has) or (not md.get("deletionTimestamp") and not has):
            self.enqueue(pv)

    def sync(self, key: str) -> None:
        pv = self.volumes.get(key)
        if pv is None:
            return
        md = pv["metadata"]
        finalizers = md.get("finalizers") or []
        if not md.get("deletionTimestamp"):
            if PV_PROTECTION not in finalizers:
                self._write_finalizers(pv, finalizers + [PV_PROTECTION])
            return
        if PV_PROTECTION not in finalizers or (pv.get("status") or {}).get("phase") == "Bound":
            return
        self._write_finalizers(pv, [f for f in finalizers if f != PV_PROTECTION])
        self.log.info("volume %s is not bound: its protection finalizer is removed", key)

    def _write_finalizers(self, pv: dict, finalizers: list[str]) -> None:
        changed = {**pv, "metadata": {**pv["metadata"], "finalizers": finalizers}}
        try:
            self.client.update("persistentvolumes", changed)
        except errors.NotFound:
            pass
