"""Fixtures for end-to-end tests: real Docker, locally built images, kubelet processes.

``lab_images`` makes sure ``lab/build-images.sh`` has run (busybox, pause) and
skips when Docker is not there.  ``start_kubelet`` runs real kubelet processes
(``python -m minikube_py.kubelet.command``) against the session's apiserver,
each with a node name unique to this run; at the end it stops them, removes
every container they made, and deletes their Node and Lease objects.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
from dockerutil import list_containers  # noqa: E402  (tests/dockerutil.py)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
NODE_LABEL = "io.minikube-py.node"

# Short periods so that tests are quick; the defaults are Kubernetes' (10 s, 5 min ...).
FAST_FLAGS = ["--relist-seconds", "0.5", "--status-update-seconds", "1", "--lease-seconds", "2",
              "--sync-frequency", "10", "--restart-backoff-seconds", "1",
              "--restart-backoff-max-seconds", "8"]


@pytest.fixture(scope="session")
def lab_images():
    """A Docker client, once the lab images exist (skips the test without Docker)."""
    docker = pytest.importorskip("docker")
    try:
        client = docker.from_env()
        client.ping()
    except Exception as e:  # noqa: BLE001
        pytest.skip(f"Docker is not available: {e}")
    subprocess.run([os.path.join(ROOT, "lab", "build-images.sh")], check=True,
                   stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=600)
    yield client
    client.close()


class KubeletProcess:
    """One ``minikube-py kubelet`` process (it can be killed and started again)."""

    def __init__(self, cluster, node_name: str, state_dir: str, log_path: str, args: list):
        self.cluster = cluster
        self.node_name = node_name
        self.state_dir = state_dir
        self.log_path = log_path
        self.args = list(args)
        self.proc: subprocess.Popen | None = None

    def start(self) -> "KubeletProcess":
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "minikube_py.kubelet.command", "--node-name", self.node_name,
             "--kubeconfig", self.cluster.kubeconfig, "--state-dir", self.state_dir,
             *FAST_FLAGS, *self.args], stdout=log, stderr=subprocess.STDOUT)
        return self

    def stop(self, kill: bool = False) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        self.proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def log(self) -> str:
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def wait_ready(self, client, timeout: float = 30.0) -> dict:
        """Until the Node says Ready (and the process still lives)."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            assert self.proc.poll() is None, f"kubelet exited:\n{self.log()[-3000:]}"
            try:
                node = client.get("nodes", self.node_name)
                for c in (node.get("status") or {}).get("conditions") or []:
                    if c["type"] == "Ready" and c["status"] == "True":
                        return node
            except Exception:  # noqa: BLE001 - not registered yet
                pass
            time.sleep(0.1)
        raise AssertionError(f"node {self.node_name} not Ready:\n{self.log()[-3000:]}")


@pytest.fixture(scope="module")
def start_kubelet(cluster, lab_images, tmp_path_factory):
    """Factory: ``start_kubelet("a", "--pods", "20")`` -> a Ready KubeletProcess."""
    from minikube_py.client import errors
    from minikube_py.client.rest import Client

    run = uuid.uuid4().hex[:6]
    base = tmp_path_factory.mktemp("kubelets")
    started: list[KubeletProcess] = []
    client = Client(server=cluster.server)

    def start(suffix: str = "a", *args, wait: bool = True) -> KubeletProcess:
        name = f"e2e-{run}-{suffix}"
        k = KubeletProcess(cluster, name, str(base / name), str(base / f"{name}.log"), list(args))
        started.append(k)
        k.start()
        if wait:
            k.wait_ready(client)
        return k

    yield start
    for k in started:
        k.stop()
    names = {k.node_name for k in started}
    for c in list_containers(lab_images, all=True, filters={"label": NODE_LABEL}):
        if c.labels.get(NODE_LABEL) in names:
            try:
                c.remove(force=True)
            except Exception:  # noqa: BLE001
                pass
    for name in names:
        for resource, ns in (("nodes", None), ("leases", "kube-node-lease")):
            try:
                client.delete(resource, name, ns)
            except errors.NotFound:
                pass
    client.close()
