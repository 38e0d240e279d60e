"""The real kubectl (1.32) and the official `kubernetes` Python client against our apiserver."""
from __future__ import annotations

import os
import subprocess
import threading
import time

import pytest
import yaml

EXAMPLES = os.path.join(os.path.dirname(__file__), "..", "..", "examples")
NGINX = os.path.join(EXAMPLES, "nginx-deployment.yaml")


def test_apply_get_roundtrip_delete(kubectl, namespace):
    out = kubectl("apply", "-n", namespace, "-f", NGINX).stdout
    assert "deployment.apps/nginx created" in out
    assert "deployment.apps/nginx unchanged" in kubectl("apply", "-n", namespace, "-f", NGINX).stdout

    table = kubectl("get", "-n", namespace, "deploy,rs,pods").stdout
    header = table.splitlines()[0].split()
    assert header == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
    assert "deployment.apps/nginx" in table and "0/3" in table

    wide = kubectl("get", "-n", namespace, "deploy", "-o", "wide").stdout
    assert wide.splitlines()[0].split()[-3:] == ["CONTAINERS", "IMAGES", "SELECTOR"]
    assert "nginx:1.14.2" in wide and "app=nginx" in wide

    obj = yaml.safe_load(kubectl("get", "-n", namespace, "deploy", "nginx", "-o", "yaml").stdout)
    assert obj["kind"] == "Deployment" and obj["spec"]["replicas"] == 3
    assert obj["spec"]["strategy"]["rollingUpdate"]["maxSurge"] == "25%"
    # round trip: what we got back can be applied again unchanged
    del obj["metadata"]["resourceVersion"]
    out = kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(obj)).stdout
    assert "deployment.apps/nginx" in out

    assert "deleted" in kubectl("delete", "-n", namespace, "-f", NGINX).stdout
    r = kubectl("get", "-n", namespace, "deploy", "nginx", check=False)
    assert r.returncode == 1 and 'deployments.apps "nginx" not found' in r.stderr


def test_apply_changes_are_merged(kubectl, namespace):
    kubectl("apply", "-n", namespace, "-f", NGINX)
    with open(NGINX) as f:
        doc = yaml.safe_load(f)
    doc["spec"]["replicas"] = 2
    doc["spec"]["template"]["spec"]["containers"][0]["image"] = "nginx:1.16.1"
    doc["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "A", "value": "1"}]
    out = kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(doc)).stdout
    assert "configured" in out
    got = yaml.safe_load(kubectl("get", "-n", namespace, "deploy", "nginx", "-o", "yaml").stdout)
    c = got["spec"]["template"]["spec"]["containers"][0]
    assert got["spec"]["replicas"] == 2 and c["image"] == "nginx:1.16.1" and c["env"] == [{"name": "A", "value": "1"}]
    assert got["metadata"]["generation"] == 2
    # removing env from the manifest removes it from the object
    del doc["spec"]["template"]["spec"]["containers"][0]["env"]
    kubectl("apply", "-n", namespace, "-f", "-", input=yaml.safe_dump(doc))
    got = yaml.safe_load(kubectl("get", "-n", namespace, "deploy", "nginx", "-o", "yaml").stdout)
    assert "env" not in got["spec"]["template"]["spec"]["containers"][0]


def test_label_annotate_scale_patch_describe(kubectl, namespace):
    kubectl("create", "-n", namespace, "-f", NGINX)
    assert "labeled" in kubectl("label", "-n", namespace, "deploy", "nginx", "tier=web").stdout
    assert "annotated" in kubectl("annotate", "-n", namespace, "deploy", "nginx", "note=hi").stdout
    assert "scaled" in kubectl("scale", "-n", namespace, "deploy", "nginx", "--replicas=5").stdout
    kubectl("patch", "-n", namespace, "deploy", "nginx", "--type=json",
            "-p", '[{"op":"add","path":"/spec/minReadySeconds","value":3}]')
    kubectl("patch", "-n", namespace, "deploy", "nginx", "-p", '{"spec":{"paused":true}}')
    got = yaml.safe_load(kubectl("get", "-n", namespace, "deploy", "nginx", "-o", "yaml").stdout)
    assert got["metadata"]["labels"]["tier"] == "web" and got["metadata"]["annotations"]["note"] == "hi"
    assert got["spec"]["replicas"] == 5 and got["spec"]["minReadySeconds"] == 3 and got["spec"]["paused"]
    shown = kubectl("get", "-n", namespace, "deploy", "--show-labels").stdout
    assert "tier=web" in shown
    desc = kubectl("describe", "-n", namespace, "deploy", "nginx").stdout
    assert "Name:" in desc and "nginx" in desc and "RollingUpdate" in desc
    r = kubectl("create", "-n", namespace, "-f", NGINX, check=False)
    assert r.returncode != 0 and "AlreadyExists" in r.stderr


