"""ReplicaSet + Deployment controllers at scale: a 500-replica Deployment.

    python benchmarks/controllers.py [--replicas 500] [--nodes 100] [--kubelets played|hollow]
                                     [--profile] [--controller-log PATH]

Measures, end to end through a real etcd and apiserver:

1. **create**: `Deployment` with 500 replicas created -> status.availableReplicas 500
   (goal: <= 15 s);
2. **rolling update**: the pod template changed (what `kubectl set image` does) ->
   rollout complete (updated = available = replicas, old pods gone), default
   strategy (maxSurge 25%, maxUnavailable 25%).

The controllers run in their own process (`python -m minikube_py.controllers.command
deployment-controller`, the ReplicaSet controller included), as in a real controller
manager. Pods need a scheduler and kubelets; two ways:

* ``--kubelets played`` (default): this script **plays both** -- a thread pool that
  watches pods, binds each new one to one of ``--nodes`` Node objects (pods/binding),
  reports it Running and Ready (pods/status) and finishes graceful deletions: what a
  hollow kubelet does, minus its own overhead. It measures the controllers and the
  apiserver, not the kubelet. The output says so.
* ``--kubelets hollow``: the real scheduler process and one hollow-kubelet process
  running ``--nodes`` hollow nodes (``minikube-py kubelet --runtime hollow``), as
  kubemark does: the whole control loop, end to end.

``--profile`` runs the controllers under cProfile (all threads, via
``threading.setprofile``) and prints the top functions by cumulative time.

It starts its own etcd and apiserver in a temporary directory and removes it after.
"""
from __future__ import annotations

import argparse
import itertools
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from minikube_py.api import meta  # noqa: E402
from minikube_py.client import errors  # noqa: E402
from minikube_py.client.rest import Client  # noqa: E402
from minikube_py.storage.embedded import free_port, start_etcd  # noqa: E402


def cpu_seconds(pid: int) -> float:
    try:
        fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return float("nan")


def load() -> str:
    return " ".join(open("/proc/loadavg").read().split()[:3])


