"""`kubectl get componentstatuses` on a real 3-member etcd cluster: members, leader, a member down.

The apiserver is given all three client URLs (as in the compose lab); stopping one
member must show it Unhealthy while the others stay Healthy and one of them leads.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import pytest
import requests

from minikube_py.client.kubeconfig import write_kubeconfig
from minikube_py.storage.embedded import etcd_binary, free_port, wait_for_port

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class EtcdCluster:
    """Three etcd members bootstrapped statically, as etcd's clustering guide does."""

    def __init__(self, directory, size=3):
        self.dir = directory
        self.names = [f"etcd-{i}" for i in range(size)]
        self.client = {n: free_port() for n in self.names}
        self.peer = {n: free_port() for n in self.names}
        self.procs = {}

    def initial_cluster(self):
        return ",".join(f"{n}=http://127.0.0.1:{self.peer[n]}" for n in self.names)

    def start(self, name):
        log = open(os.path.join(self.dir, f"{name}.log"), "ab")
        self.procs[name] = subprocess.Popen(
            [etcd_binary(), "--name", name, "--data-dir", os.path.join(self.dir, name),
             "--listen-client-urls", f"http://127.0.0.1:{self.client[name]}",
             "--advertise-client-urls", f"http://127.0.0.1:{self.client[name]}",
             "--listen-peer-urls", f"http://127.0.0.1:{self.peer[name]}",
             "--initial-advertise-peer-urls", f"http://127.0.0.1:{self.peer[name]}",
             "--initial-cluster", self.initial_cluster(), "--initial-cluster-state", "new",
             "--initial-cluster-token", "componentstatus-test", "--log-level", "warn"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def stop(self, name):
        p = self.procs.pop(name)
        p.terminate()
        p.wait(10)

    def urls(self):
        return ",".join(f"http://127.0.0.1:{self.client[n]}" for n in self.names)


@pytest.fixture(scope="module")
def lab():
    d = tempfile.mkdtemp(prefix="mkpy-cs-")
    etcd = EtcdCluster(d)
    for n in etcd.names:
        etcd.start(n)
    for n in etcd.names:
        wait_for_port(etcd.client[n], timeout=30)
    port = free_port()
    log = open(os.path.join(d, "apiserver.log"), "ab")
    api = subprocess.Popen([sys.executable, "-m", "minikube_py.cli.minikube", "apiserver", "--etcd-servers",
                            etcd.urls(), "--port", str(port)], stdout=log, stderr=subprocess.STDOUT,
                           env={**os.environ, "PYTHONPATH": REPO})
    server = f"http://127.0.0.1:{port}"
    for _ in range(300):
        try:
            if requests.get(server + "/readyz", timeout=1).status_code == 200:
                break
        except requests.RequestException:
            pass
        time.sleep(0.1)
    kubeconfig = write_kubeconfig(os.path.join(d, "kubeconfig"), server)
    yield etcd, server, kubeconfig
    api.terminate()
    api.wait(10)
    for n in list(etcd.procs):
        etcd.stop(n)
    shutil.rmtree(d, ignore_errors=True)


def kubectl(kubeconfig, *args):
    return subprocess.run(["kubectl", "--kubeconfig", kubeconfig, *args], capture_output=True, text=True,
                          timeout=30)


def statuses(kubeconfig):
    for _ in range(20):               # a 503 while the apiserver's etcd client fails over
        out = kubectl(kubeconfig, "get", "componentstatuses", "-o", "json")
        if out.returncode == 0 or "ServiceUnavailable" not in out.stderr:
            break
        time.sleep(0.5)
    assert out.returncode == 0, out.stderr
    return {o["metadata"]["name"]: o["conditions"][0] for o in json.loads(out.stdout)["items"]}


def test_every_member_healthy_and_one_leader(lab):
    etcd, server, kubeconfig = lab
    got = statuses(kubeconfig)
    members = {n: c for n, c in got.items() if n.startswith("etcd-")}
    assert len(members) == 3 and all(c["status"] == "True" for c in members.values()), got
    assert sum("(leader," in c["message"] for c in members.values()) == 1
    table = kubectl(kubeconfig, "get", "cs")
    assert table.stdout.split("\n")[0].split() == ["NAME", "STATUS", "MESSAGE", "ERROR"]
    assert "v1 ComponentStatus is deprecated in v1.19+" in table.stderr     # kubectl shows the Warning
    # without leader election the scheduler and controller-manager cannot be judged
    assert got["scheduler"]["status"] == "Unknown"


def test_a_stopped_member_is_unhealthy_and_the_rest_elect_a_leader(lab):
    etcd, server, kubeconfig = lab
    before = statuses(kubeconfig)
    leader = next(n for n, c in before.items() if "(leader," in c["message"])
    etcd.stop(etcd.names[int(leader.split("-")[1])])                   # stop the leader itself
    deadline = time.time() + 60
    while True:
        out = kubectl(kubeconfig, "get", "componentstatuses", "-o", "json")
        if out.returncode != 0:       # a 503 while the apiserver's etcd client fails over
            assert "ServiceUnavailable" in out.stderr and time.time() < deadline, out.stderr
            time.sleep(0.5)
            continue
        got = {o["metadata"]["name"]: o["conditions"][0] for o in json.loads(out.stdout)["items"]}
        healthy = [n for n, c in got.items() if n.startswith("etcd-") and c["status"] == "True"]
        leaders = [n for n in healthy if "(leader," in got[n]["message"]]
        if len(healthy) == 2 and len(leaders) == 1 or time.time() > deadline:
            break
        time.sleep(0.5)
    assert got[leader]["status"] == "False" and got[leader]["error"], got
    assert len(healthy) == 2 and len(leaders) == 1 and leaders[0] != leader, got
    # writes go on with 2 of 3 members
    for _ in range(20):
        made = kubectl(kubeconfig, "create", "namespace", "after-the-leader-left")
        if made.returncode == 0:
            break
        time.sleep(0.5)
    assert made.returncode == 0, made.stderr


def test_a_held_fresh_lease_is_healthy_and_a_stale_one_is_not(lab):
    etcd, server, kubeconfig = lab
    now = time.strftime("%Y-%m-%dT%H:%M:%S.000000Z", time.gmtime())
    lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
             "metadata": {"name": "kube-controller-manager", "namespace": "kube-system"},
             "spec": {"holderIdentity": "cm-a", "leaseDurationSeconds": 15, "renewTime": now}}
    r = requests.post(server + "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases", json=lease)
    assert r.status_code == 201, r.text
    got = statuses(kubeconfig)
    assert got["controller-manager"] == {"type": "Healthy", "status": "True", "message": "ok: leader cm-a",
                                         "error": ""}
    stale = r.json()
    stale["spec"]["renewTime"] = "2020-01-01T00:00:00.000000Z"
    assert requests.put(server + "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/"
                        "kube-controller-manager", json=stale).status_code == 200
    got = statuses(kubeconfig)["controller-manager"]
    assert got["status"] == "False" and "has not renewed" in got["error"]


def test_mkctl_cluster_info_names_what_kubectl_names(lab):
    etcd, server, kubeconfig = lab
    from minikube_py.client.rest import Client
    from minikube_py.dns.addon import ensure_kube_dns
    with Client(server=server) as client:
        ensure_kube_dns(client, "127.0.0.1", 53)
    env = {**os.environ, "PYTHONPATH": REPO}
    theirs = subprocess.run(["kubectl", "--kubeconfig", kubeconfig, "cluster-info"], capture_output=True,
                            text=True, env=env)
    ours = subprocess.run([sys.executable, "-m", "minikube_py.cli.mkctl", "--kubeconfig", kubeconfig,
                           "cluster-info"], capture_output=True, text=True, env=env)
    assert ours.returncode == 0, ours.stderr
    import re
    plain = lambda text: [re.sub(r"\x1b\[[0-9;]*m", "", line) for line in text.splitlines()[:2]]  # noqa: E731
    assert plain(ours.stdout) == plain(theirs.stdout)
    assert plain(ours.stdout)[1] == (f"KubeDNS is running at {server}/api/v1/namespaces/kube-system/"
                                     "services/kube-dns:dns/proxy")