def test_get_all_namespaces_and_json(kubectl, namespace):
    kubectl("create", "-n", namespace, "-f", NGINX)
    out = kubectl("get", "deploy", "-A").stdout
    assert out.splitlines()[0].split()[0] == "NAMESPACE" and namespace in out
    import json
    lst = json.loads(kubectl("get", "-n", namespace, "deploy", "-o", "json").stdout)
    assert lst["kind"] == "List" and lst["items"][0]["metadata"]["name"] == "nginx"
    assert "default" in kubectl("get", "ns").stdout


def test_get_watch_prints_new_rows(cluster, namespace, tmp_path):
    env = dict(os.environ, KUBECONFIG=cluster.kubeconfig, HOME=str(tmp_path))
    proc = subprocess.Popen(["kubectl", "get", "pods", "-n", namespace, "-w"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=env)
    try:
        time.sleep(1.5)
        subprocess.run(["kubectl", "run", "watched", "-n", namespace, "--image=busybox", "--restart=Never"],
                       env=env, check=True, capture_output=True)
        lines = []
        deadline = time.time() + 10
        while time.time() < deadline and not any("watched" in line for line in lines):
            lines.append(proc.stdout.readline())
        assert any(line.startswith("watched") and "Pending" in line for line in lines), lines
    finally:
        proc.kill()
        proc.wait()


def test_official_python_client(cluster, namespace):
    from kubernetes import client, config, watch
    config.load_kube_config(cluster.kubeconfig)
    v1 = client.CoreV1Api()
    body = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "py", "labels": {"app": "py"}},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    created = v1.create_namespaced_pod(namespace, body)
    assert created.metadata.uid and created.status.phase == "Pending"
    lst = v1.list_namespaced_pod(namespace, label_selector="app=py")
    assert [p.metadata.name for p in lst.items] == ["py"]
    patched = v1.patch_namespaced_pod("py", namespace, {"metadata": {"labels": {"extra": "1"}}})
    assert patched.metadata.labels == {"app": "py", "extra": "1"}

    def later():
        time.sleep(0.5)
        v1.patch_namespaced_pod("py", namespace, {"metadata": {"labels": {"later": "1"}}})
        v1.delete_namespaced_pod("py", namespace)
    threading.Thread(target=later).start()
    seen = []
    w = watch.Watch()
    for ev in w.stream(v1.list_namespaced_pod, namespace, resource_version=patched.metadata.resource_version,
                       timeout_seconds=10):
        seen.append(ev["type"])
        if ev["type"] == "DELETED":
            w.stop()
    assert seen == ["MODIFIED", "DELETED"]
    with pytest.raises(client.ApiException) as err:
        v1.read_namespaced_pod("py", namespace)
    assert err.value.status == 404
    apps = client.AppsV1Api()
    d = apps.create_namespaced_deployment(namespace, yaml.safe_load(open(NGINX)))
    assert d.spec.replicas == 3
    apps.patch_namespaced_deployment_scale("nginx", namespace, {"spec": {"replicas": 1}})
    assert apps.read_namespaced_deployment("nginx", namespace).spec.replicas == 1


