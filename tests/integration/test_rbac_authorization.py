"""--authorization-mode=Node,RBAC on a real apiserver and etcd: the default roles, bindings
granting them, the reviews `kubectl auth can-i` asks, and kubelets kept to their own pods."""
from __future__ import annotations

import os
import subprocess
import threading
import time
import uuid

import pytest
import requests

from clusters import Cluster

TOKENS = {"admin-token": ("admin", "system:masters"), "viewer-token": ("viewer", ""),
          "n1-token": ("system:node:n1", "system:nodes"), "n2-token": ("system:node:n2", "system:nodes")}


@pytest.fixture(scope="module")
def rbac_cluster(tmp_path_factory):
    """TLS, static tokens, ServiceAccount tokens, Node,RBAC; the ClusterRole aggregation
    and serviceaccount controllers run in this process (as the admin), so admin/edit/view
    have their rules and each namespace its default ServiceAccount."""
    from minikube_py.apiserver.auth.serviceaccount import write_signing_key
    from minikube_py.client.rest import Client
    from minikube_py.controllers.manager import ControllerConfig, ControllerManager
    d = tmp_path_factory.mktemp("rbac")
    tokens, key = d / "tokens.csv", str(d / "sa.key")
    tokens.write_text("".join(f'{t},{user},{i},"{groups}"\n' for i, (t, (user, groups)) in enumerate(TOKENS.items())))
    write_signing_key(key)
    c = Cluster(apiserver_args=("--token-auth-file", str(tokens), "--authorization-mode", "Node,RBAC",
                                "--service-account-signing-key-file", key), tls=True).start()
    client = Client(kubeconfig=c.kubeconfig)      # the admin's client certificate
    manager = ControllerManager(client, ["clusterrole-aggregation", "serviceaccount"], ControllerConfig())
    stop = threading.Event()
    thread = threading.Thread(target=manager.run, args=(stop,), daemon=True)
    thread.start()
    yield c
    stop.set()
    thread.join(15)
    client.close()
    c.stop()


def call(cluster, token, method, path, body=None, **params):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return requests.request(method, cluster.server + path, json=body, headers=headers, params=params, timeout=10,
                            verify=cluster.ca_file)


def admin(cluster, method, path, body=None, expect=(200, 201), **params):
    r = call(cluster, "admin-token", method, path, body, **params)
    assert r.status_code in expect, r.text     # (an AssertionError: eventually() tries again)
    return r.json()


def make_namespace(cluster) -> str:
    name = f"rbac-{uuid.uuid4().hex[:6]}"
    admin(cluster, "POST", "/api/v1/namespaces", {"metadata": {"name": name}})
    eventually(lambda: admin(cluster, "GET", f"/api/v1/namespaces/{name}/serviceaccounts/default"))
    return name


def bind(cluster, namespace, role, subject, name="b"):
    admin(cluster, "POST", f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/rolebindings",
          {"metadata": {"name": name}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                                                   "name": role}, "subjects": [subject]})


def eventually(check, timeout=10.0):
    deadline = time.time() + timeout
    while True:
        try:
            return check()
        except AssertionError:
            if time.time() > deadline:
                raise
            time.sleep(0.1)


def test_the_default_roles_are_there_and_masters_may_do_anything(rbac_cluster):
    roles = admin(rbac_cluster, "GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles")
    names = {r["metadata"]["name"] for r in roles["items"]}
    assert {"cluster-admin", "admin", "edit", "view", "system:basic-user", "system:discovery",
            "system:public-info-viewer", "system:node", "system:kube-scheduler",
            "system:kube-controller-manager", "system:node-proxier", "system:tf-operator"} <= names
    binding = admin(rbac_cluster, "GET", "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/cluster-admin")
    assert binding["subjects"] == [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group",
                                    "name": "system:masters"}]


def test_a_view_binding_lets_list_but_not_create_with_kubernetes_message(rbac_cluster):
    ns = make_namespace(rbac_cluster)
    path = f"/api/v1/namespaces/{ns}/pods"
    r = call(rbac_cluster, "viewer-token", "GET", path)
    assert r.status_code == 403
    assert r.json()["message"] == (f'pods is forbidden: User "viewer" cannot list resource "pods" in API group "" '
                                   f'in the namespace "{ns}"')
    bind(rbac_cluster, ns, "view", {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "viewer"})
    # view's rules are aggregated by the controller; without it view grants nothing yet,
    # so grant the aggregated rules' source directly too: system:aggregate-to-view
    bind(rbac_cluster, ns, "system:aggregate-to-view",
         {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "viewer"}, name="b2")
    eventually(lambda: _assert_status(call(rbac_cluster, "viewer-token", "GET", path), 200))
    r = call(rbac_cluster, "viewer-token", "POST", path,
             {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}})
    assert (r.status_code, r.json()["reason"]) == (403, "Forbidden")
    assert r.json()["message"] == (f'pods is forbidden: User "viewer" cannot create resource "pods" in API group "" '
                                   f'in the namespace "{ns}"')


