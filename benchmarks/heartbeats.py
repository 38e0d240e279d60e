"""What one node heartbeat costs the apiserver: Lease renewals (PUT) at a fixed rate.

5,000 nodes renew their Leases every 10 s: 500 PUTs a second, before any pod. On two
cores the apiserver's CPU per renewal decides whether 5,000 nodes leave room for pods
(docs/performance.md). This benchmark isolates that one request:

  - creates --leases Leases in kube-node-lease, as kubelets do when they register;
  - renews them from --processes client processes over keep-alive connections, each
    PUT carrying the resourceVersion of the last answer (as the kubelet's lease
    controller keeps ``latestLease``), at --rate renewals a second in all, for --seconds;
  - prints the rate reached, the latency, the apiserver's CPU per renewal (by thread name:
    Python's threads against gRPC's), and etcd's and the clients'; with --profile, the
    apiserver's stacks (py-spy's raw format) while it served them;
  - with --verb get, reads instead (``resourceVersion=0``, from the watch cache): what the
    kubelets' Node GETs cost before they watched their Node.

A thread watches every Lease throughout, as the node lifecycle controller does: the
apiserver then keeps a watch cache of Leases, and each renewal is an event it sends.

Usage: python benchmarks/heartbeats.py [--leases 5000] [--rate 500] [--seconds 20]
"""
from __future__ import annotations

import argparse
import collections
import http.client
import json
import multiprocessing as mp
import os
import subprocess
import sys
import threading
import time

import requests

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from benchmarks.apiserver import pct  # noqa: E402
from benchmarks.scheduler import Cluster, cpu_seconds  # noqa: E402
from minikube_py.api.meta import now_micro  # noqa: E402

NS = "kube-node-lease"
HEADERS = {"Content-Type": "application/json", "Accept": "application/json"}


def lease_body(name: str) -> dict:
    return {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": name, "namespace": NS},
            "spec": {"holderIdentity": name, "leaseDurationSeconds": 40, "renewTime": now_micro()}}


def _connect(server: str) -> http.client.HTTPConnection:
    host, port = server.split("//")[1].split(":")
    return http.client.HTTPConnection(host, int(port))


def _create_worker(args) -> None:
    server, names = args
    conn = _connect(server)
    for name in names:
        conn.request("POST", f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases",
                     json.dumps(lease_body(name)), HEADERS)
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 201:
            raise RuntimeError(f"create {name}: {resp.status} {data[:200]!r}")


