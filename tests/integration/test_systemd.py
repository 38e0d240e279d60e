"""The lab's systemd units (lab/systemd/): they verify, and each component says READY=1.

systemd is not PID 1 on the test machine, so the units cannot be started here; what a
unit relies on is checked instead: `systemd-analyze verify` accepts every unit file as
install.sh renders it, and each component run with $NOTIFY_SOCKET (as systemd runs a
Type=notify service) sends READY=1 on that socket only once it serves.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import pytest
import requests
from clusters import Cluster

from minikube_py.client.rest import Client
from minikube_py.storage.embedded import free_port

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_unit_files_pass_systemd_analyze_verify(tmp_path):
    assert shutil.which("systemd-analyze"), "systemd-analyze is needed (Debian's systemd package)"
    out = subprocess.run(["bash", os.path.join(REPO, "lab/systemd/install.sh"), "--render-only",
                          "--dest", str(tmp_path), "--verify"], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "verify: ok" in out.stdout
    units = sorted(os.listdir(tmp_path))
    assert "minikube-py-kubelet@.service" in units and "minikube-py.target" in units
    for name in units:                               # every placeholder was filled in
        assert "@BIN@" not in (tmp_path / name).read_text()


class NotifySocket:
    """The datagram socket systemd listens on for a Type=notify service."""

    def __init__(self, directory):
        self.path = os.path.join(directory, "notify.sock")
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)

    def env(self):
        return {**os.environ, "NOTIFY_SOCKET": self.path, "PYTHONPATH": REPO}

    def wait_ready(self, proc, timeout=60.0) -> str:
        """The first message holding READY=1 (all messages until then, joined)."""
        self.sock.settimeout(timeout)
        seen = []
        while True:
            try:
                msg = self.sock.recv(4096).decode()
            except socket.timeout:
                raise AssertionError(f"no READY=1 within {timeout}s (got {seen}, exit {proc.poll()})")
            seen.append(msg)
            if "READY=1" in msg.split("\n"):
                return "\n".join(seen)

    def close(self):
        self.sock.close()


@pytest.fixture
def notify():
    d = tempfile.mkdtemp(prefix="mkpy-notify-")    # short path: AF_UNIX names are limited
    s = NotifySocket(d)
    yield s
    s.close()
    shutil.rmtree(d, ignore_errors=True)


def _component(*args, env, log):
    return subprocess.Popen([sys.executable, "-m", "minikube_py.cli.minikube", *args], env=env,
                            stdout=log, stderr=subprocess.STDOUT)


def _stop(*procs):
    for p in procs:
        if p is not None and p.poll() is None:
            p.terminate()
    for p in procs:
        if p is not None:
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                p.kill()


def test_etcd_and_apiserver_are_ready_only_when_they_serve(notify, tmp_path):
    etcd_port, peer_port, api_port = free_port(), free_port(), free_port()
    log = open(tmp_path / "log", "ab")
    etcd = api = None
    try:
        etcd = _component("etcd", "--data-dir", str(tmp_path / "etcd"), "--port", str(etcd_port),
                          "--peer-port", str(peer_port), env=notify.env(), log=log)
        notify.wait_ready(etcd)                        # etcd's own sd_notify
        assert requests.get(f"http://127.0.0.1:{etcd_port}/health", timeout=5).json()["health"] == "true"

        api = _component("apiserver", "--etcd-servers", f"http://127.0.0.1:{etcd_port}",
                         "--port", str(api_port), env=notify.env(), log=log)
        msg = notify.wait_ready(api)
        assert f"STATUS=serving on 127.0.0.1:{api_port}" in msg
        # Ready means ready: the very next request is answered.
        assert requests.get(f"http://127.0.0.1:{api_port}/readyz", timeout=5).status_code == 200
    finally:
        _stop(api, etcd)
        log.close()


@pytest.fixture(scope="module")
def cluster():
    c = Cluster().start()
    yield c
    c.stop()


def test_scheduler_and_controller_manager_notify(cluster, notify, tmp_path):
    log = open(tmp_path / "log", "ab")
    procs = []
    try:
        procs.append(_component("scheduler", "--kubeconfig", cluster.kubeconfig, env=notify.env(), log=log))
        assert "STATUS=caches synced" in notify.wait_ready(procs[-1])
        procs.append(_component("controller-manager", "--kubeconfig", cluster.kubeconfig,
                                env=notify.env(), log=log))
        assert "STATUS=campaigning for the lease" in notify.wait_ready(procs[-1])
    finally:
        _stop(*procs)
        log.close()


def test_dns_registers_the_kube_dns_service_once_it_serves(cluster, notify, tmp_path):
    port = free_port()
    log = open(tmp_path / "log", "ab")
    dns = None
    client = Client(server=cluster.server)
    try:
        dns = _component("dns", "--kubeconfig", cluster.kubeconfig, "--listen-address", "127.0.0.1",
                         "--port", str(port), "--resolv-conf", "", "--register-service",
                         env=notify.env(), log=log)
        assert f"STATUS=serving cluster.local on 127.0.0.1:{port}" in notify.wait_ready(dns)
        from dnslib import DNSRecord
        reply = DNSRecord.parse(DNSRecord.question("kubernetes.default.svc.cluster.local").send(
            "127.0.0.1", port, timeout=5))
        assert reply.rr, reply
        ep = None
        for _ in range(100):                      # registered right after READY, by a thread
            try:
                ep = client.get("endpoints", "kube-dns", namespace="kube-system")
                break
            except Exception:  # noqa: BLE001 - not there yet
                time.sleep(0.1)
        assert ep and ep["subsets"][0]["addresses"][0]["ip"] == "127.0.0.1"
        assert client.get("services", "kube-dns", namespace="kube-system")["spec"]["ports"]
    finally:
        _stop(dns)
        client.close()
        log.close()


def test_without_notify_socket_nothing_is_sent(monkeypatch):
    from minikube_py.systemd import notify_ready
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    assert notify_ready("x") is False


def test_tf_operator_installs_its_crd_and_notifies(cluster, notify, tmp_path):
    log = open(tmp_path / "log", "ab")
    proc = None
    try:
        proc = _component("tf-operator", "--kubeconfig", cluster.kubeconfig, "--install-crd",
                          "--no-leader-elect", env=notify.env(), log=log)
        assert "STATUS=running" in notify.wait_ready(proc)
        with Client(server=cluster.server) as client:
            crd = client.get("customresourcedefinitions", "tfjobs.kubeflow.org")
        assert crd["spec"]["group"] == "kubeflow.org"
    finally:
        _stop(proc)
        log.close()