def test_typed_create_commands_send_protobuf(kubectl, cluster):
    """`kubectl create namespace/deployment` and `kubectl debug node/...` send protobuf bodies."""
    import json
    import requests
    ns = f"pb-{os.urandom(3).hex()}"
    out = kubectl("create", "namespace", ns, "-v=8")
    assert f"namespace/{ns} created" in out.stdout
    assert "Content-Type: application/vnd.kubernetes.protobuf" in out.stderr   # so this tests the decoder
    assert json.loads(kubectl("get", "ns", ns, "-o", "json").stdout)["status"]["phase"] == "Active"

    kubectl("create", "deployment", "web", "--image=nginx:1.25", "--replicas=2", "--port=80", "-n", ns)
    kubectl("create", "deployment", "idle", "--image=busybox", "--replicas=0", "-n", ns, "--", "sleep", "3600")
    web = json.loads(kubectl("get", "deploy", "web", "-n", ns, "-o", "json").stdout)
    assert web["metadata"]["labels"] == {"app": "web"} and web["spec"]["replicas"] == 2
    assert web["spec"]["selector"] == {"matchLabels": {"app": "web"}}
    c = web["spec"]["template"]["spec"]["containers"][0]
    assert c["name"] == "nginx" and c["image"] == "nginx:1.25" and c["ports"][0]["containerPort"] == 80
    idle = json.loads(kubectl("get", "deploy", "idle", "-n", ns, "-o", "json").stdout)
    assert idle["spec"]["replicas"] == 0                                         # a set 0 is not "unset"
    assert idle["spec"]["template"]["spec"]["containers"][0]["command"] == ["sleep", "3600"]

    # kubectl run sends JSON; it is here because the tutorials use it next to the others
    kubectl("run", "box", "--image=busybox", "--restart=Never", "--env=A=B", "--labels=run=box,tier=x",
            "-n", ns, "--", "sleep", "3600")
    box = json.loads(kubectl("get", "pod", "box", "-n", ns, "-o", "json").stdout)
    assert box["metadata"]["labels"] == {"run": "box", "tier": "x"}
    assert box["spec"]["containers"][0]["args"] == ["sleep", "3600"]
    assert box["spec"]["containers"][0]["env"] == [{"name": "A", "value": "B"}]

    # a Pod through protobuf: the debugging pod kubectl makes for a node
    node = f"pb-node-{os.urandom(3).hex()}"
    r = requests.post(f"{cluster.server}/api/v1/nodes", json={"metadata": {"name": node}})
    assert r.status_code == 201, r.text
    try:
        out = kubectl("debug", f"node/{node}", "--image=busybox", "--profile=sysadmin", "-n", ns).stdout
        assert f"on node {node}" in out
        pods = json.loads(kubectl("get", "pods", "-n", ns, "-o", "json").stdout)["items"]
        dbg = [p for p in pods if p["metadata"]["name"].startswith(f"node-debugger-{node}-")]
        assert len(dbg) == 1, [p["metadata"]["name"] for p in pods]
        spec = dbg[0]["spec"]
        assert spec["nodeName"] == node and spec["hostPID"] and spec["hostNetwork"]
        assert spec["volumes"] == [{"name": "host-root", "hostPath": {"path": "/"}}]
        assert spec["containers"][0]["securityContext"] == {"privileged": True}
        assert spec["containers"][0]["volumeMounts"] == [{"name": "host-root", "mountPath": "/host"}]
    finally:
        requests.delete(f"{cluster.server}/api/v1/nodes/{node}")


def test_drain_evicts_the_pods_of_a_node(kubectl, cluster, namespace):
    """kubectl drain: cordon (a patch), a policy/v1 Eviction per pod, then wait until they are gone.

    No kubelet runs here, so a graceful deletion would wait for one until --timeout. kubectl
    passes --grace-period=0 on as deleteOptions.gracePeriodSeconds=0, and a zero grace period
    deletes a bound pod at once (kube-apiserver's rule), so the pods really go.
    """
    import requests
    node = f"drain-{os.urandom(3).hex()}"
    r = requests.post(f"{cluster.server}/api/v1/nodes", json={"metadata": {"name": node}})
    assert r.status_code == 201, r.text
    pods = f"{cluster.server}/api/v1/namespaces/{namespace}/pods"
    try:
        for name in ("a", "b"):
            requests.post(pods, json={"metadata": {"name": name},
                                      "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
                          ).raise_for_status()
            r = requests.post(f"{pods}/{name}/binding", json={
                "apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
                "target": {"apiVersion": "v1", "kind": "Node", "name": node}})
            assert r.status_code == 201, r.text
        out = kubectl("drain", node, "--ignore-daemonsets", "--delete-emptydir-data", "--force",
                      "--grace-period=0", "--timeout=30s", "-v=8")
        assert f"node/{node} cordoned" in out.stdout and f"node/{node} drained" in out.stdout
        assert "pod/a evicted" in out.stdout and "pod/b evicted" in out.stdout
        for name in ("a", "b"):     # evicted through the subresource, not deleted
            assert f"POST {pods}/{name}/eviction" in out.stderr
        assert out.stderr.count("Response Status: 201") == 2 and f"DELETE {pods}/" not in out.stderr
        assert '"deleteOptions":{"gracePeriodSeconds":0}' in out.stderr
        assert requests.get(f"{cluster.server}/api/v1/nodes/{node}").json()["spec"]["unschedulable"] is True
        assert requests.get(pods).json()["items"] == []
    finally:
        requests.delete(f"{cluster.server}/api/v1/nodes/{node}")
