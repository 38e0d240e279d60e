"""ServiceAccount tokens on a real apiserver (signing key given): TokenRequest
(`kubectl create token`, the kubelet's bound tokens), TokenReview, the ServiceAccount
admission plugin's kube-api-access volume, and the kube-root-ca.crt publisher."""
from __future__ import annotations

import base64
import json
import os
import threading

import pytest
import requests

from clusters import Cluster
from minikube_py.apiserver.auth.serviceaccount import write_signing_key
from polling import wait_for

CA_PEM = "-----BEGIN CERTIFICATE-----\nMIIBnotarealcertbutthebytesthepublishercopies\n-----END CERTIFICATE-----\n"
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


@pytest.fixture(scope="module")
def sa_cluster(tmp_path_factory):
    """An apiserver that signs tokens, with the serviceaccount and root-ca-cert-publisher
    controllers running in this process."""
    from minikube_py.client.rest import Client
    from minikube_py.controllers.manager import ControllerConfig, ControllerManager
    d = tmp_path_factory.mktemp("satoken")
    key, ca = str(d / "sa.key"), d / "ca.crt"
    write_signing_key(key)
    ca.write_text(CA_PEM)
    tokens = d / "tokens.csv"     # authentication on (anonymous still allowed): the token chain runs
    tokens.write_text('admin-token,admin,1,"system:masters"\n')
    cluster = Cluster(apiserver_args=["--service-account-signing-key-file", key,
                                      "--token-auth-file", str(tokens)]).start()
    client = Client(server=cluster.server)
    manager = ControllerManager(client, ["serviceaccount", "root-ca-cert-publisher"],
                                ControllerConfig(root_ca_file=str(ca)))
    stop = threading.Event()
    thread = threading.Thread(target=manager.run, args=(stop,), daemon=True)
    thread.start()
    assert manager.ready.wait(30)
    yield cluster, client
    stop.set()
    thread.join(15)
    client.close()
    cluster.stop()


@pytest.fixture
def ns(sa_cluster):
    cluster, client = sa_cluster
    name = f"sat-{os.urandom(3).hex()}"
    client.create("namespaces", {"metadata": {"name": name}})
    wait_for(lambda: client.get("serviceaccounts", "default", namespace=name), what="default SA")
    return name


@pytest.fixture
def kubectl(sa_cluster, tmp_path):
    import subprocess
    cluster, _ = sa_cluster

    def run(*args, check=True):
        env = dict(os.environ, KUBECONFIG=cluster.kubeconfig, HOME=str(tmp_path))
        proc = subprocess.run(["kubectl", *args], capture_output=True, text=True, env=env, timeout=60)
        assert not check or proc.returncode == 0, proc.stderr
        return proc
    return run


def claims(token: str) -> dict:
    part = token.split(".")[1]
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def review(cluster, token, audiences=None) -> dict:
    body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
            "spec": {"token": token, **({"audiences": audiences} if audiences else {})}}
    r = requests.post(cluster.server + "/apis/authentication.k8s.io/v1/tokenreviews", json=body)
    assert r.status_code == 201, r.text
    return r.json()["status"]


def request_token(cluster, ns, sa, spec) -> requests.Response:
    return requests.post(f"{cluster.server}/api/v1/namespaces/{ns}/serviceaccounts/{sa}/token",
                         json={"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec})


def pod(name, **spec):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [{"name": "app", "image": "busybox"}], **spec}}