def _assert_status(r, code):
    assert r.status_code == code, r.text
    return r


def test_reviews_say_what_a_user_may(rbac_cluster):
    ns = make_namespace(rbac_cluster)
    bind(rbac_cluster, ns, "system:aggregate-to-edit",
         {"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "viewer"})

    def can(verb, resource):
        body = {"spec": {"resourceAttributes": {"verb": verb, "resource": resource, "namespace": ns}}}
        r = call(rbac_cluster, "viewer-token", "POST",
                 "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", body)
        assert r.status_code == 201, r.text
        return r.json()["status"]
    eventually(lambda: _assert_truthy(can("create", "secrets")["allowed"]))
    assert can("create", "secrets")["reason"].startswith('RBAC: allowed by RoleBinding "b/')
    assert can("create", "nodes") == {"allowed": False}

    r = call(rbac_cluster, "viewer-token", "POST", "/apis/authorization.k8s.io/v1/selfsubjectrulesreviews",
             {"spec": {"namespace": ns}})
    status = r.json()["status"]
    assert {"verbs": ["create"], "apiGroups": [""], "resources": ["pods/eviction"]} in status["resourceRules"]
    assert status["incomplete"] is False

    # SubjectAccessReview asks for someone else: cluster-admin may, the viewer may not ask
    body = {"spec": {"user": "viewer", "resourceAttributes": {"verb": "create", "resource": "secrets",
                                                             "namespace": ns}}}
    assert admin(rbac_cluster, "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", body)["status"][
        "allowed"] is True
    assert call(rbac_cluster, "viewer-token", "POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                body).status_code == 403


def _assert_truthy(value):
    assert value
    return value


def test_a_kubelet_reads_only_its_own_pods_and_what_they_use(rbac_cluster):
    ns = make_namespace(rbac_cluster)
    for name in ("used", "unused"):
        admin(rbac_cluster, "POST", f"/api/v1/namespaces/{ns}/secrets", {"metadata": {"name": name},
                                                                        "stringData": {"k": "v"}})
    for pod, node, secret in (("on-n1", "n1", "used"), ("on-n2", "n2", "unused")):
        admin(rbac_cluster, "POST", f"/api/v1/namespaces/{ns}/pods", {
            "metadata": {"name": pod}, "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}],
                                                "volumes": [{"name": "s", "secret": {"secretName": secret}}]}})

    def n1(method, path, body=None, **params):
        return call(rbac_cluster, "n1-token", method, f"/api/v1/namespaces/{ns}/{path}", body, **params)
    eventually(lambda: _assert_status(n1("GET", "pods/on-n1"), 200))
    eventually(lambda: _assert_status(n1("GET", "secrets/used"), 200))
    r = n1("GET", "pods/on-n2")
    assert r.status_code == 403
    assert r.json()["message"] == (f'pods "on-n2" is forbidden: User "system:node:n1" cannot get resource "pods" in '
                                   f'API group "" in the namespace "{ns}": no relationship found between node '
                                   f"'n1' and this object")
    assert n1("GET", "secrets/unused").status_code == 403
    assert n1("GET", "secrets").status_code == 403
    assert n1("PATCH", "pods/on-n2/status", {"status": {}}).status_code == 403
    r = call(rbac_cluster, "n1-token", "GET", "/api/v1/pods", fieldSelector="spec.nodeName=n1")
    assert [p["metadata"]["name"] for p in r.json()["items"] if p["metadata"]["namespace"] == ns] == ["on-n1"]
    assert call(rbac_cluster, "n1-token", "GET", "/api/v1/pods", fieldSelector="spec.nodeName=n2").status_code == 403
    assert call(rbac_cluster, "n1-token", "GET", "/api/v1/pods").status_code == 403
    assert call(rbac_cluster, "n2-token", "GET", f"/api/v1/namespaces/{ns}/secrets/unused").status_code == 200


def test_the_aggregation_controller_fills_view_edit_admin(rbac_cluster):
    def view_rules():
        rules = admin(rbac_cluster, "GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/view")["rules"]
        assert {"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["namespaces"]} in rules
        return rules
    eventually(view_rules)
    # a CRD's installer extends view by labelling a role of its own
    admin(rbac_cluster, "POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", {
        "metadata": {"name": "widgets-view", "labels": {"rbac.authorization.k8s.io/aggregate-to-view": "true"}},
        "rules": [{"verbs": ["get"], "apiGroups": ["example.com"], "resources": ["widgets"]}]})
    widgets = {"verbs": ["get"], "apiGroups": ["example.com"], "resources": ["widgets"]}
    for role in ("view", "edit", "admin"):
        eventually(lambda: _assert_truthy(widgets in admin(
            rbac_cluster, "GET", f"/apis/rbac.authorization.k8s.io/v1/clusterroles/{role}")["rules"]))


def test_kubectl_with_a_view_service_account_token_and_as_another_user(rbac_cluster, tmp_path):
    """Real kubectl: a ServiceAccount's token, the account bound to view, lists and cannot
    create; can-i (--list), whoami and --as (impersonation) as Kubernetes answers them."""
    ns = make_namespace(rbac_cluster)
    user = f"system:serviceaccount:{ns}:viewer"
    admin(rbac_cluster, "POST", f"/api/v1/namespaces/{ns}/serviceaccounts", {"metadata": {"name": "viewer"}})
    bind(rbac_cluster, ns, "view", {"kind": "ServiceAccount", "name": "viewer", "namespace": ns})
    env = dict(os.environ, HOME=str(tmp_path))
    token = subprocess.run(["kubectl", "--kubeconfig", rbac_cluster.kubeconfig, "-n", ns, "create", "token",
                            "viewer"], capture_output=True, text=True, env=env, timeout=60).stdout.strip()

    def kubectl(*args, token=token, input=None):
        # with a token: no kubeconfig (its admin certificate would authenticate first, as x509 does)
        creds = ["--token", token, "--server", rbac_cluster.server, "--certificate-authority", rbac_cluster.ca_file,
                 "--kubeconfig", os.devnull] if token else ["--kubeconfig", rbac_cluster.kubeconfig]
        return subprocess.run(["kubectl", *creds, "-n", ns, *args], capture_output=True, text=True, env=env,
                              timeout=60, input=input)
    proc = eventually(lambda: _assert_rc(kubectl("get", "pods"), 0))
    assert "No resources found" in proc.stderr
    proc = kubectl("create", "-f", "-", input=CONFIGMAP)
    assert proc.returncode != 0
    assert proc.stderr.strip() == (
        f'Error from server (Forbidden): error when creating "STDIN": configmaps is forbidden: User "{user}" '
        f'cannot create resource "configmaps" in API group "" in the namespace "{ns}"')
    assert kubectl("auth", "can-i", "list", "pods").stdout.strip() == "yes"
    assert kubectl("auth", "can-i", "create", "pods").stdout.strip() == "no"
    lines = {" ".join(line.split()) for line in kubectl("auth", "can-i", "--list").stdout.splitlines()}
    assert "pods [] [] [get list watch]" in lines
    assert "selfsubjectaccessreviews.authorization.k8s.io [] [] [create]" in lines
    assert "[/api/*] [] [get]" in lines
    whoami = {" ".join(line.split()) for line in kubectl("auth", "whoami").stdout.splitlines()}
    assert f"Username {user}" in whoami
    assert f"Groups [system:serviceaccounts system:serviceaccounts:{ns} system:authenticated]" in whoami
    # the admin (client certificate, system:masters) acts as the viewer; the viewer may not act as anyone
    assert kubectl("auth", "can-i", "list", "pods", "--as", user, token=None).stdout.strip() == "yes"
    assert kubectl("auth", "can-i", "delete", "pods", "--as", user, token=None).stdout.strip() == "no"
    proc = kubectl("get", "pods", "--as", "admin")
    assert proc.returncode != 0
    assert (f'users "admin" is forbidden: User "{user}" cannot impersonate resource "users" in API group "" '
            'at the cluster scope') in proc.stderr


CONFIGMAP = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\ndata:\n  a: b\n"


def _assert_rc(proc, rc):
    assert proc.returncode == rc, proc.stderr
    return proc
