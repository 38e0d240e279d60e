"""The ServiceAccount controller against the real apiserver: every namespace gets `default`."""
import os

import pytest

from minikube_py.client import errors
from polling import wait_for


@pytest.fixture(scope="module")
def controllers(controller_manager):
    return controller_manager(["serviceaccount", "namespace"])


def default_account(client, namespace):
    try:
        return client.get("serviceaccounts", "default", namespace=namespace)
    except errors.NotFound:
        return None


def test_every_namespace_gets_a_default_service_account_back_after_a_delete(controllers, api_client, kubectl):
    name = f"sa-{os.urandom(3).hex()}"
    kubectl("create", "namespace", name)
    assert wait_for(lambda: default_account(api_client, name) is not None)
    assert wait_for(lambda: default_account(api_client, "default") is not None)   # ones made before too
    first = default_account(api_client, name)["metadata"]["uid"]
    kubectl("delete", "serviceaccount", "default", "-n", name)
    assert wait_for(lambda: (default_account(api_client, name) or {}).get("metadata", {}).get("uid") not in
                (None, first))
    out = kubectl("get", "serviceaccounts", "-n", name).stdout.split()
    assert out[:3] == ["NAME", "SECRETS", "AGE"] and out[3:5] == ["default", "0"]
    kubectl("delete", "namespace", name, "--wait=false")
    assert wait_for(lambda: not [n for n in kubectl("get", "ns", "-o", "name").stdout.split()
                             if n == f"namespace/{name}"], timeout=60)