def test_kubectl_create_token_and_token_review(sa_cluster, ns, kubectl):
    cluster, client = sa_cluster
    kubectl("create", "serviceaccount", "viewer", "-n", ns)
    token = kubectl("create", "token", "viewer", "-n", ns, "--duration", "20m").stdout.strip()
    c = claims(token)
    assert c["sub"] == f"system:serviceaccount:{ns}:viewer"
    assert c["aud"] == ["https://kubernetes.default.svc.cluster.local"] and c["exp"] - c["iat"] == 1200
    sa_uid = client.get("serviceaccounts", "viewer", namespace=ns)["metadata"]["uid"]
    status = review(cluster, token)
    assert status["authenticated"] is True
    assert status["user"]["username"] == f"system:serviceaccount:{ns}:viewer"
    assert status["user"]["uid"] == sa_uid
    assert status["user"]["groups"] == ["system:serviceaccounts", f"system:serviceaccounts:{ns}",
                                        "system:authenticated"]
    assert status["audiences"] == ["https://kubernetes.default.svc.cluster.local"]
    # the token names that account: deleting it (and making it again) ends the token
    kubectl("delete", "serviceaccount", "viewer", "-n", ns)
    kubectl("create", "serviceaccount", "viewer", "-n", ns)
    status = review(cluster, token)
    assert "authenticated" not in status and "Token has been invalidated" in status["error"]
    assert "authenticated" not in review(cluster, "not-a-jwt")
    assert requests.post(cluster.server + "/apis/authentication.k8s.io/v1/tokenreviews",
                         json={"spec": {}}).json()["message"] == \
        "token is required for TokenReview in authentication"


def test_token_request_rules(sa_cluster, ns):
    cluster, client = sa_cluster
    r = request_token(cluster, ns, "default", {"expirationSeconds": 60})
    assert r.status_code == 422 and r.json()["message"] == (
        'TokenRequest.authentication.k8s.io "default" is invalid: spec.expirationSeconds: '
        "Invalid value: 60: may not specify a duration less than 10 minutes")
    r = request_token(cluster, ns, "nobody", {})
    assert r.status_code == 404 and r.json()["message"] == 'serviceaccounts "nobody" not found'
    client.create("pods", pod("web"), namespace=ns)
    r = request_token(cluster, ns, "default", {"boundObjectRef": {"kind": "Pod", "apiVersion": "v1",
                                                                  "name": "web", "uid": "not-its-uid"}})
    assert r.status_code == 409 and "does not match the UID in record" in r.json()["message"]
    r = request_token(cluster, ns, "default", {"audiences": ["vault"], "expirationSeconds": 7200})
    assert r.status_code == 201
    answer = r.json()
    assert answer["kind"] == "TokenRequest" and answer["spec"]["audiences"] == ["vault"]
    assert claims(answer["status"]["token"])["aud"] == ["vault"]
    assert answer["status"]["expirationTimestamp"].endswith("Z")
    # a token for another audience is no good for the API, but is for that audience
    assert "audiences" in review(cluster, answer["status"]["token"])["error"]
    assert review(cluster, answer["status"]["token"], ["vault"])["audiences"] == ["vault"]


def test_the_kubelet_gets_a_pod_bound_token_that_dies_with_the_pod(sa_cluster, ns):
    """The kubelet's own TokenRequest (objectcache.token, used by projected volumes)."""
    from minikube_py.kubelet.objectcache import ObjectCache
    cluster, client = sa_cluster
    created = client.create("pods", pod("web"), namespace=ns)
    token = ObjectCache(client).token(created, None, 3607).decode()
    private = claims(token)["kubernetes.io"]
    assert private["pod"] == {"name": "web", "uid": created["metadata"]["uid"]}
    assert private["serviceaccount"]["name"] == "default"
    status = review(cluster, token)
    assert status["user"]["extra"]["authentication.kubernetes.io/pod-name"] == ["web"]
    client.delete("pods", "web", namespace=ns)     # unbound: gone at once
    wait_for(lambda: "error" in review(cluster, token), what="the token to die with its pod")


