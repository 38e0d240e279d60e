"""The authentication → authorization filter: who gets 401, who gets 403 and its words."""
import json

import pytest
from werkzeug.test import Client
from werkzeug.wrappers import Response

from minikube_py.apiserver.auth.authenticator import (Anonymous, Authentication,
                                                      TokenFile, build)
from minikube_py.apiserver.auth.authorizer import (AlwaysAllow, AlwaysDeny, Decision, UnionAuthorizer,
                                                   authorizer_from_modes)
from minikube_py.apiserver.auth.filters import AuthFilter, request_info_of, user_of
from minikube_py.apiserver.auth.user import UNSECURED, UserInfo


def echo_user(environ, start_response):
    user = user_of(environ)
    info = request_info_of(environ)
    body = {"name": user.name, "groups": list(user.groups), "verb": info.verb,
            "authorization": environ.get("HTTP_AUTHORIZATION")}
    return Response(json.dumps(body), mimetype="application/json")(environ, start_response)


@pytest.fixture
def token_file(tmp_path):
    path = tmp_path / "tokens.csv"
    path.write_text('secret-1,alice,1001,"devs,ops"\n\nsecret-2,bob,1002\n')
    return str(path)


class DenyPods:
    """An authorizer with an opinion on pods only (as the Node authorizer has on some kinds)."""

    def authorize(self, attrs):
        if attrs.resource == "pods":
            return Decision.DENY, "pods are not for you"
        return Decision.NO_OPINION, "no opinion on " + attrs.resource


def client(authentication, authorizer):
    return Client(AuthFilter(echo_user, authentication, authorizer))


def test_no_credential_and_no_anonymous_is_401_with_kubernetes_status(token_file):
    resp = client(build(token_auth_file=token_file, anonymous_auth=False), AlwaysAllow()).get("/api/v1/pods")
    assert resp.status_code == 401
    assert resp.json == {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                         "message": "Unauthorized", "reason": "Unauthorized", "code": 401}


def test_a_wrong_token_is_401_even_where_anonymous_is_allowed(token_file):
    c = client(build(token_auth_file=token_file, anonymous_auth=True), AlwaysAllow())
    assert c.get("/api/v1/pods").json["name"] == "system:anonymous"
    assert c.get("/api/v1/pods", headers={"Authorization": "Bearer nope"}).status_code == 401


def test_a_token_from_the_file_is_its_user_in_system_authenticated_and_is_not_passed_on(token_file):
    c = client(build(token_auth_file=token_file, anonymous_auth=False), AlwaysAllow())
    body = c.get("/api/v1/namespaces/a/pods", headers={"Authorization": "Bearer secret-1"}).json
    assert body == {"name": "alice", "groups": ["devs", "ops", "system:authenticated"], "verb": "list",
                    "authorization": None}
    assert c.get("/", headers={"Authorization": "bearer secret-2"}).json["groups"] == ["system:authenticated"]
    assert TokenFile(token_file).authenticate_token("secret-2") == UserInfo("bob", "1002")


def test_anonymous_limited_to_paths_is_401_elsewhere():
    c = client(Authentication(anonymous=Anonymous(["/healthz", "/version"])), AlwaysAllow())
    assert c.get("/healthz").json["groups"] == ["system:unauthenticated"]
    assert c.get("/api/v1/pods").status_code == 401


def test_forbidden_bodies_are_kubernetes_words():
    c = client(Authentication(anonymous=Anonymous()), AlwaysDeny())
    resp = c.get("/api/v1/namespaces/default/pods")
    assert resp.status_code == 403
    assert resp.json == {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": "Forbidden",
        "message": 'pods is forbidden: User "system:anonymous" cannot list resource "pods" in API group "" '
                   'in the namespace "default": Everything is forbidden.',
        "details": {"kind": "pods"}, "code": 403}
    one = c.get("/apis/apps/v1/namespaces/default/deployments/web/scale").json
    assert one["message"] == ('deployments.apps "web" is forbidden: User "system:anonymous" cannot get '
                              'resource "deployments/scale" in API group "apps" in the namespace "default": '
                              "Everything is forbidden.")
    assert one["details"] == {"name": "web", "group": "apps", "kind": "deployments"}
    nodes = c.delete("/api/v1/nodes").json
    assert nodes["message"].startswith('nodes is forbidden: User "system:anonymous" cannot deletecollection '
                                       'resource "nodes" in API group "" at the cluster scope')
    path = c.get("/logs/").json
    assert path["message"] == 'forbidden: User "system:anonymous" cannot get path "/logs/": Everything is forbidden.'
    assert path["details"] == {}


def test_union_first_opinion_wins_and_keeps_the_reasons_of_those_without_one():
    union = UnionAuthorizer([DenyPods(), AlwaysAllow()])
    c = client(Authentication(anonymous=Anonymous()), union)
    assert c.get("/api/v1/namespaces/a/pods").json["message"].endswith(": pods are not for you")
    assert c.get("/api/v1/namespaces/a/services").status_code == 200
    only_deny = client(Authentication(anonymous=Anonymous()), UnionAuthorizer([DenyPods(), AlwaysDeny()]))
    assert only_deny.get("/api/v1/services").json["message"].endswith(
        ': no opinion on services\nEverything is forbidden.')


def test_modes():
    assert isinstance(authorizer_from_modes(["AlwaysAllow"], None), AlwaysAllow)
    assert isinstance(authorizer_from_modes(["AlwaysDeny", "AlwaysAllow"], None), UnionAuthorizer)
    with pytest.raises(ValueError, match="not a valid mode"):
        authorizer_from_modes(["Webhook"], None)
    with pytest.raises(ValueError, match="duplicate"):
        authorizer_from_modes(["AlwaysAllow", "AlwaysAllow"], None)


def test_without_the_filter_everyone_is_the_unsecured_master():
    body = Client(echo_user).get("/api/v1/pods").json
    assert body["name"] == UNSECURED.name and "system:masters" in body["groups"]


def test_a_bad_token_file_says_so(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("only,two\n")
    with pytest.raises(ValueError, match="at least 3 columns"):
        TokenFile(str(path))
