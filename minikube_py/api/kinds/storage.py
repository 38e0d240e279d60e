"""Volumes that outlive pods: PersistentVolume and PersistentVolumeClaim (core/v1),
StorageClass (storage.k8s.io/v1).

Kubernetes separates *having* storage from *asking* for it:

    PersistentVolume       a piece of storage (a directory on a node, an NFS share, a disk),
                           cluster-scoped, with a capacity, access modes and a reclaim policy
    PersistentVolumeClaim  a namespaced request for storage (size, access modes, class);
                           a pod names the claim, never the volume
    StorageClass           a kind of storage and who provisions it on demand
                           (`provisioner`), when (`volumeBindingMode`) and what happens
                           to a provisioned volume when its claim goes (`reclaimPolicy`)

The PV controller (controllers/persistentvolume.py) binds claims to volumes both ways
(`claim.spec.volumeName`, `volume.spec.claimRef`) and keeps their phases; a provisioner
(controllers/localpath.py) creates volumes for claims of its classes. The rules below
are the apiserver's (pkg/apis/core/validation, pkg/apis/storage/validation): a volume
names exactly one source, a claim asks for an amount of `storage`, and a claim's spec
never changes after creation except that the binder fills in `volumeName` once and a
bound claim may ask for more storage.
"""
from __future__ import annotations

import copy

from ..names import is_dns1123_subdomain, is_qualified_name
from ..quantity import QUANTITY_REGEX, QuantityError, parse_quantity
from ..selectors import LabelSelector, SelectorError
from ..validation import diff_lines, forbidden, invalid, not_supported, required
from .columns import AGE, NAME, age_of, col
from .kind import Kind

ACCESS_MODES = ("ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod")
ACCESS_MODE_SHORT = (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"),
                     ("ReadWriteOncePod", "RWOP"))
PV_RECLAIM_POLICIES = ("Delete", "Recycle", "Retain")
CLASS_RECLAIM_POLICIES = ("Delete", "Retain")
VOLUME_MODES = ("Block", "Filesystem")
BINDING_MODES = ("Immediate", "WaitForFirstConsumer")
HOST_PATH_TYPES = ("", "BlockDevice", "CharDevice", "Directory", "DirectoryOrCreate", "File",
                   "FileOrCreate", "Socket")
# Every source a PersistentVolume may name, in the order upstream checks them. This apiserver
# stores all of them; the kubelet mounts hostPath and local (the directories of one host).
PV_SOURCES = ("hostPath", "gcePersistentDisk", "awsElasticBlockStore", "glusterfs", "flocker", "nfs",
              "rbd", "quobyte", "cephfs", "iscsi", "cinder", "fc", "flexVolume", "azureFile",
              "vsphereVolume", "photonPersistentDisk", "portworxVolume", "azureDisk", "scaleIO",
              "local", "storageos", "csi")
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"
BETA_DEFAULT_CLASS_ANNOTATION = "storageclass.beta.kubernetes.io/is-default-class"
BETA_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"
NOT_POSITIVE = "must be greater than zero"


# ---------------------------------------------------------------- helpers the controllers share
def access_modes_text(modes) -> str:
    """`RWO,ROX`: kubectl's GetAccessModesAsString (fixed order, no duplicates)."""
    modes = set(modes or ())
    return ",".join(short for mode, short in ACCESS_MODE_SHORT if mode in modes)


def volume_class(pv: dict) -> str:
    """A volume's class: spec.storageClassName, or the beta annotation older objects carry."""
    annotations = (pv.get("metadata") or {}).get("annotations") or {}
    return annotations.get(BETA_CLASS_ANNOTATION) or (pv.get("spec") or {}).get("storageClassName") or ""


def claim_class(pvc: dict) -> str:
    """A claim's class (GetPersistentVolumeClaimClass): the beta annotation, else
    spec.storageClassName; "" means "no class" (only class-less volumes match)."""
    return volume_class(pvc)


def is_default_class(sc: dict) -> bool:
    annotations = (sc.get("metadata") or {}).get("annotations") or {}
    return "true" in (annotations.get(DEFAULT_CLASS_ANNOTATION), annotations.get(BETA_DEFAULT_CLASS_ANNOTATION))


def requested_storage(pvc: dict):
    """The claim's spec.resources.requests.storage as a number (0 when missing)."""
    raw = (((pvc.get("spec") or {}).get("resources") or {}).get("requests") or {}).get("storage")
    try:
        return parse_quantity(raw) if raw is not None else 0
    except QuantityError:
        return 0


