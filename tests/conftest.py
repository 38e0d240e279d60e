"""Shared fixtures: a real etcd, a real apiserver process, clients for both.

Integration tests run against these real processes; nothing here is a mock.
"""
from __future__ import annotations

import os
import subprocess
import threading

import pytest
import requests

from clusters import Cluster  # noqa: E402  (tests/ is on sys.path for its conftest)


HOST_WIDE = ("tests/e2e/", "tests/lab/")   # Docker containers, the pod network, iptables, the compose lab


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config, log):
    """With pytest-xdist (`-n 2`, the README's command) the tests that own host-wide things
    all go to one worker, one after another, as in a plain run; the unit and integration
    tests, each module on its own etcd and apiserver at free ports, run beside them on the
    other worker. (xdist's own `--dist loadgroup` does not group under pytest 9.)"""
    from xdist.scheduler import LoadScopeScheduling

    class HostWideTestsTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid):
            return "host-wide" if nodeid.startswith(HOST_WIDE) else super()._split_scope(nodeid)

    return HostWideTestsTogether(config, log)


@pytest.fixture(scope="session")
def cluster():
    c = Cluster().start()
    yield c
    c.stop()


@pytest.fixture(scope="session")
def api_url(cluster):
    return cluster.server


@pytest.fixture
def api_client(cluster):
    from minikube_py.client.rest import Client
    client = Client(server=cluster.server)
    yield client
    client.close()


@pytest.fixture
def namespace(cluster):
    """A fresh namespace per test, so tests don't see each other's objects."""
    name = f"t-{os.urandom(3).hex()}"
    r = requests.post(cluster.server + "/api/v1/namespaces", json={"metadata": {"name": name}})
    assert r.status_code == 201, r.text
    return name


@pytest.fixture
def kubectl(cluster, tmp_path):
    """Run the real kubectl against the test cluster (fresh discovery cache per test)."""
    def run(*args, input=None, check=True):
        env = dict(os.environ, KUBECONFIG=cluster.kubeconfig, HOME=str(tmp_path))
        proc = subprocess.run(["kubectl", *args], input=input, capture_output=True, text=True, env=env,
                              timeout=60)
        if check and proc.returncode != 0:
            raise AssertionError(f"kubectl {' '.join(args)} failed ({proc.returncode}):\n{proc.stderr}")
        return proc
    return run


@pytest.fixture(scope="module")
def controller_manager(cluster):
    """Factory: ``controller_manager(names, config=None)`` runs those controllers in this
    process, as ``minikube-py controller-manager`` does (shared informers; no leader
    election), and returns the ControllerManager once they run (``.started[name]`` is
    each controller). They all stop at the end of the test module, so no two modules'
    copies of one controller ever run side by side.
    """
    from minikube_py.client.rest import Client
    from minikube_py.controllers.manager import ControllerConfig, ControllerManager
    running = []

    def start(names, config=None):
        client = Client(server=cluster.server)
        manager = ControllerManager(client, list(names), config or ControllerConfig())
        stop = threading.Event()
        thread = threading.Thread(target=manager.run, args=(stop,), daemon=True)
        thread.start()
        running.append((stop, thread, client))
        assert manager.ready.wait(30)
        collector = manager.started.get("garbagecollector")
        if collector is not None:   # its informers start after discovery
            assert collector.ready.wait(30)
        return manager

    yield start
    for stop, thread, client in running:
        stop.set()
        thread.join(15)
        client.close()
