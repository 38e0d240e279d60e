"""Scale: N hollow nodes and M pods made by Deployments, against one apiserver, in one run.

kwok runs 1,000 nodes and 100,000 pods on a laptop against the real kube-apiserver;
kube-scheduler's scheduler_perf bar is about 680 pods/s at 5,000 nodes. This measures
how close the whole cluster gets, on a fresh etcd + apiserver in a temp dir, with the
real controller-manager, the real scheduler and the real kubelet code on hollow nodes
(``minikube-py kubelet --runtime hollow --hollow-nodes K``, several processes, as
kubemark runs many hollow kubelets): leases every 10 s and node status as real kubelets
send them.

1. **yardstick**: raw etcd put-if-absent of pod bytes (as benchmarks/apiserver.py);
2. **nodes**: start the hollow kubelets, wait until N nodes are Ready; then, idle, count
   for ``--idle-seconds`` the Lease and Node writes per second (what N nodes cost the
   apiserver doing nothing) and the apiserver's CPU;
3. **pods**: create Deployments (``--replicas`` each) up to each checkpoint (by default
   10% / 50% / 100% of M, as the issue's 10k / 50k / 100k of 100k) and wait until every
   replica is available (Running and Ready on its hollow node); at each checkpoint:
   apiserver RSS and CPU, the other components' RSS, etcd's db size, and the latency of a
   list of all pods, whole and paginated (``limit=500`` and ``continue``, as kubectl's
   ``--chunk-size`` does);
4. **watch cache**: tracemalloc of a WatchCache, the apiserver's own class, replaying the
   last revisions from this etcd: bytes per cached event, and so the cache's bound;
5. **scheduler at N nodes**: the scheduler is stopped, ``--drain`` pods are created, the
   scheduler starts again and its binds are timed from the first to the last, as
   benchmarks/scheduler.py's drain; then the same number of raw binds (pods/binding from
   client processes, no scheduler): the ratio is the issue's goal (>= 0.8).

    python benchmarks/scale.py --nodes 200 --pods 5000             # a development run
    python benchmarks/scale.py --nodes 1000 --pods 20000 --profile prof/
    python benchmarks/scale.py --nodes 5000 --pods 100000           # the issue's goal

``--audit-lists`` has the apiserver audit every list (its audit log, as kube-apiserver's
--audit-policy-file) and prints at the end who listed what, and the seconds it took:
whole lists from etcd are what a busy apiserver's profile shows, not who made them.

``--profile DIR`` samples the apiserver (and the scheduler during its drain) with py-spy
(``pip install py-spy``) and prints the functions that used the most CPU.
"""
from __future__ import annotations

import argparse
import collections
import gc
import http.client
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import tracemalloc

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

from apiserver import bench_etcd_puts, pct  # noqa: E402  (benchmarks/apiserver.py)
from scheduler import (BoundCounter, Cluster, bench_pod, bind_in_processes,  # noqa: E402
                       cpu_seconds, create_in_processes, machine_jiffies)

from minikube_py.client.rest import Client  # noqa: E402

T0 = time.monotonic()


def say(msg: str) -> None:
    """A progress line, stamped with the seconds since the start."""
    print(f"[{time.monotonic() - T0:7.1f}s] {msg}", flush=True)