# ---------------------------------------------------------------- shared checks
def _access_modes(modes, path: str, detail: str = "") -> list:
    if not modes:
        return [required(path, detail)]
    causes, once_pod, others = [], False, False
    for mode in modes:
        if mode not in ACCESS_MODES:
            causes.append(not_supported(path, mode, ACCESS_MODES))
        elif mode == "ReadWriteOncePod":
            once_pod = True
        else:
            others = True
    if once_pod and others:
        causes.append(forbidden(path, "may not use ReadWriteOncePod with other access modes"))
    return causes


def _positive_quantity(raw, path: str) -> list:
    try:
        value = parse_quantity(raw)
    except QuantityError:
        return [invalid(path, raw, f"quantities must match the regular expression '{QUANTITY_REGEX}'")]
    return [invalid(path, raw, NOT_POSITIVE)] if value <= 0 else []


def _class_name(name, path: str) -> list:
    return [invalid(path, name, msg) for msg in is_dns1123_subdomain(name)] if name else []


def _one_of(value, path: str, allowed) -> list:
    return [not_supported(path, value, allowed)] if value is not None and value not in allowed else []


def _node_selector_terms(affinity, path: str) -> list:
    """validateVolumeNodeAffinity: `required` with at least one term of valid expressions."""
    required_ = (affinity or {}).get("required")
    if required_ is None:
        return [required(f"{path}.required", "must specify required node constraints")]
    terms = required_.get("nodeSelectorTerms") or []
    if not terms:
        return [required(f"{path}.required.nodeSelectorTerms", "must have at least one node selector term")]
    causes = []
    for i, term in enumerate(terms):
        try:
            LabelSelector.from_dict({"matchExpressions": term.get("matchExpressions") or []})
        except (SelectorError, TypeError, AttributeError) as err:
            causes.append(invalid(f"{path}.required.nodeSelectorTerms[{i}]", term, str(err)))
    return causes


def _no_backsteps(path_value, path: str) -> list:
    parts = str(path_value).split("/")
    return [invalid(path, path_value, "must not contain '..'")] if ".." in parts else []


# ---------------------------------------------------------------- PersistentVolume
def default_pv(pv: dict):
    spec = pv.setdefault("spec", {})
    spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
    spec.setdefault("volumeMode", "Filesystem")
    if isinstance(spec.get("hostPath"), dict):
        spec["hostPath"].setdefault("type", "")
    pv.setdefault("status", {}).setdefault("phase", "Pending")


def validate_pv(pv: dict) -> list:
    spec = pv.get("spec") or {}
    causes = _access_modes(spec.get("accessModes"), "spec.accessModes")
    capacity = spec.get("capacity") or {}
    if not capacity:
        causes.append(required("spec.capacity"))
    if "storage" not in capacity or len(capacity) > 1:
        causes.append(not_supported("spec.capacity", capacity, ["storage"]))
    for name, raw in capacity.items():
        causes += _positive_quantity(raw, f"spec.capacity[{name}]")
    causes += _one_of(spec.get("persistentVolumeReclaimPolicy") or None, "spec.persistentVolumeReclaimPolicy",
                      PV_RECLAIM_POLICIES)
    if spec.get("nodeAffinity") is not None:
        causes += _node_selector_terms(spec["nodeAffinity"], "spec.nodeAffinity")
    sources = [s for s in PV_SOURCES if spec.get(s) is not None]
    if not sources:
        causes.append(required("spec", "must specify a volume type"))
    for extra in sources[1:]:
        causes.append(forbidden(f"spec.{extra}", "may not specify more than 1 volume type"))
    if sources and sources[0] == "hostPath":
        host = spec["hostPath"]
        if not host.get("path"):
            causes.append(required("spec.hostPath.path"))
        else:
            causes += _no_backsteps(host["path"], "spec.hostPath.path")
        causes += _one_of(host.get("type"), "spec.hostPath.type", HOST_PATH_TYPES)
        if host.get("path", "").rstrip("/") == "" and spec.get("persistentVolumeReclaimPolicy") == "Recycle":
            causes.append(forbidden("spec.persistentVolumeReclaimPolicy",
                                    "may not be 'recycle' for a hostPath mount of '/'"))
    if sources and sources[0] == "local":
        local = spec["local"]
        if not local.get("path"):
            causes.append(required("spec.local.path"))
        else:
            causes += _no_backsteps(local["path"], "spec.local.path")
        if spec.get("nodeAffinity") is None:
            causes.append(required("spec.nodeAffinity", "Local volume requires node affinity"))
    causes += _class_name(spec.get("storageClassName"), "spec.storageClassName")
    causes += _one_of(spec.get("volumeMode"), "spec.volumeMode", VOLUME_MODES)
    return causes


