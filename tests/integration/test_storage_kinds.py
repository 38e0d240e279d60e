"""PersistentVolume, PersistentVolumeClaim and StorageClass through the real kubectl:
apply from manifests, the columns kubectl prints, discovery, explain, 422s, status."""
from __future__ import annotations

import json

import pytest
import requests

MANIFESTS = """
apiVersion: storage.k8s.io/v1
kind: StorageClass
metadata:
  name: {p}-manual
  annotations: {{storageclass.kubernetes.io/is-default-class: "true"}}
provisioner: kubernetes.io/no-provisioner
volumeBindingMode: WaitForFirstConsumer
---
apiVersion: v1
kind: PersistentVolume
metadata: {{name: {p}-pv, labels: {{type: local}}}}
spec:
  storageClassName: {p}-manual
  capacity: {{storage: 10Gi}}
  accessModes: [ReadWriteOnce]
  hostPath: {{path: /mnt/data}}
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata: {{name: task-pv-claim}}
spec:
  storageClassName: {p}-manual
  accessModes: [ReadWriteOnce]
  resources: {{requests: {{storage: 3Gi}}}}
"""


@pytest.fixture(scope="module")
def protection(controller_manager):
    return controller_manager(["pvc-protection", "pv-protection"])


def test_apply_get_describe_the_docs_manifests(protection, kubectl, namespace, cluster):
    p = namespace       # cluster-scoped names carry the test's namespace, to stay apart
    out = kubectl("apply", "-n", namespace, "-f", "-", input=MANIFESTS.format(p=p)).stdout
    assert f"storageclass.storage.k8s.io/{p}-manual created" in out
    assert f"persistentvolume/{p}-pv created" in out and "persistentvolumeclaim/task-pv-claim created" in out

    pvs = kubectl("get", "pv", f"{p}-pv").stdout.splitlines()
    assert pvs[0].split() == ["NAME", "CAPACITY", "ACCESS", "MODES", "RECLAIM", "POLICY", "STATUS", "CLAIM",
                              "STORAGECLASS", "VOLUMEATTRIBUTESCLASS", "REASON", "AGE"]
    assert pvs[1].split()[:7] == [f"{p}-pv", "10Gi", "RWO", "Retain", "Pending", f"{p}-manual", "<unset>"]
    pvcs = kubectl("get", "pvc", "-n", namespace, "-o", "wide").stdout.splitlines()
    assert pvcs[0].split() == ["NAME", "STATUS", "VOLUME", "CAPACITY", "ACCESS", "MODES", "STORAGECLASS",
                               "VOLUMEATTRIBUTESCLASS", "AGE", "VOLUMEMODE"]
    assert pvcs[1].split()[:4] == ["task-pv-claim", "Pending", f"{p}-manual", "<unset>"]
    scs = kubectl("get", "sc", f"{p}-manual").stdout.splitlines()
    assert scs[0].split() == ["NAME", "PROVISIONER", "RECLAIMPOLICY", "VOLUMEBINDINGMODE",
                              "ALLOWVOLUMEEXPANSION", "AGE"]
    assert scs[1].split()[:6] == [f"{p}-manual", "(default)", "kubernetes.io/no-provisioner", "Delete",
                                  "WaitForFirstConsumer", "false"]
    together = kubectl("get", "pv,pvc,sc", "-n", namespace).stdout
    assert f"persistentvolume/{p}-pv" in together and "persistentvolumeclaim/task-pv-claim" in together
    assert f"storageclass.storage.k8s.io/{p}-manual" in together

    claim = json.loads(kubectl("get", "pvc", "task-pv-claim", "-n", namespace, "-o", "json").stdout)
    assert claim["spec"]["volumeMode"] == "Filesystem" and claim["status"] == {"phase": "Pending"}
    desc = kubectl("describe", "pvc", "task-pv-claim", "-n", namespace).stdout
    assert "StorageClass:" in desc and f"{p}-manual" in desc and "Pending" in desc
    assert "Retain" in kubectl("describe", "pv", f"{p}-pv").stdout

    # what a binder writes: volumeName once (spec) and the phases (status)
    kubectl("patch", "pvc", "task-pv-claim", "-n", namespace, "-p", json.dumps({"spec": {"volumeName": f"{p}-pv"}}))
    ref = {"kind": "PersistentVolumeClaim", "namespace": namespace, "name": "task-pv-claim",
           "uid": claim["metadata"]["uid"], "apiVersion": "v1"}
    kubectl("patch", "pv", f"{p}-pv", "-p", json.dumps({"spec": {"claimRef": ref}}))
    kubectl("patch", "pv", f"{p}-pv", "--subresource=status", "-p", '{"status": {"phase": "Bound"}}')
    kubectl("patch", "pvc", "task-pv-claim", "-n", namespace, "--subresource=status", "-p", json.dumps(
        {"status": {"phase": "Bound", "accessModes": ["ReadWriteOnce"], "capacity": {"storage": "10Gi"}}}))
    assert kubectl("get", "pvc", "-n", namespace, "--no-headers").stdout.split()[:5] == [
        "task-pv-claim", "Bound", f"{p}-pv", "10Gi", "RWO"]
    assert kubectl("get", "pv", f"{p}-pv", "--no-headers").stdout.split()[4:6] == ["Bound", f"{namespace}/task-pv-claim"]

    refused = kubectl("patch", "pvc", "task-pv-claim", "-n", namespace, "-p",
                      '{"spec": {"accessModes": ["ReadWriteMany"]}}', check=False)
    assert refused.returncode != 0 and "spec is immutable after creation" in refused.stderr
    kubectl("patch", "pvc", "task-pv-claim", "-n", namespace, "-p",
            '{"spec": {"resources": {"requests": {"storage": "5Gi"}}}}')      # a bound claim may grow

    # the claim goes (no pod uses it); then what a binder writes, the volume Released, lets the
    # volume go too (both carry their protection finalizers)
    kubectl("delete", "pvc", "task-pv-claim", "-n", namespace)
    kubectl("patch", "pv", f"{p}-pv", "--subresource=status", "-p", '{"status": {"phase": "Released"}}')
    kubectl("delete", "-n", namespace, "--ignore-not-found", "-f", "-", input=MANIFESTS.format(p=p))