def proc_status(pid: int, field: str) -> str | None:
    """A field of /proc/<pid>/status ("VmRSS", "Threads"): its first word, or None."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return line.split()[1]
    except OSError:
        pass
    return None


def rss_mb(pid: int) -> float:
    kb = proc_status(pid, "VmRSS")
    return int(kb) / 1024 if kb is not None else float("nan")


def threads(pid: int) -> str:
    return proc_status(pid, "Threads") or "?"


def load() -> str:
    return " ".join(open("/proc/loadavg").read().split()[:3])


def deployment(name: str, replicas: int) -> dict:
    labels = {"app": name}
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": labels},
                     "template": {"metadata": {"labels": labels},
                                  "spec": {"containers": [{
                                      "name": "app", "image": "busybox",
                                      "command": ["sleep", "infinity"],
                                      "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}}}]}}}}


def get_raw(server: str, path: str) -> tuple[bytes, float]:
    """GET path on a fresh connection; (body, seconds)."""
    host, port = server.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=600)
    t = time.perf_counter()
    conn.request("GET", path, headers={"Accept": "application/json"})
    resp = conn.getresponse()
    body = resp.read()
    dt = time.perf_counter() - t
    conn.close()
    if resp.status != 200:
        raise RuntimeError(f"GET {path}: {resp.status} {body[:300]!r}")
    return body, dt


def list_latency(server: str) -> dict:
    """A list of every pod: whole, then in pages of 500 (first page, all pages)."""
    body, full_s = get_raw(server, "/api/v1/pods")
    items = len(json.loads(body)["items"])
    pages, cont, first_s, paged_s = 0, "", 0.0, 0.0
    while True:
        body, dt = get_raw(server, "/api/v1/pods?limit=500" + (f"&continue={cont}" if cont else ""))
        pages += 1
        paged_s += dt
        first_s = first_s or dt
        cont = json.loads(body)["metadata"].get("continue")
        if not cont:
            break
    return {"items": items, "bytes": len(body), "full_s": full_s, "first_page_s": first_s,
            "paged_s": paged_s, "pages": pages}


def etcd_db_mb(cluster: Cluster) -> float:
    path = os.path.join(cluster.dir, "etcd", "member", "snap", "db")
    try:
        return os.path.getsize(path) / 2**20
    except OSError:
        return float("nan")


class Profiler:
    """py-spy sampling one process into a collapsed-stacks file.

    ``--gil``: only the thread holding the GIL is sampled, so the profile is where the
    process spends its CPU in Python, not where its hundreds of threads wait.
    """

    def __init__(self, out_dir: str | None):
        self.out_dir = out_dir
        self.procs: list[tuple[str, subprocess.Popen]] = []
        if out_dir:
            os.makedirs(out_dir, exist_ok=True)

    def start(self, name: str, pid: int) -> None:
        if not self.out_dir:
            return
        out = os.path.join(self.out_dir, f"{name}.collapsed")
        proc = subprocess.Popen(["py-spy", "record", "--pid", str(pid), "--format", "raw", "--rate", "50", "--gil",
                                 "--nonblocking", "--output", out],
                                stdout=subprocess.DEVNULL, stderr=open(out + ".err", "wb"))
        self.procs.append((out, proc))

    def stop(self) -> None:
        for out, proc in self.procs:
            proc.send_signal(2)          # py-spy writes its file on SIGINT
            try:
                proc.wait(60)
            except subprocess.TimeoutExpired:
                proc.kill()
            print_profile(out)
        self.procs = []


def read_collapsed(path: str) -> collections.Counter:
    """stack -> samples, from py-spy's raw ("collapsed") format; OSError when there is no file."""
    counts: collections.Counter = collections.Counter()
    with open(path) as f:
        for line in f:
            stack, _, n = line.rstrip("\n").rpartition(" ")
            if n.isdigit():
                counts[stack] += int(n)
    return counts


def print_sampled(path: str, since: collections.Counter, out: str) -> None:
    """The in-process sampler's counts (minikube_py/sampler.py) gathered after `since`."""
    try:
        now = read_collapsed(path)
    except OSError as err:
        print(f"  (no in-process samples: {err})")
        return
    with open(out, "w") as f:
        for stack, n in (now - since).items():
            f.write(f"{stack} {n}\n")
    print_profile(out, what="samples of threads wanting the CPU (in-process sampler, 2/s)")


def print_profile(path: str, top: int = 18, what: str = "samples holding the GIL (50/s)") -> None:
    """The functions with the most samples of their own (self) and in total (inclusive)."""
    own: collections.Counter = collections.Counter()
    total: collections.Counter = collections.Counter()
    try:
        counts = read_collapsed(path)
    except OSError:
        try:      # py-spy's own words (at 5,000 threads: "Failed to find a python interpreter ...")
            why = open(path + ".err").read().strip().splitlines()[0]
        except (OSError, IndexError):
            why = "is py-spy installed and allowed to ptrace?"
        print(f"  (no profile in {path}: {why})")
        return
    for stack, n in counts.items():
        frames = [f for f in stack.split(";") if not f.startswith("process ") and not f.startswith("thread ")]
        if frames:
            own[frames[-1]] += n
        for f in set(frames):
            total[f] += n
    samples = sum(counts.values())
    busy = sum(own.values())
    print(f"  profile {os.path.basename(path)}: {samples} {what}")
    for f, n in own.most_common(top):
        print(f"    self {n / max(busy, 1):6.1%}  incl {total[f] / max(busy, 1):6.1%}  {f[:110]}")
    print("    -- inclusive, this project's functions --")
    for f, n in [x for x in total.most_common(200) if "minikube_py" in x[0]][:top]:
        print(f"    incl {n / max(busy, 1):6.1%}  {f[:110]}")


