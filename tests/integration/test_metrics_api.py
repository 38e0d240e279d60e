"""metrics.k8s.io and the kubelet's stats pages, against a real apiserver and real kubectl.

The kubelets are hollow (no Docker, so no containers to measure): what is tested
is the path -- the kubelet's /stats/summary, /metrics/resource and /metrics, the
apiserver finding each kubelet through its Node status, scraping it every
--metric-resolution, serving NodeMetrics, discovery that makes `kubectl top`
work, nodes/{name}/proxy.  tests/e2e/test_monitoring.py measures real containers.
"""
import os
import subprocess
import sys
import time
import uuid

import pytest
import requests

from clusters import Cluster
from minikube_py.client.rest import Client
from minikube_py.kubelet.config import KubeletConfig
from minikube_py.kubelet.kubelet import Kubelet
from minikube_py.kubelet.runtime.hollow import HollowRuntime
from minikube_py.kubelet.server import KubeletServer

RUN = uuid.uuid4().hex[:6]


@pytest.fixture(scope="module")
def metrics_cluster():
    c = Cluster(apiserver_args=["--metric-resolution", "0.5"]).start()
    yield c
    c.stop()


@pytest.fixture(scope="module")
def nodes(metrics_cluster, tmp_path_factory):
    """Two hollow kubelets behind one kubelet server (as `--hollow-nodes 2` runs them)."""
    http = KubeletServer("127.0.0.1", 0).start()
    made = []
    for suffix in ("a", "b"):
        name = f"mon-{RUN}-{suffix}"
        settings = dict(node_name=name, state_dir=str(tmp_path_factory.mktemp(name)), port=http.port,
                        cpu="4", memory="8Gi", lease_seconds=1, status_update_seconds=0.3)
        made.append(Kubelet(KubeletConfig(**settings), Client(server=metrics_cluster.server),
                            HollowRuntime(name), http).start())
    yield made, http
    admin = Client(server=metrics_cluster.server)
    for k in made:
        k.stop()
        admin.delete("nodes", k.node_name)
    http.stop()


@pytest.fixture
def kubectl(metrics_cluster, tmp_path):
    def run(*args, check=True):
        env = dict(os.environ, KUBECONFIG=metrics_cluster.kubeconfig, HOME=str(tmp_path))
        proc = subprocess.run(["kubectl", *args], capture_output=True, text=True, env=env, timeout=60)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{proc.stderr}")
        return proc
    return run


def until(fn, timeout=20.0, what="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def test_kubelet_serves_summary_resource_metrics_and_its_own_metrics(nodes):
    (a, b), http = nodes
    base = f"http://127.0.0.1:{http.port}"
    summary = requests.get(base + "/stats/summary", params={"node": b.node_name}).json()
    assert summary["node"]["nodeName"] == b.node_name
    assert summary["node"]["memory"]["workingSetBytes"] > 0
    assert summary["node"]["cpu"]["usageCoreNanoSeconds"] > 0
    assert summary["node"]["fs"]["capacityBytes"] > 0 and summary["pods"] == []
    assert requests.get(base + "/stats/summary", params={"node": "nope"}).status_code == 404
    text = requests.get(base + "/metrics/resource").text
    assert "node_cpu_usage_seconds_total " in text and "scrape_error 0.0" in text
    own = requests.get(base + "/metrics").text
    assert f'kubelet_node_name{{node="{a.node_name}"}} 1.0' in own
    assert "kubelet_running_pods 0.0" in own
    assert requests.get(base + "/healthz").text == "ok"

    a.client.create("pods", {"metadata": {"name": f"p-{RUN}"}, "spec": {
        "nodeName": a.node_name, "containers": [{"name": "app", "image": "busybox"}]}}, "default")
    try:
        # The pod counts as running once its sandbox runs; its app container starts a moment
        # later: wait for both, as a user watching the metrics would.
        until(lambda: "kubelet_running_pods 1.0" in (t := requests.get(base + "/metrics").text)
              and 'kubelet_running_containers{container_state="running"} 2.0' in t,   # sandbox + app
              what="the pod and both its containers running")
    finally:
        a.client.delete("pods", f"p-{RUN}", "default", grace_period_seconds=0)


def test_kubectl_top_nodes_and_the_raw_metrics_api(nodes, kubectl, metrics_cluster):
    (a, b), _ = nodes
    groups = kubectl("api-versions").stdout.split()
    assert "metrics.k8s.io/v1beta1" in groups
    resources = kubectl("api-resources", "--api-group=metrics.k8s.io").stdout
    assert "NodeMetrics" in resources and "PodMetrics" in resources

    out = until(lambda: (p := kubectl("top", "nodes", check=False)).returncode == 0
                and a.node_name in p.stdout and b.node_name in p.stdout and p.stdout,
                what="kubectl top nodes listing both nodes")
    lines = out.splitlines()
    assert lines[0].split() == ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]
    row = next(line.split() for line in lines if line.startswith(a.node_name))
    assert row[1].endswith("m") and row[2].endswith("%") and row[3].endswith("Mi")

    raw = kubectl("get", "--raw", "/apis/metrics.k8s.io/v1beta1/nodes").stdout
    assert '"kind":"NodeMetricsList"' in raw.replace(" ", "")
    one = requests.get(f"{metrics_cluster.server}/apis/metrics.k8s.io/v1beta1/nodes/{a.node_name}").json()
    assert one["kind"] == "NodeMetrics" and one["usage"]["cpu"].endswith("n")
    assert one["usage"]["memory"].endswith("Ki") and one["window"].endswith("s")
    pods = kubectl("get", "--raw", "/apis/metrics.k8s.io/v1beta1/pods").stdout
    assert '"kind":"PodMetricsList"' in pods.replace(" ", "")
    missing = requests.get(f"{metrics_cluster.server}/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/x")
    assert missing.status_code == 404
    assert requests.delete(f"{metrics_cluster.server}/apis/metrics.k8s.io/v1beta1/nodes/{a.node_name}"
                           ).status_code == 405
    # the kubelet's own pages through the apiserver, as `kubectl get --raw` reads them
    proxied = kubectl("get", "--raw", f"/api/v1/nodes/{a.node_name}/proxy/stats/summary").stdout
    assert a.node_name in proxied


