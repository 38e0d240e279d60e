"""The local-path provisioner: a directory on the chosen node for every claim of its classes.

A dynamic provisioner makes storage when a claim asks for it. This one works as
rancher's local-path-provisioner (the default StorageClass of k3s and kind):

* a claim annotated `volume.kubernetes.io/storage-provisioner: minikube-py.io/local-path`
  (the PV controller writes that for a claim of a class with this provisioner) and, for
  its WaitForFirstConsumer class, `volume.kubernetes.io/selected-node` (the scheduler
  writes that when it places the claim's first pod) gets a directory
  `{dir}/pvc-{claim uid}_{namespace}_{claim}` and a PersistentVolume `pvc-{claim uid}`:
  a hostPath of that directory, nodeAffinity to the selected node, the claim's size and
  access modes, the class's reclaim policy, annotated `pv.kubernetes.io/provisioned-by`
  and pre-bound to the claim (claimRef with its uid). The PV controller then binds them.
* a volume it provisioned that was Released with reclaim policy Delete loses its
  directory, then the PersistentVolume object is deleted.

Rancher's provisioner runs a helper pod on the node to make and remove the directory.
This one runs inside the controller-manager (`--local-path-dir`) and does it itself,
because every node that `minikube-py up` starts is a kubelet on this same host: they all
share this host's disk, so a directory made here is on "the node" whichever node it is.
On machines that do not share a disk it would need that helper pod.

    watches  persistentvolumeclaims, persistentvolumes, storageclasses, nodes
    writes   persistentvolumes (create, delete), events; directories under --local-path-dir
"""
from __future__ import annotations

import os
import shutil
from typing import Optional

from ..api import volumebinding as vb
from ..api.kinds.storage import claim_class
from ..client import errors
from .base import Controller, event_recorder

PROVISIONER_NAME = "minikube-py.io/local-path"
COMPONENT = "local-path-provisioner"
CLAIM, VOLUME = "claim:", "volume:"


STANDARD_CLASS = {
    "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
    "metadata": {"name": "standard", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
    "provisioner": PROVISIONER_NAME, "reclaimPolicy": "Delete", "volumeBindingMode": "WaitForFirstConsumer",
}


def ensure_standard_class(client) -> None:
    """The default StorageClass `minikube-py up` creates ("standard", as minikube and kind
    name theirs): claims without a class get a directory from this provisioner."""
    try:
        client.create("storageclasses", STANDARD_CLASS)
    except errors.AlreadyExists:
        pass


def volume_name(claim: dict) -> str:
    return f"pvc-{claim['metadata']['uid']}"


def volume_dir(base: str, claim: dict) -> str:
    md = claim["metadata"]
    return os.path.join(base, f"{volume_name(claim)}_{md.get('namespace')}_{md['name']}")


def provisioned_volume(claim: dict, sc: dict, node: dict, path: str) -> dict:
    """The PersistentVolume for a claim: its storage, on its node, pre-bound to it."""
    md = claim["metadata"]
    hostname = ((node.get("metadata") or {}).get("labels") or {}).get(vb.HOSTNAME_LABEL) or node["metadata"]["name"]
    return {
        "apiVersion": "v1", "kind": "PersistentVolume",
        "metadata": {"name": volume_name(claim), "annotations": {vb.PROVISIONED_BY: PROVISIONER_NAME}},
        "spec": {
            "capacity": {"storage": claim["spec"]["resources"]["requests"]["storage"]},
            "accessModes": list(claim["spec"].get("accessModes") or []),
            "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy") or "Delete",
            "storageClassName": sc["metadata"]["name"],
            "volumeMode": claim["spec"].get("volumeMode") or "Filesystem",
            "hostPath": {"path": path, "type": "DirectoryOrCreate"},
            "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                {"key": vb.HOSTNAME_LABEL, "operator": "In", "values": [hostname]}]}]}},
            "claimRef": {"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": md.get("namespace"),
                         "name": md["name"], "uid": md["uid"], "resourceVersion": md.get("resourceVersion")},
        }}