def test_bad_objects_get_422_with_their_causes(kubectl, cluster):
    r = requests.post(cluster.server + "/api/v1/persistentvolumes", json={
        "apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "broken"},
        "spec": {"capacity": {"storage": "1Gi"}, "hostPath": {"path": "/a"}, "nfs": {"server": "x", "path": "/"}}})
    assert r.status_code == 422
    causes = {(c["field"], c["message"]) for c in r.json()["details"]["causes"]}
    assert causes == {("spec.accessModes", "Required value"),
                      ("spec.nfs", "Forbidden: may not specify more than 1 volume type")}
    r = requests.post(cluster.server + "/apis/storage.k8s.io/v1/storageclasses", json={
        "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "noprov"}})
    assert r.status_code == 422 and r.json()["details"]["causes"] == [
        {"type": "FieldValueRequired", "message": "Required value", "field": "provisioner"}]
    assert requests.get(cluster.server + "/api/v1/persistentvolumes/broken").status_code == 404


def test_discovery_and_explain(kubectl, cluster):
    core = requests.get(cluster.server + "/api/v1").json()["resources"]
    by_name = {r["name"]: r for r in core}
    assert by_name["persistentvolumes"]["namespaced"] is False and by_name["persistentvolumes"]["shortNames"] == ["pv"]
    assert by_name["persistentvolumeclaims"]["namespaced"] is True and "persistentvolumeclaims/status" in by_name
    groups = requests.get(cluster.server + "/apis").json()["groups"]
    assert "storage.k8s.io" in {g["name"] for g in groups}
    explained = kubectl("explain", "pv.spec.local").stdout
    assert "path" in explained and "fsType" in explained
    assert "volumeBindingMode" in kubectl("explain", "storageclass").stdout
    assert "storageClassName" in kubectl("explain", "pvc.spec").stdout
