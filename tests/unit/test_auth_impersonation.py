"""Impersonation headers: who may act as whom, and who the request then is."""
from __future__ import annotations

import pytest

from minikube_py.apiserver.auth import bootstrappolicy as bp
from minikube_py.apiserver.auth.impersonation import ImpersonationRefused, impersonate
from minikube_py.apiserver.auth.rbac import RBACAuthorizer, RBACObjects
from minikube_py.apiserver.auth.user import UserInfo

IMPERSONATOR = {"kind": "ClusterRole", "metadata": {"name": "impersonator"},
                "rules": [{"verbs": ["impersonate"], "apiGroups": [""], "resources": ["users", "groups"]},
                          {"verbs": ["impersonate"], "apiGroups": [""], "resources": ["serviceaccounts"]}]}
POLICY = RBACObjects.of(bp.cluster_roles() + bp.cluster_role_bindings() + [IMPERSONATOR, {
    "kind": "ClusterRoleBinding", "metadata": {"name": "impersonator"},
    "roleRef": {"kind": "ClusterRole", "name": "impersonator"}, "subjects": [{"kind": "User", "name": "alice"}]}])
ALICE = UserInfo("alice", groups=("system:authenticated",))


def test_an_allowed_impersonation_becomes_the_user():
    environ = {"HTTP_IMPERSONATE_USER": "bob", "HTTP_IMPERSONATE_GROUP": "devs, ops", "PATH_INFO": "/api"}
    user = impersonate(environ, ALICE, RBACAuthorizer(POLICY))
    assert user == UserInfo("bob", groups=("devs", "ops", "system:authenticated"))
    assert environ == {"PATH_INFO": "/api"}          # the headers are gone


def test_a_service_account_gets_its_groups():
    environ = {"HTTP_IMPERSONATE_USER": "system:serviceaccount:default:viewer"}
    assert impersonate(environ, ALICE, RBACAuthorizer(POLICY)).groups == (
        "system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated")


def test_refusals():
    with pytest.raises(ImpersonationRefused) as refused:
        impersonate({"HTTP_IMPERSONATE_USER": "alice"}, UserInfo("bob"), RBACAuthorizer(POLICY))
    assert (refused.value.code, refused.value.attrs.verb, refused.value.attrs.resource) == (403, "impersonate", "users")
    with pytest.raises(ImpersonationRefused) as refused:
        impersonate({"HTTP_IMPERSONATE_USER": "x", "HTTP_IMPERSONATE_UID": "1"}, ALICE, RBACAuthorizer(POLICY))
    assert refused.value.attrs.resource == "uids"
    with pytest.raises(ImpersonationRefused) as refused:
        impersonate({"HTTP_IMPERSONATE_GROUP": "devs"}, ALICE, RBACAuthorizer(POLICY))
    assert refused.value.code == 400