def print_memory_profile(path: str | None, top: int = 15) -> None:
    """The apiserver's biggest allocation sites, as memprofile.py last wrote them (<= 30 s ago)."""
    if not path:
        return
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError as err:
        print(f"  (no memory profile: {err})")
        return
    age = time.time() - os.path.getmtime(path)
    print(f"  apiserver memory, biggest sites ({age:.0f} s ago; KiB, blocks, where): {lines[0].lstrip('# ')}")
    for line in lines[1:top + 1]:
        print("   " + line[:200])


def watch_cache_bytes(etcd_url: str, since: int, prefix: str = "/registry/pods/") -> tuple[int, float, float]:
    """tracemalloc of the apiserver's WatchCache on this etcd: (events held, bytes per event,
    JSON bytes per event).

    The cache replays history from etcd, as the apiserver's does when it starts -- here
    the newest revisions since `since`, the start of the pod phase -- so it holds the pods'
    real events as the apiserver holds them (its window: the last 75 s of events, at most
    `capacity`).
    """
    from minikube_py.storage import watchcache
    from minikube_py.storage.etcd import EtcdStore
    from minikube_py.storage.watchcache import WatchCache
    store = EtcdStore(etcd_url)
    capacity = watchcache.CAPACITY
    # What an event costs needs a sample, not a full window: under tracemalloc the replay
    # runs at ~95 revisions a second (3 windows' worth took 634 s at 1,000 nodes), so the
    # newest window's worth of revisions (the Leases' revisions are among them); the
    # window's size is that cost times `capacity`.
    watchcache.REPLAY_REVISIONS = min(store.current_revision() - since, capacity)
    tracemalloc.start(25)
    cache = WatchCache(store, prefix, capacity, keep_state=False)    # the window alone
    cache.start()
    last, still, deadline = -1, 0, time.monotonic() + 300
    while (still < 4 or last == 0) and time.monotonic() < deadline:   # until the replay is in
        time.sleep(0.5)
        with cache.lock:
            n = len(cache.events)
        still = still + 1 if n == last else 0
        last = n
    cache.stop()
    gc.collect()
    # What is still allocated from the storage code (decode, events, the cache): the
    # cache's content. gRPC's own buffers and this process's other memory are not counted.
    snap = tracemalloc.take_snapshot().filter_traces(
        [tracemalloc.Filter(True, "*minikube_py/storage/*", all_frames=True)])
    used = sum(stat.size for stat in snap.statistics("filename"))
    tracemalloc.stop()
    with cache.lock:
        held = len(cache.events)
        json_bytes = sum(len(ev.json()) for ev in cache.events)
    return held, used / max(held, 1), json_bytes / max(held, 1)


def watch_cache_state_bytes(etcd_url: str, prefix: str = "/registry/pods/") -> tuple[int, float]:
    """The watch cache's state of every pod (what it serves lists from), as the apiserver's
    cache reads it when it opens: (objects, bytes per object). Counted with getsizeof (the
    JSON bytes, the keys, the dict), not tracemalloc: under it, reading 100,000 pods takes
    minutes."""
    import functools

    from minikube_py.api.kinds.core import POD
    from minikube_py.api.selectors import field_value
    from minikube_py.storage.etcd import EtcdStore
    from minikube_py.storage.watchcache import WatchCache
    # The pods' trigger, as the apiserver makes it (APIServer.cache_for)
    cache = WatchCache(EtcdStore(etcd_url), prefix, trigger=functools.partial(field_value, path=POD.watch_trigger))
    cache._load_state()
    objects = cache.objects
    size = sys.getsizeof(objects) + sum(sys.getsizeof(k) + sys.getsizeof(v) for k, v in objects.items())
    size += sys.getsizeof(cache.value_of) + sum(sys.getsizeof(s) for s in cache.keys_by_value.values())
    return len(objects), size / max(len(objects), 1)


def request_counts(server: str) -> collections.Counter:
    """The apiserver's own apiserver_request_total, summed by (verb, resource, subresource, code)."""
    body, _ = get_raw(server, "/metrics")
    counts: collections.Counter = collections.Counter()
    for line in body.decode().splitlines():
        if line.startswith("apiserver_request_total{"):
            labels = dict(re.findall(r'(\w+)="([^"]*)"', line))
            counts[(labels.get("verb"), labels.get("resource"), labels.get("subresource", ""),
                    labels.get("code"))] += float(line.rsplit(" ", 1)[1])
    return counts


