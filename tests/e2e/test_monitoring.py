"""Monitoring from cgroups, end to end: real Docker containers, a real kubelet, the real
kubectl -- and `docker stats` (Docker's stats API) read over the same window.

* a CPU burner with limits.cpu 500m: `kubectl top pod` within 10% of Docker's figure
  for the same window, never above the limit (450-520m when the machine lets it run);
* a 200 MiB allocator (dd's buffer, held while it waits on a pipe): ~200Mi, within
  10% of Docker's working set;
* `kubectl top nodes` lists the node; `kubectl get --raw .../pods` answers;
* a container over its memory limit: reason OOMKilled, exit code 137;
* a pod given a simulated GPU has the GPU's (simulated) figures in the Summary API's
  ``accelerators``, and `mkctl top pods --gpus` shows them.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest

from clusters import Cluster
from minikube_py.client.rest import Client
from test_kubelet_devices import nvidia_runtime  # noqa: F401 - the fixture (lab nvidia runtime)

RESOLUTION = 4.0
MI = 1024 * 1024


@pytest.fixture(scope="module")
def cluster():
    """This module's own apiserver, scraping the kubelets every RESOLUTION seconds."""
    c = Cluster(apiserver_args=["--metric-resolution", str(RESOLUTION)]).start()
    yield c
    c.stop()


@pytest.fixture(scope="module")
def node(start_kubelet):
    return start_kubelet("mon")


@pytest.fixture(scope="module")
def api(cluster):
    client = Client(server=cluster.server)
    yield client
    client.close()


@pytest.fixture
def kubectl(cluster, tmp_path):
    def run(*args, check=True):
        env = dict(os.environ, KUBECONFIG=cluster.kubeconfig, HOME=str(tmp_path))
        proc = subprocess.run(["kubectl", *args], capture_output=True, text=True, env=env, timeout=60)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed:\n{proc.stderr}")
        return proc.stdout
    return run


def until(fn, timeout=90.0, what="condition", every=0.25):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


def pod(name, node_name, command, limits=None, restart="Always"):
    c = {"name": name, "image": "busybox", "command": command}
    if limits:
        c["resources"] = {"limits": limits}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"test": "mon"}},
            "spec": {"nodeName": node_name, "restartPolicy": restart,
                     "terminationGracePeriodSeconds": 1, "containers": [c]}}


def container_id(api, name):
    status = api.get("pods", name, "default").get("status") or {}
    for cs in status.get("containerStatuses") or []:
        if cs.get("state", {}).get("running") and cs.get("containerID"):
            return cs["containerID"].split("://", 1)[1]
    return None


def docker_sample(docker, cid):
    """Docker's stats API, one shot: cumulative CPU ns, when, and the working set
    `docker stats` shows (usage - inactive file)."""
    s = docker.api.stats(cid, stream=False, one_shot=True)
    mem = s["memory_stats"]
    stat = mem.get("stats") or {}
    inactive = stat.get("total_inactive_file", stat.get("inactive_file", 0))
    return s["cpu_stats"]["cpu_usage"]["total_usage"], time.time(), mem["usage"] - inactive


def pod_metrics(api, name):
    try:
        return api.request("GET", f"/apis/metrics.k8s.io/v1beta1/namespaces/default/pods/{name}").json()
    except Exception:  # noqa: BLE001 - not measured yet (404)
        return None


def top_pod(kubectl, name):
    """`kubectl top pod NAME` -> (millicores, MiB)."""
    line = kubectl("top", "pod", name, "--no-headers").split()
    assert line[0] == name and line[1].endswith("m") and line[2].endswith("Mi"), line
    return int(line[1][:-1]), int(line[2][:-2])


def next_scrape(api, name, after=None):
    """Wait for PodMetrics of a scrape newer than ``after``; returns its timestamp."""
    return until(lambda: (m := pod_metrics(api, name)) and m.get("timestamp") != after
                 and m["timestamp"], what=f"a new scrape of {name}", every=0.1)


@pytest.fixture(scope="module")
def workloads(node, api, lab_images):
    name = node.node_name
    api.create("pods", pod("burn", name, ["sh", "-c", "while :; do :; done"], {"cpu": "500m"}),
               "default")
    api.create("pods", pod("alloc", name, ["sh", "-c", "dd if=/dev/zero bs=200M count=1 | sleep 3600"],
                           {"memory": "256Mi"}), "default")
    for p in ("burn", "alloc"):
        until(lambda: container_id(api, p), what=f"{p} running")
    yield lab_images
    for p in ("burn", "alloc", "oom"):
        try:
            api.delete("pods", p, "default", grace_period_seconds=0)
        except Exception:  # noqa: BLE001
            pass


def test_top_pod_cpu_of_a_burner_matches_docker_stats(api, kubectl, workloads):
    docker = workloads
    cid = container_id(api, "burn")
    first = next_scrape(api, "burn")
    cpu0, t0, _ = docker_sample(docker, cid)          # the scraper's window starts about now
    next_scrape(api, "burn", after=first)
    cpu1, t1, _ = docker_sample(docker, cid)          # ... and has just ended
    top_m, _ = top_pod(kubectl, "burn")
    docker_m = (cpu1 - cpu0) / (t1 - t0) / 1e6
    print(f"burner at limits.cpu 500m: kubectl top {top_m}m, docker stats {docker_m:.0f}m "
          f"over {t1 - t0:.1f}s")
    assert abs(top_m - docker_m) <= 0.10 * docker_m
    assert top_m <= 520                               # the CFS quota holds it at its limit
    if docker_m >= 450:                               # the machine let it run at its limit
        assert 450 <= top_m <= 520