class LocalPathProvisioner(Controller):
    name = "local-path-provisioner"
    workers = 1
    quiet_retries = True

    def __init__(self, client, informers):
        super().__init__(client, informers)
        self.claims = informers.get("persistentvolumeclaims")
        self.volumes = informers.get("persistentvolumes")
        self.classes = informers.get("storageclasses")
        self.nodes = informers.get("nodes")
        self.recorder = event_recorder(client, COMPONENT)
        self.claims.add_handler(on_add=self._claim, on_update=lambda old, new: self._claim(new))
        self.volumes.add_handler(on_add=self._volume, on_update=lambda old, new: self._volume(new))

    def _claim(self, claim: dict):
        if vb.annotations(claim).get(vb.STORAGE_PROVISIONER) == PROVISIONER_NAME:
            self.queue.add(CLAIM + vb.claim_key(claim))

    def _volume(self, pv: dict):
        if vb.annotations(pv).get(vb.PROVISIONED_BY) == PROVISIONER_NAME:
            self.queue.add(VOLUME + pv["metadata"]["name"])

    @property
    def base_dir(self) -> Optional[str]:
        return self.config.local_path_dir

    def sync(self, key: str) -> None:
        if self.base_dir is None:
            self.log.warning("%s: no --local-path-dir given; not provisioning", key)
            return
        if key.startswith(CLAIM):
            claim = self.claims.get(key[len(CLAIM):])
            if claim is not None:
                self.provision(claim)
        else:
            pv = self.volumes.get(key[len(VOLUME):])
            if pv is not None:
                self.reclaim(pv)

    # ------------------------------------------------------------------ provisioning
    def provision(self, claim: dict) -> None:
        spec = claim.get("spec") or {}
        if (spec.get("volumeName") or claim["metadata"].get("deletionTimestamp")
                or vb.annotations(claim).get(vb.STORAGE_PROVISIONER) != PROVISIONER_NAME):
            return
        if self.volumes.get(volume_name(claim)) is not None:
            return                                   # made already; the binder binds it
        sc = self.classes.get(claim_class(claim))
        if sc is None or sc.get("provisioner") != PROVISIONER_NAME:
            return
        node_name = vb.annotations(claim).get(vb.SELECTED_NODE)
        if not node_name:
            self.recorder.warning(claim, "ProvisioningFailed", "failed to provision volume with StorageClass "
                                  f'"{sc["metadata"]["name"]}": configuration error, no node was specified')
            return
        node = self.nodes.get(node_name)
        if node is None:
            self.recorder.warning(claim, "ProvisioningFailed", "failed to provision volume with StorageClass "
                                  f'"{sc["metadata"]["name"]}": node "{node_name}" not found')
            return
        self.recorder.normal(claim, "Provisioning",
                             f'External provisioner is provisioning volume for claim "{vb.claim_key(claim)}"')
        path = volume_dir(self.base_dir, claim)
        os.makedirs(path, exist_ok=True)
        os.chmod(path, 0o777)                        # as rancher's `mkdir -m 0777`: any pod user writes
        try:
            self.client.create("persistentvolumes", provisioned_volume(claim, sc, node, path))
        except errors.AlreadyExists:
            return
        self.recorder.normal(claim, "ProvisioningSucceeded", f"Successfully provisioned volume {volume_name(claim)}")

    # ------------------------------------------------------------------ reclaiming
    def reclaim(self, pv: dict) -> None:
        spec, status = pv.get("spec") or {}, pv.get("status") or {}
        if status.get("phase") != "Released" or spec.get("persistentVolumeReclaimPolicy") != "Delete":
            return
        path = (spec.get("hostPath") or spec.get("local") or {}).get("path") or ""
        base = os.path.abspath(self.base_dir)
        if os.path.dirname(os.path.abspath(path)) == base:    # never anything outside our directory
            shutil.rmtree(path, ignore_errors=True)
        else:
            self.log.warning("volume %s: %r is not under %s; leaving it", pv["metadata"]["name"], path, base)
        try:
            self.client.delete("persistentvolumes", pv["metadata"]["name"],
                               preconditions={"uid": pv["metadata"]["uid"]})
        except (errors.NotFound, errors.Conflict):
            pass
