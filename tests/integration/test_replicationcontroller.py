"""The ReplicationController controller (the ReplicaSet controller run for core/v1 RCs) and
the garbage collector against a real apiserver and etcd; a FakeKubelet plays the kubelet,
the real kubectl scales and deletes."""
from __future__ import annotations

import json
import re

import pytest

from fakekubelet import FakeKubelet
from polling import wait_for

POD_NAME = re.compile(r"^web-[bcdfghjklmnpqrstvwxz2456789]{5}$")


@pytest.fixture(scope="module")
def controllers(controller_manager):
    return controller_manager(["replicationcontroller", "garbagecollector"])


def rc(name, replicas, labels):
    return {"apiVersion": "v1", "kind": "ReplicationController", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": dict(labels),
                     "template": {"metadata": {"labels": dict(labels)},
                                  "spec": {"containers": [{"name": "app", "image": "busybox:latest",
                                                           "command": ["sleep", "3600"]}]}}}}


def live_pods(client, ns, selector="app=web"):
    return [p for p in client.list("pods", namespace=ns, label_selector=selector)["items"]
            if not p["metadata"].get("deletionTimestamp")]


def test_an_rc_makes_its_pods_scales_and_its_pods_go_with_it(controllers, api_client, namespace, kubectl):
    c = api_client
    with FakeKubelet(c, namespace):
        made = c.create("replicationcontrollers", rc("web", 3, {"app": "web"}), namespace=namespace)
        pods = wait_for(lambda: len(p := live_pods(c, namespace)) == 3 and p, what="3 pods")
        for pod in pods:
            assert POD_NAME.match(pod["metadata"]["name"])
            assert pod["metadata"]["ownerReferences"] == [{
                "apiVersion": "v1", "kind": "ReplicationController", "name": "web",
                "uid": made["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]
        wait_for(lambda: (c.get("replicationcontrollers", "web", namespace=namespace).get("status") or {})
                 .get("readyReplicas") == 3, what="3 ready replicas in status")
        status = c.get("replicationcontrollers", "web", namespace=namespace)["status"]
        assert status["replicas"] == 3 and status["observedGeneration"] == 1
        table = kubectl("get", "rc", "-n", namespace, "-o", "wide").stdout.splitlines()
        assert table[0].split() == ["NAME", "DESIRED", "CURRENT", "READY", "AGE", "CONTAINERS", "IMAGES",
                                    "SELECTOR"]
        cells = table[1].split()
        assert cells[:4] == ["web", "3", "3", "3"] and cells[-3:] == ["app", "busybox:latest", "app=web"]
        events = [e for e in c.list("events", namespace=namespace)["items"] if e.get("reason") == "SuccessfulCreate"]
        assert events and events[0]["source"]["component"] == "replication-controller"
        assert events[0]["involvedObject"]["kind"] == "ReplicationController"

        # kubectl scale goes through replicationcontrollers/scale (autoscaling/v1 Scale)
        assert "replicationcontroller/web scaled" in kubectl("scale", "rc", "web", "--replicas=1",
                                                             "-n", namespace).stdout
        scale = c.get("replicationcontrollers", "web", namespace=namespace, subresource="scale")
        assert scale["kind"] == "Scale" and scale["spec"]["replicas"] == 1
        wait_for(lambda: len(live_pods(c, namespace)) == 1, what="scaled down to 1 pod")
        wait_for(lambda: scale_status(c, namespace) == (1, "app=web"), what="Scale status: 1 replica, app=web")

        # An orphan matching the selector is adopted, and so the surplus is deleted.
        orphan = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "stray", "labels": {"app": "web"}},
                  "spec": {"containers": [{"name": "app", "image": "busybox:latest"}]}}
        c.create("pods", orphan, namespace=namespace)
        wait_for(lambda: len(live_pods(c, namespace)) == 1, what="back to 1 pod after adopting the stray")

        # Deleting the RC: the garbage collector deletes its pods.
        assert 'replicationcontroller "web" deleted' in kubectl("delete", "rc", "web", "-n", namespace,
                                                                "--wait=false").stdout
        wait_for(lambda: not live_pods(c, namespace), timeout=30, what="the GC to delete the RC's pods")


def scale_status(client, ns):
    st = client.get("replicationcontrollers", "web", namespace=ns, subresource="scale")["status"]
    return st.get("replicas"), st.get("selector")


def test_deleting_an_rc_with_orphan_leaves_its_pods(controllers, api_client, namespace, kubectl):
    c = api_client
    c.create("replicationcontrollers", rc("keep", 2, {"app": "keep"}), namespace=namespace)
    wait_for(lambda: len(live_pods(c, namespace, "app=keep")) == 2, what="2 pods")
    kubectl("delete", "rc", "keep", "-n", namespace, "--cascade=orphan")
    wait_for(lambda: all(not p["metadata"].get("ownerReferences") for p in live_pods(c, namespace, "app=keep")),
             what="the pods released")
    pods = json.loads(kubectl("get", "pods", "-n", namespace, "-l", "app=keep", "-o", "json").stdout)["items"]
    assert len(pods) == 2
