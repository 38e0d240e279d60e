"""The dashboard's login and per-user view against a real apiserver (TLS, Node,RBAC) on real
etcd: tokens checked by TokenReview, reads by SubjectAccessReview, the stream filtered.

The dashboard runs in this process as its own user (CN=system:minikube-py:dashboard, the
bootstrap policy's role); the users are ServiceAccounts with tokens from the TokenRequest
API and static tokens (--token-auth-file). The ClusterRole aggregation and serviceaccount
controllers run too, so `view` has its rules and each namespace its default ServiceAccount.
"""
from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
import requests

from clusters import Cluster

TOKENS = {"admin-token": ("admin", "system:masters"), "nobody-token": ("nobody", "")}
RBAC = "rbac.authorization.k8s.io"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    from minikube_py.apiserver.auth import pki
    from minikube_py.apiserver.auth.serviceaccount import write_signing_key
    from minikube_py.client.kubeconfig import write_kubeconfig
    from minikube_py.client.rest import Client
    from minikube_py.controllers.manager import ControllerConfig, ControllerManager
    from minikube_py.dashboard.access import Access
    from minikube_py.dashboard.hub import Hub
    from minikube_py.dashboard.server import DashboardServer
    d = tmp_path_factory.mktemp("dash-auth")
    tokens, key = d / "tokens.csv", str(d / "sa.key")
    tokens.write_text("".join(f'{t},{u},{i},"{g}"\n' for i, (t, (u, g)) in enumerate(TOKENS.items())))
    write_signing_key(key)
    c = Cluster(apiserver_args=("--token-auth-file", str(tokens), "--authorization-mode", "Node,RBAC",
                                "--service-account-signing-key-file", key), tls=True)
    try:
        c.start()
    except BaseException:          # an apiserver too slow to start on a busy machine: no etcd left behind
        c.stop()
        raise
    admin = Client(kubeconfig=c.kubeconfig)
    stop = threading.Event()
    manager = ControllerManager(admin, ["clusterrole-aggregation", "serviceaccount"], ControllerConfig())
    threading.Thread(target=manager.run, args=(stop,), daemon=True).start()

    cert, ckey = pki.ensure_client(c.pki, "dashboard", "system:minikube-py:dashboard")
    own = write_kubeconfig(str(d / "dashboard.conf"), c.server, certificate_authority=c.ca_file,
                           client_certificate=cert, client_key=ckey)
    client = Client(kubeconfig=own, user_agent="minikube-py/dashboard")
    hub = Hub(client, metrics_period=3600).start()
    assert hub.wait_for_sync(20)
    # short caches, so that a RoleBinding made in a test is seen within seconds
    server = DashboardServer(("127.0.0.1", 0), hub, client, Access(client, 1.0, 1.0, recheck=0.5))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield {"cluster": c, "admin": admin, "client": client, "url": url, "access": server.access, "hub": hub}
    finally:
        server.stop()
        hub.stop()
        stop.set()
        client.close()
        admin.close()
        c.stop()


def create(env, resource, obj, namespace=None):
    return env["admin"].create(resource, obj, namespace)