AUDIT_LISTS_POLICY = """apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: Metadata
  verbs: [list]
"""


def audit_lists_args() -> tuple[list[str], str]:
    """The apiserver's flags to audit every list, and the log's path."""
    where = tempfile.mkdtemp(prefix="scale-audit-")
    policy = os.path.join(where, "policy.yaml")
    with open(policy, "w") as f:
        f.write(AUDIT_LISTS_POLICY)
    log_path = os.path.join(where, "audit.log")
    return ["--audit-policy-file", policy, "--audit-log-path", log_path], log_path


def stamp(rfc3339: str) -> float:
    """Seconds of an audit timestamp (2026-12-07T17:01:02.123456Z), for differences only."""
    import datetime
    return datetime.datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()


def print_list_sources(log_path: str, top: int = 12) -> None:
    """Who listed what (audit log): count and seconds by user agent, resource, scope and
    which selectors the list had -- not their values, or 5,000 kubelets are 5,000 rows."""
    from urllib.parse import parse_qs, urlsplit
    counts: collections.Counter = collections.Counter()
    seconds: collections.Counter = collections.Counter()
    try:
        f = open(log_path)
    except OSError:
        return
    with f:
        for line in f:
            try:
                ev = json.loads(line)
            except ValueError:
                continue             # the last line, cut off while the apiserver wrote it
            url = urlsplit(ev.get("requestURI", ""))
            query = parse_qs(url.query)
            ref = ev.get("objectRef") or {}
            what = (ev.get("userAgent", "?").split(" ")[0], ref.get("resource", url.path),
                    "namespace" if ref.get("namespace") else "all",
                    "+".join(k for k in ("labelSelector", "fieldSelector", "limit", "resourceVersion")
                             if k in query) or "-",
                    str((ev.get("responseStatus") or {}).get("code", "")))
            counts[what] += 1
            try:
                seconds[what] += stamp(ev["stageTimestamp"]) - stamp(ev["requestReceivedTimestamp"])
            except (KeyError, ValueError):
                pass
    say(f"lists (audit log), busiest {top} of {len(counts)} kinds, {sum(counts.values())} in all:")
    print(f"  {'count':>7} {'seconds':>8}  user agent / resource / scope / selectors / code")
    for what, n in sorted(counts.items(), key=lambda kv: -seconds[kv[0]])[:top]:
        print(f"  {n:>7} {seconds[what]:>8.1f}  {' / '.join(what)}")


class Writes:
    """Count the Lease and Node writes per second, and every request's rate, from the
    apiserver's apiserver_request_total (successful PUT/PATCH of leases; of nodes and
    nodes/status) between start and ``close()``.

    Not lists of every Lease and Node (what this did first): at 5,000 nodes those lists
    were 20 MB every 5 s, a load of their own on the apiserver being measured.
    """

    WRITES = ("PUT", "PATCH", "APPLY")

    def __init__(self, server: str):
        self.server = server
        t = time.monotonic()
        self.start = request_counts(server)
        self.t0 = (t + time.monotonic()) / 2          # a busy apiserver takes a while to answer
        self.counts = collections.Counter()
        self.rates: list[tuple[str, float]] = []      # (request, per second), busiest first
        self.dt = 0.0

    def close(self) -> None:
        t = time.monotonic()
        end = request_counts(self.server)
        dt = self.dt = (t + time.monotonic()) / 2 - self.t0
        by_request: collections.Counter = collections.Counter()
        for key, n in end.items():
            verb, resource, sub, code = key
            n -= self.start.get(key, 0)
            if n <= 0:
                continue
            by_request[f"{verb} {resource}{'/' + sub if sub else ''}"] += n
            if verb in self.WRITES and code.startswith("2") and resource in ("leases", "nodes"):
                self.counts[resource] += n
        self.rates = [(r, n / dt) for r, n in by_request.most_common()]


def start_component(cluster: Cluster, name: str, args: list[str], nice: int = 0) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-m", "minikube_py.cli.minikube", *args],
                            stdout=open(os.path.join(cluster.dir, f"{name}.log"), "ab"),
                            stderr=subprocess.STDOUT, preexec_fn=(lambda: os.nice(nice)) if nice else None)
    cluster.procs.insert(0, proc)
    return proc


