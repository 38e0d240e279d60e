"""Benchmark the apiserver against raw etcd, on this machine, in one run.

Prints:
  - pod creates/s with 1 and 4 concurrent clients, p50/p99 create latency;
  - the same for raw etcd puts of the same bytes (the floor the API builds on);
  - watch-event delivery latency (create → event line read by every watcher)
    with 100 and 1000 concurrent watchers.

Usage: python benchmarks/apiserver.py [--creates 2000] [--watch-events 20]
Starts its own etcd and apiserver in a temporary directory.
"""
from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import selectors
import socket
import subprocess
import sys
import tempfile
import time

import requests

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from minikube_py.storage.embedded import free_port, start_etcd  # noqa: E402


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def pod_body(name):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": {"app": "bench"}},
            "spec": {"containers": [{"name": "c", "image": "busybox", "command": ["sleep", "3600"]}]}}


# ------------------------------------------------------------------ API creates
def _api_worker(args):
    """One client: a keep-alive connection with http.client.

    The load generator must not be what is measured: `requests` spends ~1.5 ms of CPU per
    call, on the same 2 cores as the apiserver. A plain keep-alive connection costs ~0.3 ms.
    """
    server, ns, start, count = args
    host, port = server.split("//")[1].split(":")
    conn = http.client.HTTPConnection(host, int(port))
    path = f"/api/v1/namespaces/{ns}/pods"
    headers = {"Content-Type": "application/json", "Accept": "application/json"}
    lat = []
    for i in range(start, start + count):
        body = json.dumps(pod_body(f"p-{i}"))
        t = time.perf_counter()
        conn.request("POST", path, body, headers)
        resp = conn.getresponse()
        data = resp.read()
        lat.append(time.perf_counter() - t)
        if resp.status != 201:
            raise RuntimeError(data)
    conn.close()
    return lat


def bench_api_creates(server, clients, total):
    ns = f"bench-{clients}-{os.urandom(2).hex()}"
    requests.post(f"{server}/api/v1/namespaces", json={"metadata": {"name": ns}}).raise_for_status()
    per = total // clients
    # Clients are processes, so the client side's GIL does not cap the server's rate.
    with mp.Pool(clients) as pool:
        t = time.perf_counter()
        results = pool.map(_api_worker, [(server, ns, c * per, per) for c in range(clients)])
        elapsed = time.perf_counter() - t
    lat = [x for r in results for x in r]
    return len(lat) / elapsed, lat


# ------------------------------------------------------------------ raw etcd puts
def _etcd_worker(args):
    from minikube_py.storage.etcd import EtcdStore
    url, prefix, start, count = args
    store = EtcdStore(url)
    lat = []
    for i in range(start, start + count):
        obj = pod_body(f"p-{i}")
        obj["metadata"].update(uid="0" * 36, creationTimestamp="2026-01-01T00:00:00Z", namespace="x")
        t = time.perf_counter()
        store.create(f"{prefix}/p-{i}", obj)     # the same txn the API does: put if absent
        lat.append(time.perf_counter() - t)
    return lat


def bench_etcd_puts(url, clients, total):
    prefix = f"/bench/{clients}-{os.urandom(2).hex()}"
    per = total // clients
    with mp.Pool(clients) as pool:
        t = time.perf_counter()
        results = pool.map(_etcd_worker, [(url, prefix, c * per, per) for c in range(clients)])
        elapsed = time.perf_counter() - t
    lat = [x for r in results for x in r]
    return len(lat) / elapsed, lat


# ------------------------------------------------------------------ watch latency
def open_watch(port, path):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: application/json\r\n\r\n".encode())
    s.setblocking(False)
    return s


