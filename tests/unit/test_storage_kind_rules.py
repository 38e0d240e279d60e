"""PersistentVolume, PersistentVolumeClaim and StorageClass declarations: defaults,
validation causes as kube-apiserver words them, immutability, Table rows, protobuf."""
from __future__ import annotations

import copy

from minikube_py.api.kinds import SCHEME, apply_defaults, validate, validate_update
from minikube_py.api.kinds.storage import access_modes_text
from minikube_py.apiserver import protobuf
from minikube_py.apiserver.k8sproto import core_pb2, meta_pb2, resource_pb2, runtime_pb2, storage_pb2


def fields(causes):
    return [(c["field"], c["message"]) for c in causes]


def pv(name="pv1", **spec):
    base = {"capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "hostPath": {"path": "/data/pv1"}}
    base.update(spec)
    return apply_defaults("PersistentVolume", {"metadata": {"name": name}, "spec": base})


def pvc(name="data", **spec):
    base = {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "500Mi"}}}
    base.update(spec)
    return apply_defaults("PersistentVolumeClaim", {"metadata": {"name": name, "namespace": "d"}, "spec": base})


def storage_class(name="fast", **fields_):
    return apply_defaults("StorageClass", {"metadata": {"name": name}, "provisioner": "example.com/disk",
                                           **fields_})


# ---------------------------------------------------------------- defaults

def test_defaults_as_kubernetes_writes_them():
    volume = pv()
    assert volume["spec"]["persistentVolumeReclaimPolicy"] == "Retain"
    assert volume["spec"]["volumeMode"] == "Filesystem"
    assert volume["spec"]["hostPath"] == {"path": "/data/pv1", "type": ""}
    assert volume["status"] == {"phase": "Pending"}
    claim = pvc()
    assert claim["spec"]["volumeMode"] == "Filesystem" and claim["status"] == {"phase": "Pending"}
    assert "storageClassName" not in claim["spec"]      # left to the DefaultStorageClass admission
    sc = storage_class()
    assert (sc["reclaimPolicy"], sc["volumeBindingMode"]) == ("Delete", "Immediate")
    assert validate("PersistentVolume", volume) == validate("PersistentVolumeClaim", claim) == []
    assert validate("StorageClass", sc) == []


# ---------------------------------------------------------------- validation