class ControlPlane:
    """etcd + apiserver in a temporary directory."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="minikube-py-bench-ctrl-")
        self.port = free_port()
        self.server = f"http://127.0.0.1:{self.port}"
        self.procs = []
        self.named: dict[str, subprocess.Popen] = {}    # scheduler, kubelets (hollow mode)

    def start(self):
        etcd_log = open(os.path.join(self.dir, "etcd.log"), "ab")
        etcd, etcd_url = start_etcd(os.path.join(self.dir, "etcd"), log_file=etcd_log)
        self.procs.append(etcd)
        api_log = open(os.path.join(self.dir, "apiserver.log"), "ab")
        api = subprocess.Popen([sys.executable, "-m", "minikube_py.cli.minikube", "apiserver",
                                "--etcd-servers", etcd_url, "--port", str(self.port)],
                               stdout=api_log, stderr=subprocess.STDOUT, cwd=ROOT)
        self.procs.append(api)
        self.api = api
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                if requests.get(self.server + "/readyz", timeout=1).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        raise RuntimeError("apiserver did not become ready")

    def start_hollow(self, nodes: int):
        """The real scheduler and one hollow-kubelet process with ``nodes`` nodes."""
        from minikube_py.client.kubeconfig import write_kubeconfig
        kubeconfig = write_kubeconfig(os.path.join(self.dir, "kubeconfig"), self.server)
        for name, args in (("scheduler", ["scheduler", "--kubeconfig", kubeconfig]),
                           ("kubelets", ["kubelet", "--runtime", "hollow", "--node-name", "hollow",
                                         "--hollow-nodes", str(nodes), "--kubeconfig", kubeconfig,
                                         "--state-dir", os.path.join(self.dir, "nodes")])):
            log = open(os.path.join(self.dir, f"{name}.log"), "ab")
            proc = subprocess.Popen([sys.executable, "-m", "minikube_py.cli.minikube", *args],
                                    stdout=log, stderr=subprocess.STDOUT, cwd=ROOT)
            self.procs.append(proc)
            self.named[name] = proc
        client = Client(server=self.server)

        def ready_nodes():
            return sum(1 for n in client.list("nodes")["items"]
                       if any(c.get("type") == "Ready" and c.get("status") == "True"
                              for c in (n.get("status") or {}).get("conditions") or []))
        if not wait_until(lambda: ready_nodes() >= nodes, 120, 0.5):
            raise RuntimeError(f"only {ready_nodes()} of {nodes} hollow nodes became Ready")
        return self.procs[-1]

    def stop(self):
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.terminate()
                try:
                    proc.wait(10)
                except subprocess.TimeoutExpired:
                    proc.kill()
        shutil.rmtree(self.dir, ignore_errors=True)


class PlayedKubelets:
    """Stands in for the scheduler and the kubelets of ``nodes`` hollow nodes.

    One watch on all pods; each new unbound pod is bound round-robin to a node and
    then reported Running/Ready; a pod with a deletionTimestamp is deleted for good
    (its "containers" stopped at once).
    """

    def __init__(self, server: str, nodes: list[str], threads: int = 16):
        self.client = Client(server=server, pool_maxsize=threads + 4)
        self.client.session.trust_env = False
        self.nodes = itertools.cycle(nodes)
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="kubelet")
        self.stop_event = threading.Event()
        self.done: set = set()
        self.ips = itertools.count(1)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        self.thread.start()
        return self

    def stop(self):
        self.stop_event.set()
        self.pool.shutdown(wait=False, cancel_futures=True)

    def _run(self):
        rv = self.client.list("pods")["metadata"]["resourceVersion"]
        while not self.stop_event.is_set():
            try:
                with self.client.watch("pods", resource_version=rv, timeout_seconds=60) as w:
                    for etype, pod in w:
                        rv = pod["metadata"].get("resourceVersion", rv)
                        if self.stop_event.is_set():
                            return
                        self._handle(etype, pod)
            except errors.Expired:
                rv = self.client.list("pods")["metadata"]["resourceVersion"]
            except Exception:
                time.sleep(0.2)

    def _handle(self, etype, pod):
        md = pod["metadata"]
        if etype == "DELETED":
            return
        if md.get("deletionTimestamp"):
            if ("del", md["uid"]) not in self.done:
                self.done.add(("del", md["uid"]))
                self.pool.submit(self._finish, md["namespace"], md["name"])
            return
        if md["uid"] not in self.done and not (pod.get("status") or {}).get("podIP"):
            self.done.add(md["uid"])
            self.pool.submit(self._start, md["namespace"], md["name"], pod["spec"].get("nodeName"))

    def _start(self, ns, name, node):
        try:
            if not node:
                self.client.bind(ns, name, next(self.nodes))
            n = next(self.ips)
            now = meta.now_rfc3339()
            status = {"phase": "Running", "podIP": f"10.{n >> 16 & 255}.{n >> 8 & 255}.{n & 255}",
                      "startTime": now,
                      "conditions": [{"type": t, "status": "True", "lastTransitionTime": now}
                                     for t in ("Initialized", "Ready", "ContainersReady", "PodScheduled")]}
            self.client.patch("pods", name, {"status": status}, namespace=ns, subresource="status")
        except (errors.NotFound, errors.Conflict):
            pass

    def _finish(self, ns, name):
        try:
            self.client.delete("pods", name, namespace=ns, grace_period_seconds=0)
        except errors.NotFound:
            pass


def wait_until(pred, timeout, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(interval)
    return False


def deployment(name: str, replicas: int) -> dict:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{"name": "app", "image": "busybox:latest",
                                                           "command": ["sleep", "3600"]}]}}}}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--replicas", type=int, default=500)
    ap.add_argument("--nodes", type=int, default=100)
    ap.add_argument("--kubelets", choices=("played", "hollow"), default="played",
                    help="who binds pods and makes them Ready (see above)")
    ap.add_argument("--timeout", type=float, default=180)
    ap.add_argument("--profile", action="store_true", help="profile the controllers (slower)")
    ap.add_argument("--controller-log", metavar="PATH",
                    help="save the controllers' verbose log (every scaling decision) here")
    args = ap.parse_args()

    cp = ControlPlane().start()
    ctrl = kubelets = None
    try:
        client = Client(server=cp.server)
        client.session.trust_env = False
        for i in range(args.nodes if args.kubelets == "played" else 0):
            client.create("nodes", {"metadata": {"name": f"hollow-{i}", "labels": {"type": "hollow"}},
                                    "status": {"capacity": {"cpu": "32", "memory": "128Gi", "pods": "110"},
                                               "conditions": [{"type": "Ready", "status": "True"}]}})
        client.create("namespaces", {"metadata": {"name": "bench"}})

        prof_out = os.path.join(cp.dir, "controllers.prof")
        cmd = [sys.executable]
        extra = ["-v"] if args.controller_log else []
        if args.profile:
            cmd += ["-c", PROFILE_WRAPPER, prof_out]
        else:
            cmd += ["-m", "minikube_py.controllers.command", "deployment-controller"]
        if args.kubelets == "hollow":
            kubelets = cp.start_hollow(args.nodes)
        ctrl_log = open(os.path.join(cp.dir, "controllers.log"), "ab")
        ctrl = subprocess.Popen(cmd + ["--server", cp.server] + extra, cwd=ROOT, stdout=ctrl_log,
                                stderr=subprocess.STDOUT)
        if args.kubelets == "played":
            kubelets = PlayedKubelets(cp.server, [f"hollow-{i}" for i in range(args.nodes)]).start()
        time.sleep(1.0)     # let the controllers' informers sync

        print(f"minikube-py controller benchmark: Deployment with {args.replicas} replicas, "
              f"{args.nodes} hollow nodes")
        if args.kubelets == "played":
            print("  NOTE: no scheduler or hollow kubelet was used; this script plays both "
                  "(bind + Running/Ready via pods/status, in-process, 16 threads).")
        else:
            print("  scheduler: minikube-py scheduler; kubelets: one minikube-py kubelet "
                  f"--runtime hollow process with {args.nodes} nodes")
        print(f"  load before: {load()}")

        def status():
            return (client.get("deployments", "web", namespace="bench").get("status") or {})

        def others():
            return {name: cpu_seconds(p.pid) for name, p in cp.named.items()}

        def cpu_line(before, after):
            parts = [f"{name} {after[name] - before[name]:.1f}s" for name in before]
            return (", " + ", ".join(parts)) if parts else ""

        api_cpu0, ctrl_cpu0, oth0 = cpu_seconds(cp.api.pid), cpu_seconds(ctrl.pid), others()
        t0 = time.monotonic()
        client.create("deployments", deployment("web", args.replicas), namespace="bench")
        first_pods = wait_until(lambda: len(client.list("pods", namespace="bench")["items"]) >= args.replicas,
                                args.timeout, 0.1)
        t_pods = time.monotonic() - t0
        ok = wait_until(lambda: status().get("availableReplicas") == args.replicas, args.timeout, 0.1)
        t_create = time.monotonic() - t0
        api_cpu1, ctrl_cpu1, oth1 = cpu_seconds(cp.api.pid), cpu_seconds(ctrl.pid), others()
        print(f"  create: {args.replicas} pods exist after {t_pods:.2f}s; "
              f"{args.replicas} available after {t_create:.2f}s"
              f"{'' if ok and first_pods else '  (TIMED OUT)'}   [goal <= 15 s]")
        print(f"          cpu: apiserver {api_cpu1 - api_cpu0:.1f}s, controllers {ctrl_cpu1 - ctrl_cpu0:.1f}s"
              f"{cpu_line(oth0, oth1)}")

        t1 = time.monotonic()
        client.patch("deployments", "web", {"spec": {"template": {"spec": {"containers": [
            {"name": "app", "image": "busybox:v2"}]}}}}, namespace="bench", patch_type="strategic")
        gen = client.get("deployments", "web", namespace="bench")["metadata"]["generation"]

        def rolled_out():
            s = status()
            return (s.get("observedGeneration", 0) >= gen and s.get("updatedReplicas") == args.replicas
                    and s.get("replicas") == args.replicas and s.get("availableReplicas") == args.replicas)

        ok = wait_until(rolled_out, args.timeout, 0.1)
        t_roll = time.monotonic() - t1
        ok_pods = wait_until(lambda: len(client.list("pods", namespace="bench")["items"]) == args.replicas,
                             args.timeout, 0.1)
        t_gone = time.monotonic() - t1
        api_cpu2, ctrl_cpu2, oth2 = cpu_seconds(cp.api.pid), cpu_seconds(ctrl.pid), others()
        print(f"  rolling update (maxSurge 25%, maxUnavailable 25%): complete after {t_roll:.2f}s, "
              f"old pods gone after {t_gone:.2f}s{'' if ok and ok_pods else '  (TIMED OUT)'}")
        print(f"          cpu: apiserver {api_cpu2 - api_cpu1:.1f}s, controllers {ctrl_cpu2 - ctrl_cpu1:.1f}s"
              f"{cpu_line(oth1, oth2)}")
        events = client.list("events", namespace="bench")["items"]
        mine = [e for e in events if (e.get("source") or {}).get("component") in
                ("replicaset-controller", "deployment-controller")]
        print(f"  events recorded: {len(events)}, {len(mine)} of them by the two controllers "
              "(their spam filter: 25 per object, then 1 per 5 min)")
        print(f"  load after: {load()}")
    finally:
        if isinstance(kubelets, PlayedKubelets):
            kubelets.stop()
        if ctrl and ctrl.poll() is None:
            ctrl.terminate()
            try:
                ctrl.wait(15)
            except subprocess.TimeoutExpired:
                ctrl.kill()
        if args.profile:
            import pstats
            path = os.path.join(cp.dir, "controllers.prof")
            if os.path.exists(path):
                print("\n  controllers' CPU time by function (all threads):")
                pstats.Stats(path).sort_stats("tottime").print_stats(30)
        if args.controller_log:
            shutil.copy(os.path.join(cp.dir, "controllers.log"), args.controller_log)
        cp.stop()


# Runs the two controllers with every thread profiled (CPU time per thread, so waiting
# costs nothing); dumps the merged stats on SIGTERM.
PROFILE_WRAPPER = r"""
import cProfile, pstats, signal, sys, threading, time
out = sys.argv.pop(1)
profiles = []
def profiled(run):
    def wrapper(self):
        p = cProfile.Profile(time.thread_time)
        profiles.append(p)
        p.enable()
        try:
            run(self)
        finally:
            p.disable()
    return wrapper
threading.Thread.run = profiled(threading.Thread.run)
def dump(*_):
    stats = None
    for p in list(profiles):
        try:
            p.create_stats()
            stats = pstats.Stats(p) if stats is None else stats.add(p)
        except Exception:
            pass
    if stats is not None:
        stats.dump_stats(out)
    sys.exit(0)
signal.signal(signal.SIGTERM, dump)
from minikube_py.controllers.command import deployment_command
deployment_command()
"""


if __name__ == "__main__":
    main()