def bench_watch(server, port, watchers, events):
    ns = f"watch-{watchers}-{os.urandom(2).hex()}"
    requests.post(f"{server}/api/v1/namespaces", json={"metadata": {"name": ns}}).raise_for_status()
    rv = requests.get(f"{server}/api/v1/namespaces/{ns}/pods").json()["metadata"]["resourceVersion"]
    path = f"/api/v1/namespaces/{ns}/pods?watch=1&resourceVersion={rv}"
    sel = selectors.DefaultSelector()
    socks = []
    for _ in range(watchers):
        s = open_watch(port, path)
        sel.register(s, selectors.EVENT_READ, {"buf": b"", "seen": 0})
        socks.append(s)
    # wait until every watch got its response headers
    ready = 0
    deadline = time.time() + 60
    while ready < watchers and time.time() < deadline:
        for key, _ in sel.select(timeout=1):
            data = key.data
            data["buf"] += key.fileobj.recv(65536)
            if b"\r\n\r\n" in data["buf"] and not data.get("ready"):
                data["ready"] = True
                data["buf"] = data["buf"].split(b"\r\n\r\n", 1)[1]
                ready += 1
    if ready < watchers:
        raise RuntimeError(f"only {ready}/{watchers} watches opened")

    session = requests.Session()
    latencies = []
    for i in range(events):
        t0 = time.perf_counter()
        session.post(f"{server}/api/v1/namespaces/{ns}/pods", json=pod_body(f"w-{i}")).raise_for_status()
        pending = watchers
        while pending:
            for key, _ in sel.select(timeout=5):
                data = key.data
                chunk = key.fileobj.recv(65536)
                data["buf"] += chunk
                n = data["buf"].count(b'"type":"ADDED"')
                if n > data["seen"]:
                    latencies.extend([time.perf_counter() - t0] * (n - data["seen"]))
                    pending -= n - data["seen"]
                    data["seen"] = n
        time.sleep(0.05)
    for s in socks:
        s.close()
    return latencies


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--creates", type=int, default=2000)
    ap.add_argument("--watch-events", type=int, default=20)
    args = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix="mkpy-bench-")
    etcd, url = start_etcd(os.path.join(tmp, "etcd"))
    port = free_port()
    server = f"http://127.0.0.1:{port}"
    api = subprocess.Popen([sys.executable, "-m", "minikube_py.cli.minikube", "apiserver", "--etcd-servers", url,
                            "--port", str(port)], stdout=open(os.path.join(tmp, "api.log"), "w"),
                           stderr=subprocess.STDOUT)
    try:
        for _ in range(300):
            try:
                if requests.get(server + "/readyz", timeout=1).ok:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        print(f"machine: {os.cpu_count()} cores; etcd {url}; apiserver {server}")
        print(f"{'what':<34}{'ops/s':>10}{'p50 ms':>10}{'p99 ms':>10}")
        rows = {}
        for clients in (1, 4):
            rate, lat = bench_etcd_puts(url, clients, args.creates)
            rows[("etcd", clients)] = (rate, lat)
            print(f"{f'raw etcd put-if-absent, {clients} client(s)':<34}{rate:>10.0f}"
                  f"{pct(lat, 50) * 1e3:>10.2f}{pct(lat, 99) * 1e3:>10.2f}")
            rate, lat = bench_api_creates(server, clients, args.creates)
            rows[("api", clients)] = (rate, lat)
            print(f"{f'API pod create, {clients} client(s)':<34}{rate:>10.0f}"
                  f"{pct(lat, 50) * 1e3:>10.2f}{pct(lat, 99) * 1e3:>10.2f}")
        for clients in (1, 4):
            ratio = pct(rows[("api", clients)][1], 99) / pct(rows[("etcd", clients)][1], 99)
            print(f"API p99 / etcd p99 with {clients} client(s): {ratio:.1f}x  (goal <= 4x)")
        print(f"API creates/s with 4 clients: {rows[('api', 4)][0]:.0f}  (goal >= 500)")
        for watchers in (100, 1000):
            lat = bench_watch(server, port, watchers, args.watch_events)
            print(f"watch delivery, {watchers:>4} watchers: p50 {pct(lat, 50) * 1e3:.1f} ms, "
                  f"p99 {pct(lat, 99) * 1e3:.1f} ms over {len(lat)} deliveries  (goal p99 < 100 ms)")
    finally:
        api.terminate()
        api.wait(15)
        etcd.terminate()
        etcd.wait(15)


if __name__ == "__main__":
    main()