def test_mkctl_top_nodes_has_kubectls_columns(nodes, metrics_cluster):
    (a, b), _ = nodes
    env = dict(os.environ, KUBECONFIG=metrics_cluster.kubeconfig)

    def mkctl(*args):
        return subprocess.run([sys.executable, "-m", "minikube_py.cli.mkctl", *args], env=env,
                              capture_output=True, text=True, timeout=60)
    out = until(lambda: (p := mkctl("top", "nodes")).returncode == 0 and b.node_name in p.stdout
                and p.stdout, what="mkctl top nodes")
    assert out.splitlines()[0].split() == ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]
    p = mkctl("top", "pods", "-A")
    assert p.returncode == 1 and p.stderr.strip() == "error: metrics not available yet"


def test_prometheus_metrics_of_apiserver_scheduler_and_controller_manager(nodes, metrics_cluster,
                                                                          kubectl, tmp_path):
    kubectl("get", "nodes")
    text = requests.get(metrics_cluster.server + "/metrics").text
    assert 'apiserver_request_total{code="200",component="apiserver",group="",resource="nodes",' \
           'scope="cluster",subresource="",verb="LIST",version="v1"}' in text
    assert "apiserver_request_duration_seconds_bucket{" in text

    from minikube_py.storage.embedded import free_port
    procs = []
    try:
        for module, args in (("minikube_py.scheduler.command", []),
                             ("minikube_py.controllers.command",
                              ["--controllers", "replicaset", "--no-leader-elect"])):
            port = free_port()
            log = open(tmp_path / f"{module}.log", "wb")
            procs.append(subprocess.Popen([sys.executable, "-m", module, "--kubeconfig",
                                           metrics_cluster.kubeconfig, "--metrics-port", str(port),
                                           *args], stdout=log, stderr=subprocess.STDOUT))

            def scrape(port=port):
                try:
                    return requests.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
                except requests.RequestException:
                    return None
            procs[-1].metrics = until(scrape, what=f"{module} /metrics")
        assert 'scheduler_schedule_attempts_total{profile="default-scheduler",result="scheduled"}' \
            in procs[0].metrics
        assert 'scheduler_pending_pods{queue="active"}' in procs[0].metrics
        assert 'workqueue_depth{name="replicaset"}' in procs[1].metrics
        assert 'workqueue_adds_total{name="replicaset"}' in procs[1].metrics
    finally:
        for p in procs:
            p.terminate()
            p.wait(15)
