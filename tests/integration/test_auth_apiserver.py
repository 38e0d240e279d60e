"""An apiserver with authentication on: real etcd, real apiserver process, real kubectl."""
import os
import subprocess

import pytest
import requests

from clusters import Cluster

PUBLIC = "/healthz,/livez,/readyz,/version"


@pytest.fixture(scope="module")
def secured(tmp_path_factory):
    tokens = tmp_path_factory.mktemp("auth") / "tokens.csv"
    tokens.write_text('admin-token,admin,1,"system:masters"\n')
    c = Cluster(apiserver_args=("--token-auth-file", str(tokens), "--anonymous-auth-paths", PUBLIC,
                                "--authorization-mode", "AlwaysAllow")).start()
    yield c
    c.stop()


def kubectl(cluster, tmp_path, *args):
    env = dict(os.environ, KUBECONFIG=cluster.kubeconfig, HOME=str(tmp_path))
    return subprocess.run(["kubectl", *args], capture_output=True, text=True, env=env, timeout=60)


def test_kubectl_without_credentials_gets_401(secured, tmp_path):
    proc = kubectl(secured, tmp_path, "get", "pods")
    assert proc.returncode != 0
    assert "error: You must be logged in to the server" in proc.stderr
    r = requests.get(secured.server + "/api/v1/namespaces/default/pods")
    assert (r.status_code, r.json()["reason"]) == (401, "Unauthorized")


def test_a_token_from_the_file_works_and_a_wrong_one_is_401(secured):
    # (kubectl sends no bearer token over plain http; the TLS tests run it with one)
    url = secured.server + "/api/v1/namespaces/default"
    r = requests.get(url, headers={"Authorization": "Bearer admin-token"})
    assert (r.status_code, r.json()["metadata"]["name"]) == (200, "default")
    r = requests.get(url, headers={"Authorization": "Bearer wrong"})
    assert (r.status_code, r.json()["message"]) == (401, "Unauthorized")


def test_health_and_version_are_public(secured):
    for path in PUBLIC.split(","):
        assert requests.get(secured.server + path).status_code == 200, path
    assert requests.get(secured.server + "/metrics").status_code == 401

