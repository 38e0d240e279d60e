"""The controller-manager process: leader election, fail-over, exit on lost leadership.

Real subprocesses of ``python -m minikube_py.controllers.command`` against the
session's apiserver. Each test campaigns for its own Lease name, so tests never see
each other's leaders.
"""
import os
import signal
import subprocess
import sys
import time

import pytest

from minikube_py.api.meta import now_micro
from minikube_py.client import errors

from polling import wait_for

LEASE = 4   # seconds: short, for the lab


def wait(pred, timeout=30):
    return wait_for(pred, timeout, interval=0.1)


class Manager:
    def __init__(self, cluster, tmp_path, identity, lease_name, *extra):
        self.identity = identity
        self.log_path = tmp_path / f"{identity}.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "minikube_py.controllers.command", "--kubeconfig",
             cluster.kubeconfig, "--controllers", "garbagecollector", "--identity", identity,
             "--leader-elect-lease-duration", f"{LEASE}s", "--leader-elect-resource-name",
             lease_name, "--gc-discovery-period", "5s", *extra],
            stdout=open(self.log_path, "wb"), stderr=subprocess.STDOUT)

    def log(self):
        return self.log_path.read_text(errors="replace")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def managers(cluster, tmp_path):
    started = []
    lease_name = f"cm-{os.urandom(3).hex()}"

    def start(identity, *extra):
        m = Manager(cluster, tmp_path, identity, lease_name, *extra)
        started.append(m)
        return m
    start.lease_name = lease_name
    yield start
    for m in started:
        m.stop()


def holder(client, lease_name):
    try:
        return client.get("leases", lease_name, namespace="kube-system")["spec"].get("holderIdentity")
    except errors.NotFound:
        return None


def owner_and_dependent(c, ns, name):
    rs = c.create("replicasets", {
        "metadata": {"name": name},
        "spec": {"replicas": 0, "selector": {"matchLabels": {"app": name}},
                 "template": {"metadata": {"labels": {"app": name}},
                              "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}},
        namespace=ns)
    c.create("pods", {"metadata": {"name": f"{name}-pod", "ownerReferences": [
        {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": name,
         "uid": rs["metadata"]["uid"], "controller": True}]},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]}}, namespace=ns)


def pod_gone(c, ns, name):
    try:
        c.get("pods", name, namespace=ns)
        return False
    except errors.NotFound:
        return True


def test_only_the_leader_acts_and_a_standby_takes_over(managers, api_client, namespace):
    c = api_client
    # Garbage made while no controller-manager runs is collected once one starts.
    owner_and_dependent(c, namespace, "early")
    c.delete("replicasets", "early", namespace=namespace)
    time.sleep(0.5)
    assert not pod_gone(c, namespace, "early-pod")

    a = managers("cm-a")
    assert wait(lambda: holder(c, managers.lease_name) == "cm-a")
    b = managers("cm-b")
    assert wait(lambda: "campaigning" in b.log())
    assert wait(lambda: pod_gone(c, namespace, "early-pod"))

    owner_and_dependent(c, namespace, "web")
    c.delete("replicasets", "web", namespace=namespace)
    assert wait(lambda: pod_gone(c, namespace, "web-pod"))
    time.sleep(1)
    assert "deleting Pod" in a.log()
    assert "started garbagecollector" in a.log()
    assert "deleting Pod" not in b.log() and "started garbagecollector" not in b.log()
    assert holder(c, managers.lease_name) == "cm-a"

    # Kill the leader (no chance to give the lease back): b takes over after expiry.
    a.proc.send_signal(signal.SIGKILL)
    killed = time.time()
    assert wait(lambda: holder(c, managers.lease_name) == "cm-b", timeout=LEASE * 4 + 10)
    took = time.time() - killed
    print(f"\nstandby became leader {took:.1f}s after the leader was killed (lease {LEASE}s)")
    lease = c.get("leases", managers.lease_name, namespace="kube-system")
    assert lease["spec"]["leaseTransitions"] >= 1

    owner_and_dependent(c, namespace, "after")
    c.delete("replicasets", "after", namespace=namespace)
    assert wait(lambda: pod_gone(c, namespace, "after-pod"))
    assert wait(lambda: "deleting Pod" in b.log())


def test_sigterm_gives_the_lease_back(managers, api_client):
    c = api_client
    a = managers("cm-a")
    assert wait(lambda: holder(c, managers.lease_name) == "cm-a")
    b = managers("cm-b")
    assert wait(lambda: "campaigning" in b.log())
    a.proc.terminate()
    stopped = time.time()
    assert a.proc.wait(15) == 0
    assert wait(lambda: holder(c, managers.lease_name) == "cm-b", timeout=LEASE * 4 + 10)
    print(f"\nafter SIGTERM the standby led within {time.time() - stopped:.1f}s")


def test_lost_leadership_ends_the_process(managers, api_client):
    c = api_client
    a = managers("cm-a")
    assert wait(lambda: holder(c, managers.lease_name) == "cm-a")
    # Someone else grabs the lease (as after a long network partition).
    for _ in range(20):
        lease = c.get("leases", managers.lease_name, namespace="kube-system")
        lease["spec"].update(holderIdentity="intruder", renewTime=now_micro(),
                             leaseDurationSeconds=3600)
        try:
            c.update("leases", lease)
            break
        except errors.Conflict:
            continue
    assert a.proc.wait(LEASE * 4 + 10) == 1
    assert "leader election lost" in a.log()
    c.delete("leases", managers.lease_name, namespace="kube-system")


def test_no_leader_elect_runs_at_once(managers, api_client, namespace):
    c = api_client
    a = managers("solo", "--no-leader-elect")
    owner_and_dependent(c, namespace, "solo")
    c.delete("replicasets", "solo", namespace=namespace)
    assert wait(lambda: pod_gone(c, namespace, "solo-pod"))
    assert holder(c, managers.lease_name) is None
    a.proc.terminate()
    assert a.proc.wait(15) == 0


def test_bad_flags_are_refused(cluster):
    run = lambda *args: subprocess.run([sys.executable, "-m", "minikube_py.controllers.command",
                                        "--kubeconfig", cluster.kubeconfig, *args],
                                       capture_output=True, text=True, timeout=60)
    p = run("--controllers", "garbagecollector,nosuchcontroller")
    assert p.returncode == 2 and "unknown controller 'nosuchcontroller'" in p.stderr
    p = run("--node-monitor-grace-period", "soon")
    assert p.returncode == 2 and "is not a duration" in p.stderr
    p = run("--leader-elect-lease-duration", "4s", "--leader-elect-renew-deadline", "5s")
    assert p.returncode == 2 and "renew deadline" in p.stderr