def pod(name):
    return {"metadata": {"name": name}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


def sa_token(env, namespace, name) -> str:
    """A ServiceAccount and a token for it (TokenRequest, as `kubectl create token`)."""
    create(env, "serviceaccounts", {"metadata": {"name": name}}, namespace)
    client = env["admin"]
    return client.request("POST", client.path("serviceaccounts", namespace, name, "token"),
                          body={"kind": "TokenRequest", "spec": {}}).json()["status"]["token"]


def bind(env, namespace, role, sa_namespace, sa, kind="ClusterRole"):
    create(env, "rolebindings", {
        "metadata": {"name": f"{sa}-{role}"}, "roleRef": {"apiGroup": RBAC, "kind": kind, "name": role},
        "subjects": [{"kind": "ServiceAccount", "namespace": sa_namespace, "name": sa}]}, namespace)


@pytest.fixture(scope="module")
def world(env):
    """Namespaces a and b with a pod each, a node, and a ServiceAccount a/viewer bound to
    `view` in a only."""
    a, b = (f"dash-{x}-{uuid.uuid4().hex[:5]}" for x in "ab")
    for ns in (a, b):
        create(env, "namespaces", {"metadata": {"name": ns}})
        wait(lambda: env["admin"].list("serviceaccounts", ns)["items"], f"{ns}'s default ServiceAccount")
        create(env, "pods", pod("p"), ns)
    create(env, "nodes", {"metadata": {"name": f"node-{a}"}})
    token = sa_token(env, a, "viewer")
    bind(env, a, "view", a, "viewer")
    wait(lambda: env["hub"].informers["pods"].get(f"{b}/p") is not None, "the pods in the hub")
    wait(lambda: env["admin"].get("clusterroles", "view").get("rules"), "view's rules aggregated")
    return {"a": a, "b": b, "token": token, "user": f"system:serviceaccount:{a}:viewer"}


def wait(check, what, timeout=10.0):
    deadline = time.time() + timeout
    while not check():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def get(env, path, token=None, cookie=None, **kw):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if cookie:
        headers["Cookie"] = f"minikube-py-dashboard={cookie}"
    return requests.get(env["url"] + path, headers=headers, timeout=10, allow_redirects=False, **kw)


class Stream:
    """An open /api/stream: its messages, one SSE data line at a time."""

    def __init__(self, env, token):
        self.resp = get(env, "/api/stream", token, stream=True)
        assert self.resp.status_code == 200, self.resp.text
        self.lines = self.resp.iter_lines(chunk_size=1, decode_unicode=True)   # as each arrives

    def messages(self):
        for line in self.lines:
            if line.startswith("data: "):
                yield from json.loads(line[6:])

    def close(self):
        self.resp.close()


def test_without_a_token_the_page_is_the_login_form_and_the_api_401(env):
    page = get(env, "/")
    assert page.status_code == 401 and 'action="/login"' in page.text and 'name="token"' in page.text
    for path in ("/api/stream", "/api/whoami", "/api/pods/default/x"):
        r = get(env, path)
        assert r.status_code == 401
        assert r.json() == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                            "message": "Unauthorized", "reason": "Unauthorized", "code": 401}
    assert get(env, "/static/app.js").status_code == 200        # the scripts hold no secret


def test_a_bad_token_is_401_and_the_cookie_of_one_is_cleared(env):
    r = get(env, "/?token=not-a-token")
    assert r.status_code == 401 and "did not accept that token" in r.text
    assert "Max-Age=0" in r.headers["Set-Cookie"]
    r = get(env, "/", cookie="expired.or.forged")
    assert r.status_code == 401 and "no longer accepted" in r.text
    assert get(env, "/api/stream", token="not-a-token").status_code == 401
    r = requests.post(env["url"] + "/login", data={"token": "nope"}, timeout=10, allow_redirects=False)
    assert r.status_code == 401


def test_a_good_token_in_the_url_becomes_an_httponly_cookie_and_leaves_the_url(env, world):
    r = get(env, f"/?token={world['token']}")
    assert r.status_code == 303 and r.headers["Location"] == "/"
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("minikube-py-dashboard=") and "HttpOnly" in cookie and "SameSite=Strict" in cookie
    session = requests.Session()
    page = session.get(f"{env['url']}/?token={world['token']}", timeout=10)   # follows the redirect
    assert page.status_code == 200 and page.url == env["url"] + "/" and 'id="nodes"' in page.text
    assert session.get(env["url"] + "/api/whoami", timeout=10).json()["username"] == world["user"]
    # the login form does the same
    r = requests.post(env["url"] + "/login", data={"token": world["token"]}, timeout=10, allow_redirects=False)
    assert r.status_code == 303 and "HttpOnly" in r.headers["Set-Cookie"]
    r = session.post(env["url"] + "/logout", timeout=10, allow_redirects=False)
    assert r.status_code == 303 and "Max-Age=0" in r.headers["Set-Cookie"]


def test_a_view_binding_in_one_namespace_sees_only_that_namespace(env, world):
    a, b = world["a"], world["b"]
    stream = Stream(env, world["token"])
    try:
        messages = stream.messages()
        snapshot = next(messages)
        assert snapshot["op"] == "snapshot"
        assert list(snapshot["records"]["pods"]) == [f"{a}/p"]
        assert snapshot["records"]["nodes"] == {}                 # view does not read nodes
        assert all(k.startswith(a + "/") for k in snapshot["records"]["events"])
        create(env, "pods", pod("q"), b)                           # not shown...
        create(env, "pods", pod("q"), a)                           # ... this is, and it comes after
        message = next(m for m in messages if m.get("resource") == "pods")
        assert message["key"] == f"{a}/q"
    finally:
        stream.close()
    # an admin's page shows both, and the node
    admin = Stream(env, "admin-token")
    try:
        records = next(admin.messages())["records"]
        assert {f"{a}/p", f"{b}/p"} <= set(records["pods"]) and f"node-{a}" in records["nodes"]
    finally:
        admin.close()


