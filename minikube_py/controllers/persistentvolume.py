"""The PersistentVolume controller: binds claims to volumes and keeps their phases.

As Kubernetes' PV controller (pkg/controller/volume/persistentvolume/pv_controller.go),
two syncs, one per kind, each level-triggered:

**A claim** (`sync_claim`):

* not bound yet and no `spec.volumeName`: find the volume (api/volumebinding.py: one
  pre-bound to it, else the smallest Available one that serves it) and **bind** both
  ways -- the volume's `spec.claimRef` (annotated `pv.kubernetes.io/bound-by-controller`)
  and phase Bound, then the claim's `spec.volumeName` (annotated
  `pv.kubernetes.io/bind-completed`) and status Bound with the volume's capacity and
  access modes. No volume: if the claim's class binds WaitForFirstConsumer and no pod
  has been scheduled for it (no `volume.kubernetes.io/selected-node`), it waits (event
  WaitForFirstConsumer); if the class has a provisioner, the claim is annotated
  `volume.kubernetes.io/storage-provisioner: <provisioner>` and that provisioner
  creates a volume pre-bound to it (event ExternalProvisioning); else it stays Pending.
* `spec.volumeName` set by the user: bind to that volume if it serves the claim
  (else event VolumeMismatch), wait while it does not exist.
* bound: make sure both halves are there; a claim whose volume is gone is Lost.

**A volume** (`sync_volume`):

* no claimRef (or a user's claimRef without uid): Available;
* its claim exists and names it: Bound; its claim names no volume yet: the claim's
  sync finishes the binding (queued at once);
* its claim is gone (or is another claim of that name): **Released**, then reclaimed
  by `persistentVolumeReclaimPolicy`: Retain keeps it Released for an administrator;
  Delete leaves a provisioned volume to its provisioner (it deletes the storage, then
  the object: controllers/localpath.py) and marks any other volume Failed, as upstream
  does when no plugin can delete it; Recycle is deprecated and ends Failed as well.

Binding to a WaitForFirstConsumer claim differs from upstream in one way: there, the
scheduler binds a static volume itself; here the scheduler only writes the
selected-node annotation and this controller then picks a volume whose nodeAffinity
admits that node (or has one provisioned there), so binding lives in one place.

    watches  persistentvolumes, persistentvolumeclaims, storageclasses, nodes
    writes   persistentvolumes (claimRef, annotations), persistentvolumes/status,
             persistentvolumeclaims (volumeName, annotations), persistentvolumeclaims/status,
             events
"""
from __future__ import annotations

import copy
from typing import Optional

from ..api import volumebinding as vb
from ..api.kinds.storage import claim_class
from ..api.meta import now_rfc3339
from ..client import errors
from .base import Controller, event_recorder

COMPONENT = "persistentvolume-controller"
CLAIM, VOLUME = "claim:", "volume:"


