"""Real etcd + apiserver processes for tests (used by tests/conftest.py and by test modules
that want a cluster of their own: `from clusters import Cluster`)."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time

import requests

from minikube_py.storage.embedded import free_port, start_etcd


def _stop(proc):
    if proc and proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class Cluster:
    """An etcd + apiserver pair started for a test session; can restart either."""

    def __init__(self, apiserver_args: tuple = (), tls: bool = False):
        """`tls`: serve https with a fresh CA in <dir>/pki, authenticate client certificates,
        and write the kubeconfig of the admin (CN=kubernetes-admin, O=system:masters)."""
        self.apiserver_args = list(apiserver_args)
        self.dir = tempfile.mkdtemp(prefix="minikube-py-test-")
        self.etcd_proc = None
        self.api_proc = None
        self.extra_apiservers = []
        self.port = free_port()
        self.tls = tls
        self.scheme = "https" if tls else "http"
        self.server = f"{self.scheme}://127.0.0.1:{self.port}"
        self.pki = os.path.join(self.dir, "pki")
        self.ca_file = os.path.join(self.pki, "ca.crt") if tls else None
        if tls:
            from minikube_py.apiserver.auth import pki
            cert, key = pki.ensure_serving(self.pki, "apiserver", "kube-apiserver", ["127.0.0.1", "localhost"])
            self.apiserver_args += ["--tls-cert-file", cert, "--tls-private-key-file", key,
                                    "--client-ca-file", self.ca_file]
            self.admin_cert = pki.ensure_client(self.pki, "admin", "kubernetes-admin", ["system:masters"])
        self.etcd_client_port = free_port()
        self.etcd_peer_port = free_port()
        self.etcd_url = f"http://127.0.0.1:{self.etcd_client_port}"
        self.kubeconfig = os.path.join(self.dir, "kubeconfig")

    def start_etcd(self):
        log = open(os.path.join(self.dir, "etcd.log"), "ab")
        self.etcd_proc, _ = start_etcd(os.path.join(self.dir, "etcd"), self.etcd_client_port,
                                       self.etcd_peer_port, log_file=log)

    def stop_etcd(self):
        _stop(self.etcd_proc)

    def start_apiserver(self):
        self.api_proc = self._launch_apiserver(self.port, "apiserver.log")

    def _launch_apiserver(self, port: int, log_name: str):
        log_path = os.path.join(self.dir, log_name)
        proc = subprocess.Popen(
            [sys.executable, "-m", "minikube_py.cli.minikube", "apiserver", "--etcd-servers", self.etcd_url,
             "--port", str(port), *self.apiserver_args], stdout=open(log_path, "ab"), stderr=subprocess.STDOUT)
        deadline = time.time() + 30
        while time.time() < deadline:
            assert proc.poll() is None, open(log_path).read()[-3000:]
            try:
                if requests.get(f"{self.scheme}://127.0.0.1:{port}/readyz", timeout=1,
                                verify=self.ca_file or True).status_code == 200:
                    return proc
            except requests.RequestException:
                pass
            time.sleep(0.1)
        _stop(proc)
        raise RuntimeError("apiserver did not become ready")

    def add_apiserver(self) -> str:
        """Start one more apiserver on the same etcd (as an HA control plane runs several);
        returns its URL. It stops with the cluster."""
        port = free_port()
        self.extra_apiservers.append(self._launch_apiserver(port, f"apiserver-{port}.log"))
        return f"{self.scheme}://127.0.0.1:{port}"

    def stop_apiserver(self):
        _stop(self.api_proc)

    def start(self):
        from minikube_py.client.kubeconfig import write_kubeconfig
        self.start_etcd()
        self.start_apiserver()
        if self.tls:
            write_kubeconfig(self.kubeconfig, self.server, certificate_authority=self.ca_file,
                             client_certificate=self.admin_cert[0], client_key=self.admin_cert[1])
        else:
            write_kubeconfig(self.kubeconfig, self.server)
        return self

    def stop(self):
        for proc in self.extra_apiservers:
            _stop(proc)
        self.stop_apiserver()
        self.stop_etcd()
        shutil.rmtree(self.dir, ignore_errors=True)
