"""The PV controller and the local-path provisioner against the real apiserver (real etcd):
static binding (size, access modes, selector, volumeName), the default StorageClass,
WaitForFirstConsumer, dynamic provisioning of a directory, and reclaiming (Retain,
Delete, Failed). The scheduler's part (the selected-node annotation) is written here
by hand; tests/integration/test_volume_scheduling.py runs the real scheduler.
"""
from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid

import pytest

from minikube_py.controllers.config import ControllerConfig
from polling import wait_for

SELECTED_NODE = "volume.kubernetes.io/selected-node"


@pytest.fixture(scope="module")
def local_path_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("local-path"))


@pytest.fixture(scope="module")
def controllers(controller_manager, local_path_dir):
    return controller_manager(["persistentvolume-binder", "local-path-provisioner", "pvc-protection", "pv-protection"],
                              ControllerConfig(local_path_dir=local_path_dir))


@pytest.fixture
def mkctl(cluster, tmp_path):
    def run(*args):
        """mkctl's output, each line's runs of blanks made one space (the alignment is not checked)."""
        out = subprocess.run([sys.executable, "-m", "minikube_py.cli.mkctl", "--kubeconfig", cluster.kubeconfig,
                              *args], capture_output=True, text=True, timeout=60, check=True,
                             env=dict(os.environ, HOME=str(tmp_path))).stdout
        return [" ".join(line.split()) for line in out.splitlines()]
    return run


@pytest.fixture
def tag():
    return uuid.uuid4().hex[:6]


def volume(name, size, cls, modes=("ReadWriteOnce",), policy="Retain", labels=None, **spec):
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name, "labels": labels or {}},
            "spec": {"capacity": {"storage": size}, "accessModes": list(modes), "storageClassName": cls,
                     "persistentVolumeReclaimPolicy": policy, "hostPath": {"path": f"/tmp/{name}"}, **spec}}


def claim(name, size, cls=None, modes=("ReadWriteOnce",), **spec):
    body = {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
            "spec": {"accessModes": list(modes), "resources": {"requests": {"storage": size}}, **spec}}
    if cls is not None:
        body["spec"]["storageClassName"] = cls
    return body


def storage_class(name, provisioner, mode="Immediate", policy="Delete", default=False):
    md = {"name": name}
    if default:
        md["annotations"] = {"storageclass.kubernetes.io/is-default-class": "true"}
    return {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": md,
            "provisioner": provisioner, "volumeBindingMode": mode, "reclaimPolicy": policy}


def get_claim(client, ns, name):
    return client.get("persistentvolumeclaims", name, namespace=ns)


def phase(obj):
    return (obj.get("status") or {}).get("phase")


def events(client, ns, name):
    return [(e["reason"], e["message"]) for e in client.list("events", namespace=ns)["items"]
            if e["involvedObject"]["name"] == name]