def validate_pv_update(old: dict, new: dict) -> list:
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    old_source = {s: old_spec[s] for s in PV_SOURCES if s in old_spec}
    new_source = {s: new_spec[s] for s in PV_SOURCES if s in new_spec}
    causes = []
    if old_source != new_source:
        causes.append(forbidden("spec.persistentvolumesource", "spec.persistentvolumesource is immutable "
                                "after creation\n" + "\n".join(diff_lines(old_source, new_source, "spec"))))
    if old_spec.get("volumeMode") != new_spec.get("volumeMode"):
        causes.append(invalid("volumeMode", new_spec.get("volumeMode"), "field is immutable"))
    if old_spec.get("nodeAffinity") is not None and old_spec["nodeAffinity"] != new_spec.get("nodeAffinity"):
        causes.append(invalid("nodeAffinity", new_spec.get("nodeAffinity"), "field is immutable"))
    return causes


def pv_row(pv: dict) -> list:
    spec, status = pv.get("spec") or {}, pv.get("status") or {}
    ref = spec.get("claimRef")
    claim = f"{ref.get('namespace', '')}/{ref.get('name', '')}" if ref else ""
    phase = "Terminating" if pv["metadata"].get("deletionTimestamp") else status.get("phase", "")
    return [pv["metadata"]["name"], str((spec.get("capacity") or {}).get("storage", "")),
            access_modes_text(spec.get("accessModes")), spec.get("persistentVolumeReclaimPolicy", ""), phase,
            claim, volume_class(pv), spec.get("volumeAttributesClassName") or "<unset>",
            status.get("reason", ""), age_of(pv), spec.get("volumeMode") or "<unset>"]


PERSISTENT_VOLUME = Kind(
    "", "v1", "PersistentVolume", "persistentvolumes", namespaced=False, short_names=("pv",),
    subresources=("status",), counts_generation=False,
    default=default_pv, validate=validate_pv, validate_update=validate_pv_update,
    columns=(NAME, col("Capacity"), col("Access Modes"), col("Reclaim Policy"), col("Status"), col("Claim"),
             col("StorageClass"), col("VolumeAttributesClass"), col("Reason"), AGE,
             col("VolumeMode", priority=1)),
    row=pv_row,
    proto="k8s.io.api.core.v1.PersistentVolume")


# ---------------------------------------------------------------- PersistentVolumeClaim
def default_pvc(pvc: dict):
    pvc.setdefault("spec", {}).setdefault("volumeMode", "Filesystem")
    pvc.setdefault("status", {}).setdefault("phase", "Pending")


def validate_pvc_spec(spec, path: str = "spec") -> list:
    """ValidatePersistentVolumeClaimSpec; also a StatefulSet's volumeClaimTemplates use it."""
    spec = spec or {}
    causes = _access_modes(spec.get("accessModes"), f"{path}.accessModes", "at least 1 access mode is required")
    if spec.get("selector") is not None:
        try:
            LabelSelector.from_dict(spec["selector"])
        except (SelectorError, TypeError, AttributeError) as err:
            causes.append(invalid(f"{path}.selector", spec["selector"], str(err)))
    requests = (spec.get("resources") or {}).get("requests") or {}
    if "storage" not in requests:
        causes.append(required(f"{path}.resources[storage]"))
    else:
        causes += _positive_quantity(requests["storage"], f"{path}.resources[storage]")
    causes += _class_name(spec.get("storageClassName"), f"{path}.storageClassName")
    causes += _one_of(spec.get("volumeMode"), f"{path}.volumeMode", VOLUME_MODES)
    for ref_field in ("dataSource", "dataSourceRef"):
        ref = spec.get(ref_field)
        if ref is None:
            continue
        for key in ("name", "kind"):
            if not ref.get(key):
                causes.append(required(f"{path}.{ref_field}.{key}"))
        if not ref.get("apiGroup") and ref.get("kind") != "PersistentVolumeClaim":
            causes.append(invalid(f"{path}.{ref_field}", ref.get("kind"),
                                  "must be 'PersistentVolumeClaim' when referencing the default apiGroup"))
    return causes


def validate_pvc(pvc: dict) -> list:
    return validate_pvc_spec(pvc.get("spec"))


