"""Benchmark the dashboard: a page holding 500 pods on 100 hollow nodes, and the delay from
a change in the cluster to the page showing it, measured in a real browser.

Prints:
  - how long the page took to show all the pods after the Deployment was scaled up;
  - for N pods created and then deleted one at a time: the delay from just before the
    API call to the moment the page had drawn the change (the page records when it drew
    each object: window.dashboard.drawnAt), p50 / p95 / max.

Usage: python benchmarks/dashboard.py [--nodes 100] [--pods 500] [--probes 20]
Starts its own cluster (`minikube-py up --nodes 0 --hollow-nodes N`) in a temporary
directory and takes it down at the end. Needs Debian's chromium and chromium-driver.
"""
from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))
import browser  # noqa: E402  (tests/browser.py)
from polling import wait_for  # noqa: E402  (tests/polling.py)
from minikube_py.client.rest import Client  # noqa: E402
from minikube_py.storage.embedded import free_port  # noqa: E402

CLI = [sys.executable, "-m", "minikube_py.cli.minikube"]


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]




def deployment(replicas):
    labels = {"app": "bench"}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "bench"},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "c", "image": "busybox",
                                                           "command": ["sleep", "3600"]}]}}}}


def probe(name):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"terminationGracePeriodSeconds": 0,
                     "containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]}}


def drawn_at(page, key):
    return page.execute_script("return window.dashboard.drawnAt.get(arguments[0]) || 0", key)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--nodes", type=int, default=100)
    ap.add_argument("--pods", type=int, default=500)
    ap.add_argument("--probes", type=int, default=20)
    args = ap.parse_args()
    if browser.missing():
        raise SystemExit(browser.missing())

    state = tempfile.mkdtemp(prefix="minikube-py-dash-bench-")
    t = time.time()
    out = subprocess.run([*CLI, "up", "--state-dir", state, "--port", str(free_port()), "--nodes", "0",
                          "--hollow-nodes", str(args.nodes), "--dashboard-port", str(free_port())],
                         capture_output=True, text=True, timeout=600)
    if out.returncode:        # what it started before it failed goes too
        subprocess.run([*CLI, "down", "--state-dir", state, "--purge"], capture_output=True, timeout=300)
        raise SystemExit(out.stdout + out.stderr)
    url = re.search(r"dashboard: (http://\S+)", out.stdout).group(1)
    print(f"cluster up with {args.nodes} hollow nodes in {time.time() - t:.1f} s")
    client = Client(kubeconfig=os.path.join(state, "kubeconfig"))
    page = browser.chromium(1600, 1000)
    try:
        page.get(url)
        wait_for(lambda: page.execute_script("return window.dashboard.state.nodes.size") >= args.nodes,
             60, f"{args.nodes} nodes on the page")
        t = time.time()
        client.create("deployments", deployment(args.pods), "default")
        wait_for(lambda: page.execute_script(
            "return [...window.dashboard.state.pods.values()].filter(p => p.phase === 'Running').length")
             >= args.pods and len(page.find_elements("css selector", ".pod.running")) >= args.pods,
             600, f"{args.pods} Running pods on the page", interval=0.5)
        print(f"{args.pods} pods Running on the page {time.time() - t:.1f} s after the Deployment was created")
        browser.screenshot(page, "dashboard-500-pods.png")

        created, deleted = [], []
        for i in range(args.probes):
            name, key = f"probe-{i}", f"pods:default/probe-{i}"
            t0 = time.time() * 1000
            client.create("pods", probe(name), "default")
            created.append(wait_for(lambda: drawn_at(page, key), 10, f"{name} drawn") - t0)
            time.sleep(0.3)           # let the pod be scheduled and started before deleting it
            before = drawn_at(page, key)
            t0 = time.time() * 1000
            client.delete("pods", name, "default", grace_period_seconds=0)
            wait_for(lambda: page.execute_script("return !window.dashboard.state.pods.has(arguments[0])",
                                             f"default/{name}") and drawn_at(page, key) > before,
                 10, f"{name} gone")
            deleted.append(drawn_at(page, key) - t0)
        for what, values in (("create -> drawn", created), ("delete -> drawn", deleted)):
            print(f"{what}: p50 {pct(values, 50):.0f} ms, p95 {pct(values, 95):.0f} ms, "
                  f"max {max(values):.0f} ms  ({len(values)} pods, page holding {args.pods} pods "
                  f"on {args.nodes} nodes)")
        print(f"one redraw of the nodes with {args.pods} pods: "
              f"{page.execute_script('return window.dashboard.drawMs'):.1f} ms in the browser")
    finally:
        page.quit()
        client.close()
        subprocess.run([*CLI, "down", "--state-dir", state, "--purge"], capture_output=True, timeout=300)


if __name__ == "__main__":
    main()
