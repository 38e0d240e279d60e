"""Storage object in use protection: the pvc-protection and pv-protection controllers.

Kubernetes' pkg/controller/volume/pvcprotection and pvprotection. Every new
PersistentVolumeClaim carries the finalizer ``kubernetes.io/pvc-protection`` and every new
PersistentVolume ``kubernetes.io/pv-protection`` (the apiserver's StorageObjectInUseProtection
admission, apiserver/storageprotection.py). Deleting one then only sets its
deletionTimestamp (`kubectl get` shows Terminating); its controller's `sync()` removes the
finalizer once nothing uses the object, and the apiserver deletes it:

- **a claim** is used while a pod that mounts it is scheduled (kubelets start only scheduled
  pods, and refuse a claim that is being deleted): by name, or as the `<pod>-<volume>` claim
  of an ephemeral volume while the pod has not finished. So a pod's storage stays until
  the pod is gone, and its volume is released (and, with reclaim policy Delete, removed)
  only after that. As upstream, the cache's "in use" is trusted, but "not in use" is
  checked again with a live list of the namespace's pods: the cache may not have seen a
  pod created a moment ago;
- **a volume** is used while it is Bound: it goes once its claim was deleted and the
  PersistentVolume controller released it.

An object that is not being deleted and lacks the finalizer (made before the admission
plugin existed) gets it.

    pvc-protection  watches  persistentvolumeclaims, pods; reads pods (LIST, a namespace)
                    writes   persistentvolumeclaims (metadata.finalizers)
    pv-protection   watches  persistentvolumes
                    writes   persistentvolumes (metadata.finalizers)
"""
from __future__ import annotations

from ..api.volumebinding import PV_PROTECTION, PVC_PROTECTION, pod_claim_names
from ..client import errors
from ..client.informer import ensure_index, index_by_namespace
from .base import Controller
from .refmanager import NAMESPACE_INDEX

__all__ = ["PVCProtectionController", "PVProtectionController", "pod_uses_claim"]


def pod_uses_claim(pod: dict, claim_name: str) -> bool:
    """Whether this pod keeps the claim of that name (in its namespace) from going."""
    if not (pod.get("spec") or {}).get("nodeName"):
        return False
    finished = (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")
    return claim_name in pod_claim_names(pod, ephemeral=not finished)


class _ProtectionController(Controller):
    """One finalizer on one resource: added while the object lives, removed once it is
    being deleted and `in_use()` says nothing needs it any more."""

    resource = finalizer = ""
    workers = 1
    quiet_retries = True     # a 409 (the cache was behind) retries with the newer object

    def __init__(self, client, informers):
        super().__init__(client, informers)
        self.objects = informers.get(self.resource)
        self.objects.add_handler(on_add=self._changed, on_update=lambda old, new: self._changed(new))

    def _changed(self, obj: dict):
        md = obj["metadata"]
        if bool(md.get("deletionTimestamp")) == (self.finalizer in (md.get("finalizers") or ())):
            self.enqueue(obj)        # being deleted and protected, or alive and not yet protected

    def in_use(self, obj: dict) -> bool:
        raise NotImplementedError

    def sync(self, key: str) -> None:
        obj = self.objects.get(key)
        if obj is None:
            return
        md = obj["metadata"]
        finalizers = md.get("finalizers") or []
        if not md.get("deletionTimestamp"):
            if self.finalizer not in finalizers:
                self._write_finalizers(obj, finalizers + [self.finalizer])
            return
        if self.finalizer not in finalizers or self.in_use(obj):
            return
        self._write_finalizers(obj, [f for f in finalizers if f != self.finalizer])
        self.log.info("%s is no longer in use: %s removed", key, self.finalizer)

    def _write_finalizers(self, obj: dict, finalizers: list[str]) -> None:
        """An update with the cached resourceVersion (a 409 if the object changed since)."""
        try:
            self.client.update(self.resource, {**obj, "metadata": {**obj["metadata"], "finalizers": finalizers}})
        except errors.NotFound:
            pass


class PVCProtectionController(_ProtectionController):
    name = "pvc-protection"
    resource, finalizer = "persistentvolumeclaims", PVC_PROTECTION

    def __init__(self, client, informers):
        super().__init__(client, informers)
        self.pods = informers.get("pods")
        ensure_index(self.pods, NAMESPACE_INDEX, index_by_namespace)
        self.pods.add_handler(on_add=self._pod_changed, on_update=lambda old, new: self._pod_changed(new),
                              on_delete=self._pod_changed)

    def _pod_changed(self, pod: dict):
        """A pod that went (or finished) may have been the last user of a claim."""
        namespace = pod["metadata"].get("namespace")
        for name in pod_claim_names(pod):
            claim = self.objects.get(f"{namespace}/{name}")
            if claim is not None and claim["metadata"].get("deletionTimestamp"):
                self.enqueue(claim)

    def in_use(self, claim: dict) -> bool:
        namespace, name = claim["metadata"]["namespace"], claim["metadata"]["name"]
        if any(pod_uses_claim(p, name) for p in self.pods.by_index(NAMESPACE_INDEX, namespace)):
            return True
        live = self.client.list("pods", namespace=namespace)["items"]     # the cache may be behind
        return any(pod_uses_claim(p, name) for p in live)


class PVProtectionController(_ProtectionController):
    name = "pv-protection"
    resource, finalizer = "persistentvolumes", PV_PROTECTION

    def in_use(self, pv: dict) -> bool:
        return (pv.get("status") or {}).get("phase") == "Bound"
