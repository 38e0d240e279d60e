"""The ServiceAccount controller against the real apiserver: every namespace gets `default`."""
import os
import threading
import time

import pytest

from minikube_py.client import errors
from minikube_py.client.rest import Client
from minikube_py.controllers.manager import ControllerConfig, ControllerManager


def wait(pred, timeout=30, interval=0.1):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(interval)
    return False


@pytest.fixture(scope="module")
def controllers(cluster):
    client = Client(server=cluster.server)
    manager = ControllerManager(client, ["serviceaccount", "namespace"], ControllerConfig())
    stop = threading.Event()
    t = threading.Thread(target=manager.run, args=(stop,), daemon=True)
    t.start()
    assert manager.ready.wait(30)
    yield manager
    stop.set()
    t.join(15)
    client.close()


def default_account(client, namespace):
    try:
        return client.get("serviceaccounts", "default", namespace=namespace)
    except errors.NotFound:
        return None


def test_every_namespace_gets_a_default_service_account_back_after_a_delete(controllers, api_client, kubectl):
    name = f"sa-{os.urandom(3).hex()}"
    kubectl("create", "namespace", name)
    assert wait(lambda: default_account(api_client, name) is not None)
    assert wait(lambda: default_account(api_client, "default") is not None)   # ones made before too
    first = default_account(api_client, name)["metadata"]["uid"]
    kubectl("delete", "serviceaccount", "default", "-n", name)
    assert wait(lambda: (default_account(api_client, name) or {}).get("metadata", {}).get("uid") not in
                (None, first))
    out = kubectl("get", "serviceaccounts", "-n", name).stdout.split()
    assert out[:3] == ["NAME", "SECRETS", "AGE"] and out[3:5] == ["default", "0"]
    kubectl("delete", "namespace", name, "--wait=false")
    assert wait(lambda: not [n for n in kubectl("get", "ns", "-o", "name").stdout.split()
                             if n == f"namespace/{name}"], timeout=60)