class PersistentVolumeController(Controller):
    name = "persistentvolume-binder"
    workers = 1          # upstream: one worker per queue; keeps binding decisions serial
    quiet_retries = True

    def __init__(self, client, informers):
        super().__init__(client, informers)
        self.volumes = informers.get("persistentvolumes")
        self.claims = informers.get("persistentvolumeclaims")
        self.classes = informers.get("storageclasses")
        self.nodes = informers.get("nodes")
        self.recorder = event_recorder(client, COMPONENT)
        self.volumes.add_handler(on_add=self._volume_changed, on_update=lambda old, new: self._volume_changed(new),
                                 on_delete=self._volume_deleted)
        self.claims.add_handler(on_add=self._claim_changed, on_update=lambda old, new: self._claim_changed(new),
                                on_delete=self._claim_deleted)
        self.classes.add_handler(on_add=self._class_changed, on_update=lambda old, new: self._class_changed(new))

    # ------------------------------------------------------------------ handlers
    def _claim_changed(self, claim: dict):
        self.queue.add(CLAIM + vb.claim_key(claim))

    def _claim_deleted(self, claim: dict):
        # its volume is released: look at the volume again
        name = (claim.get("spec") or {}).get("volumeName")
        if name:
            self.queue.add(VOLUME + name)
        for pv in self.volumes.list():
            if vb.is_bound_to(pv, claim):
                self.queue.add(VOLUME + pv["metadata"]["name"])

    def _volume_changed(self, pv: dict):
        self.queue.add(VOLUME + pv["metadata"]["name"])
        ref = (pv.get("spec") or {}).get("claimRef")
        if ref:                       # a volume (pre-)bound to a claim: the claim binds it
            self.queue.add(CLAIM + f"{ref.get('namespace')}/{ref.get('name')}")
        else:                          # a new Available volume may serve a waiting claim
            self._waiting_claims()

    def _volume_deleted(self, pv: dict):
        ref = (pv.get("spec") or {}).get("claimRef")
        if ref:
            self.queue.add(CLAIM + f"{ref.get('namespace')}/{ref.get('name')}")

    def _class_changed(self, sc: dict):
        self._waiting_claims()

    def _waiting_claims(self):
        for claim in self.claims.list():
            if (claim.get("status") or {}).get("phase") != "Bound":
                self.queue.add(CLAIM + vb.claim_key(claim))

    # ------------------------------------------------------------------ sync
    def sync(self, key: str) -> None:
        if key.startswith(CLAIM):
            claim = self.claims.get(key[len(CLAIM):])
            if claim is not None and not claim["metadata"].get("deletionTimestamp"):
                self.sync_claim(claim)
        elif key.startswith(VOLUME):
            pv = self.volumes.get(key[len(VOLUME):])
            if pv is not None:
                self.sync_volume(pv)

    def sync_claim(self, claim: dict) -> None:
        if vb.annotations(claim).get(vb.BIND_COMPLETED):
            self._sync_bound_claim(claim)
        elif (claim.get("spec") or {}).get("volumeName"):
            self._sync_prebound_claim(claim)
        else:
            self._sync_unbound_claim(claim)

    def _sync_unbound_claim(self, claim: dict) -> None:
        sc = self._class_of(claim)
        wait_for_node = sc is not None and sc.get("volumeBindingMode") == "WaitForFirstConsumer"
        selected = vb.annotations(claim).get(vb.SELECTED_NODE)
        node = self.nodes.get(selected) if selected else None
        pv = vb.find_matching_volume(claim, self.volumes.list(), node=node, need_node=wait_for_node)
        if pv is not None:
            self._bind(pv, claim)
            return
        if wait_for_node and not selected:
            self.recorder.normal(claim, "WaitForFirstConsumer",
                                 "waiting for first consumer to be created before binding")
        elif sc is not None and sc.get("provisioner") and sc["provisioner"] != vb.NO_PROVISIONER:
            self._ask_provisioner(claim, sc["provisioner"])
            return
        elif sc is None and claim_class(claim):
            self.recorder.warning(claim, "ProvisioningFailed",
                                  f'storageclass.storage.k8s.io "{claim_class(claim)}" not found')
        elif sc is not None:
            self.recorder.normal(claim, "FailedBinding", "no persistent volumes available for this claim")
        else:
            self.recorder.normal(claim, "FailedBinding",
                                 "no persistent volumes available for this claim and no storage class is set")
        self._set_claim_status(claim, "Pending")

    def _sync_prebound_claim(self, claim: dict) -> None:
        """The user named a volume in spec.volumeName."""
        name = claim["spec"]["volumeName"]
        pv = self.volumes.get(name)
        if pv is None:
            self._set_claim_status(claim, "Pending")     # it may be created later
            return
        ref = (pv.get("spec") or {}).get("claimRef")
        if ref is None:
            problem = vb.mismatch(pv, claim)
            if problem:
                self.recorder.warning(claim, "VolumeMismatch", f'Cannot bind to requested volume "{name}": {problem}')
                self._set_claim_status(claim, "Pending")
                return
            self._bind(pv, claim)
        elif vb.is_bound_to(pv, claim):
            self._bind(pv, claim)
        else:
            self._set_claim_status(claim, "Pending")     # claimed by someone else; maybe later

    def _sync_bound_claim(self, claim: dict) -> None:
        name = (claim.get("spec") or {}).get("volumeName")
        pv = self.volumes.get(name) if name else None
        if pv is None:
            if (claim.get("status") or {}).get("phase") != "Lost":
                what = "lost reference to PersistentVolume" if not name else "lost its PersistentVolume"
                self.recorder.warning(claim, "ClaimLost", f"Bound claim has {what}. Data on the volume is lost!")
                self._set_claim_status(claim, "Lost")
            return
        if not (pv.get("spec") or {}).get("claimRef"):
            self._bind(pv, claim)                         # the volume's half went missing
        elif vb.is_bound_to(pv, claim):
            self._set_claim_status(claim, "Bound", pv)
        elif (claim.get("status") or {}).get("phase") != "Lost":
            self.recorder.warning(claim, "ClaimMisbound",
                                  "Two claims are bound to the same volume, this one is bound incorrectly")
            self._set_claim_status(claim, "Lost")

    def sync_volume(self, pv: dict) -> None:
        spec = pv.get("spec") or {}
        ref = spec.get("claimRef")
        if not ref or not ref.get("uid"):
            self._set_volume_phase(pv, "Available")
            return
        claim = self.claims.get(f"{ref.get('namespace')}/{ref.get('name')}")
        if claim is None:
            claim = self._claim_from_api(ref)      # the cache may not have seen a new claim yet
        if claim is None or claim["metadata"].get("uid") != ref["uid"]:
            self._release(pv)
            return
        volume_name = (claim.get("spec") or {}).get("volumeName")
        if not volume_name:
            self.queue.add(CLAIM + vb.claim_key(claim))   # the claim's sync finishes the binding
        elif volume_name == pv["metadata"]["name"]:
            self._set_volume_phase(pv, "Bound")
        elif vb.annotations(pv).get(vb.PROVISIONED_BY) and spec.get("persistentVolumeReclaimPolicy") == "Delete":
            self._release(pv)       # provisioned for a claim that got bound elsewhere: not needed
        elif vb.annotations(pv).get(vb.BOUND_BY_CONTROLLER):
            self._unbind(pv)

    # ------------------------------------------------------------------ steps
    def _bind(self, pv: dict, claim: dict) -> None:
        """Both halves of a binding, the volume's first (as upstream: a crash in between
        leaves a volume bound to a claim, which the claim's next sync completes)."""
        pv = self._bind_volume(pv, claim)
        self._set_volume_phase(pv, "Bound")
        claim = self._bind_claim(claim, pv)
        self._set_claim_status(claim, "Bound", pv)

    def _bind_volume(self, pv: dict, claim: dict) -> dict:
        md = claim["metadata"]
        ref = {"kind": "PersistentVolumeClaim", "namespace": md.get("namespace"), "name": md["name"],
               "uid": md.get("uid"), "apiVersion": "v1", "resourceVersion": md.get("resourceVersion")}
        current = (pv.get("spec") or {}).get("claimRef") or {}
        if all(current.get(k) == ref[k] for k in ("namespace", "name", "uid")):
            return pv
        new = copy.deepcopy(pv)
        new["spec"]["claimRef"] = ref
        if not current:
            new["metadata"].setdefault("annotations", {})[vb.BOUND_BY_CONTROLLER] = "yes"
        return self.client.update("persistentvolumes", new)

    def _bind_claim(self, claim: dict, pv: dict) -> dict:
        name = pv["metadata"]["name"]
        anns = vb.annotations(claim)
        if claim["spec"].get("volumeName") == name and anns.get(vb.BIND_COMPLETED):
            return claim
        new = copy.deepcopy(claim)
        new_anns = new["metadata"].setdefault("annotations", {})
        if not new["spec"].get("volumeName"):
            new_anns[vb.BOUND_BY_CONTROLLER] = "yes"
        new["spec"]["volumeName"] = name
        new_anns[vb.BIND_COMPLETED] = "yes"
        return self.client.update("persistentvolumeclaims", new)

    def _ask_provisioner(self, claim: dict, provisioner: str) -> None:
        anns = vb.annotations(claim)
        if anns.get(vb.STORAGE_PROVISIONER) != provisioner:
            self.client.patch("persistentvolumeclaims", claim["metadata"]["name"],
                              {"metadata": {"annotations": {vb.STORAGE_PROVISIONER: provisioner,
                                                            vb.BETA_STORAGE_PROVISIONER: provisioner}}},
                              namespace=claim["metadata"].get("namespace"))
            self.recorder.normal(claim, "ExternalProvisioning",
                                 f"Waiting for a volume to be created either by the external provisioner "
                                 f"'{provisioner}' or manually by the system administrator. If volume creation "
                                 "is delayed, please verify that the provisioner is running and correctly "
                                 "registered.")
        self._set_claim_status(claim, "Pending")

    def _release(self, pv: dict) -> None:
        """Its claim is gone: Released, then what the reclaim policy says."""
        phase = (pv.get("status") or {}).get("phase")
        if phase not in ("Released", "Failed"):
            pv = self._set_volume_phase(pv, "Released")
        policy = (pv.get("spec") or {}).get("persistentVolumeReclaimPolicy")
        if policy == "Delete" and not vb.annotations(pv).get(vb.PROVISIONED_BY) and phase != "Failed":
            self.recorder.warning(pv, "VolumeFailedDelete", "error getting deleter volume plugin for volume "
                                  f'"{pv["metadata"]["name"]}": no deletable volume plugin matched')
            self._set_volume_phase(pv, "Failed", "no deletable volume plugin matched")
        elif policy == "Recycle" and phase != "Failed":
            self.recorder.warning(pv, "VolumeFailedRecycle", "no volume plugin matched: Recycle is deprecated")
            self._set_volume_phase(pv, "Failed", "Recycle is not supported")
        # Retain: Released until someone clears the claimRef or deletes the volume.
        # Delete of a provisioned volume: its provisioner deletes the storage and the volume.

    def _unbind(self, pv: dict) -> None:
        """A volume this controller bound to a claim that is bound elsewhere: free it."""
        new = copy.deepcopy(pv)
        new["spec"].pop("claimRef", None)
        (new["metadata"].get("annotations") or {}).pop(vb.BOUND_BY_CONTROLLER, None)
        self._set_volume_phase(self.client.update("persistentvolumes", new), "Available")

    # ------------------------------------------------------------------ status writes
    def _set_volume_phase(self, pv: dict, phase: str, message: str = "") -> dict:
        status = pv.get("status") or {}
        if status.get("phase") == phase and status.get("message", "") == message:
            return pv
        new = copy.deepcopy(pv)
        new["status"] = {"phase": phase, "lastPhaseTransitionTime": now_rfc3339()}
        if message:
            new["status"]["message"] = message
        return self.client.update_status("persistentvolumes", new)

    def _set_claim_status(self, claim: dict, phase: str, pv: Optional[dict] = None) -> dict:
        status = dict(claim.get("status") or {})
        wanted = dict(status, phase=phase)
        if pv is not None:
            wanted["accessModes"] = list((pv.get("spec") or {}).get("accessModes") or [])
            wanted["capacity"] = dict((pv.get("spec") or {}).get("capacity") or {})
        elif phase == "Pending":
            wanted.pop("accessModes", None)
            wanted.pop("capacity", None)
        if wanted == status:
            return claim
        new = copy.deepcopy(claim)
        new["status"] = wanted
        try:
            return self.client.update_status("persistentvolumeclaims", new)
        except errors.NotFound:
            return claim

    # ------------------------------------------------------------------ reads
    def _class_of(self, claim: dict) -> Optional[dict]:
        name = claim_class(claim)
        return self.classes.get(name) if name else None

    def _claim_from_api(self, ref: dict) -> Optional[dict]:
        try:
            return self.client.get("persistentvolumeclaims", ref.get("name"), namespace=ref.get("namespace"))
        except errors.NotFound:
            return None