def _renew_worker(args) -> tuple[int, list[float], int, float]:
    """Renew `names` round-robin at `rate`/s until `until` (a time.time()).

    Returns (renewals, latencies, failures, client CPU seconds)."""
    server, names, rate, start, until, verb = args
    conn = _connect(server)
    latest: dict[str, dict] = {}
    lat: list[float] = []
    failures = 0
    while time.time() < start:
        time.sleep(0.005)
    cpu0 = time.process_time()
    i = 0
    t0 = time.monotonic()
    while time.time() < until:
        due = t0 + i / rate
        now = time.monotonic()
        if due > now:
            time.sleep(due - now)
        name = names[i % len(names)]
        i += 1
        if verb == "get":       # the kubelet's Node read before its status update, from the cache
            t = time.monotonic()
            conn.request("GET", f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases/{name}?resourceVersion=0",
                         headers=HEADERS)
            resp = conn.getresponse()
            resp.read()
            lat.append(time.monotonic() - t)
            failures += resp.status != 200
            continue
        lease = latest.get(name)
        if lease is None:
            conn.request("GET", f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases/{name}", headers=HEADERS)
            resp = conn.getresponse()
            lease = json.loads(resp.read())
        lease["spec"]["renewTime"] = now_micro()
        t = time.monotonic()
        conn.request("PUT", f"/apis/coordination.k8s.io/v1/namespaces/{NS}/leases/{name}",
                     json.dumps(lease), HEADERS)
        resp = conn.getresponse()
        data = resp.read()
        lat.append(time.monotonic() - t)
        if resp.status == 200:
            latest[name] = json.loads(data)
        else:
            failures += 1
            latest.pop(name, None)
    return len(lat), lat, failures, time.process_time() - cpu0


def thread_cpu(pid: int) -> collections.Counter:
    """CPU seconds by thread name (Python's threads are all "python"; gRPC's C threads have names)."""
    out: collections.Counter = collections.Counter()
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                head, _, rest = f.read().rpartition(")")
            fields = rest.split()
            out[head.partition("(")[2]] += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            pass        # the thread ended
    return out


def _drain(response) -> None:
    try:
        for _ in response.iter_content(65536):
            pass
    except requests.RequestException:
        pass        # the apiserver stopped at the end


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--leases", type=int, default=5000)
    ap.add_argument("--rate", type=float, default=500, help="renewals a second, all processes together")
    ap.add_argument("--seconds", type=float, default=20)
    ap.add_argument("--processes", type=int, default=4)
    ap.add_argument("--verb", choices=("put", "get"), default="put",
                    help="put: renew (the Lease heartbeat); get: read with resourceVersion=0 (from the cache)")
    ap.add_argument("--profile", metavar="FILE", help="py-spy the apiserver while it renews (collapsed stacks)")
    args = ap.parse_args()

    cluster = Cluster()
    try:
        # The node lifecycle controller watches every Lease: its watch makes the apiserver keep a
        # watch cache of Leases (a renewal then starts from the cached Lease) and each renewal
        # is an event sent to it. Read here by a thread that throws the events away.
        watch = requests.get(f"{cluster.server}/apis/coordination.k8s.io/v1/leases?watch=1", stream=True)
        threading.Thread(target=_drain, args=(watch,), daemon=True).start()
        names = [f"hollow-{i}" for i in range(args.leases)]
        shards = [names[i::args.processes] for i in range(args.processes)]
        t = time.monotonic()
        with mp.Pool(args.processes) as pool:
            pool.map(_create_worker, [(cluster.server, s) for s in shards])
        print(f"{args.leases} Leases created in {time.monotonic() - t:.1f}s", flush=True)

        start = time.time() + 2
        until = start + args.seconds
        spy = None
        if args.profile:
            spy = subprocess.Popen(["py-spy", "record", "--pid", str(cluster.api.pid), "--format", "raw",
                                    "--rate", "100", "--output", args.profile,
                                    "--duration", str(int(args.seconds) + 1)],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with mp.Pool(args.processes) as pool:
            res = pool.map_async(_renew_worker, [(cluster.server, s, args.rate / args.processes, start, until,
                                                  args.verb)
                                                 for s in shards])
            while time.time() < start:
                time.sleep(0.001)
            api0 = cpu_seconds(cluster.api.pid)
            threads0 = thread_cpu(cluster.api.pid)
            etcd0 = cpu_seconds(cluster.etcd.pid)
            t0 = time.monotonic()
            out = res.get()
            dt = time.monotonic() - t0
            api_cpu = cpu_seconds(cluster.api.pid) - api0
            by_thread = thread_cpu(cluster.api.pid) - threads0
            etcd_cpu = cpu_seconds(cluster.etcd.pid) - etcd0
        if spy:
            spy.wait()
        n = sum(o[0] for o in out)
        lat = [x for o in out for x in o[1]]
        fails = sum(o[2] for o in out)
        client_cpu = sum(o[3] for o in out)
        print(f"{args.verb}s: {n / dt:.0f}/s asked {args.rate:.0f}/s ({n} in {dt:.1f}s, {fails} failed); "
              f"latency p50 {pct(lat, 50) * 1e3:.1f} ms, p99 {pct(lat, 99) * 1e3:.1f} ms")
        print(f"apiserver CPU: {api_cpu / dt:.0%} of a core, {api_cpu / max(n, 1) * 1e3:.2f} ms a {args.verb}; "
              f"etcd {etcd_cpu / max(n, 1) * 1e3:.2f} ms; client {client_cpu / max(n, 1) * 1e3:.2f} ms")
        print("apiserver CPU by thread name, ms a request: " + ", ".join(
            f"{name} {sec / max(n, 1) * 1e3:.2f}" for name, sec in by_thread.most_common(6)))
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
