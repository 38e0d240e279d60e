"""Pod startup latency: created -> Running (seen through a watch), 30 busybox pods on 2 nodes.

    python benchmarks/pod_startup.py [--pods 30] [--nodes 2] [--rate 2]

It starts its own etcd, apiserver and kubelets in a temporary directory, and
first times plain ``docker run -d busybox:1.35 sleep 3600`` (one at a time, and
as many at once as there are pods) for comparison: a pod is two containers (the
sandbox and the app) plus an apiserver round trip or three, so it cannot beat
Docker, but it should stay within a small factor of it.

Three runs:

* **one at a time**: 10 pods, each created when the previous one is Running;
  compare with one plain ``docker run`` at a time;
* **paced**: pods created at ``--rate`` per second, as Kubernetes measures its
  pod startup SLO (p99 <= 5 s) with "latency pods" (only meaningful at a rate
  the machine's Docker can sustain);
* **burst**: all pods created at once; on a small machine this measures Docker's
  throughput more than the kubelet, so compare with the same burst of plain
  ``docker run``.

Everything it made is removed at the end.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

import docker
import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from minikube_py.client import errors  # noqa: E402
from minikube_py.client.kubeconfig import write_kubeconfig  # noqa: E402
from minikube_py.client.rest import Client  # noqa: E402
from minikube_py.storage.embedded import free_port, start_etcd  # noqa: E402

IMAGE = "busybox:1.35"
NODE_LABEL = "io.minikube-py.node"


def pct(values, p):
    values = sorted(values)
    if not values:
        return float("nan")
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def cpu_seconds(pid: int) -> float:
    """user + system CPU time of a process so far (from /proc)."""
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def load() -> str:
    return " ".join(open("/proc/loadavg").read().split()[:3])


def summary(name, values):
    print(f"  {name:<34} n={len(values):<3} p50={pct(values, 50):6.3f}s  p90={pct(values, 90):6.3f}s"
          f"  p99={pct(values, 99):6.3f}s  max={max(values):6.3f}s")


# ---------------------------------------------------------------------- plain docker
def docker_baseline(client, label, n_seq=10, n_burst=30):
    def one():
        t = time.perf_counter()
        c = client.containers.run(IMAGE, ["sleep", "3600"], detach=True, labels={label: "1"})
        return time.perf_counter() - t, c

    seq = []
    for _ in range(n_seq):
        dt, c = one()
        seq.append(dt)
        c.remove(force=True)
    with concurrent.futures.ThreadPoolExecutor(n_burst) as pool:
        results = list(pool.map(lambda _: one(), range(n_burst)))
    burst = [dt for dt, _ in results]
    for _, c in results:
        c.remove(force=True)
    return seq, burst


# ---------------------------------------------------------------------- the cluster
def wait_ready(url, proc, timeout=30):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("apiserver exited")
        try:
            if requests.get(url + "/readyz", timeout=1).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.1)
    raise RuntimeError("apiserver not ready")


def node_ready(api, name):
    try:
        for c in (api.get("nodes", name).get("status") or {}).get("conditions") or []:
            if c["type"] == "Ready" and c["status"] == "True":
                return True
    except errors.NotFound:
        pass
    return False


def run_pods(api, nodes, n, rate, prefix):
    """Create n pods (rate per second, 0 = all at once, None = each after the previous
    one is Running); return their startup latencies."""
    created: dict[str, float] = {}
    running: dict[str, float] = {}
    rv = api.list("pods", "bench")["metadata"]["resourceVersion"]
    watch = api.watch("pods", "bench", resource_version=rv, timeout_seconds=300)
    done = threading.Event()
    one_running = threading.Event()

    def watcher():
        for _, pod in watch:
            name = pod["metadata"]["name"]
            if (pod.get("status") or {}).get("phase") == "Running" and name not in running:
                running[name] = time.perf_counter()
                one_running.set()
                if len(running) == n:
                    done.set()
                    return

    threading.Thread(target=watcher, daemon=True).start()
    start = time.perf_counter()
    for i in range(n):
        if rate:
            time.sleep(max(0.0, start + i / rate - time.perf_counter()))
        name = f"{prefix}{i}"
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
               "spec": {"nodeName": nodes[i % len(nodes)], "terminationGracePeriodSeconds": 1,
                        "containers": [{"name": "app", "image": IMAGE,
                                        "command": ["sleep", "3600"]}]}}
        one_running.clear()
        created[name] = time.perf_counter()
        api.create("pods", pod, "bench")
        if rate is None:
            one_running.wait(60)
    if not done.wait(180):
        print(f"  only {len(running)}/{n} pods Running after 180 s")
    watch.close()
    # clean up: delete the pods (the kubelets stop and remove their containers)
    for name in created:
        api.delete("pods", name, "bench")
    deadline = time.time() + 120
    while api.list("pods", "bench")["items"] and time.time() < deadline:
        time.sleep(0.5)
    return [running[name] - created[name] for name in running]


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pods", type=int, default=30)
    ap.add_argument("--nodes", type=int, default=2)
    ap.add_argument("--rate", type=float, default=2.0, help="pods per second in the paced run")
    args = ap.parse_args()

    subprocess.run([os.path.join(ROOT, "lab", "build-images.sh")], check=True,
                   stdout=subprocess.DEVNULL)
    dclient = docker.from_env()
    run = uuid.uuid4().hex[:6]
    label = f"io.minikube-py.bench-{run}"
    tmp = tempfile.mkdtemp(prefix="pod-startup-")
    procs = []
    nodes = [f"bench-{run}-{i}" for i in range(args.nodes)]
    try:
        print(f"load average {load()} on {os.cpu_count()} CPUs")
        print(f"plain docker run -d {IMAGE} sleep 3600:")
        seq, burst = docker_baseline(dclient, label, n_burst=args.pods)
        summary("one at a time", seq)
        summary(f"{args.pods} at once", burst)

        etcd, etcd_url = start_etcd(os.path.join(tmp, "etcd"),
                                    log_file=open(os.path.join(tmp, "etcd.log"), "wb"))
        procs.append(etcd)
        port = free_port()
        server = f"http://127.0.0.1:{port}"
        api_proc = subprocess.Popen(
            [sys.executable, "-m", "minikube_py.cli.minikube", "apiserver", "--etcd-servers",
             etcd_url, "--port", str(port)], stdout=open(os.path.join(tmp, "apiserver.log"), "wb"),
            stderr=subprocess.STDOUT)
        procs.append(api_proc)
        wait_ready(server, api_proc)
        kubeconfig = write_kubeconfig(os.path.join(tmp, "kubeconfig"), server)
        for name in nodes:
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "minikube_py.kubelet.command", "--node-name", name,
                 "--kubeconfig", kubeconfig, "--state-dir", os.path.join(tmp, name)],
                stdout=open(os.path.join(tmp, f"{name}.log"), "wb"), stderr=subprocess.STDOUT))
        api = Client(server=server)
        deadline = time.time() + 60
        while not all(node_ready(api, n) for n in nodes):
            if time.time() > deadline:
                raise RuntimeError("kubelets not ready")
            time.sleep(0.2)
        api.create("namespaces", {"metadata": {"name": "bench"}})

        results = {}
        kubelets = procs[-len(nodes):]
        cpu = {}
        for mode, rate, n in (("single", None, 10), ("paced", args.rate, args.pods),
                              ("burst", 0, args.pods)):
            before = [cpu_seconds(p.pid) for p in kubelets]
            results[mode] = run_pods(api, nodes, n, rate, f"{mode}-")
            cpu[mode] = sum(cpu_seconds(p.pid) for p in kubelets) - sum(before)
        print(f"\npods: created -> Running (seen through a watch), {args.pods} pods on "
              f"{args.nodes} nodes:")
        summary("one at a time", results["single"])
        summary(f"paced ({args.rate:g} pods/s)", results["paced"])
        summary("burst (all at once)", results["burst"])
        burst99, docker50 = pct(results["burst"], 99), statistics.median(seq)
        print()
        for label, mode in (("one at a time", "single"), ("paced", "paced")):
            p99 = pct(results[mode], 99)
            print(f"  {label}: p99 {p99:.2f}s = {p99 / docker50:.2f}x a single docker run "
                  f"(p50 {docker50:.2f}s); goal p99 <= 5 s: {'met' if p99 <= 5 else 'NOT met'}, "
                  f"within 3x: {'yes' if p99 <= 3 * docker50 else 'no'}")
        print(f"  burst: p99 {burst99:.2f}s = {burst99 / pct(burst, 99):.2f}x the same burst of "
              f"docker runs (p99 {pct(burst, 99):.2f}s; a pod is 2 containers)")
        print(f"  kubelet CPU (all nodes, start + stop of {args.pods} pods): paced "
              f"{cpu['paced']:.1f}s, burst {cpu['burst']:.1f}s;  load average now {load()} "
              f"on {os.cpu_count()} CPUs")
    finally:
        for p in reversed(procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()
        for c in dclient.containers.list(all=True, filters={"label": NODE_LABEL}):
            if c.labels.get(NODE_LABEL) in nodes:
                c.remove(force=True)
        for c in dclient.containers.list(all=True, filters={"label": label}):
            c.remove(force=True)
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