def test_a_pods_yaml_needs_get_pods_in_its_namespace(env, world):
    a, b = world["a"], world["b"]
    r = get(env, f"/api/pods/{a}/p", world["token"])
    assert r.status_code == 200 and "name: p" in r.json()["yaml"]
    r = get(env, f"/api/pods/{b}/p", world["token"])
    assert r.status_code == 403
    assert r.json()["reason"] == "Forbidden"
    assert r.json()["message"] == (f'pods "p" is forbidden: User "{world["user"]}" cannot get resource "pods" '
                                   f'in API group "" in the namespace "{b}"')


def test_logs_need_pods_log(env, world):
    a = world["a"]
    create(env, "roles", {"metadata": {"name": "pods-only"},
                          "rules": [{"apiGroups": [""], "resources": ["pods"], "verbs": ["get", "list", "watch"]}]}, a)
    token = sa_token(env, a, "no-logs")
    bind(env, a, "pods-only", a, "no-logs", kind="Role")
    wait(lambda: get(env, f"/api/pods/{a}/p", token).status_code == 200, "pods-only in effect")
    r = get(env, f"/api/pods/{a}/p/log?container=c", token)
    assert r.status_code == 403
    assert r.json()["message"] == (f'pods/log "p" is forbidden: User "system:serviceaccount:{a}:no-logs" cannot '
                                   f'get resource "pods/log" in API group "" in the namespace "{a}"')
    # view has pods/log: the dashboard asks the apiserver for it (the pod runs nowhere: it says so)
    r = get(env, f"/api/pods/{a}/p/log?container=c", world["token"], stream=True)
    try:
        assert r.status_code == 200 and r.headers["Content-Type"] == "text/event-stream"
        assert any(line.startswith("event: end") for line in r.iter_lines(chunk_size=1, decode_unicode=True))
    finally:
        r.close()


def test_a_user_who_may_list_pods_nowhere_gets_403(env, world):
    r = get(env, "/", "nobody-token")
    assert r.status_code == 403 and 'User "nobody" may not list pods in any namespace' in r.text
    r = get(env, "/api/stream", "nobody-token")
    assert r.status_code == 403
    assert r.json()["message"] == ('pods is forbidden: User "nobody" cannot list resource "pods" '
                                   'in API group "" at the cluster scope')


def test_a_new_binding_ends_the_stream_and_the_next_one_shows_more(env, world):
    a, b = world["a"], world["b"]
    token = sa_token(env, a, "grows")
    bind(env, a, "view", a, "grows")
    wait(lambda: get(env, f"/api/pods/{a}/p", token).status_code == 200, "grows may see a")
    stream = Stream(env, token)
    try:
        pods = next(stream.messages())["records"]["pods"]
        assert f"{a}/p" in pods and not any(k.startswith(b + "/") for k in pods)
        bind(env, b, "view", a, "grows")
        t = time.time()
        for _ in stream.lines:             # ends when the answers changed (1 s caches, 0.5 s re-check)
            assert time.time() - t < 10
        print(f"stream ended {time.time() - t:.1f} s after the RoleBinding")
    finally:
        stream.close()
    again = Stream(env, token)
    try:
        assert {f"{a}/p", f"{b}/p"} <= set(next(again.messages())["records"]["pods"])
    finally:
        again.close()


def test_answers_are_cached(env, world):
    from minikube_py.dashboard.access import Access, User
    access = Access(env["client"], 60, 60)
    user = access.authenticate(world["token"])
    assert user == User(world["user"], user.uid, user.groups, user.extra) and user.uid
    assert access.authenticate("not-a-token") is None
    assert access.allowed(user, "get", "pods", namespace=world["a"], name="p")
    assert not access.allowed(user, "get", "pods", namespace=world["b"], name="p")
    assert access.reviews == 4
    for _ in range(3):
        assert access.authenticate(world["token"]) == user and access.authenticate("not-a-token") is None
        assert access.allowed(user, "get", "pods", namespace=world["a"], name="p")
        assert not access.allowed(user, "get", "pods", namespace=world["b"], name="p")
    assert access.reviews == 4            # answered from the cache
