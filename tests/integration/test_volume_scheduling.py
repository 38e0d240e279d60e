"""The scheduler's VolumeBinding plugin with the PV controller and the local-path provisioner,
on a real apiserver and etcd, with hollow Node objects (no kubelet runs).

What a user sees: a pod whose claim is not bound (or does not exist) waits with a
FailedScheduling event that says so; a pod whose claim's class is WaitForFirstConsumer
gets its volume provisioned on the node the scheduler picked, before it is bound there;
a pod using a volume that lives on one node is only ever placed on that node.
This module runs on a cluster of its own, so the node counts in the messages are exact.
"""
from __future__ import annotations

import os

import pytest

from minikube_py.client.rest import Client
from minikube_py.controllers.config import ControllerConfig
from minikube_py.scheduler.scheduler import Scheduler
from polling import wait_for

SELECTED_NODE = "volume.kubernetes.io/selected-node"


@pytest.fixture(scope="module")
def cluster():
    from clusters import Cluster
    c = Cluster().start()
    yield c
    c.stop()


@pytest.fixture(scope="module")
def local_path_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("local-path"))


@pytest.fixture(scope="module")
def setup(cluster, controller_manager, local_path_dir):
    client = Client(server=cluster.server)
    for name in ("n1", "n2"):
        alloc = {"cpu": "4", "memory": "8Gi", "pods": "110"}
        client.create("nodes", {"apiVersion": "v1", "kind": "Node",
                                "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}},
                                "status": {"capacity": alloc, "allocatable": alloc,
                                           "conditions": [{"type": "Ready", "status": "True"}]}})
    for name, provisioner, mode in (("local", "minikube-py.io/local-path", "WaitForFirstConsumer"),
                                    ("static", "kubernetes.io/no-provisioner", "WaitForFirstConsumer"),
                                    ("manual", "kubernetes.io/no-provisioner", "Immediate")):
        client.create("storageclasses", {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
                                         "metadata": {"name": name}, "provisioner": provisioner,
                                         "volumeBindingMode": mode})
    controller_manager(["persistentvolume-binder", "local-path-provisioner"],
                       ControllerConfig(local_path_dir=local_path_dir))
    scheduler = Scheduler(Client(server=cluster.server), initial_backoff=0.1, max_backoff=0.5).start(sync_timeout=20)
    yield client
    scheduler.stop()
    client.close()


def claim(name, cls, size="1Gi"):
    return {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": name},
            "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": cls,
                     "resources": {"requests": {"storage": size}}}}


def pod(name, *claims):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "c", "image": "busybox"}],
                     "volumes": [{"name": f"v{i}", "persistentVolumeClaim": {"claimName": c}}
                                 for i, c in enumerate(claims)]}}


def local_volume(name, node, cls="static", size="1Gi"):
    return {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": name},
            "spec": {"capacity": {"storage": size}, "accessModes": ["ReadWriteOnce"], "storageClassName": cls,
                     "local": {"path": "/mnt/disks/" + name},
                     "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                         {"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}]}}}}


def node_of(client, ns, name):
    return client.get("pods", name, namespace=ns)["spec"].get("nodeName")


def failed_scheduling(client, ns, name):
    return [e["message"] for e in client.list("events", namespace=ns)["items"]
            if e["involvedObject"]["name"] == name and e["reason"] == "FailedScheduling"]


def test_a_pod_waits_for_its_claim_to_exist_and_to_be_bound(setup, namespace):
    client = setup
    client.create("pods", pod("waits", "data"), namespace=namespace)
    wait_for(lambda: 'persistentvolumeclaim "data" not found' in " ".join(failed_scheduling(client, namespace, "waits")),
             what="FailedScheduling: claim not found")
    client.create("persistentvolumeclaims", claim("data", "manual"), namespace=namespace)
    wait_for(lambda: "0/2 nodes are available: 2 pod has unbound immediate PersistentVolumeClaims."
             in failed_scheduling(client, namespace, "waits"), what="FailedScheduling: unbound immediate claim")
    assert node_of(client, namespace, "waits") is None
    pv = local_volume(f"{namespace}-manual", "n2", cls="manual")
    client.create("persistentvolumes", pv)                   # the binder binds it; the pod can go
    assert wait_for(lambda: node_of(client, namespace, "waits"), what="scheduled") == "n2"


def test_wait_for_first_consumer_provisions_on_the_chosen_node(setup, namespace, local_path_dir):
    client = setup
    client.create("persistentvolumeclaims", claim("www", "local", "64Mi"), namespace=namespace)
    client.create("pods", pod("web", "www"), namespace=namespace)
    node = wait_for(lambda: node_of(client, namespace, "web"), what="scheduled")
    pvc = client.get("persistentvolumeclaims", "www", namespace=namespace)
    assert pvc["metadata"]["annotations"][SELECTED_NODE] == node and pvc["status"]["phase"] == "Bound"
    pv = client.get("persistentvolumes", pvc["spec"]["volumeName"])
    assert pv["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]["values"] == [node]
    assert os.path.isdir(pv["spec"]["hostPath"]["path"]) and pv["spec"]["hostPath"]["path"].startswith(local_path_dir)

    # the pod goes and comes back: its volume is on one node, so is the pod (every time)
    for i in range(3):
        client.delete("pods", "web", namespace=namespace, grace_period_seconds=0)
        wait_for(lambda: "web" not in [p["metadata"]["name"] for p in client.list("pods", namespace=namespace)["items"]],
                 what="pod gone")
        client.create("pods", pod("web", "www"), namespace=namespace)
        assert wait_for(lambda: node_of(client, namespace, "web"), what="rescheduled") == node


def test_a_static_volume_on_one_node_draws_the_pod_there(setup, namespace):
    client = setup
    client.create("persistentvolumes", local_volume(f"{namespace}-disk", "n1"))
    client.create("persistentvolumeclaims", claim("disk", "static"), namespace=namespace)
    client.create("pods", pod("db", "disk"), namespace=namespace)
    assert wait_for(lambda: node_of(client, namespace, "db"), what="scheduled") == "n1"
    pvc = client.get("persistentvolumeclaims", "disk", namespace=namespace)
    assert pvc["spec"]["volumeName"] == f"{namespace}-disk" and pvc["status"]["phase"] == "Bound"

    # a second claim of that class finds no volume on any node, and no provisioner; once a
    # volume appears on n2, the pod goes there; then a pod of both claims fits nowhere
    client.create("persistentvolumeclaims", claim("more", "static"), namespace=namespace)
    client.create("pods", pod("db2", "more"), namespace=namespace)
    wait_for(lambda: "0/2 nodes are available: 2 node(s) didn't find available persistent volumes to bind."
             in failed_scheduling(client, namespace, "db2"), what="nothing to bind")
    client.create("persistentvolumes", local_volume(f"{namespace}-other", "n2"))
    assert wait_for(lambda: node_of(client, namespace, "db2"), what="db2 scheduled") == "n2"
    assert client.get("persistentvolumeclaims", "more", namespace=namespace)["status"]["phase"] == "Bound"
    client.create("pods", pod("both", "disk", "more"), namespace=namespace)
    wait_for(lambda: "0/2 nodes are available: 2 node(s) had volume node affinity conflict."
             in failed_scheduling(client, namespace, "both"), what="affinity conflict")