def validate_pvc_update(old: dict, new: dict) -> list:
    """A claim's spec is fixed, except: `volumeName` may be set once (the binder does),
    `storageClassName` may be set where it was never set, and a Bound claim may grow."""
    old_spec = copy.deepcopy(old.get("spec") or {})
    new_spec = copy.deepcopy(new.get("spec") or {})
    if not old_spec.get("volumeName"):
        old_spec.pop("volumeName", None)
        if "volumeName" in new_spec:
            old_spec["volumeName"] = new_spec["volumeName"]
    if old_spec.get("storageClassName") is None and new_spec.get("storageClassName") is not None:
        beta = ((old.get("metadata") or {}).get("annotations") or {}).get(BETA_CLASS_ANNOTATION)
        if beta is None or beta == new_spec["storageClassName"]:
            new_spec.pop("storageClassName")
            old_spec.pop("storageClassName", None)
    old_requests = (old_spec.get("resources") or {}).get("requests") or {}
    if (new.get("status") or {}).get("phase") == "Bound" and (new_spec.get("resources") or {}).get("requests"):
        new_spec["resources"]["requests"]["storage"] = old_requests.get("storage")
    causes = []
    if old_spec != new_spec:
        causes.append(forbidden("spec", "spec is immutable after creation except resources.requests and "
                                "volumeAttributesClassName for bound claims\n"
                                + "\n".join(diff_lines(old_spec, new_spec, "spec"))))
    old_size, new_size = requested_storage(old), requested_storage(new)
    if new_size < old_size:
        causes.append(forbidden("spec.resources.requests.storage", "field can not be less than previous value"))
    if (old.get("spec") or {}).get("volumeMode") != (new.get("spec") or {}).get("volumeMode"):
        causes.append(invalid("volumeMode", (new.get("spec") or {}).get("volumeMode"), "field is immutable"))
    return causes


def pvc_row(pvc: dict) -> list:
    spec, status = pvc.get("spec") or {}, pvc.get("status") or {}
    capacity = modes = ""
    if spec.get("volumeName"):
        modes = access_modes_text(status.get("accessModes"))
        capacity = str((status.get("capacity") or {}).get("storage", ""))
    phase = "Terminating" if pvc["metadata"].get("deletionTimestamp") else status.get("phase", "")
    return [pvc["metadata"]["name"], phase, spec.get("volumeName", ""), capacity, modes, claim_class(pvc),
            spec.get("volumeAttributesClassName") or "<unset>", age_of(pvc), spec.get("volumeMode") or "<unset>"]


PERSISTENT_VOLUME_CLAIM = Kind(
    "", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", short_names=("pvc",),
    subresources=("status",), counts_generation=False,
    default=default_pvc, validate=validate_pvc, validate_update=validate_pvc_update,
    columns=(NAME, col("Status"), col("Volume"), col("Capacity"), col("Access Modes"), col("StorageClass"),
             col("VolumeAttributesClass"), AGE, col("VolumeMode", priority=1)),
    row=pvc_row,
    proto="k8s.io.api.core.v1.PersistentVolumeClaim")


# ---------------------------------------------------------------- StorageClass
def default_storage_class(sc: dict):
    sc.setdefault("reclaimPolicy", "Delete")
    sc.setdefault("volumeBindingMode", "Immediate")


def validate_storage_class(sc: dict) -> list:
    provisioner = sc.get("provisioner")
    if not provisioner:
        causes = [required("provisioner")]
    else:
        causes = [invalid("provisioner", provisioner, msg) for msg in is_qualified_name(str(provisioner).lower())]
    parameters = sc.get("parameters") or {}
    if len(parameters) > 512:
        causes.append(invalid("parameters", len(parameters), "must have at most 512 parameters"))
    if any(not key for key in parameters):
        causes.append(invalid("parameters", parameters, "keys must not be empty"))
    causes += _one_of(sc.get("reclaimPolicy"), "reclaimPolicy", CLASS_RECLAIM_POLICIES)
    mode = sc.get("volumeBindingMode")
    causes += [required("volumeBindingMode")] if mode is None else _one_of(mode, "volumeBindingMode", BINDING_MODES)
    return causes


def validate_storage_class_update(old: dict, new: dict) -> list:
    causes = []
    for name in ("parameters", "provisioner", "reclaimPolicy"):
        if (old.get(name) or None) != (new.get(name) or None):
            causes.append(forbidden(name, f"updates to {name} are forbidden."))
    if old.get("volumeBindingMode") != new.get("volumeBindingMode"):
        causes.append(invalid("volumeBindingMode", new.get("volumeBindingMode"), "field is immutable"))
    return causes


def storage_class_row(sc: dict) -> list:
    name = sc["metadata"]["name"] + (" (default)" if is_default_class(sc) else "")
    return [name, sc.get("provisioner", ""), sc.get("reclaimPolicy") or "Delete",
            sc.get("volumeBindingMode") or "Immediate", bool(sc.get("allowVolumeExpansion")), age_of(sc)]


STORAGE_CLASS = Kind(
    "storage.k8s.io", "v1", "StorageClass", "storageclasses", namespaced=False, short_names=("sc",),
    has_status=False, counts_generation=False,
    default=default_storage_class, validate=validate_storage_class,
    validate_update=validate_storage_class_update,
    columns=(NAME, col("Provisioner"), col("ReclaimPolicy"), col("VolumeBindingMode"),
             col("AllowVolumeExpansion", "boolean"), AGE),
    row=storage_class_row,
    proto="k8s.io.api.storage.v1.StorageClass")

KINDS = (PERSISTENT_VOLUME, PERSISTENT_VOLUME_CLAIM, STORAGE_CLASS)