def test_claims_bind_to_the_smallest_volume_that_serves_them(controllers, api_client, namespace, tag):
    cls = f"slow-{tag}"
    for name, size, modes in ((f"small-{tag}", "1Gi", ["ReadWriteOnce"]), (f"big-{tag}", "5Gi", ["ReadWriteOnce"]),
                              (f"huge-{tag}", "10Gi", ["ReadWriteOnce"]), (f"shared-{tag}", "3Gi", ["ReadOnlyMany"])):
        api_client.create("persistentvolumes", volume(name, size, cls, modes))
    wait_for(lambda: phase(api_client.get("persistentvolumes", f"huge-{tag}")) == "Available", what="Available")
    api_client.create("persistentvolumeclaims", claim("data", "2Gi", cls), namespace=namespace)
    bound = wait_for(lambda: phase(c := get_claim(api_client, namespace, "data")) == "Bound" and c,
                     what="the claim Bound")
    assert bound["spec"]["volumeName"] == f"big-{tag}"
    assert bound["status"]["capacity"] == {"storage": "5Gi"} and bound["status"]["accessModes"] == ["ReadWriteOnce"]
    assert bound["metadata"]["annotations"] == {"pv.kubernetes.io/bind-completed": "yes",
                                                "pv.kubernetes.io/bound-by-controller": "yes"}
    pv = wait_for(lambda: phase(v := api_client.get("persistentvolumes", f"big-{tag}")) == "Bound" and v,
                  what="the volume Bound")
    ref = pv["spec"]["claimRef"]
    assert (ref["namespace"], ref["name"], ref["uid"]) == (namespace, "data", bound["metadata"]["uid"])
    assert pv["metadata"]["annotations"]["pv.kubernetes.io/bound-by-controller"] == "yes"

    # a mode no volume offers: Pending, with the binder's event
    api_client.create("persistentvolumeclaims", claim("many", "1Gi", cls, modes=["ReadWriteMany"]),
                      namespace=namespace)
    wait_for(lambda: ("ProvisioningFailed", f'storageclass.storage.k8s.io "{cls}" not found')
             in events(api_client, namespace, "many"), what="ProvisioningFailed")
    assert phase(get_claim(api_client, namespace, "many")) == "Pending"
    # a volume that serves it appears: the waiting claim binds
    api_client.create("persistentvolumes", volume(f"rwx-{tag}", "1Gi", cls, ["ReadWriteMany", "ReadWriteOnce"]))
    wait_for(lambda: get_claim(api_client, namespace, "many")["spec"].get("volumeName") == f"rwx-{tag}",
             what="bound once a volume came")

    # Retain: the claim goes, the volume stays Released with its claimRef
    api_client.delete("persistentvolumeclaims", "data", namespace=namespace)
    released = wait_for(lambda: phase(v := api_client.get("persistentvolumes", f"big-{tag}")) == "Released" and v,
                        what="Released")
    assert released["spec"]["claimRef"]["name"] == "data"
    # a new claim of the same name does not get the released volume back
    api_client.create("persistentvolumeclaims", claim("data", "2Gi", cls), namespace=namespace)
    again = wait_for(lambda: phase(c := get_claim(api_client, namespace, "data")) == "Bound" and c, what="rebound")
    assert again["spec"]["volumeName"] == f"huge-{tag}"


