"""The kubelet API on https: only the apiserver's (any cluster-CA) client certificate gets in,
and logs and nodes/proxy still reach it through the https apiserver."""
import os
import subprocess
import time
import uuid

import pytest
import requests

from clusters import Cluster
from minikube_py.apiserver.auth import pki
from minikube_py.client.rest import Client
from minikube_py.kubelet.config import KubeletConfig
from minikube_py.kubelet.kubelet import Kubelet
from minikube_py.kubelet.runtime.hollow import HollowRuntime
from minikube_py.kubelet.server import KubeletServer


@pytest.fixture(scope="module")
def secure_node(tmp_path_factory):
    c = Cluster(tls=True)
    cert, key = pki.ensure_client(c.pki, "apiserver-kubelet-client", "kube-apiserver-kubelet-client",
                                  ["system:masters"])
    c.apiserver_args += ["--kubelet-client-certificate", cert, "--kubelet-client-key", key,
                         "--kubelet-certificate-authority", c.ca_file, "--metric-resolution", "0.5"]
    c.start()
    name = f"tls-{uuid.uuid4().hex[:6]}"
    serving = pki.ensure_serving(c.pki, f"kubelet-{name}-server", name, ["127.0.0.1", "localhost"])
    http = KubeletServer("127.0.0.1", 0, (*serving, c.ca_file)).start()
    client = Client(kubeconfig=c.kubeconfig)
    config = KubeletConfig(node_name=name, state_dir=str(tmp_path_factory.mktemp(name)), port=http.port,
                           lease_seconds=1, status_update_seconds=0.3, status_report_seconds=30,
                           sync_frequency=5, housekeeping_seconds=0.5)
    kubelet = Kubelet(config, client, HollowRuntime(name), http).start()
    yield c, kubelet, http
    kubelet.stop()
    http.stop()
    client.close()
    c.stop()


def kubectl(cluster, *args):
    env = dict(os.environ, KUBECONFIG=cluster.kubeconfig, HOME=cluster.dir)
    return subprocess.run(["kubectl", *args], capture_output=True, text=True, env=env, timeout=60)


def test_the_kubelet_api_wants_a_certificate_of_the_cluster_ca(secure_node, tmp_path):
    c, kubelet, http = secure_node
    url = f"https://127.0.0.1:{http.port}/pods"
    r = requests.get(url, verify=c.ca_file)
    assert (r.status_code, r.text) == (401, "Unauthorized")
    assert requests.get(url, verify=c.ca_file, cert=c.admin_cert).json()["kind"] == "PodList"
    stranger = pki.client_cert(pki.new_ca("stranger"), "kube-apiserver-kubelet-client").write(str(tmp_path), "x")
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(url, verify=c.ca_file, cert=stranger)
    with pytest.raises(requests.exceptions.ConnectionError):
        requests.get(f"http://127.0.0.1:{http.port}/pods", timeout=5)


def test_the_metrics_scraper_reads_the_kubelet_over_https(secure_node):
    # kubeletclient.KubeletConnections: kept http.client connections with the apiserver's
    # kubelet client certificate, checking the kubelet's against the cluster CA
    c, kubelet, http = secure_node
    deadline = time.time() + 30
    while time.time() < deadline:
        proc = kubectl(c, "get", "--raw", f"/apis/metrics.k8s.io/v1beta1/nodes/{kubelet.node_name}")
        if proc.returncode == 0:
            break
        time.sleep(0.3)
    assert proc.returncode == 0, proc.stderr
    assert '"kind":"NodeMetrics"' in proc.stdout.replace(" ", "") and kubelet.node_name in proc.stdout


def test_logs_and_node_proxy_go_through_the_apiserver_over_https(secure_node):
    c, kubelet, http = secure_node
    assert kubectl(c, "get", "--raw", f"/api/v1/nodes/{kubelet.node_name}/proxy/healthz").stdout == "ok"
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "talker"},
           "spec": {"nodeName": kubelet.node_name, "containers": [{"name": "app", "image": "busybox"}]}}
    proc = subprocess.run(["kubectl", "apply", "-n", "default", "-f", "-"], input=str(pod).replace("'", '"'),
                          capture_output=True, text=True, timeout=60,
                          env=dict(os.environ, KUBECONFIG=c.kubeconfig, HOME=c.dir))
    assert proc.returncode == 0, proc.stderr
    deadline = time.time() + 20
    while time.time() < deadline:
        proc = kubectl(c, "logs", "-n", "default", "talker")
        if proc.returncode == 0:
            break
        time.sleep(0.2)
    assert proc.returncode == 0, proc.stderr


@pytest.fixture(scope="module")
def webhook_node(tmp_path_factory):
    """A kubelet that asks the apiserver about tokens (TokenReview) and every request
    (SubjectAccessReview), on an apiserver with RBAC."""
    from minikube_py.kubelet.auth import KubeletAuth
    tokens = tmp_path_factory.mktemp("kubelet-webhook") / "tokens.csv"
    tokens.write_text('ops-token,ops,1,"system:masters"\nviewer-token,viewer,2\n')
    c = Cluster(tls=True, apiserver_args=("--token-auth-file", str(tokens), "--authorization-mode", "RBAC"))
    c.start()
    name = f"hook-{uuid.uuid4().hex[:6]}"
    serving = pki.ensure_serving(c.pki, f"kubelet-{name}-server", name, ["127.0.0.1"])
    client = Client(kubeconfig=c.kubeconfig)
    http = KubeletServer("127.0.0.1", 0, (*serving, c.ca_file), KubeletAuth(client)).start()
    config = KubeletConfig(node_name=name, state_dir=str(tmp_path_factory.mktemp(name)), port=http.port,
                           lease_seconds=1, status_update_seconds=0.3, status_report_seconds=30,
                           sync_frequency=5, housekeeping_seconds=0.5)
    kubelet = Kubelet(config, client, HollowRuntime(name), http).start()
    yield c, http
    kubelet.stop()
    http.stop()
    client.close()
    c.stop()


def test_the_kubelet_asks_the_apiserver_about_tokens_and_each_request(webhook_node):
    c, http = webhook_node
    url = f"https://127.0.0.1:{http.port}/pods"

    def get(token=None, cert=None):
        return requests.get(url, verify=c.ca_file, cert=cert,
                            headers={"Authorization": f"Bearer {token}"} if token else {})
    assert get().status_code == 401
    assert get("wrong").status_code == 401
    assert get("ops-token").json()["kind"] == "PodList"               # system:masters may
    assert get(cert=c.admin_cert).json()["kind"] == "PodList"          # so may the admin's certificate
    denied = get("viewer-token")                                       # no role for nodes/proxy
    assert (denied.status_code, denied.text) == (
        403, "Forbidden (user=viewer, verb=get, resource=nodes, subresource=proxy)")
    assert requests.get(f"https://127.0.0.1:{http.port}/stats/summary", verify=c.ca_file,
                        headers={"Authorization": "Bearer viewer-token"}).text.endswith("subresource=stats)")
