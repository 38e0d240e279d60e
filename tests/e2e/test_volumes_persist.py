"""Volumes that persist, as a user meets them: `minikube-py up`, real kubectl, real Docker.

The default StorageClass "standard" shows (default); a pod with a claim of that class
writes a file, the pod is deleted and created again, and the file is still there;
deleting the claim deletes the volume and its directory (reclaim Delete).
"""
from __future__ import annotations

import json
import os
import sys
import uuid

import pytest
from dockerutil import list_containers  # noqa: E402  (tests/dockerutil.py)
from polling import wait_for  # tests/polling.py
from commands import run  # tests/commands.py

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MANIFEST = os.path.join(ROOT, "examples", "pv-pod.yaml")
PAGE = "/usr/share/nginx/html/index.html"


@pytest.fixture(scope="module")
def cluster(lab_images, tmp_path_factory):
    from minikube_py.storage.embedded import free_port
    state = str(tmp_path_factory.mktemp("up"))
    prefix = f"pv{uuid.uuid4().hex[:4]}"
    cli = [sys.executable, "-m", "minikube_py.cli.minikube"]
    out = run(*cli, "up", "--state-dir", state, "--port", str(free_port()), "--nodes", "2",
              "--node-prefix", prefix, timeout=180).stdout
    assert "Cluster is up" in out
    env = dict(os.environ, KUBECONFIG=os.path.join(state, "kubeconfig"), HOME=state)
    yield {"env": env, "state": state, "nodes": [f"{prefix}-1", f"{prefix}-2"]}
    run(*cli, "down", "--state-dir", state, timeout=120)
    for node in (f"{prefix}-1", f"{prefix}-2"):
        assert list_containers(lab_images, all=True, filters={"label": f"io.minikube-py.node={node}"}) == []


def kubectl(cluster, *args, **kw):
    return run("kubectl", *args, env=cluster["env"], **kw)


def get(cluster, *args):
    return json.loads(kubectl(cluster, "get", *args, "-o", "json").stdout)


def running(cluster, name):
    pod = get(cluster, "pod", name)
    return pod if (pod.get("status") or {}).get("phase") == "Running" else None


def test_the_default_class_shows_and_a_file_outlives_its_pod(cluster):
    classes = kubectl(cluster, "get", "sc").stdout.splitlines()
    assert classes[0].split() == ["NAME", "PROVISIONER", "RECLAIMPOLICY", "VOLUMEBINDINGMODE",
                                  "ALLOWVOLUMEEXPANSION", "AGE"]
    assert classes[1].split()[:6] == ["standard", "(default)", "minikube-py.io/local-path", "Delete",
                                      "WaitForFirstConsumer", "false"]

    kubectl(cluster, "apply", "-f", MANIFEST)
    pod = wait_for(lambda: running(cluster, "task-pv-pod"), timeout=90, what="task-pv-pod Running")
    node = pod["spec"]["nodeName"]
    claim = get(cluster, "pvc", "task-pv-claim")
    assert claim["status"]["phase"] == "Bound" and claim["spec"]["storageClassName"] == "standard"
    assert claim["metadata"]["annotations"]["volume.kubernetes.io/selected-node"] == node
    volume = claim["spec"]["volumeName"]
    path = get(cluster, "pv", volume)["spec"]["hostPath"]["path"]
    assert path == os.path.join(cluster["state"], "local-path", f"{volume}_default_task-pv-claim")
    kubectl(cluster, "exec", "task-pv-pod", "--", "sh", "-c", f"echo hello from the volume > {PAGE}")
    with open(os.path.join(path, "index.html")) as f:           # the node's directory: this host's disk
        assert f.read() == "hello from the volume\n"

    kubectl(cluster, "delete", "pod", "task-pv-pod", timeout=120)
    kubectl(cluster, "apply", "-f", MANIFEST)
    again = wait_for(lambda: running(cluster, "task-pv-pod"), timeout=90, what="task-pv-pod Running again")
    assert again["spec"]["nodeName"] == node                      # the volume's node affinity
    assert kubectl(cluster, "exec", "task-pv-pod", "--", "cat", PAGE).stdout == "hello from the volume\n"

    listing = kubectl(cluster, "get", "pv,pvc,sc").stdout
    assert f"persistentvolume/{volume}" in listing and "persistentvolumeclaim/task-pv-claim" in listing
    assert "storageclass.storage.k8s.io/standard (default)" in listing
    described = kubectl(cluster, "describe", "pvc", "task-pv-claim").stdout
    assert "Bound" in described and volume in described and "task-pv-pod" in described     # Used By
    assert "ProvisioningSucceeded" in described

    # the claim is in use (kubernetes.io/pvc-protection): deleting it leaves it Terminating,
    # and the pod keeps its data until the pod itself goes
    kubectl(cluster, "delete", "pvc", "task-pv-claim", "--wait=false")
    assert kubectl(cluster, "get", "pvc", "task-pv-claim", "--no-headers").stdout.split()[:3] == [
        "task-pv-claim", "Terminating", volume]
    assert kubectl(cluster, "exec", "task-pv-pod", "--", "cat", PAGE).stdout == "hello from the volume\n"
    kubectl(cluster, "delete", "-f", MANIFEST, "--ignore-not-found", timeout=120)
    wait_for(lambda: volume not in kubectl(cluster, "get", "pv").stdout, what="volume deleted")
    assert not os.path.exists(path)


