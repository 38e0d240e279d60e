"""The cluster DNS under load: queries/s and latency, and how soon a new Service has a name.

    python benchmarks/dns.py [--services 500] [--seconds 5] [--clients 4]

Starts its own etcd, apiserver and `minikube-py dns` (on 127.0.0.1, a free port, no
upstream), creates ``--services`` ClusterIP Services and one headless Service with 8
ready endpoints, then for each kind of query runs ``--clients`` processes that each
send one query over UDP and wait for the reply, as fast as they can, for ``--seconds``:

  clusterip   A    <svc>.<ns>.svc.cluster.local      (a random one of the Services)
  headless    A    the headless Service (8 addresses)
  nxdomain    A    a name in the zone that does not exist (what ndots:5 search paths cost)
  srv         SRV  _http._tcp.<svc>...
  tcp         A    clusterip over TCP (a connection per query)

Prints queries/s and p50/p99 latency for each, and the time from creating a Service to
its name answering (10 samples: watch -> informer -> cache; no kube-proxy involved).
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import socket
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "tests"))

from dnslib import RCODE, DNSRecord  # noqa: E402

from clusters import Cluster  # noqa: E402  (tests/clusters.py: etcd + apiserver processes)
from minikube_py.client.rest import Client  # noqa: E402

NS = "bench"


def pct(values, p):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))] if values else float("nan")


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def ask(port, name, qtype="A", tcp=False, timeout=2.0):
    return DNSRecord.parse(DNSRecord.question(name, qtype).send("127.0.0.1", port, tcp=tcp, timeout=timeout))


def client_loop(port, kind, names, seconds, out):
    """One client: query, wait, repeat; report (count, errors, latencies)."""
    qtype = "SRV" if kind == "srv" else "A"
    packets = [DNSRecord.question(n, qtype).pack() for n in names]
    lat, errors = [], 0
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(2)
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        packet = random.choice(packets)
        t = time.perf_counter()
        try:
            if kind == "tcp":
                with socket.create_connection(("127.0.0.1", port), timeout=2) as c:
                    c.sendall(len(packet).to_bytes(2, "big") + packet)
                    reply = c.recv(65535)[2:]
            else:
                sock.sendto(packet, ("127.0.0.1", port))
                reply = sock.recv(65535)
            rcode = DNSRecord.parse(reply).header.rcode
            if rcode not in (RCODE.NOERROR, RCODE.NXDOMAIN):
                errors += 1
        except OSError:
            errors += 1
            continue
        lat.append(time.perf_counter() - t)
    out.put((len(lat), errors, lat))


def run_load(port, kind, names, seconds, clients):
    out = mp.Queue()
    procs = [mp.Process(target=client_loop, args=(port, kind, names, seconds, out)) for _ in range(clients)]
    for p in procs:
        p.start()
    results = [out.get() for _ in procs]
    for p in procs:
        p.join()
    count = sum(r[0] for r in results)
    lat = [x for r in results for x in r[2]]
    return count / seconds, sum(r[1] for r in results), lat


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--services", type=int, default=500)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--clients", type=int, default=4)
    args = ap.parse_args()

    cluster = Cluster().start()
    logdir = tempfile.mkdtemp(prefix="minikube-py-bench-dns-")
    dns = None
    client = Client(server=cluster.server)
    try:
        client.create("namespaces", {"metadata": {"name": NS}})
        for i in range(args.services):
            client.create("services", {"metadata": {"name": f"svc-{i}"}, "spec": {
                "selector": {"app": f"a{i}"}, "ports": [{"name": "http", "port": 80}]}}, namespace=NS)
        client.create("services", {"metadata": {"name": "headless"}, "spec": {
            "clusterIP": "None", "ports": [{"name": "http", "port": 80}]}}, namespace=NS)
        client.create("endpoints", {"metadata": {"name": "headless"}, "subsets": [{
            "addresses": [{"ip": f"10.1.0.{i}", "hostname": f"h{i}"} for i in range(2, 10)],
            "ports": [{"name": "http", "port": 80, "protocol": "TCP"}]}]}, namespace=NS)
        port = free_port()
        dns = subprocess.Popen([sys.executable, "-m", "minikube_py.cli.minikube", "dns", "--server",
                                cluster.server, "--listen-address", "127.0.0.1", "--port", str(port),
                                "--resolv-conf", ""], stdout=open(os.path.join(logdir, "dns.log"), "wb"),
                               stderr=subprocess.STDOUT)
        last = f"svc-{args.services - 1}.{NS}.svc.cluster.local"
        deadline = time.time() + 60
        while True:
            try:
                if ask(port, last, timeout=0.5).rr:
                    break
            except OSError:
                pass
            if time.time() > deadline:
                raise SystemExit(f"the DNS server did not answer; see {logdir}/dns.log")
            time.sleep(0.2)

        svc_names = [f"svc-{i}.{NS}.svc.cluster.local" for i in range(args.services)]
        loads = {"clusterip": svc_names, "headless": [f"headless.{NS}.svc.cluster.local"],
                 "nxdomain": [f"nope-{i}.{NS}.svc.cluster.local" for i in range(100)],
                 "srv": [f"_http._tcp.{n}" for n in svc_names], "tcp": svc_names}
        print(f"cluster DNS: {args.services} Services, {args.clients} clients x {args.seconds:.0f} s each "
              f"(load {' '.join(open('/proc/loadavg').read().split()[:3])}, {os.cpu_count()} CPUs)")
        for kind, names in loads.items():
            qps, errors, lat = run_load(port, kind, names, args.seconds, args.clients)
            print(f"  {kind:10s} {qps:8.0f} queries/s   p50 {pct(lat, 50) * 1e3:6.2f} ms   "
                  f"p99 {pct(lat, 99) * 1e3:6.2f} ms   errors {errors}")

        samples = []
        for i in range(10):
            name = f"new-{i}"
            t = time.perf_counter()
            client.create("services", {"metadata": {"name": name}, "spec": {"ports": [{"port": 80}]}},
                          namespace=NS)
            while not ask(port, f"{name}.{NS}.svc.cluster.local").rr:
                time.sleep(0.001)
            samples.append(time.perf_counter() - t)
        print(f"  Service create -> name answers: p50 {pct(samples, 50) * 1e3:.1f} ms, "
              f"max {max(samples) * 1e3:.1f} ms (10 samples)")
    finally:
        if dns is not None:
            dns.terminate()
            dns.wait(10)
        client.close()
        cluster.stop()


if __name__ == "__main__":
    main()