def test_a_volume_needs_modes_capacity_and_exactly_one_source():
    empty = apply_defaults("PersistentVolume", {"metadata": {"name": "x"}, "spec": {}})
    assert fields(validate("PersistentVolume", empty)) == [
        ("spec.accessModes", "Required value"),
        ("spec.capacity", "Required value"),
        ("spec.capacity", 'Unsupported value: {}: supported values: "storage"'),
        ("spec", "Required value: must specify a volume type")]
    two = pv(local={"path": "/mnt"}, nodeAffinity={"required": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": ["n1"]}]}]}})
    assert fields(validate("PersistentVolume", two)) == [
        ("spec.local", "Forbidden: may not specify more than 1 volume type")]
    assert fields(validate("PersistentVolume", pv(accessModes=["ReadWriteOncePod", "ReadOnlyMany"],
                                                  capacity={"storage": "0"}))) == [
        ("spec.accessModes", "Forbidden: may not use ReadWriteOncePod with other access modes"),
        ("spec.capacity[storage]", 'Invalid value: "0": must be greater than zero')]
    assert fields(validate("PersistentVolume", pv(persistentVolumeReclaimPolicy="Keep", volumeMode="Raw"))) == [
        ("spec.persistentVolumeReclaimPolicy",
         'Unsupported value: "Keep": supported values: "Delete", "Recycle", "Retain"'),
        ("spec.volumeMode", 'Unsupported value: "Raw": supported values: "Block", "Filesystem"')]


def test_a_local_volume_needs_node_affinity():
    volume = pv(hostPath=None, local={"path": "/mnt/disks/a"})
    volume["spec"].pop("hostPath")
    assert fields(validate("PersistentVolume", volume)) == [
        ("spec.nodeAffinity", "Required value: Local volume requires node affinity")]
    volume["spec"]["nodeAffinity"] = {"required": {"nodeSelectorTerms": []}}
    assert fields(validate("PersistentVolume", volume)) == [
        ("spec.nodeAffinity.required.nodeSelectorTerms", "Required value: must have at least one node selector term")]


def test_a_claim_needs_modes_and_a_storage_request():
    claim = apply_defaults("PersistentVolumeClaim", {"metadata": {"name": "c", "namespace": "d"}, "spec": {}})
    assert fields(validate("PersistentVolumeClaim", claim)) == [
        ("spec.accessModes", "Required value: at least 1 access mode is required"),
        ("spec.resources[storage]", "Required value")]
    assert fields(validate("PersistentVolumeClaim", pvc(resources={"requests": {"storage": "-1Gi"}},
                                                        storageClassName="Fast_Disk",
                                                        accessModes=["ReadWriteSometimes"]))) == [
        ("spec.accessModes", 'Unsupported value: "ReadWriteSometimes": supported values: '
                             '"ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"'),
        ("spec.resources[storage]", 'Invalid value: "-1Gi": must be greater than zero'),
        ("spec.storageClassName", 'Invalid value: "Fast_Disk": a lowercase RFC 1123 subdomain must consist of '
                                  "lower case alphanumeric characters, '-' or '.', and must start and end with an "
                                  "alphanumeric character (e.g. 'example.com', regex used for validation is "
                                  "'[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')")]
    assert validate("PersistentVolumeClaim", pvc(storageClassName="")) == []     # "": no class at all


def test_a_claims_spec_is_immutable_except_volume_name_once_class_once_and_growth_when_bound():
    old = pvc()
    new = copy.deepcopy(old)
    new["spec"]["volumeName"] = "pv1"
    new["spec"]["storageClassName"] = "standard"
    assert validate_update("PersistentVolumeClaim", old, new) == []
    bound_old = copy.deepcopy(new)
    again = copy.deepcopy(new)
    again["spec"]["volumeName"] = "pv2"
    causes = validate_update("PersistentVolumeClaim", bound_old, again)
    assert [c["field"] for c in causes] == ["spec"]
    assert causes[0]["message"].startswith("Forbidden: spec is immutable after creation except resources.requests")
    assert '  spec.volumeName: "pv1" -> "pv2"' in causes[0]["message"]

    bound_old["status"] = {"phase": "Bound"}
    grow = copy.deepcopy(bound_old)
    grow["spec"]["resources"]["requests"]["storage"] = "2Gi"
    assert validate_update("PersistentVolumeClaim", bound_old, grow) == []
    shrink = copy.deepcopy(bound_old)
    shrink["spec"]["resources"]["requests"]["storage"] = "100Mi"
    assert fields(validate_update("PersistentVolumeClaim", bound_old, shrink)) == [
        ("spec.resources.requests.storage", "Forbidden: field can not be less than previous value")]
    pending_grow = copy.deepcopy(grow)
    pending_grow["status"] = {"phase": "Pending"}
    assert [c["field"] for c in validate_update("PersistentVolumeClaim", old, pending_grow)] == ["spec"]


def test_a_volumes_source_is_immutable_but_its_claim_ref_is_not():
    old = pv()
    new = copy.deepcopy(old)
    new["spec"]["claimRef"] = {"kind": "PersistentVolumeClaim", "namespace": "d", "name": "data", "uid": "u"}
    new["spec"]["persistentVolumeReclaimPolicy"] = "Delete"
    assert validate_update("PersistentVolume", old, new) == []
    new["spec"]["hostPath"]["path"] = "/elsewhere"
    causes = validate_update("PersistentVolume", old, new)
    assert [c["field"] for c in causes] == ["spec.persistentvolumesource"]
    assert "spec.persistentvolumesource is immutable after creation" in causes[0]["message"]


def test_storage_class_rules():
    assert fields(validate("StorageClass", apply_defaults("StorageClass", {"metadata": {"name": "x"}}))) == [
        ("provisioner", "Required value")]
    assert fields(validate("StorageClass", storage_class(reclaimPolicy="Recycle",
                                                         volumeBindingMode="Later"))) == [
        ("reclaimPolicy", 'Unsupported value: "Recycle": supported values: "Delete", "Retain"'),
        ("volumeBindingMode", 'Unsupported value: "Later": supported values: "Immediate", "WaitForFirstConsumer"')]
    old = storage_class(parameters={"type": "ssd"})
    new = copy.deepcopy(old)
    new["metadata"]["annotations"] = {"storageclass.kubernetes.io/is-default-class": "true"}
    new["allowVolumeExpansion"] = True
    assert validate_update("StorageClass", old, new) == []
    new.update(provisioner="other.io/x", parameters={"type": "hdd"}, volumeBindingMode="WaitForFirstConsumer")
    assert fields(validate_update("StorageClass", old, new)) == [
        ("parameters", "Forbidden: updates to parameters are forbidden."),
        ("provisioner", "Forbidden: updates to provisioner are forbidden."),
        ("volumeBindingMode", 'Invalid value: "WaitForFirstConsumer": field is immutable')]


# ---------------------------------------------------------------- Table rows

def test_rows_as_kubectl_prints_them():
    assert access_modes_text(["ReadWriteOncePod", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOnce"]) == "RWO,RWX,RWOP"
    volume = pv(storageClassName="manual")
    volume["spec"]["claimRef"] = {"namespace": "d", "name": "data"}
    volume["status"] = {"phase": "Bound"}
    row = SCHEME.by_kind("PersistentVolume").row(volume)
    assert row[:9] == ["pv1", "1Gi", "RWO", "Retain", "Bound", "d/data", "manual", "<unset>", ""]
    assert row[10] == "Filesystem"
    claim = pvc(storageClassName="manual")
    row = SCHEME.by_kind("PersistentVolumeClaim").row(claim)
    assert row[:7] == ["data", "Pending", "", "", "", "manual", "<unset>"]      # nothing shown until bound
    claim["spec"]["volumeName"] = "pv1"
    claim["status"] = {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "1Gi"}}
    assert SCHEME.by_kind("PersistentVolumeClaim").row(claim)[:5] == ["data", "Bound", "pv1", "1Gi", "RWO"]
    sc = storage_class("standard", metadata={"name": "standard", "annotations": {
        "storageclass.kubernetes.io/is-default-class": "true"}})
    assert SCHEME.by_kind("StorageClass").row(sc)[:5] == [
        "standard (default)", "example.com/disk", "Delete", "Immediate", False]


# ---------------------------------------------------------------- protobuf

def body(api_version, kind, obj) -> bytes:
    envelope = runtime_pb2.Unknown(typeMeta=runtime_pb2.TypeMeta(apiVersion=api_version, kind=kind),
                                   raw=obj.SerializeToString(), contentEncoding="", contentType="")
    return b"k8s\x00" + envelope.SerializeToString()


def test_protobuf_bodies_decode_to_their_json():
    volume = core_pb2.PersistentVolume(
        metadata=meta_pb2.ObjectMeta(name="pv1"),
        spec=core_pb2.PersistentVolumeSpec(
            capacity={"storage": resource_pb2.Quantity(string="1Gi")}, accessModes=["ReadWriteOnce"],
            persistentVolumeSource=core_pb2.PersistentVolumeSource(local=core_pb2.LocalVolumeSource(path="/mnt")),
            persistentVolumeReclaimPolicy="", storageClassName="",
            nodeAffinity=core_pb2.VolumeNodeAffinity(required=core_pb2.NodeSelector(nodeSelectorTerms=[
                core_pb2.NodeSelectorTerm(matchExpressions=[core_pb2.NodeSelectorRequirement(
                    key="kubernetes.io/hostname", operator="In", values=["n1"])])]))))
    assert protobuf.decode(body("v1", "PersistentVolume", volume))["spec"] == {
        "capacity": {"storage": "1Gi"}, "accessModes": ["ReadWriteOnce"], "local": {"path": "/mnt"},
        "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": ["n1"]}]}]}}}
    claim = core_pb2.PersistentVolumeClaim(
        metadata=meta_pb2.ObjectMeta(name="data"),
        spec=core_pb2.PersistentVolumeClaimSpec(
            accessModes=["ReadWriteOnce"], storageClassName="", volumeName="",
            resources=core_pb2.VolumeResourceRequirements(requests={"storage": resource_pb2.Quantity(string="1Gi")})))
    assert protobuf.decode(body("v1", "PersistentVolumeClaim", claim))["spec"] == {
        "accessModes": ["ReadWriteOnce"], "storageClassName": "",      # a pointer: "" means "no class"
        "resources": {"requests": {"storage": "1Gi"}}}
    sc = storage_pb2.StorageClass(metadata=meta_pb2.ObjectMeta(name="fast"), provisioner="example.com/disk",
                                  volumeBindingMode="WaitForFirstConsumer", parameters={"type": "ssd"})
    assert protobuf.decode(body("storage.k8s.io/v1", "StorageClass", sc)) == {
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "fast"},
        "provisioner": "example.com/disk", "parameters": {"type": "ssd"}, "volumeBindingMode": "WaitForFirstConsumer"}
