"""The PVC protection controller: a claim being deleted goes only once no pod uses it.

Kubernetes' pkg/controller/volume/pvcprotection. Every new claim carries the finalizer
``kubernetes.io/pvc-protection`` (the apiserver's StorageObjectInUseProtection
admission, apiserver/storageprotection.py). Deleting the claim only sets its
deletionTimestamp; `sync()` then removes the finalizer once no pod uses the claim,
and the apiserver deletes it. So a pod's storage stays until the pod is gone, and the
volume is released (and, with reclaim policy Delete, removed) only after that.

A pod uses a claim when it is scheduled (kubelets only start scheduled pods, and they
refuse a claim that is being deleted) and mounts it: by name, or as the `<pod>-<volume>`
claim of an ephemeral volume while the pod has not finished. As upstream, the cache's
answer "in use" is trusted, but "not in use" is checked again with a live list of the
namespace's pods: the cache may not have seen a pod that was just created.

A claim that is not being deleted and lacks the finalizer (made before the admission
plugin existed) gets it.

    watches  persistentvolumeclaims, pods
    writes   persistentvolumeclaims (metadata.finalizers)
"""
from __future__ import annotations

from ..api.volumebinding import PVC_PROTECTION, pod_claim_names
from ..client import errors
from ..client.informer import index_by_namespace
from .base import Controller
from .refmanager import NAMESPACE_INDEX

__all__ = ["PVCProtectionController", "pod_uses_claim"]


def pod_uses_claim(pod: dict, claim_name: str) -> bool:
    """Whether this pod keeps the claim of that name (in its namespace) from going."""
    spec = pod.get("spec") or {}
    if not spec.get("nodeName"):
        return False
    finished = (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed")
    for vol in spec.get("volumes") or ():
        if (vol.get("persistentVolumeClaim") or {}).get("claimName") == claim_name:
            return True
        if vol.get("ephemeral") is not None and not finished \
                and f'{pod["metadata"]["name"]}-{vol.get("name")}' == claim_name:
            return True
    return False


class PVCProtectionController(Controller):
    name = "pvc-protection"
    workers = 1
    quiet_retries = True

    def __init__(self, client, informers):
        super().__init__(client, informers)
        self.claims = informers.get("persistentvolumeclaims")
        self.pods = informers.get("pods")
        try:
            self.pods.by_index(NAMESPACE_INDEX, None)
        except KeyError:
            self.pods.add_index(NAMESPACE_INDEX, index_by_namespace)
        self.claims.add_handler(on_add=self._claim_changed, on_update=lambda old, new: self._claim_changed(new))
        self.pods.add_handler(on_add=self._pod_changed, on_update=lambda old, new: self._pod_changed(new),
                              on_delete=self._pod_changed)

    def _claim_changed(self, claim: dict):
        md = claim["metadata"]
        has = PVC_PROTECTION in (md.get("finalizers") or ())
        if (md.get("deletionTimestamp") and has) or (not md.get("deletionTimestamp") and not has):
            self.enqueue(claim)

    def _pod_changed(self, pod: dict):
        """A pod that went (or finished, or moved) may have been the last user of a claim."""
        namespace = pod["metadata"].get("namespace")
        for name in pod_claim_names(pod):
            claim = self.claims.get(f"{namespace}/{name}")
            if claim is not None and claim["metadata"].get("deletionTimestamp"):
                self.enqueue(claim)

    def sync(self, key: str) -> None:
        claim = self.claims.get(key)
        if claim is None:
            return
        md = claim["metadata"]
        finalizers = md.get("finalizers") or []
        if not md.get("deletionTimestamp"):
            if PVC_PROTECTION not in finalizers:
                self._write_finalizers(claim, finalizers + [PVC_PROTECTION])
            return
        if PVC_PROTECTION not in finalizers or self._in_use(claim):
            return
        self._write_finalizers(claim, [f for f in finalizers if f != PVC_PROTECTION])
        self.log.info("claim %s is no longer used by a pod: its protection finalizer is removed", key)

    def _in_use(self, claim: dict) -> bool:
        namespace, name = claim["metadata"]["namespace"], claim["metadata"]["name"]
        if any(pod_uses_claim(p, name) for p in self.pods.by_index(NAMESPACE_INDEX, namespace)):
            return True
        live = self.client.list("pods", namespace=namespace)["items"]     # the cache may be behind
        return any(pod_uses_claim(p, name) for p in live)

    def _write_finalizers(self, claim: dict, finalizers: list[str]) -> None:
        """An update with the cached resourceVersion: a 409 retries with the newer claim."""
        changed = {**claim, "metadata": {**claim["metadata"], "finalizers": finalizers}}
        try:
            self.client.update("persistentvolumeclaims", changed)
        except errors.NotFound:
            pass
