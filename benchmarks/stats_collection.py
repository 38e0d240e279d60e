"""The kubelet's CPU cost of collecting stats: one pass over 50 pods' real containers.

    python benchmarks/stats_collection.py [--pods 50] [--passes 20]

It starts ``--pods`` pods the way the kubelet's Docker runtime lays them out (a
pause sandbox and a busybox sleeper sharing its network namespace, labelled as
a node's containers), then times what ``GET /stats/summary`` costs the kubelet:
a pass of the StatsCollector (one ``docker ps``, the cgroup files of 2 x pods
containers, each sandbox's /proc/<pid>/net/dev, the machine's figures) and
building the Summary document from it.  It prints the CPU seconds of this process
(user + system, what the kubelet would spend) per pass and per pod, and the wall
time.  Everything it made is removed at the end.
"""
from __future__ import annotations

import argparse
import concurrent.futures
import json
import os
import sys
import time
import uuid

import docker

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from minikube_py.kubelet.runtime import base  # noqa: E402
from minikube_py.kubelet.runtime.docker import DockerRuntime  # noqa: E402
from minikube_py.kubelet.stats.collector import StatsCollector  # noqa: E402
from minikube_py.kubelet.stats.summary import summary  # noqa: E402

PAUSE, APP = "minikube-py/pause:3.9", "busybox:1.35"


def start_pod(client, node: str, i: int) -> None:
    uid = str(uuid.uuid4())
    labels = {base.LABEL_NODE: node, base.LABEL_POD_UID: uid, base.LABEL_POD_NAME: f"bench-{i}",
              base.LABEL_POD_NAMESPACE: "default", base.LABEL_RESTART_COUNT: "0"}
    sandbox = client.containers.run(PAUSE, detach=True, name=f"k8s_POD_bench-{i}_{node}",
                                    labels={**labels, base.LABEL_CONTAINER_NAME: "POD",
                                            base.LABEL_KIND: base.KIND_SANDBOX})
    client.containers.run(APP, ["sleep", "3600"], detach=True, name=f"k8s_app_bench-{i}_{node}",
                          network_mode=f"container:{sandbox.id}",
                          labels={**labels, base.LABEL_CONTAINER_NAME: "app",
                                  base.LABEL_KIND: base.KIND_APP})


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--pods", type=int, default=50)
    ap.add_argument("--passes", type=int, default=20)
    args = ap.parse_args()
    client = docker.from_env()
    node = f"stats-bench-{uuid.uuid4().hex[:6]}"
    try:
        t0 = time.time()
        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(lambda i: start_pod(client, node, i), range(args.pods)))
        print(f"machine: {os.cpu_count()} cores; {args.pods} pods ({2 * args.pods} containers) "
              f"started in {time.time() - t0:.1f}s")
        runtime = DockerRuntime(node, client)
        collector = StatsCollector(runtime, min_interval=0)
        collector.snapshot()                     # the first pass finds the cgroup directories
        cpu = wall = build_cpu = 0.0
        for _ in range(args.passes):
            c0, w0 = time.process_time(), time.perf_counter()
            snap = collector.snapshot()
            c1 = time.process_time()
            doc = summary(node, snap, node_fs_path="/", image_fs_path=runtime.image_fs_path)
            json.dumps(doc)
            c2, w2 = time.process_time(), time.perf_counter()
            cpu, build_cpu, wall = cpu + (c1 - c0), build_cpu + (c2 - c1), wall + (w2 - w0)
        n = args.passes
        measured = sum(1 for p in doc["pods"] if p["containers"])
        print(f"pods in the Summary: {measured}; containers read per pass: {len(snap.containers)}")
        print(f"{'what':44s} {'per pass':>10s} {'per pod':>10s}")
        print(f"{'collect (docker ps + cgroup files), CPU s':44s} {cpu / n:10.4f} "
              f"{cpu / n / args.pods * 1e3:8.3f}ms")
        print(f"{'build the Summary + JSON, CPU s':44s} {build_cpu / n:10.4f} "
              f"{build_cpu / n / args.pods * 1e3:8.3f}ms")
        print(f"{'total, CPU s':44s} {(cpu + build_cpu) / n:10.4f} "
              f"{(cpu + build_cpu) / n / args.pods * 1e3:8.3f}ms")
        print(f"{'total, wall s':44s} {wall / n:10.4f}")
        print(f"at the default --metric-resolution 15s: {(cpu + build_cpu) / n / 15 * 100:.2f}% "
              "of one core")
    finally:
        for c in client.containers.list(all=True, filters={"label": f"{base.LABEL_NODE}={node}"}):
            c.remove(force=True)
        client.close()


if __name__ == "__main__":
    main()
