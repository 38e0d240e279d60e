"""Benchmark: from Service create to the first request answered through its ClusterIP.

Starts `minikube-py up` (1 node, its kube-proxy) in a temporary directory, runs the docs'
nginx Deployment, then N times: create a Service for it and poll http://<clusterIP>/ from
the host every 5 ms until it answers. Prints p50/max of:

  - Service create -> Endpoints written (the endpoints controller's part);
  - Endpoints written -> first answer (kube-proxy's part: informer event, rate-limited
    sync, iptables-restore);
  - Service create -> first answer (what a user waits).

Where the controller-manager has no endpoints controller yet, the benchmark writes the
Endpoints itself 0.5 s after the create and says so (then only the proxy's part means much).

Usage (root, Docker): python benchmarks/service_routing.py [--services 10]
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

import requests

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
sys.path.insert(0, ROOT)
from minikube_py.client import errors  # noqa: E402
from minikube_py.client.rest import Client  # noqa: E402
from minikube_py.storage.embedded import free_port  # noqa: E402

CLI = [sys.executable, "-m", "minikube_py.cli.minikube"]


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def ready_pods(client):
    pods = client.list("pods", "default", label_selector="app=nginx")["items"]
    return [p for p in pods if any(c["type"] == "Ready" and c["status"] == "True"
                                   for c in p["status"].get("conditions") or [])]


def one_service(client, name, pods):
    """(create->endpoints, endpoints->answer, create->answer, endpoints written by us?)"""
    body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": "nginx"}, "ports": [{"port": 80, "targetPort": 80}]}}
    t0 = time.monotonic()
    ip = client.create("services", body, "default")["spec"]["clusterIP"]
    t_ep, ours = None, False
    while True:
        now = time.monotonic()
        if t_ep is None:
            try:
                ep = client.get("endpoints", name, "default")
                if ep.get("subsets"):
                    t_ep = now
            except errors.NotFound:
                if now - t0 > 0.5:           # no endpoints controller: write them as it would
                    client.create("endpoints", {
                        "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name},
                        "subsets": [{"addresses": [{"ip": p["status"]["podIP"]} for p in pods],
                                     "ports": [{"port": 80, "protocol": "TCP"}]}]}, "default")
                    t_ep, ours = time.monotonic(), True
        try:
            if requests.get(f"http://{ip}/", timeout=0.5).status_code == 200:
                done = time.monotonic()
                return (t_ep or done) - t0, done - (t_ep or done), done - t0, ours
        except requests.RequestException:
            pass
        time.sleep(0.005)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=10)
    args = ap.parse_args()
    state = tempfile.mkdtemp(prefix="bench-svc-")
    port = free_port()
    subprocess.run(CLI + ["up", "--state-dir", state, "--port", str(port), "--nodes", "1",
                          "--node-prefix", "bsvc"], check=True, capture_output=True, timeout=300)
    client = Client(kubeconfig=os.path.join(state, "kubeconfig"))
    try:
        subprocess.run(["kubectl", "apply", "-f", os.path.join(ROOT, "examples", "nginx-deployment.yaml")],
                       env=dict(os.environ, KUBECONFIG=os.path.join(state, "kubeconfig")),
                       check=True, capture_output=True)
        deadline = time.time() + 120
        while len(pods := ready_pods(client)) < 3:
            if time.time() > deadline:
                raise SystemExit("nginx pods not ready in 120 s")
            time.sleep(0.2)
        rows = [one_service(client, f"bench-{i}", pods) for i in range(args.services)]
        ours = any(r[3] for r in rows)
        print(f"Service create -> first answer through its ClusterIP ({args.services} Services, "
              f"1 node, 3 endpoints)")
        for label, i in (("create -> Endpoints written", 0), ("Endpoints -> first answer (proxy)", 1),
                         ("create -> first answer", 2)):
            vals = [r[i] * 1000 for r in rows]
            print(f"  {label:34s} p50 {pct(vals, 50):7.1f} ms   max {max(vals):7.1f} ms")
        if ours:
            print("  (no endpoints controller answered: the benchmark wrote the Endpoints 0.5 s after "
                  "each create)")
    finally:
        client.close()
        subprocess.run(CLI + ["down", "--state-dir", state, "--purge"], capture_output=True, timeout=120)


if __name__ == "__main__":
    main()