def test_a_pod_whose_claim_is_missing_waits(cluster):
    kubectl(cluster, "run", "lonely", "--image=busybox:1.35", "--restart=Never",
            "--overrides", json.dumps({"spec": {"volumes": [{"name": "d", "persistentVolumeClaim": {
                "claimName": "nope"}}], "containers": [{"name": "lonely", "image": "busybox:1.35",
                                                       "command": ["sleep", "3600"],
                                                       "volumeMounts": [{"name": "d", "mountPath": "/d"}]}]}}))
    wait_for(lambda: 'persistentvolumeclaim "nope" not found' in kubectl(cluster, "describe", "pod", "lonely").stdout,
             what="FailedScheduling names the claim")
    kubectl(cluster, "delete", "pod", "lonely", "--wait=false")


def test_a_file_in_web_0s_volume_survives_deleting_web_0(cluster):
    """The docs' StatefulSet `web`: each pod has its own claim (www-web-0, www-web-1) of the
    default class; web-0 deleted comes back with the same claim, so with the same files."""
    manifest = os.path.join(ROOT, "examples", "web-statefulset.yaml")
    kubectl(cluster, "apply", "-f", manifest)
    try:
        web0 = wait_for(lambda: running(cluster, "web-0"), timeout=120, what="web-0 Running")
        claims = {c["metadata"]["name"]: c for c in get(cluster, "pvc")["items"]}
        assert claims["www-web-0"]["status"]["phase"] == "Bound"
        assert claims["www-web-0"]["spec"]["storageClassName"] == "standard"
        kubectl(cluster, "exec", "web-0", "--", "sh", "-c", f"echo web-0 was here > {PAGE}")
        kubectl(cluster, "delete", "pod", "web-0", timeout=120)
        again = wait_for(lambda: (p := running(cluster, "web-0")) and p["metadata"]["uid"] != web0["metadata"]["uid"]
                         and p, timeout=120, what="a new web-0 Running")
        assert again["spec"]["nodeName"] == web0["spec"]["nodeName"]
        assert kubectl(cluster, "exec", "web-0", "--", "cat", PAGE).stdout == "web-0 was here\n"
        wait_for(lambda: running(cluster, "web-1"), timeout=120, what="web-1 Running")
        assert get(cluster, "pvc", "www-web-1")["status"]["phase"] == "Bound"
    finally:
        kubectl(cluster, "delete", "-f", manifest, "--wait=false", check=False)
