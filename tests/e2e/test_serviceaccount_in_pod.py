"""A pod's ServiceAccount, seen from inside the pod, on a cluster `minikube-py up` made:
its token, the cluster CA and its namespace mounted at
/var/run/secrets/kubernetes.io/serviceaccount, and KUBERNETES_SERVICE_HOST/PORT in its
environment -- everything `kubernetes.config.load_incluster_config()` reads.
"""
from __future__ import annotations

import base64
import json
import os
import sys
import uuid

import pytest
from commands import run  # tests/commands.py
from polling import wait_for  # tests/polling.py

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI = [sys.executable, "-m", "minikube_py.cli.minikube"]
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


@pytest.fixture(scope="module")
def sa_cluster(lab_images, tmp_path_factory):
    from minikube_py.client.rest import Client
    from minikube_py.storage.embedded import free_port
    state = str(tmp_path_factory.mktemp("satoken"))
    prefix = f"sat{uuid.uuid4().hex[:4]}"
    run(*CLI, "up", "--state-dir", state, "--port", str(free_port()), "--nodes", "1",
        "--node-prefix", prefix, timeout=240)
    kubeconfig = os.path.join(state, "kubeconfig")
    client = Client(kubeconfig=kubeconfig)
    cluster = {"env": dict(os.environ, KUBECONFIG=kubeconfig, HOME=state), "client": client, "state": state}
    try:
        yield cluster
    finally:
        client.close()
        run(*CLI, "down", "--state-dir", state, check=False, timeout=120)


def kubectl(cluster, *args, **kw):
    return run("kubectl", *args, env=cluster["env"], **kw)


def finished_logs(cluster, name, namespace="default", timeout=120) -> str:
    def done():
        pod = cluster["client"].get("pods", name, namespace=namespace)
        return (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed") and pod
    pod = wait_for(done, timeout=timeout, what=f"pod {name} to finish")
    logs = kubectl(cluster, "logs", name, "-n", namespace).stdout
    assert pod["status"]["phase"] == "Succeeded", logs
    return logs


def test_the_pod_sees_its_token_ca_namespace_and_the_apiserver_service(sa_cluster):
    c = sa_cluster
    kubectl(c, "create", "namespace", "satoken")
    wait_for(lambda: c["client"].get("serviceaccounts", "default", namespace="satoken"), what="default SA")
    script = (f"cd {SA_DIR} && ls && cat namespace && echo && cat token && echo && "
              "echo ENV $KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT && "
              "echo RO $(touch token 2>/dev/null && echo writable || echo read-only)")
    kubectl(c, "run", "look", "-n", "satoken", "--image=busybox", "--restart=Never", "--", "sh", "-c", script)
    lines = finished_logs(c, "look", "satoken").split("\n")
    assert lines[:4] == ["ca.crt", "namespace", "token", "satoken"]
    head, payload, _sig = lines[4].split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    pod = c["client"].get("pods", "look", namespace="satoken")
    assert claims["sub"] == "system:serviceaccount:satoken:default"
    assert claims["kubernetes.io"]["pod"] == {"name": "look", "uid": pod["metadata"]["uid"]}
    kubernetes_svc = c["client"].get("services", "kubernetes", namespace="default")
    assert lines[5] == f"ENV {kubernetes_svc['spec']['clusterIP']}:443"
    assert lines[6] == "RO read-only"
    # the token the kubelet mounted is one the apiserver believes
    review = c["client"].create("tokenreviews", {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                                                 "spec": {"token": lines[4]}})
    assert review["status"]["user"]["username"] == "system:serviceaccount:satoken:default"


IN_CLUSTER_SCRIPT = """
from kubernetes import client, config
config.load_incluster_config()
v1 = client.CoreV1Api()
print("PODS", " ".join(sorted(p.metadata.name for p in v1.list_namespaced_pod("satoken").items)))
try:
    v1.create_namespaced_config_map("satoken", {"metadata": {"name": "not-allowed"}})
    print("CREATE allowed")
except client.exceptions.ApiException as e:
    print("CREATE", e.status, e.reason)
"""


def test_the_official_client_in_a_pod_lists_with_a_view_binding(sa_cluster):
    """Done-when 3 of issue 17: load_incluster_config() from the mounted token, CA and
    namespace, through the kubernetes Service (kube-proxy) to the apiserver over TLS."""
    c = sa_cluster
    image = run("bash", os.path.join(ROOT, "lab", "build-python-kubernetes-image.sh"),
                timeout=900).stdout.strip().splitlines()[-1]
    kubectl(c, "create", "namespace", "satoken", check=False)
    kubectl(c, "create", "serviceaccount", "viewer", "-n", "satoken")
    kubectl(c, "create", "rolebinding", "viewer-view", "-n", "satoken", "--clusterrole=view",
            "--serviceaccount=satoken:viewer")
    kubectl(c, "run", "client", "-n", "satoken", f"--image={image}", "--image-pull-policy=IfNotPresent",
            "--restart=Never", "--overrides", json.dumps({"spec": {"serviceAccountName": "viewer"}}),
            "--", "python3", "-c", IN_CLUSTER_SCRIPT)
    out = finished_logs(c, "client", "satoken", timeout=180)
    assert "PODS " in out and "client" in out.split("PODS ", 1)[1].split("\n")[0], out
    # creating is what the cluster's authorizer says the account may do: with RBAC a view
    # binding does not allow it (403 Forbidden), with AlwaysAllow it does
    may = kubectl(c, "auth", "can-i", "create", "configmaps", "-n", "satoken",
                  "--as=system:serviceaccount:satoken:viewer", check=False).stdout.strip()
    assert ("CREATE 403 Forbidden" if may == "no" else "CREATE allowed") in out, (may, out)
