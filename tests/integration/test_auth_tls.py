"""https with the cluster CA: real kubectl, our client, x509 client certificates and tokens."""
import os
import subprocess
import threading

import pytest
import requests

from clusters import Cluster
from minikube_py.apiserver.auth import pki
from minikube_py.client.kubeconfig import write_kubeconfig
from minikube_py.client.rest import Client

PUBLIC = "/healthz,/livez,/readyz,/version"


@pytest.fixture(scope="module")
def secure(tmp_path_factory):
    tokens = tmp_path_factory.mktemp("tls") / "tokens.csv"
    tokens.write_text('ops-token,ops,7,"system:masters"\n')
    c = Cluster(apiserver_args=("--anonymous-auth-paths", PUBLIC, "--token-auth-file", str(tokens)),
                tls=True).start()
    yield c
    c.stop()


def kubectl(kubeconfig, home, *args, input=None):
    env = dict(os.environ, KUBECONFIG=kubeconfig, HOME=str(home))
    return subprocess.run(["kubectl", *args], capture_output=True, text=True, env=env, timeout=60, input=input)


def test_kubectl_without_credentials_gets_401(secure, tmp_path):
    anonymous = write_kubeconfig(str(tmp_path / "anonymous"), secure.server,
                                 certificate_authority=secure.ca_file)
    # with no credential in its kubeconfig kubectl prompts for a basic-auth username and
    # password (on a terminal); basic auth is no credential to Kubernetes (since 1.19) nor to us
    proc = kubectl(anonymous, tmp_path, "--username", "nobody", "--password", "x", "get", "pods")
    assert proc.returncode == 1
    assert "error: You must be logged in to the server (the server has asked for the client to provide " \
           "credentials)" in proc.stderr
    r = requests.get(secure.server + "/api/v1/pods", verify=secure.ca_file)
    assert r.status_code == 401 and r.json()["reason"] == "Unauthorized"
    assert requests.get(secure.server + "/version", verify=secure.ca_file).status_code == 200


def test_kubectl_with_the_admin_certificate_and_with_a_token(secure, tmp_path):
    proc = kubectl(secure.kubeconfig, tmp_path, "create", "configmap", "tls-cm", "-n", "default",
                   "--from-literal=a=b")
    assert proc.returncode == 0, proc.stderr
    token = write_kubeconfig(str(tmp_path / "token"), secure.server, certificate_authority=secure.ca_file,
                             token="ops-token")
    proc = kubectl(token, tmp_path, "get", "configmap", "tls-cm", "-n", "default", "-o", "jsonpath={.data.a}")
    assert (proc.returncode, proc.stdout) == (0, "b"), proc.stderr
    wrong = write_kubeconfig(str(tmp_path / "wrong"), secure.server, certificate_authority=secure.ca_file,
                             token="nope")
    assert "Unauthorized" in kubectl(wrong, tmp_path, "get", "pods").stderr


def test_a_certificate_from_another_ca_fails_the_handshake(secure, tmp_path):
    stranger = pki.new_ca("stranger")
    crt, key = pki.client_cert(stranger, "kubernetes-admin", ["system:masters"]).write(str(tmp_path), "fake")
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(secure.server + "/api/v1/pods", verify=secure.ca_file, cert=(crt, key))


def test_the_serving_certificate_is_checked_by_clients(secure, tmp_path):
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(secure.server + "/version")          # the system CAs don't know ours


def test_our_client_and_its_watch_over_tls(secure):
    client = Client(kubeconfig=secure.kubeconfig)
    try:
        seen = []
        stream = client.watch("configmaps", "default", timeout_seconds=10)

        def watch():
            for kind, obj in stream:
                seen.append((kind, obj["metadata"]["name"]))
                if obj["metadata"]["name"] == "watched":
                    return
        thread = threading.Thread(target=watch, daemon=True)
        thread.start()
        client.create("configmaps", {"metadata": {"name": "watched"}}, namespace="default")
        thread.join(15)
        assert ("ADDED", "watched") in seen
        assert client.get("configmaps", "watched", namespace="default")["metadata"]["name"] == "watched"
    finally:
        client.close()


def test_a_client_certificate_names_the_user_and_its_groups(tmp_path):
    """The apiserver's own server, TLS and filter in this process, on an app that says who asked."""
    import json

    from minikube_py.apiserver.auth.authenticator import build
    from minikube_py.apiserver.auth.authorizer import AlwaysAllow
    from minikube_py.apiserver.auth.filters import AuthFilter, user_of
    from minikube_py.apiserver.server import make_server
    from minikube_py.storage.embedded import free_port

    def whoami(environ, start_response):
        user = user_of(environ)
        start_response("200 OK", [("Content-Type", "application/json")])
        return [json.dumps({"name": user.name, "groups": list(user.groups)}).encode()]

    d = str(tmp_path)
    cert, key = pki.ensure_serving(d, "server", "kube-apiserver", ["127.0.0.1"])
    jane = pki.ensure_client(d, "jane", "jane", ["devs", "ops"])
    port = free_port()
    server = make_server(AuthFilter(whoami, build(client_ca_file=d + "/ca.crt", anonymous_auth=False),
                                    AlwaysAllow()), "127.0.0.1", port, tls=(cert, key, d + "/ca.crt"))
    server.prepare()
    thread = threading.Thread(target=server.serve, daemon=True)
    thread.start()
    try:
        url = f"https://127.0.0.1:{port}/api/v1/pods"
        r = requests.get(url, verify=d + "/ca.crt", cert=jane)
        assert r.json() == {"name": "jane", "groups": ["devs", "ops", "system:authenticated"]}
        assert requests.get(url, verify=d + "/ca.crt").status_code == 401
    finally:
        server.stop()
