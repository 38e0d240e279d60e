"""Scheduler throughput, end to end, beside the apiserver's raw binding-write rate.

For each (nodes, pods) configuration, on a fresh etcd + apiserver in a temp dir:

1. create N hollow Node objects (Ready, 32 cpu, 128Gi, 110 pods);
2. **drain**: create min(M, 3000) pods while no scheduler runs, then start the
   scheduler (`python -m minikube_py.scheduler.command`, its own process, as in
   a real cluster) and time its binds from the first to the last -- scheduling
   and binding alone, as after a scheduler restart;
3. **end to end**: create M pods from ``--creators`` client processes and count,
   on a watch, until all M are bound -- pods/s from the first create to the last
   bind;
4. **raw binds** (the yardstick): create M more pods that no scheduler owns,
   then POST their bindings directly from as many client processes -- binds/s
   with no scheduling at all. The same run, the same machine load.

The load generators (creators, raw binders) are plain keep-alive connections in
their own processes, as in benchmarks/apiserver.py: they share the 2 cores with
the cluster, so they must cost little. Their CPU is printed with the rest.

Also printed: the rate of the creates alone, and (``--algorithm``) how many
pods/s the filter/score loop manages with no API at all.

    python benchmarks/scheduler.py                       # 100/1000 and 1000/5000
    python benchmarks/scheduler.py --nodes 1000 --pods 5000
    python benchmarks/scheduler.py --algorithm --profile # pyinstrument of the hot path
"""
from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from minikube_py.client.kubeconfig import write_kubeconfig
from minikube_py.client.rest import Client
from minikube_py.storage.embedded import free_port, start_etcd

NODE_ALLOCATABLE = {"cpu": "32", "memory": "128Gi", "pods": "110"}


def hollow_node(name: str, zone: str) -> dict:
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name,
                                                  "topology.kubernetes.io/zone": zone}},
            "spec": {},
            "status": {"capacity": NODE_ALLOCATABLE, "allocatable": NODE_ALLOCATABLE,
                       "conditions": [{"type": "Ready", "status": "True", "reason": "Hollow"}]}}