def test_admission_mounts_the_api_access_volume(sa_cluster, ns):
    _, client = sa_cluster
    made = client.create("pods", {**pod("web"), "spec": {
        "initContainers": [{"name": "init", "image": "busybox"}],
        "containers": [{"name": "app", "image": "busybox"},
                       {"name": "own", "image": "busybox",
                        "volumeMounts": [{"name": "mine", "mountPath": SA_DIR}]}],
        "volumes": [{"name": "mine", "emptyDir": {}}]}}, namespace=ns)
    spec = made["spec"]
    assert spec["serviceAccountName"] == spec["serviceAccount"] == "default"
    access = [v for v in spec["volumes"] if v["name"].startswith("kube-api-access-")]
    assert len(access) == 1 and len(access[0]["name"]) == len("kube-api-access-") + 5
    assert access[0]["projected"] == {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": 3607, "path": "token"}},
        {"configMap": {"name": "kube-root-ca.crt", "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace", "fieldRef": {"apiVersion": "v1",
                                                                      "fieldPath": "metadata.namespace"}}]}}]}
    mount = {"name": access[0]["name"], "readOnly": True, "mountPath": SA_DIR}
    assert spec["initContainers"][0]["volumeMounts"] == [mount]
    assert spec["containers"][0]["volumeMounts"] == [mount]
    assert spec["containers"][1]["volumeMounts"] == [{"name": "mine", "mountPath": SA_DIR}]


def test_admission_automount_off_and_missing_account(sa_cluster, ns):
    _, client = sa_cluster
    from minikube_py.client import errors
    off = client.create("pods", pod("off", automountServiceAccountToken=False), namespace=ns)
    assert not off["spec"].get("volumes") and "volumeMounts" not in off["spec"]["containers"][0]
    client.create("serviceaccounts", {"metadata": {"name": "quiet"}, "automountServiceAccountToken": False},
                  namespace=ns)
    quiet = client.create("pods", pod("quiet", serviceAccountName="quiet"), namespace=ns)
    assert not quiet["spec"].get("volumes")
    loud = client.create("pods", pod("loud", serviceAccountName="quiet", automountServiceAccountToken=True),
                         namespace=ns)
    assert loud["spec"]["volumes"][0]["name"].startswith("kube-api-access-")
    with pytest.raises(errors.Forbidden) as err:
        client.create("pods", pod("lost", serviceAccountName="nobody"), namespace=ns)
    assert err.value.message == (f'pods "lost" is forbidden: error looking up service account '
                                 f'{ns}/nobody: serviceaccount "nobody" not found')


def test_root_ca_is_published_to_every_namespace_and_kept(sa_cluster, ns, kubectl):
    _, client = sa_cluster

    def published():
        cm = client.get("configmaps", "kube-root-ca.crt", namespace=ns)
        return cm if cm.get("data") == {"ca.crt": CA_PEM} else None
    cm = wait_for(published, what="kube-root-ca.crt")
    assert cm["metadata"]["annotations"]["kubernetes.io/description"].startswith("Contains a CA bundle")
    kubectl("delete", "configmap", "kube-root-ca.crt", "-n", ns)
    wait_for(published, what="kube-root-ca.crt made again")
    kubectl("patch", "configmap", "kube-root-ca.crt", "-n", ns, "-p", '{"data":{"ca.crt":"x","extra":"y"}}')
    wait_for(published, what="kube-root-ca.crt put back")


def test_a_service_account_token_authenticates_api_requests(sa_cluster, ns):
    cluster, _ = sa_cluster
    token = request_token(cluster, ns, "default", {}).json()["status"]["token"]
    url = f"{cluster.server}/api/v1/namespaces/{ns}/pods"
    assert requests.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200
    head, body, sig = token.split(".")
    forged = f"{head}.{body}.{sig[:-4]}AAAA"
    r = requests.get(url, headers={"Authorization": f"Bearer {forged}"})
    assert r.status_code == 401 and r.json()["reason"] == "Unauthorized"
    # TokenReview asks the whole chain: the static token file's users too
    status = review(cluster, "admin-token")
    assert status["user"]["username"] == "admin" and "system:masters" in status["user"]["groups"]
