"""Which PersistentVolume may serve which claim: the rules shared by the PV controller
(controllers/persistentvolume.py), the local-path provisioner (controllers/localpath.py)
and the scheduler's VolumeBinding plugin (scheduler/plugins/volume_binding.py).

Upstream keeps them in pkg/controller/volume/persistentvolume/util. A volume serves a
claim when their classes are equal, the volume offers every access mode the claim asks
for, its capacity is at least the request, its labels match the claim's selector, its
volumeMode is the claim's and -- when a node is known -- its nodeAffinity admits that node.
Of the volumes that serve, the smallest wins. The objects stay plain dicts; nothing here
talks to the API.
"""
from __future__ import annotations

from typing import Iterable, Optional

from .kinds.storage import claim_class, requested_storage, volume_class
from .quantity import QuantityError, parse_quantity
from .selectors import LabelSelector, SelectorError

# The annotations through which the binder, the provisioners and the scheduler talk.
BIND_COMPLETED = "pv.kubernetes.io/bind-completed"          # on a claim: the binder finished
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"  # the binder (not a user) bound it
PROVISIONED_BY = "pv.kubernetes.io/provisioned-by"            # on a volume: its provisioner
STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"       # on a claim: provision me
BETA_STORAGE_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner"
SELECTED_NODE = "volume.kubernetes.io/selected-node"          # on a claim: the scheduler's pick
NO_PROVISIONER = "kubernetes.io/no-provisioner"               # a class of static volumes only
HOSTNAME_LABEL = "kubernetes.io/hostname"
# The finalizers that keep a claim while a pod uses it and a volume while it is bound
# (apiserver/storageprotection.py adds them, controllers/storageprotection.py removes them).
PVC_PROTECTION = "kubernetes.io/pvc-protection"
PV_PROTECTION = "kubernetes.io/pv-protection"


def annotations(obj: dict) -> dict:
    return (obj.get("metadata") or {}).get("annotations") or {}


def pod_claim_names(pod: dict, ephemeral: bool = True) -> set[str]:
    """A pod's PersistentVolumeClaims: named ones, and (unless `ephemeral` is False)
    `<pod>-<volume>` of an ephemeral volume."""
    names = set()
    for vol in (pod.get("spec") or {}).get("volumes") or ():
        if vol.get("persistentVolumeClaim"):
            names.add(vol["persistentVolumeClaim"].get("claimName"))
        elif ephemeral and vol.get("ephemeral") is not None:
            names.add(f'{pod["metadata"]["name"]}-{vol.get("name")}')
    return names - {None, ""}


def claim_key(claim: dict) -> str:
    return f"{claim['metadata'].get('namespace')}/{claim['metadata']['name']}"


def volume_capacity(pv: dict):
    raw = ((pv.get("spec") or {}).get("capacity") or {}).get("storage")
    try:
        return parse_quantity(raw) if raw is not None else 0
    except QuantityError:
        return 0


def is_bound_to(pv: dict, claim: dict) -> bool:
    """Does the volume's claimRef name this claim (IsVolumeBoundToClaim)? A claimRef
    without uid is a user's pre-binding, made before the claim existed."""
    ref = (pv.get("spec") or {}).get("claimRef")
    md = claim["metadata"]
    if not ref or ref.get("name") != md["name"] or ref.get("namespace") != md.get("namespace"):
        return False
    return not ref.get("uid") or ref["uid"] == md.get("uid")


def node_affinity_matches(pv: dict, node: Optional[dict]) -> bool:
    """Does the volume's spec.nodeAffinity admit the node (any term, all expressions)?
    A volume without nodeAffinity is reachable from every node; no node admits nothing."""
    required = (((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required") or {})
    terms = required.get("nodeSelectorTerms")
    if terms is None:
        return True
    if node is None:
        return False
    labels = (node.get("metadata") or {}).get("labels") or {}
    name = node["metadata"]["name"]
    for term in terms:
        exprs, fields = term.get("matchExpressions") or [], term.get("matchFields") or []
        if not exprs and not fields:
            continue
        try:
            if not LabelSelector.from_dict({"matchExpressions": exprs}).matches(labels):
                continue
            if LabelSelector.from_dict({"matchExpressions": fields}).matches({"metadata.name": name}):
                return True
        except (SelectorError, TypeError, AttributeError):
            continue
    return False


def mismatch(pv: dict, claim: dict) -> Optional[str]:
    """Why the volume cannot serve the claim (checkVolumeSatisfyClaim's words), or None."""
    pv_spec, claim_spec = pv.get("spec") or {}, claim.get("spec") or {}
    if requested_storage(claim) > volume_capacity(pv):
        return "requested PV is too small"
    if volume_class(pv) != claim_class(claim):
        return "storageClassName does not match"
    if (pv_spec.get("volumeMode") or "Filesystem") != (claim_spec.get("volumeMode") or "Filesystem"):
        return "incompatible volumeMode"
    if not set(claim_spec.get("accessModes") or ()) <= set(pv_spec.get("accessModes") or ()):
        return "incompatible accessMode"
    return None


def find_matching_volume(claim: dict, volumes: Iterable[dict], node: Optional[dict] = None,
                         need_node: bool = False) -> Optional[dict]:
    """The volume to bind the claim to: one pre-bound to it, else the smallest Available
    volume that serves it. `need_node` (a WaitForFirstConsumer claim): only volumes whose
    nodeAffinity admits `node` count, and without a node none does."""
    selector = (claim.get("spec") or {}).get("selector")
    try:
        wanted = LabelSelector.from_dict(selector) if selector is not None else None
    except (SelectorError, TypeError, AttributeError):
        return None
    best, best_size = None, None
    for pv in volumes:
        md, spec = pv["metadata"], pv.get("spec") or {}
        if md.get("deletionTimestamp"):
            continue
        if need_node and not (node is not None and node_affinity_matches(pv, node)):
            continue
        if is_bound_to(pv, claim):
            if (spec.get("volumeMode") or "Filesystem") == ((claim.get("spec") or {}).get("volumeMode")
                                                           or "Filesystem"):
                return pv
            continue
        if spec.get("claimRef") or (pv.get("status") or {}).get("phase") != "Available":
            continue
        if wanted is not None and not wanted.matches(md.get("labels") or {}):
            continue
        if mismatch(pv, claim) is not None:
            continue
        size = volume_capacity(pv)
        if best is None or size < best_size or (size == best_size and md["name"] < best["metadata"]["name"]):
            best, best_size = pv, size
    return best