def test_top_pod_memory_of_a_200mib_allocator_matches_docker_stats(api, kubectl, workloads):
    docker = workloads
    cid = container_id(api, "alloc")
    until(lambda: docker_sample(docker, cid)[2] >= 195 * MI, what="200 MiB allocated")
    next_scrape(api, "alloc", next_scrape(api, "alloc"))
    top_mi = top_pod(kubectl, "alloc")[1]
    docker_mi = docker_sample(docker, cid)[2] / MI
    print(f"200 MiB allocator: kubectl top {top_mi}Mi, docker stats {docker_mi:.1f}Mi")
    assert abs(top_mi - 200) <= 20
    assert abs(top_mi - docker_mi) <= 0.10 * docker_mi


def test_top_nodes_lists_the_node_and_the_raw_api_answers(node, kubectl, workloads):
    out = until(lambda: node.node_name in (o := kubectl("top", "nodes", check=False)) and o,
                what="kubectl top nodes")
    assert out.splitlines()[0].split() == ["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)"]
    raw = json.loads(kubectl("get", "--raw", "/apis/metrics.k8s.io/v1beta1/pods"))
    assert raw["kind"] == "PodMetricsList"
    assert {"burn", "alloc"} <= {p["metadata"]["name"] for p in raw["items"]}
    containers = kubectl("top", "pods", "--containers", "-l", "test=mon", "--no-headers")
    assert {line.split()[1] for line in containers.splitlines()} == {"burn", "alloc"}


def test_a_container_over_its_memory_limit_is_oom_killed(node, api, workloads):
    api.create("pods", pod("oom", node.node_name, ["dd", "if=/dev/zero", "of=/dev/null", "bs=200M",
                                                   "count=100"], {"memory": "100Mi"}, "Never"),
               "default")

    def terminated():
        for cs in (api.get("pods", "oom", "default").get("status") or {}).get("containerStatuses") or []:
            t = (cs.get("state") or {}).get("terminated")
            if t:
                return t
        return None
    t = until(terminated, what="the oom container to end")
    assert (t["reason"], t["exitCode"]) == ("OOMKilled", 137)
    assert api.get("pods", "oom", "default")["status"]["phase"] == "Failed"


@pytest.fixture(scope="module")
def gpu_node(start_kubelet, nvidia_runtime):  # noqa: F811
    plugin_dir = tempfile.mkdtemp(prefix="/tmp/kdp-")      # Unix socket paths must be short
    k = start_kubelet("gpu", "--device-plugin-dir", plugin_dir)
    plugin = subprocess.Popen([sys.executable, "-m", "minikube_py.deviceplugin.command", "simulated",
                               "--count", "1", "--plugin-dir", plugin_dir, "--node-name", k.node_name],
                              stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    yield k
    plugin.terminate()
    plugin.wait(10)
    shutil.rmtree(plugin_dir, ignore_errors=True)


def test_a_pod_with_a_simulated_gpu_has_gpu_figures(gpu_node, api, cluster, kubectl):
    until(lambda: api.get("nodes", gpu_node.node_name)["status"]["capacity"].get("nvidia.com/gpu")
          == "1", what="the node's GPU")
    gpu_pod = pod("trainer", gpu_node.node_name, ["sh", "-c", "while :; do :; done"],
                  {"cpu": "300m", "nvidia.com/gpu": "1"})
    api.create("pods", gpu_pod, "default")
    try:
        until(lambda: container_id(api, "trainer"), what="trainer running")
        summary = until(lambda: (s := json.loads(kubectl(
            "get", "--raw", f"/api/v1/nodes/{gpu_node.node_name}/proxy/stats/summary")))
            and any(p["podRef"]["name"] == "trainer" and p["containers"] for p in s["pods"]) and s,
            what="a Summary with the trainer's container")   # its sandbox's sample can come first
        (trainer,) = [p for p in summary["pods"] if p["podRef"]["name"] == "trainer"]
        (gpu,) = trainer["containers"][0]["accelerators"]
        assert (gpu["make"], gpu["model"], gpu["id"]) == ("nvidia", "simulated", "GPU-0")
        assert gpu["memoryTotal"] > gpu["memoryUsed"] >= 0 and 0 <= gpu["dutyCycle"] <= 100
        next_scrape(api, "trainer", next_scrape(api, "trainer"))
        env = dict(os.environ, KUBECONFIG=cluster.kubeconfig)
        out = subprocess.run([sys.executable, "-m", "minikube_py.cli.mkctl", "top", "pods", "trainer",
                              "--gpus"], env=env, capture_output=True, text=True, timeout=60).stdout
        head, row = out.splitlines()
        assert head.split() == ["NAME", "CPU(cores)", "MEMORY(bytes)", "GPUS", "GPU-UTIL", "GPU-MEMORY"]
        cells = row.split()
        assert cells[0] == "trainer" and cells[3] == "1" and cells[4].endswith("%"), out
    finally:
        api.delete("pods", "trainer", "default", grace_period_seconds=0)
