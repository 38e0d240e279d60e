"""Cluster DNS as a user meets it: `minikube-py up` (real Docker), the docs' nginx behind
`kubectl expose`, and a busybox pod that looks the names up with `nslookup`.

`up` starts `minikube-py dns` on the pod network's gateway (port 53) and the kubelets
with --cluster-dns pointing at it; the Endpoints controller fills the Endpoints.
"""
from __future__ import annotations

import json
import os
import sys
import uuid

import pytest
from polling import wait_for  # tests/polling.py
from dockerutil import list_containers  # noqa: E402  (tests/dockerutil.py)
from test_cluster_up import run  # noqa: E402  (tests/e2e/ is on sys.path)


@pytest.fixture(scope="module")
def up_cluster(lab_images, tmp_path_factory):
    from minikube_py.storage.embedded import free_port
    state = str(tmp_path_factory.mktemp("up-dns"))
    prefix = f"dns{uuid.uuid4().hex[:4]}"
    cli = [sys.executable, "-m", "minikube_py.cli.minikube"]
    out = run(*cli, "up", "--state-dir", state, "--port", str(free_port()), "--nodes", "1",
              "--node-prefix", prefix, timeout=180).stdout
    assert "Cluster is up" in out
    assert "Starting cluster DNS on" in out, out    # not "warning: no cluster DNS"
    env = dict(os.environ, KUBECONFIG=os.path.join(state, "kubeconfig"), HOME=state)
    yield {"env": env, "state": state}
    run(*cli, "down", "--state-dir", state, timeout=120)
    assert list_containers(lab_images, all=True, filters={"label": f"io.minikube-py.node={prefix}-1"}) == []


def kubectl(cluster, *args, **kw):
    return run("kubectl", *args, env=cluster["env"], **kw)


def pod_output(cluster, name, script, **spec):
    """Run a busybox pod to completion and return its log."""
    kubectl(cluster, "create", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"restartPolicy": "Never", **spec,
                 "containers": [{"name": "probe", "image": "busybox", "command": ["sh", "-c", script]}]}}))
    wait_for(lambda: json.loads(kubectl(cluster, "get", "pod", name, "-o", "json").stdout)["status"]
             .get("phase") in ("Succeeded", "Failed"), timeout=90, what=f"pod {name} to finish")
    return kubectl(cluster, "logs", name).stdout


def test_a_pod_resolves_a_service_by_its_name(up_cluster):
    kubectl(up_cluster, "create", "deployment", "nginx", "--image=nginx", "--replicas=2", "--port=80")
    kubectl(up_cluster, "expose", "deploy", "nginx", "--port", "80")
    kubectl(up_cluster, "rollout", "status", "deploy/nginx", "--timeout=120s", timeout=150)
    ip = json.loads(kubectl(up_cluster, "get", "svc", "nginx", "-o", "json").stdout)["spec"]["clusterIP"]
    ep = kubectl(up_cluster, "get", "ep", "nginx").stdout
    pod_ips = [p["status"]["podIP"] for p in json.loads(kubectl(
        up_cluster, "get", "pods", "-l", "app=nginx", "-o", "json").stdout)["items"]]
    assert all(f"{pip}:80" in ep for pip in pod_ips), ep

    out = pod_output(up_cluster, "dns-probe",
                     "cat /etc/resolv.conf; nslookup nginx.default.svc.cluster.local; "
                     "nslookup kubernetes")
    print(out)
    assert "search default.svc.cluster.local svc.cluster.local cluster.local" in out
    assert "options ndots:5" in out
    assert "Name:\tnginx.default.svc.cluster.local" in out and f"Address: {ip}" in out
    assert "Address: 10.96.0.1" in out          # `kubernetes` through the search path
    kube_dns = json.loads(kubectl(up_cluster, "get", "ep", "kube-dns", "-n", "kube-system",
                                  "-o", "json").stdout)
    assert f"nameserver {kube_dns['subsets'][0]['addresses'][0]['ip']}" in out


def test_a_headless_service_resolves_each_pod_by_hostname(up_cluster):
    kubectl(up_cluster, "create", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "tfjob-svc"},
        "spec": {"clusterIP": "None", "selector": {"app": "tf"}, "ports": [{"name": "grpc", "port": 2222}]}}))
    kubectl(up_cluster, "create", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "tf-worker-0", "labels": {"app": "tf"}},
        "spec": {"hostname": "tf-worker-0", "subdomain": "tfjob-svc",
                 "containers": [{"name": "tf", "image": "busybox", "command": ["sh", "-c", "hostname -f; sleep 3600"]}]}}))
    worker_ip = wait_for(lambda: json.loads(kubectl(up_cluster, "get", "pod", "tf-worker-0", "-o", "json").stdout)
                         ["status"].get("podIP"), timeout=60, what="the worker's IP")
    wait_for(lambda: worker_ip in kubectl(up_cluster, "get", "ep", "tfjob-svc").stdout, what="its endpoint")
    fqdn = "tf-worker-0.tfjob-svc.default.svc.cluster.local"
    out = pod_output(up_cluster, "headless-probe", f"nslookup {fqdn}; nslookup tfjob-svc")
    print(out)
    assert f"Name:\t{fqdn}" in out and f"Address: {worker_ip}" in out
    assert out.count(f"Address: {worker_ip}") == 2      # the Service name is the pod's IP too
    assert kubectl(up_cluster, "logs", "tf-worker-0").stdout.strip() == fqdn   # its own `hostname -f`