def bench_pod(name: str, scheduler_name: str = "default-scheduler") -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "bench"}},
            "spec": {"schedulerName": scheduler_name,
                     "containers": [{"name": "c", "image": "busybox",
                                     "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}}}]}}


class Cluster:
    """etcd + apiserver in a temp dir, as tests/conftest.py starts them."""

    def __init__(self, apiserver_env: dict | None = None, apiserver_args: list | tuple = ()):
        self.dir = tempfile.mkdtemp(prefix="bench-sched-")
        self.etcd, self.etcd_url = start_etcd(os.path.join(self.dir, "etcd"),
                                              log_file=open(os.path.join(self.dir, "etcd.log"), "ab"))
        self.port = free_port()
        self.server = f"http://127.0.0.1:{self.port}"
        self.api = subprocess.Popen(
            [sys.executable, "-m", "minikube_py.cli.minikube", "apiserver",
             "--etcd-servers", self.etcd_url, "--port", str(self.port), *apiserver_args],
            stdout=open(os.path.join(self.dir, "apiserver.log"), "ab"), stderr=subprocess.STDOUT,
            env={**os.environ, **(apiserver_env or {})})
        deadline = time.monotonic() + 120      # a shared, busy machine starts slowly
        while True:
            try:
                if requests.get(self.server + "/readyz", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline or self.api.poll() is not None:
                for p in (self.api, self.etcd):     # never leave them running
                    p.kill()
                raise RuntimeError("apiserver did not start; see " + self.dir)
            time.sleep(0.1)
        self.kubeconfig = write_kubeconfig(os.path.join(self.dir, "kubeconfig"), self.server)
        self.procs = [self.api, self.etcd]

    def stop(self, keep_dir: bool = False):
        # All at once, then one wait for all: one by one, 40 hollow kubelet processes on a
        # busy machine took minutes, and the cluster went on loading the next run.
        for p in self.procs:
            if p.poll() is None:
                p.terminate()
        deadline = time.monotonic() + 10
        for p in self.procs:
            try:
                p.wait(max(deadline - time.monotonic(), 0.1))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        if not keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)


def create_all(client: Client, objs: list[dict], resource: str, namespace=None, threads=8) -> float:
    """Create objects with a thread pool; return seconds taken."""
    t0 = time.monotonic()
    with ThreadPoolExecutor(threads) as ex:
        list(ex.map(lambda o: client.create(resource, o, namespace=namespace), objs))
    return time.monotonic() - t0


def _post_worker(args) -> float:
    """One load-generator process: POST each (path, body) over one keep-alive connection.

    The load generator must not be what is measured: it shares the 2 cores with the
    cluster. A plain connection per process costs ~0.3 ms of CPU per create, against
    ~0.8 ms for 8 threads of the Client in one process (GIL included).
    Returns the CPU seconds it used.
    """
    server, posts = args
    host, port = server.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port))
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    cpu0 = time.process_time()
    for path, body in posts:
        while True:
            conn.request("POST", path, json.dumps(body), headers)
            resp = conn.getresponse()
            data = resp.read()
            if resp.status != 429:
                break
            # The apiserver's in-flight limit: wait out Retry-After and send it again, as
            # client-go does (a 1,000-node scale run's raw binds stopped at the first 429).
            time.sleep(float(resp.getheader("Retry-After") or 1))
        if resp.status != 201:
            raise RuntimeError(f"POST {path} failed: {resp.status} {data[:300]!r}")
    conn.close()
    return time.process_time() - cpu0


def _worker_started(barrier) -> None:
    barrier.wait()


def post_in_processes(server: str, posts: list[tuple[str, dict]], processes: int) -> tuple[float, float, float]:
    """POST from `processes` client processes.

    Returns (when the first POST could go, seconds from then to the last answer, their
    CPU seconds). Starting the processes is not counted: the clock starts once every one
    has started (a barrier).

    Spawned, not forked: forked from scale.py (informer and watch threads, a SIGTERM
    handler of its own), a pool worker twice stayed blocked on the pool's queue lock and
    the pool's exit waited for it for good.
    """
    ctx = mp.get_context("spawn")
    started = ctx.Barrier(processes + 1)
    with ctx.Pool(processes, initializer=_worker_started, initargs=(started,)) as pool:
        started.wait()
        t0 = time.monotonic()
        cpu = pool.map(_post_worker, [(server, posts[i::processes]) for i in range(processes)])
        return t0, time.monotonic() - t0, sum(cpu)


def create_in_processes(server: str, namespace: str, pods: list[dict],
                        processes: int) -> tuple[float, float, float]:
    """Create pods from `processes` client processes; see post_in_processes for what it returns."""
    return post_in_processes(server, [(f"/api/v1/namespaces/{namespace}/pods", pod) for pod in pods],
                             processes)


def bind_in_processes(server: str, namespace: str, binds: list[tuple[str, str]], processes: int) -> float:
    """POST bindings from `processes` client processes; return the seconds taken."""
    posts = [(f"/api/v1/namespaces/{namespace}/pods/{name}/binding",
              {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": name},
               "target": {"apiVersion": "v1", "kind": "Node", "name": node}})
             for name, node in binds]
    return post_in_processes(server, posts, processes)[1]


def cpu_seconds(pid: int) -> float:
    """user + system CPU time of a process so far (from /proc)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) CPU time of the whole machine so far, from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:]]
    idle = fields[3] + fields[4]        # idle + iowait
    return sum(fields) - idle, sum(fields)


class BoundCounter:
    """Watch pods in a namespace; record when each is first seen bound, and where."""

    def __init__(self, client: Client, namespace: str):
        self.client, self.namespace = client, namespace
        self.bound: dict[str, str] = {}
        self.first_bound_at = self.last_bound_at = 0.0
        self.cond = threading.Condition()
        rv = client.list("pods", namespace=namespace)["metadata"]["resourceVersion"]
        self.watch = client.watch("pods", namespace=namespace, resource_version=rv,
                                  timeout_seconds=3600)
        threading.Thread(target=self._run, daemon=True).start()

    def _run(self):
        try:
            for _, pod in self.watch:
                if pod.get("spec", {}).get("nodeName"):
                    with self.cond:
                        if pod["metadata"]["name"] not in self.bound:
                            self.bound[pod["metadata"]["name"]] = pod["spec"]["nodeName"]
                            self.last_bound_at = time.monotonic()
                            self.first_bound_at = self.first_bound_at or self.last_bound_at
                            self.cond.notify_all()
        except Exception:
            pass

    def wait_for(self, n: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self.cond:
            while len(self.bound) < n:
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(min(left, 1.0))
        return True


def run_config(nodes: int, pods: int, threads: int, creators: int, timeout: float,
               scheduler_args: list[str], keep: bool = False) -> dict:
    cluster = Cluster()
    client = Client(server=cluster.server, pool_maxsize=64)
    try:
        zones = ["a", "b", "c"]
        create_all(client, [hollow_node(f"node-{i:05}", zones[i % 3]) for i in range(nodes)], "nodes",
                   threads=threads)
        for ns in ("bench", "raw", "warmup", "drain"):
            client.create("namespaces", {"metadata": {"name": ns}})

        log_path = os.path.join(cluster.dir, "scheduler.log")

        def start_scheduler():
            proc = subprocess.Popen([sys.executable, "-m", "minikube_py.scheduler.command",
                                     "--kubeconfig", cluster.kubeconfig, *scheduler_args],
                                    stdout=open(log_path, "ab"), stderr=subprocess.STDOUT)
            cluster.procs.insert(0, proc)
            return proc

        # --- drain: a backlog of pending pods, then the scheduler starts on it.
        # No creates in the way: scheduling + binding alone, against the raw binds.
        # (At most 3000 pods: the scheduler's first list must stay under etcd's
        # 4 MiB gRPC message limit, see the scheduler's report.)
        drain = min(pods, 3000)
        create_all(client, [bench_pod(f"d-{i:05}") for i in range(drain)], "pods",
                   namespace="drain", threads=threads)
        drained = BoundCounter(client, "drain")
        sched = start_scheduler()
        drain_ok = drained.wait_for(drain, timeout)
        drain_rate = (len(drained.bound) - 1) / max(drained.last_bound_at - drained.first_bound_at,
                                                   1e-9)
        drained.watch.close()

        client.create("pods", bench_pod("warmup"), namespace="warmup")
        deadline = time.monotonic() + 60
        while not client.get("pods", "warmup", namespace="warmup")["spec"].get("nodeName"):
            if time.monotonic() > deadline or sched.poll() is not None:
                raise RuntimeError("scheduler did not start:\n" + open(log_path).read()[-2000:])
            time.sleep(0.1)

        # --- end to end: create M pods, wait until the watch has seen all bound
        counter = BoundCounter(client, "bench")
        objs = [bench_pod(f"p-{i:05}") for i in range(pods)]
        watched = {"scheduler": sched.pid, "apiserver": cluster.api.pid, "etcd": cluster.etcd.pid,
                   "benchmark": os.getpid()}
        cpu0 = {name: cpu_seconds(pid) for name, pid in watched.items()}
        busy0, total0 = machine_jiffies()
        t0, create_s, creators_cpu = create_in_processes(cluster.server, "bench", objs, creators)
        ok = counter.wait_for(pods, timeout)
        e2e_s = (counter.last_bound_at or time.monotonic()) - t0
        cpu_ms = {name: (cpu_seconds(pid) - cpu0[name]) * 1000 / pods for name, pid in watched.items()}
        cpu_ms["creators"] = creators_cpu * 1000 / pods
        busy1, total1 = machine_jiffies()
        counter.watch.close()
        bound = len(counter.bound)

        # --- raw binding writes: same number, no scheduler involved
        create_all(client, [bench_pod(f"r-{i:05}", "nobody") for i in range(pods)], "pods",
                   namespace="raw", threads=threads)
        raw_s = bind_in_processes(cluster.server, "raw",
                                  [(f"r-{i:05}", f"node-{i % nodes:05}") for i in range(pods)], creators)

        spread: dict[str, int] = {}
        for node in counter.bound.values():
            spread[node] = spread.get(node, 0) + 1
        return {"cpu_ms_per_pod": cpu_ms, "machine_busy": (busy1 - busy0) / max(total1 - total0, 1),
                "nodes": nodes, "pods": pods, "bound": bound, "complete": ok,
                "e2e_pods_per_s": bound / e2e_s, "create_pods_per_s": pods / create_s,
                "raw_binds_per_s": pods / raw_s, "nodes_used": len(spread),
                "drain_pods_per_s": drain_rate if drain_ok else float("nan"),
                "max_pods_per_node": max(spread.values()) if spread else 0,
                "scheduler_log": open(log_path).read()[-1500:] if not ok else ""}
    finally:
        client.close()
        cluster.stop(keep_dir=keep)      # --keep keeps the logs, never the processes
        if keep:
            print("kept", cluster.dir)


def algorithm_only(nodes: int, pods: int, profile_out: str | None) -> float:
    """Pods/s of filter + score + assume with no API: the scheduling loop's own ceiling."""
    from minikube_py.scheduler.cache import Cache
    from minikube_py.scheduler.framework import PodInfo
    from minikube_py.scheduler.profile import Profile

    cache, profile = Cache(), Profile()
    for i in range(nodes):
        cache.add_node(hollow_node(f"node-{i:05}", "abc"[i % 3]))
    objs = []
    for i in range(pods):
        p = bench_pod(f"p-{i:05}")
        p["metadata"].update(namespace="bench", uid=f"uid-{i}",
                             ownerReferences=[{"kind": "ReplicaSet", "uid": f"rs-{i % 10}",
                                               "controller": True, "name": "rs"}])
        objs.append(p)
    profiler = None
    if profile_out:
        from pyinstrument import Profiler
        profiler = Profiler(interval=0.0005)
        profiler.start()
    t0 = time.process_time()          # CPU time: other load on the machine does not count
    for p in objs:
        info = PodInfo(p)
        with cache.lock:
            node = profile.schedule(info, cache.nodes())
            cache.assume(info, node.name)
    dt = time.process_time() - t0
    if profiler:
        profiler.stop()
        with open(profile_out, "w") as f:
            f.write(profiler.output_html())
        print(profiler.output_text(unicode=False, color=False, show_all=False)[:6000])
    return pods / dt


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, nargs="*", help="node counts (pairs with --pods)")
    ap.add_argument("--pods", type=int, nargs="*", help="pod counts")
    ap.add_argument("--threads", type=int, default=8, help="client threads creating nodes and the other pods")
    ap.add_argument("--creators", type=int, default=4,
                    help="client processes creating the end-to-end pods (and binding the raw ones)")
    ap.add_argument("--timeout", type=float, default=600)
    ap.add_argument("--algorithm", action="store_true", help="only the in-memory filter/score loop")
    ap.add_argument("--profile", metavar="HTML", nargs="?", const="scheduler-profile.html",
                    help="with --algorithm: write a pyinstrument profile")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    ap.add_argument("--repeat", type=int, default=1,
                    help="run each configuration N times (the machine is shared: look at the spread)")
    ap.add_argument("scheduler_args", nargs="*", help="extra flags for the scheduler (after --)")
    args = ap.parse_args()
    configs = list(zip(args.nodes or [100, 1000], args.pods or [1000, 5000]))

    if args.algorithm:
        for nodes, pods in configs:
            rate = algorithm_only(nodes, pods, args.profile)
            print(f"algorithm only: {nodes} nodes, {pods} pods: {rate:,.0f} pods/s of CPU time "
                  f"(filter + score + assume, no API)")
        return

    print(f"{'nodes':>6} {'pods':>6} {'e2e pods/s':>11} {'creates/s':>10} {'raw binds/s':>12} "
          f"{'e2e/raw':>8} {'drain/s':>8} {'nodes used':>10} {'max/node':>8}   "
          "CPU ms per pod (e2e window), machine busy")
    for nodes, pods in configs:
        ratios = []
        for _ in range(args.repeat):
            r = run_config(nodes, pods, args.threads, args.creators, args.timeout,
                           args.scheduler_args, args.keep)
            ratios.append(r["e2e_pods_per_s"] / r["raw_binds_per_s"])
            print(f"{r['nodes']:>6} {r['pods']:>6} {r['e2e_pods_per_s']:>11.0f} "
                  f"{r['create_pods_per_s']:>10.0f} {r['raw_binds_per_s']:>12.0f} "
                  f"{ratios[-1]:>8.2f} {r['drain_pods_per_s']:>8.0f} {r['nodes_used']:>10} "
                  f"{r['max_pods_per_node']:>8}   " +
                  " ".join(f"{k} {v:.2f}" for k, v in r["cpu_ms_per_pod"].items()) +
                  f", busy {r['machine_busy']:.0%}", flush=True)
            if not r["complete"]:
                print(f"  only {r['bound']}/{pods} bound before the timeout; scheduler log tail:\n"
                      f"{r['scheduler_log']}")
        if args.repeat > 1:
            print(f"{'':>14} median e2e/raw over {args.repeat} runs: {statistics.median(ratios):.2f}")


if __name__ == "__main__":
    main()
