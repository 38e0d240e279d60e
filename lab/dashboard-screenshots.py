"""The dashboard's screenshots in docs/images/, taken from a real cluster in a real browser.

    python lab/dashboard-screenshots.py [--out docs/images]

`minikube-py up` with 3 Docker nodes of 2 simulated GPUs each, then, in headless Chromium:
  dashboard-nginx.png          the nginx Deployment of the Kubernetes docs, 3 pods Running
  dashboard-rolling-update.png `kubectl set image` midway: old and new ReplicaSets both hold pods
  dashboard-gpus.png           examples/gpu-pods.yaml: five pods, each in a GPU slot (with the
                               GPU id its kubelet gave it)
  dashboard-pod-log.png        gpu-pod-1's log (nvidia-smi -L), followed in the side panel
  dashboard-node-failed.png    node-3's kubelet killed: the node NotReady, its pods evicted and
                               made again on the others
The cluster is taken down at the end. Takes a few minutes (the node failure waits for the
node lifecycle controller's grace period, set to 20 s here).

With --hollow the three nodes are hollow kubelets (no containers, no Docker), each with a
simulated device plugin: the same pictures without CPU/memory figures, GPU ids or logs.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))
import browser  # noqa: E402  (tests/browser.py)
from polling import wait_for  # noqa: E402  (tests/polling.py)
from minikube_py.storage.embedded import free_port  # noqa: E402

CLI = [sys.executable, "-m", "minikube_py.cli.minikube"]
# the rollout: a new image, each new pod counted available only after 4 s (so the
# update can be seen midway), and pods that leave an unreachable node after 5 s
ROLLOUT_PATCH = {"spec": {"minReadySeconds": 4, "template": {"spec": {
    "containers": [{"name": "nginx", "image": "nginx:1.16.1"}],
    "tolerations": [{"key": f"node.kubernetes.io/{t}", "operator": "Exists", "effect": "NoExecute",
                     "tolerationSeconds": 5} for t in ("unreachable", "not-ready")]}}}}




def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=os.path.join(ROOT, "docs", "images"))
    ap.add_argument("--hollow", action="store_true", help="hollow nodes: no Docker needed")
    args = ap.parse_args()
    if browser.missing():
        raise SystemExit(browser.missing())
    state = tempfile.mkdtemp(prefix="minikube-py-shots-")
    nodes = ["--nodes", "0"] if args.hollow else ["--nodes", "3", "--gpus-per-node", "2"]
    out = subprocess.run([*CLI, "up", "--state-dir", state, "--port", str(free_port()), *nodes,
                          "--metric-resolution", "3",
                          "--dashboard-port", str(free_port()), "--controller-args",
                          "--node-monitor-grace-period 20s --node-monitor-period 1s"],
                         capture_output=True, text=True, timeout=300)
    if out.returncode:        # what it started before it failed goes too
        subprocess.run([*CLI, "down", "--state-dir", state, "--purge"], capture_output=True, timeout=300)
        raise SystemExit(out.stdout + out.stderr)
    print(out.stdout)
    url = re.search(r"dashboard: (http://\S+)", out.stdout).group(1)
    env = dict(os.environ, KUBECONFIG=os.path.join(state, "kubeconfig"), HOME=state)

    hollow = start_hollow_nodes(state) if args.hollow else {}

    def kubectl(*a, **kw):
        return subprocess.run(["kubectl", *a], env=env, check=True, capture_output=True, text=True, **kw).stdout

    page = browser.chromium(1500, 900)
    js = page.execute_script
    try:
        page.get(url)
        wait_for(lambda: len(page.find_elements("css selector", ".node[data-ready=True]")) == 3, 60, "3 nodes")
        kubectl("apply", "-f", os.path.join(ROOT, "examples", "nginx-deployment.yaml"))
        wait_for(lambda: len(page.find_elements("css selector", ".pod.running")) == 3, 120, "3 nginx pods Running")
        if not args.hollow:
            wait_for(lambda: len(page.find_elements("css selector", "[data-metrics]")) == 3, 60, "node metrics")
        wait_for(lambda: js("return [...window.dashboard.state.deployments.values()].every(d => d.complete)"),
             60, "nginx rolled out")
        print(browser.screenshot(page, "dashboard-nginx.png", args.out))

        kubectl("patch", "deployment", "nginx", "--type=strategic", "-p", json.dumps(ROLLOUT_PATCH))
        wait_for(lambda: js("""const d = window.dashboard.state.deployments.get('default/nginx');
                           return d.revision === '2' && d.updated === 2 && !d.complete""")
             and len(page.find_elements("css selector", ".pod.running")) >= 3, 120, "the rollout midway",
             interval=0.05)
        print(browser.screenshot(page, "dashboard-rolling-update.png", args.out))
        wait_for(lambda: js("return window.dashboard.state.deployments.get('default/nginx').complete"),
             180, "the rollout complete")

        kubectl("apply", "-f", os.path.join(ROOT, "examples", "gpu-pods.yaml"))
        wait_for(lambda: len(page.find_elements("css selector", ".gpu-slot.held")) == 5, 120, "5 GPU slots held")
        if not args.hollow:
            wait_for(lambda: len([t for t in browser.texts(page, ".gpu-slot.held") if "GPU-" in t]) == 5, 60,
                     "the GPU ids from the kubelets")
        print(browser.screenshot(page, "dashboard-gpus.png", args.out))
        if not args.hollow:          # a hollow pod writes no log
            browser.click(page, '.pod[data-pod="default/gpu-pod-1"]')
            browser.click(page, '#detail nav button[data-tab="logs"]')
            wait_for(lambda: "GPU " in browser.texts(page, "#detail-logs")[0], 30, "gpu-pod-1's log")
            print(browser.screenshot(page, "dashboard-pod-log.png", args.out))
            browser.click(page, "#detail-close")

        with open(os.path.join(state, "cluster.json")) as f:
            procs = json.load(f)["processes"]
        victim = hollow["node-3"].pid if hollow else \
            next(p["pid"] for p in procs if p["name"] == "kubelet-node-3")
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: page.find_elements("css selector", '.node[data-node="node-3"].notready'), 90,
             "node-3 NotReady")
        wait_for(lambda: js("""const pods = [...window.dashboard.state.pods.values()]
                             .filter(p => p.name.startsWith('nginx-') && !p.deleting);
                           return pods.length === 3 && pods.every(p => p.node !== 'node-3' && p.status === 'Running')
                                  && pods.some(p => p.ready === '1/1')"""), 120,
             "node-3's nginx pod evicted and made again elsewhere")
        time.sleep(1)
        print(browser.screenshot(page, "dashboard-node-failed.png", args.out))
    finally:
        page.quit()
        for proc in hollow.values():
            proc.kill()
        subprocess.run([*CLI, "down", "--state-dir", state, "--purge"], capture_output=True, timeout=300)


def start_hollow_nodes(state: str) -> dict:
    """node-1..3: a hollow kubelet each, with a simulated device plugin of 2 GPUs; returns
    the processes by name: node-1..3 (the kubelets) and plugin-node-1..3."""
    kubelets = {}
    kubeconfig = os.path.join(state, "kubeconfig")
    for i in (1, 2, 3):
        node = f"node-{i}"
        plugin_dir = tempfile.mkdtemp(prefix="/tmp/dash-shot-dp-")     # short Unix socket paths
        log = open(os.path.join(state, "logs", f"{node}.log"), "ab")
        kubelets[node] = subprocess.Popen(
            [*CLI, "kubelet", "--runtime", "hollow", "--node-name", node, "--kubeconfig", kubeconfig,
             "--lease-seconds", "2", "--state-dir", os.path.join(state, "nodes", node),
             "--device-plugin-dir", plugin_dir], stdout=log, stderr=subprocess.STDOUT)
        kubelets[f"plugin-{node}"] = subprocess.Popen(
            [*CLI, "device-plugin", "simulated", "--count", "2", "--plugin-dir", plugin_dir,
             "--node-name", node], stdout=log, stderr=subprocess.STDOUT)
    return kubelets


if __name__ == "__main__":
    main()