def test_a_claim_in_use_and_a_bound_volume_stay_until_nothing_uses_them(controllers, api_client, kubectl,
                                                                         namespace, tag):
    """Storage object in use protection: deleting a claim a scheduled pod mounts, or a volume
    bound to a claim, leaves it Terminating until the pod (then the claim) is gone."""
    cls = f"kept-{tag}"
    api_client.create("persistentvolumes", volume(f"kept-{tag}", "1Gi", cls))
    api_client.create("persistentvolumeclaims", claim("kept", "1Gi", cls), namespace=namespace)
    wait_for(lambda: phase(get_claim(api_client, namespace, "kept")) == "Bound", what="Bound")
    assert get_claim(api_client, namespace, "kept")["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    assert api_client.get("persistentvolumes", f"kept-{tag}")["metadata"]["finalizers"] == \
        ["kubernetes.io/pv-protection"]
    api_client.create("pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "user"}, "spec": {
        "nodeName": f"node-{tag}", "containers": [{"name": "c", "image": "busybox"}],
        "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "kept"}}]}}, namespace=namespace)

    api_client.delete("persistentvolumeclaims", "kept", namespace=namespace)
    kubectl("delete", "pv", f"kept-{tag}", "--wait=false")
    # the controllers look and leave both: the pod still uses the claim, the claim the volume
    table = wait_for(lambda: (t := kubectl("get", "pvc", "kept", "-n", namespace, "--no-headers").stdout.split())
                     and t[1] == "Terminating" and t, what="the claim Terminating")
    assert table[:3] == ["kept", "Terminating", f"kept-{tag}"]
    assert kubectl("get", "pv", f"kept-{tag}", "--no-headers").stdout.split()[4] == "Terminating"
    time.sleep(1.0)         # a controller that wrongly let go would have done so by now
    assert get_claim(api_client, namespace, "kept")["metadata"]["finalizers"] == ["kubernetes.io/pvc-protection"]
    assert phase(api_client.get("persistentvolumes", f"kept-{tag}")) == "Bound"

    # the pod goes: then the claim, then (released) the volume
    api_client.delete("pods", "user", namespace=namespace, grace_period_seconds=0)
    wait_for(lambda: "kept" not in [c["metadata"]["name"] for c in
                                    api_client.list("persistentvolumeclaims", namespace=namespace)["items"]],
             what="the claim deleted once its pod went")
    wait_for(lambda: f"kept-{tag}" not in [v["metadata"]["name"] for v in api_client.list("persistentvolumes")["items"]],
             what="the volume deleted once released")


def test_selector_volume_name_and_a_mismatch(controllers, api_client, namespace, tag):
    cls = f"sel-{tag}"
    api_client.create("persistentvolumes", volume(f"fast-{tag}", "2Gi", cls, labels={"speed": "fast"}))
    api_client.create("persistentvolumes", volume(f"plain-{tag}", "1Gi", cls))
    api_client.create("persistentvolumes", volume(f"mine-{tag}", "8Gi", cls))
    api_client.create("persistentvolumeclaims", claim("picky", "1Gi", cls, selector={"matchLabels": {"speed": "fast"}}),
                      namespace=namespace)
    api_client.create("persistentvolumeclaims", claim("named", "1Gi", cls, volumeName=f"mine-{tag}"),
                      namespace=namespace)
    api_client.create("persistentvolumeclaims", claim("toobig", "9Gi", cls, volumeName=f"plain-{tag}"),
                      namespace=namespace)
    wait_for(lambda: get_claim(api_client, namespace, "picky")["spec"].get("volumeName") == f"fast-{tag}",
             what="selector honoured")
    named = wait_for(lambda: phase(c := get_claim(api_client, namespace, "named")) == "Bound" and c,
                     what="pre-bound claim Bound")
    assert named["spec"]["volumeName"] == f"mine-{tag}"
    assert "pv.kubernetes.io/bound-by-controller" not in named["metadata"]["annotations"]   # the user named it
    wait_for(lambda: ("VolumeMismatch", f'Cannot bind to requested volume "plain-{tag}": requested PV is too small')
             in events(api_client, namespace, "toobig"), what="VolumeMismatch")
    assert phase(get_claim(api_client, namespace, "toobig")) == "Pending"


def test_a_static_volume_with_reclaim_delete_fails_without_a_deleter(controllers, api_client, namespace, tag):
    cls = f"del-{tag}"
    api_client.create("persistentvolumes", volume(f"gone-{tag}", "1Gi", cls, policy="Delete"))
    api_client.create("persistentvolumeclaims", claim("c", "1Gi", cls), namespace=namespace)
    wait_for(lambda: phase(get_claim(api_client, namespace, "c")) == "Bound", what="Bound")
    api_client.delete("persistentvolumeclaims", "c", namespace=namespace)
    failed = wait_for(lambda: phase(v := api_client.get("persistentvolumes", f"gone-{tag}")) == "Failed" and v,
                      what="Failed")
    assert failed["status"]["message"] == "no deletable volume plugin matched"


def test_default_class_and_local_path_provisioning_wait_for_the_first_consumer(
        controllers, api_client, kubectl, mkctl, namespace, tag, local_path_dir):
    cls = f"standard-{tag}"
    api_client.create("storageclasses", storage_class(cls, "minikube-py.io/local-path",
                                                      mode="WaitForFirstConsumer", default=True))
    node = f"node-{tag}"
    api_client.create("nodes", {"apiVersion": "v1", "kind": "Node",
                                "metadata": {"name": node, "labels": {"kubernetes.io/hostname": node}}})
    try:
        api_client.create("persistentvolumeclaims", claim("www", "64Mi"), namespace=namespace)
        pvc = get_claim(api_client, namespace, "www")
        assert pvc["spec"]["storageClassName"] == cls                  # DefaultStorageClass admission
        wait_for(lambda: ("WaitForFirstConsumer", "waiting for first consumer to be created before binding")
                 in events(api_client, namespace, "www"), what="WaitForFirstConsumer")
        assert phase(get_claim(api_client, namespace, "www")) == "Pending"

        # what the scheduler does when it places the claim's first pod
        api_client.patch("persistentvolumeclaims", "www", {"metadata": {"annotations": {SELECTED_NODE: node}}},
                         namespace=namespace)
        bound = wait_for(lambda: phase(c := get_claim(api_client, namespace, "www")) == "Bound" and c,
                         what="provisioned and bound", timeout=30)
        uid = bound["metadata"]["uid"]
        assert bound["spec"]["volumeName"] == f"pvc-{uid}"
        assert bound["metadata"]["annotations"]["volume.kubernetes.io/storage-provisioner"] == \
            "minikube-py.io/local-path"
        pv = api_client.get("persistentvolumes", f"pvc-{uid}")
        path = os.path.join(local_path_dir, f"pvc-{uid}_{namespace}_www")
        assert pv["spec"]["hostPath"] == {"path": path, "type": "DirectoryOrCreate"} and os.path.isdir(path)
        assert pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"] == [
            {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]
        assert (pv["spec"]["capacity"], pv["spec"]["persistentVolumeReclaimPolicy"], pv["spec"]["storageClassName"]) \
            == ({"storage": "64Mi"}, "Delete", cls)
        assert pv["metadata"]["annotations"]["pv.kubernetes.io/provisioned-by"] == "minikube-py.io/local-path"
        reasons = [r for r, _ in events(api_client, namespace, "www")]
        assert "ExternalProvisioning" in reasons and "ProvisioningSucceeded" in reasons
        table = kubectl("get", "pvc", "www", "-n", namespace, "--no-headers").stdout.split()
        assert table[:6] == ["www", "Bound", f"pvc-{uid}", "64Mi", "RWO", cls]
        api_client.create("pods", {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "user"}, "spec": {
            "containers": [{"name": "c", "image": "busybox"}],
            "volumes": [{"name": "v", "persistentVolumeClaim": {"claimName": "www"}}]}}, namespace=namespace)
        described = mkctl("describe", "pvc", "www", "-n", namespace)
        for line in (f"StorageClass: {cls}", "Status: Bound", f"Volume: pvc-{uid}", "Capacity: 64Mi",
                     "Access Modes: RWO", "VolumeMode: Filesystem", "Used By: user"):
            assert line in described, described
        assert any("ProvisioningSucceeded" in line for line in described)
        described = mkctl("describe", "pv", f"pvc-{uid}")
        for line in (f"Claim: {namespace}/www", "Reclaim Policy: Delete", "Status: Bound",
                     f"Term 0: kubernetes.io/hostname in [{node}]",
                     "Type: HostPath (bare host directory volume)", f"Path: {path}"):
            assert line in described, described
        assert "IsDefaultClass: Yes" in mkctl("describe", "sc", cls)
        api_client.delete("pods", "user", namespace=namespace)

        # reclaim Delete: the claim goes, so do the directory and the volume
        with open(os.path.join(path, "index.html"), "w") as f:
            f.write("hello")
        api_client.delete("persistentvolumeclaims", "www", namespace=namespace)
        wait_for(lambda: not any(v["metadata"]["name"] == f"pvc-{uid}"
                                 for v in api_client.list("persistentvolumes")["items"]), what="volume deleted")
        assert not os.path.exists(path)

        # an Immediate class of this provisioner cannot know the node: the provisioner says so
        api_client.create("storageclasses", storage_class(f"now-{tag}", "minikube-py.io/local-path"))
        api_client.create("persistentvolumeclaims", claim("now", "1Gi", f"now-{tag}"), namespace=namespace)
        wait_for(lambda: ("ProvisioningFailed", f'failed to provision volume with StorageClass "now-{tag}": '
                          "configuration error, no node was specified") in events(api_client, namespace, "now"),
                 what="ProvisioningFailed")
    finally:
        api_client.delete("storageclasses", cls)
        api_client.delete("nodes", node)