def wait_progress(what: str, count, goal: int, timeout: float, every: float = 10.0,
                  poll: float = 1.0) -> tuple[bool, float]:
    """Poll count() every `poll` seconds until it reaches goal; a progress line every `every` seconds."""
    t0 = last = time.monotonic()
    n = 0
    while True:
        try:
            n = count()
        except Exception as err:  # noqa: BLE001 - a slow answer on a loaded machine: ask again
            say(f"  {what}: {type(err).__name__}: {err}; asking again")
        if n >= goal:
            return True, time.monotonic() - t0
        if time.monotonic() - t0 > timeout:
            say(f"  {what}: only {n}/{goal} after {timeout:.0f}s: giving up")
            return False, time.monotonic() - t0
        if time.monotonic() - last >= every:
            say(f"  {what}: {n}/{goal}  (load {load()})")
            last = time.monotonic()
        time.sleep(poll)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nodes", type=int, default=200)
    ap.add_argument("--pods", type=int, default=5000)
    ap.add_argument("--checkpoints", default="10,50,100", help="percent of --pods to stop and measure at")
    ap.add_argument("--replicas", type=int, default=1000, help="replicas per Deployment")
    ap.add_argument("--kubelet-processes", type=int, default=0,
                    help="hollow-kubelet processes sharing the nodes (0: one per 125 nodes)")
    ap.add_argument("--kubelet-nice", type=int, default=10,
                    help="niceness of the hollow kubelets: kubemark runs them on other machines; here they "
                         "share two cores with the control plane, which gets the CPU first")
    ap.add_argument("--idle-seconds", type=float, default=30, help="window to count Lease/Node writes")
    ap.add_argument("--drain", type=int, default=2000, help="pods for the scheduler's timed drain")
    ap.add_argument("--creators", type=int, default=4, help="client processes creating/binding pods")
    ap.add_argument("--timeout", type=float, default=900, help="seconds to wait for one checkpoint")
    ap.add_argument("--profile", metavar="DIR", help="py-spy the apiserver and the scheduler")
    ap.add_argument("--memory-profile", metavar="FILE",
                    help="trace the apiserver's allocations (minikube_py/memprofile.py): print its biggest "
                         "sites when idle and at each checkpoint; slows the apiserver, so read only memory")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    ap.add_argument("--audit-lists", action="store_true",
                    help="audit every list; print at the end who listed what and how long it took")
    args = ap.parse_args()
    main_pid = os.getpid()

    def on_sigterm(*_):
        if os.getpid() != main_pid:   # a load generator forked from here: just go (no finally)
            os._exit(0)
        sys.exit("stopped (SIGTERM)")
    signal.signal(signal.SIGTERM, on_sigterm)
    checkpoints = sorted({max(1, args.pods * int(p) // 100) for p in args.checkpoints.split(",")})
    # 200 hollow nodes in one process renewed their Leases every ~20 s instead of 10 s on a
    # busy machine: the process itself was the bottleneck, not the apiserver.
    procs_k = args.kubelet_processes or max(1, -(-args.nodes // 125))

    say(f"scale benchmark: {args.nodes} hollow nodes in {procs_k} kubelet process(es), "
        f"{args.pods} pods by Deployments of {args.replicas}; checkpoints {checkpoints}; "
        f"{os.cpu_count()} cores, load {load()}")
    # py-spy cannot read an apiserver of thousands of threads: with --profile the apiserver
    # also samples itself (minikube_py/sampler.py), 2 times a second: at 10 a second over
    # 5,300 threads the sampler cost about half a core (docs/performance.md, stop 30)
    sampled = os.path.abspath(os.path.join(args.profile, "apiserver.sampled")) if args.profile else None
    if sampled:
        os.makedirs(args.profile, exist_ok=True)
    audit_args, audit_log = audit_lists_args() if args.audit_lists else ([], None)
    api_env = {"MINIKUBE_PY_SAMPLE": sampled + ":2"} if sampled else {}
    memory_profile = os.path.abspath(args.memory_profile) if args.memory_profile else None
    if memory_profile:
        api_env["MINIKUBE_PY_TRACEMALLOC"] = memory_profile
    cluster = Cluster(apiserver_env=api_env, apiserver_args=audit_args)
    profiler = Profiler(args.profile)
    table: list[tuple[str, str, str]] = []       # (what, measured, goal)
    # A long timeout: on a loaded machine the apiserver may take a while to answer a big list.
    client = Client(server=cluster.server, pool_maxsize=16, timeout=300)
    try:
        rate1, lat1 = bench_etcd_puts(cluster.etcd_url, 1, 1000)
        rate4, _ = bench_etcd_puts(cluster.etcd_url, 4, 2000)
        say(f"yardstick: raw etcd put-if-absent {rate1:.0f}/s with 1 client (p50 {pct(lat1, 50) * 1e3:.2f} ms), "
            f"{rate4:.0f}/s with 4")
        table.append(("raw etcd put-if-absent, 1 / 4 clients (yardstick)", f"{rate1:.0f} / {rate4:.0f} /s", ""))

        kc = cluster.kubeconfig
        ctrl = start_component(cluster, "controller-manager",
                               ["controller-manager", "--kubeconfig", kc, "--no-leader-elect"])
        sched = start_component(cluster, "scheduler", ["scheduler", "--kubeconfig", kc])
        kubelets = []
        per = -(-args.nodes // procs_k)
        for j in range(procs_k):
            n = min(per, args.nodes - j * per)
            if n <= 0:
                break
            kubelets.append(start_component(
                cluster, f"kubelets-{j}",
                ["kubelet", "--runtime", "hollow", "--node-name", f"hollow-{j}", "--hollow-nodes", str(n),
                 "--kubeconfig", kc, "--state-dir", os.path.join(cluster.dir, "nodes", str(j)),
                 "--cpu", "32", "--memory", "256Gi", "--pods", "110"], nice=args.kubelet_nice))
        node_names: list[str] = []

        def ready_nodes():
            names = [n["metadata"]["name"] for n in client.list("nodes")["items"]
                     if any(c.get("type") == "Ready" and c.get("status") == "True"
                            for c in (n.get("status") or {}).get("conditions") or [])]
            node_names[:] = names
            return len(names)

        t = time.monotonic()
        # a list of every Node is ~4 KB a node: at 5,000 nodes not every second (20 MB each)
        ok, dt = wait_progress("nodes Ready", ready_nodes, args.nodes, args.timeout, poll=max(1.0, args.nodes / 500))
        say(f"{ready_nodes()} nodes Ready after {dt:.1f}s")
        table.append((f"{args.nodes} hollow nodes Ready", f"{dt:.0f} s" + (
            "" if ok else f" (TIMED OUT: {len(node_names)} Ready)"), ""))
        if not node_names:
            return

        # --- idle: what N nodes cost doing nothing
        time.sleep(min(15.0, args.idle_seconds))     # past the registration burst
        writes = Writes(cluster.server)
        others = {"hollow kubelets": kubelets, "controller-manager": [ctrl], "scheduler": [sched],
                  "etcd": [cluster.etcd]}
        cpu0 = {k: sum(cpu_seconds(p.pid) for p in ps) for k, ps in others.items()}
        api_cpu0, busy0 = cpu_seconds(cluster.api.pid), machine_jiffies()
        profiler.start("apiserver-idle", cluster.api.pid)
        t = time.monotonic()
        time.sleep(args.idle_seconds)
        dt = time.monotonic() - t
        profiler.stop()
        api_idle = (cpu_seconds(cluster.api.pid) - api_cpu0) / dt
        idle_cpu = {k: (sum(cpu_seconds(p.pid) for p in ps) - cpu0[k]) / dt for k, ps in others.items()}
        busy1 = machine_jiffies()
        writes.close()
        lease_s, node_s = writes.counts["leases"] / writes.dt, writes.counts["nodes"] / writes.dt
        say(f"idle {dt:.0f}s: {lease_s:.1f} lease writes/s, {node_s:.1f} node writes/s; apiserver CPU "
            f"{api_idle:.0%} of a core; machine busy {(busy1[0] - busy0[0]) / max(busy1[1] - busy0[1], 1):.0%}; "
            f"apiserver RSS {rss_mb(cluster.api.pid):.0f} MB, threads {threads(cluster.api.pid)}")
        say("  idle CPU, % of a core: " + ", ".join(f"{k} {v:.0%}" for k, v in idle_cpu.items()))
        say("  idle requests/s: " + ", ".join(f"{r} {n:.1f}" for r, n in writes.rates[:8]))
        print_memory_profile(memory_profile)
        n_ready = len(node_names)
        per_node = lambda cores: f"{cores * 10e3 / max(n_ready, 1):.2f} ms"      # noqa: E731
        table.append(("node Lease writes/s (idle)", f"{lease_s:.1f}", f"{args.nodes / 10:.0f} (N/10 s)"))
        table.append(("Node status writes/s (idle)", f"{node_s:.1f}", f"<= {args.nodes / 300:.1f} (N/5 min)"))
        table.append(("apiserver CPU, idle with N nodes", f"{api_idle:.0%} of a core", ""))
        table.append(("CPU per Ready node per 10 s, idle: apiserver / hollow kubelet",
                      f"{per_node(api_idle)} / {per_node(idle_cpu['hollow kubelets'])}", ""))
        table.append(("requests/s to the apiserver, idle (busiest 3)",
                      ", ".join(f"{r} {n:.0f}" for r, n in writes.rates[:3]), ""))

        # --- pods, by Deployments, checkpoint by checkpoint
        client.create("namespaces", {"metadata": {"name": "scale"}})
        deployments: list[tuple[str, int]] = []

        def available():
            return sum((d.get("status") or {}).get("availableReplicas") or 0
                       for d in client.list("deployments", namespace="scale")["items"])

        pods_since = int(client.list("namespaces", field_selector="metadata.name=-")["metadata"]["resourceVersion"])
        writes = Writes(cluster.server)      # Lease and Node writes while pods come, too
        profiler.start("apiserver", cluster.api.pid)
        # (the sampler writes its file every 10 s: none yet counts as nothing yet)
        sampled_before = read_collapsed(sampled) if sampled and os.path.exists(sampled) else collections.Counter()
        made = 0
        for goal in checkpoints:
            cpu0 = cpu_seconds(cluster.api.pid)
            t = time.monotonic()
            while made < goal:
                n = min(args.replicas, goal - made)
                name = f"d{len(deployments):04}"
                client.create("deployments", deployment(name, n), namespace="scale")
                deployments.append((name, n))
                made += n
            ok, dt = wait_progress("pods available", available, goal, args.timeout)
            api_cpu = cpu_seconds(cluster.api.pid) - cpu0
            rss = {"apiserver": rss_mb(cluster.api.pid), "etcd": rss_mb(cluster.etcd.pid),
                   "scheduler": rss_mb(sched.pid), "controllers": rss_mb(ctrl.pid),
                   "kubelets": sum(rss_mb(k.pid) for k in kubelets)}
            lst = list_latency(cluster.server)
            db = etcd_db_mb(cluster)
            say(f"checkpoint {goal} pods: available after {dt:.0f}s ({goal - (checkpoints[checkpoints.index(goal) - 1] if goal != checkpoints[0] else 0)} new"
                f"); apiserver RSS {rss['apiserver']:.0f} MB, CPU {api_cpu:.0f}s "
                f"({api_cpu / max(dt, 1e-9):.0%} of a core); etcd db {db:.0f} MB; list of {lst['items']} pods "
                f"{lst['full_s']:.2f}s whole, {lst['paged_s']:.2f}s in {lst['pages']} pages "
                f"(first {lst['first_page_s'] * 1e3:.0f} ms); RSS MB: " +
                ", ".join(f"{k} {v:.0f}" for k, v in rss.items()))
            print_memory_profile(memory_profile)
            table.append((f"@{goal} pods: all available", f"{dt:.0f} s" + ("" if ok else " (TIMED OUT)"),
                          "Running"))
            table.append((f"@{goal} pods: apiserver RSS / CPU",
                          f"{rss['apiserver']:.0f} MB / {api_cpu:.0f} s", "<= 300 MB at 10k"))
            table.append((f"@{goal} pods: etcd db size", f"{db:.0f} MB", ""))
            table.append((f"@{goal} pods: list all pods whole / paginated (500)",
                          f"{lst['full_s']:.2f} s / {lst['paged_s']:.2f} s ({lst['pages']} pages, first "
                          f"{lst['first_page_s'] * 1e3:.0f} ms)", ""))
            if not ok:
                break
        profiler.stop()
        if sampled:
            print_sampled(sampled, sampled_before, os.path.join(args.profile, "apiserver-pods.sampled"))
        writes.close()
        dt = writes.dt
        say(f"while pods came ({dt:.0f}s): {writes.counts['leases'] / dt:.1f} lease writes/s, "
            f"{writes.counts['nodes'] / dt:.1f} node writes/s")
        say("  requests/s while pods came: " + ", ".join(f"{r} {n:.1f}" for r, n in writes.rates[:10]))
        table.append(("node Lease / Node writes/s while pods came",
                      f"{writes.counts['leases'] / dt:.1f} / {writes.counts['nodes'] / dt:.1f}", ""))

        # --- the watch cache, measured on the apiserver's own class
        held, per_event, json_per_event = watch_cache_bytes(cluster.etcd_url, pods_since)
        from minikube_py.storage.watchcache import CAPACITY as cap
        say(f"watch cache: {held} pod events replayed: {per_event / 1024:.1f} KiB per event under tracemalloc "
            f"(its JSON {json_per_event / 1024:.1f} KiB); a window at its cap of {cap} events: "
            f"{per_event * cap / 2**20:.0f} MB")
        table.append(("watch cache per pod event (tracemalloc; its JSON)",
                      f"{per_event / 1024:.1f} KiB ({json_per_event / 1024:.1f} KiB)", ""))
        table.append((f"watch cache window at its cap ({cap} events) for pods", f"{per_event * cap / 2**20:.0f} MB", ""))
        objects, per_object = watch_cache_state_bytes(cluster.etcd_url)
        say(f"watch cache state: {objects} pods, {per_object / 1024:.1f} KiB each ({per_object * objects / 2**20:.0f} MB)")
        table.append(("watch cache state per pod (its lists' source)",
                      f"{per_object / 1024:.1f} KiB ({per_object * objects / 2**20:.0f} MB for {objects})", ""))

        # --- the scheduler at N nodes: a timed drain, then raw binds of as many pods
        sched.terminate()
        try:
            sched.wait(30)
        except subprocess.TimeoutExpired:    # a scheduler deep in a backlog may not stop in time
            sched.kill()
            sched.wait(30)
        for ns in ("drain", "raw"):
            client.create("namespaces", {"metadata": {"name": ns}})
        create_in_processes(cluster.server, "drain", [bench_pod(f"d-{i:05}") for i in range(args.drain)],
                            args.creators)
        drained = BoundCounter(client, "drain")
        sched = start_component(cluster, "scheduler-2", ["scheduler", "--kubeconfig", kc])
        profiler.start("scheduler", sched.pid)
        cpu0 = {"scheduler": 0.0, "apiserver": cpu_seconds(cluster.api.pid)}
        ok = drained.wait_for(args.drain, args.timeout)
        cpu1 = {"scheduler": cpu_seconds(sched.pid), "apiserver": cpu_seconds(cluster.api.pid)}
        drain_rate = (len(drained.bound) - 1) / max(drained.last_bound_at - drained.first_bound_at, 1e-9)
        drained.watch.close()
        profiler.stop()
        say(f"scheduler at {args.nodes} nodes ({made} pods placed): drained {len(drained.bound)}/{args.drain} "
            f"at {drain_rate:.0f} pods/s (CPU per pod: scheduler {cpu1['scheduler'] * 1e3 / args.drain:.2f} ms, "
            f"apiserver {(cpu1['apiserver'] - cpu0['apiserver']) * 1e3 / args.drain:.2f} ms)")
        table.append((f"scheduler pods/s at {args.nodes} nodes (drain of {args.drain})",
                      f"{drain_rate:.0f}" + ("" if ok else " (INCOMPLETE)"), ">= 680"))
        # The drained pods start on their hollow nodes meanwhile (a thread each): let them
        # settle first, or the raw binds race that burst (one run: 503s from etcd at load 1,500).
        wait_progress("drained pods Running", lambda: sum(
            1 for p in client.list("pods", namespace="drain")["items"]
            if (p.get("status") or {}).get("phase") == "Running"), args.drain, args.timeout, poll=5.0)
        create_in_processes(cluster.server, "raw",
                            [bench_pod(f"r-{i:05}", "nobody") for i in range(args.drain)], args.creators)
        raw_s = bind_in_processes(cluster.server, "raw",
                                  [(f"r-{i:05}", node_names[i % len(node_names)]) for i in range(args.drain)],
                                  args.creators)
        raw_rate = args.drain / raw_s
        say(f"raw binds {raw_rate:.0f}/s; ratio {drain_rate / raw_rate:.2f}")
        table.append(("raw binds/s (yardstick), ratio", f"{raw_rate:.0f}, {drain_rate / raw_rate:.2f}", ">= 0.8"))

    finally:
        # The table so far, even when a stage timed out or `timeout` ended the run (SIGTERM).
        print(f"\n{'what':<58} {'measured':<44} goal")
        for what, measured, goal in table:
            print(f"{what:<58} {measured:<44} {goal}")
        print(f"load at the end: {load()}", flush=True)
        if audit_log:
            print_list_sources(audit_log)
            shutil.rmtree(os.path.dirname(audit_log), ignore_errors=True)
        profiler.stop()
        client.close()
        cluster.stop(keep_dir=args.keep)
        if args.keep:
            print("kept", cluster.dir)


if __name__ == "__main__":
    main()
