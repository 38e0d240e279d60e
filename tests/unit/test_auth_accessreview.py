"""The review APIs' answers, on the RBAC authorizer (and Node's) with a fixed policy."""
from __future__ import annotations

import pytest

from minikube_py.api.kinds.authorization import (LOCAL_SUBJECT_ACCESS_REVIEW, SELF_SUBJECT_ACCESS_REVIEW,
                                                 SELF_SUBJECT_RULES_REVIEW, SUBJECT_ACCESS_REVIEW)
from minikube_py.apiserver import accessreview, errors
from minikube_py.apiserver.auth import bootstrappolicy as bp
from minikube_py.apiserver.auth.authorizer import UnionAuthorizer
from minikube_py.apiserver.auth.node import NodeAuthorizer, NodeGraph
from minikube_py.apiserver.auth.rbac import RBACAuthorizer, RBACObjects
from minikube_py.apiserver.auth.user import UserInfo

VIEWER = UserInfo("system:serviceaccount:default:viewer",
                  groups=("system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"))
VIEW = {"kind": "ClusterRole", "metadata": {"name": "view"}, "rules": bp.VIEW_RULES}
POLICY = bp.cluster_roles() + bp.cluster_role_bindings() + [
    VIEW, {"kind": "RoleBinding", "metadata": {"name": "viewer", "namespace": "default"},
           "roleRef": {"kind": "ClusterRole", "name": "view"},
           "subjects": [{"kind": "ServiceAccount", "name": "viewer", "namespace": "default"}]}]
POLICY = [r for r in POLICY if r["metadata"]["name"] != "view" or r is VIEW]
NO_PODS = NodeGraph(lambda ns: [], lambda ns, n: None, lambda ns: [], lambda: [])
AUTHZ = UnionAuthorizer([NodeAuthorizer(NO_PODS), RBACAuthorizer(RBACObjects.of(POLICY))])


def can(verb, resource, namespace="default", user=VIEWER):
    body = {"spec": {"resourceAttributes": {"verb": verb, "resource": resource, "namespace": namespace}}}
    return accessreview.review(SELF_SUBJECT_ACCESS_REVIEW, None, body, user, AUTHZ)["status"]


def test_self_subject_access_review():
    assert can("list", "pods") == {"allowed": True, "reason": 'RBAC: allowed by RoleBinding "viewer/default" '
                                                             'of ClusterRole "view" to ServiceAccount "viewer/default"'}
    assert can("create", "pods") == {"allowed": False}
    assert can("list", "pods", namespace="kube-system") == {"allowed": False}


def test_subject_access_review_asks_for_the_user_in_the_spec():
    body = {"spec": {"user": "kubernetes-admin", "groups": ["system:masters"],
                     "nonResourceAttributes": {"path": "/metrics", "verb": "get"}}}
    answer = accessreview.review(SUBJECT_ACCESS_REVIEW, None, body, VIEWER, AUTHZ)
    assert answer["kind"] == "SubjectAccessReview" and answer["status"]["allowed"] is True
    with pytest.raises(errors.APIError) as err:
        accessreview.review(SUBJECT_ACCESS_REVIEW, None, {"spec": {"resourceAttributes": {}}}, VIEWER, AUTHZ)
    assert err.value.code == 422 and "at least one of user or group must be specified" in err.value.message


def test_local_subject_access_review_is_its_namespace():
    body = {"spec": {"user": VIEWER.name, "resourceAttributes": {"verb": "get", "resource": "pods"}}}
    answer = accessreview.review(LOCAL_SUBJECT_ACCESS_REVIEW, "default", body, None, AUTHZ)
    assert answer["spec"]["resourceAttributes"]["namespace"] == "default" and answer["status"]["allowed"]
    body["spec"]["resourceAttributes"]["namespace"] = "other"
    with pytest.raises(errors.APIError) as err:
        accessreview.review(LOCAL_SUBJECT_ACCESS_REVIEW, "default", body, None, AUTHZ)
    assert err.value.code == 400


def test_self_subject_rules_review_lists_the_rules():
    status = accessreview.review(SELF_SUBJECT_RULES_REVIEW, None, {"spec": {"namespace": "default"}}, VIEWER,
                                 AUTHZ)["status"]
    assert status["incomplete"] is False
    assert {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"],
            "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]} in status["resourceRules"]
    assert {"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["namespaces"]} \
        in status["resourceRules"]
    assert {"verbs": ["get"], "nonResourceURLs": bp.DISCOVERY_URLS} in status["nonResourceRules"]
    node = UserInfo("system:node:n1", groups=("system:nodes",))
    status = accessreview.review(SELF_SUBJECT_RULES_REVIEW, None, {"spec": {"namespace": "default"}}, node,
                                 AUTHZ)["status"]
    assert status["incomplete"] is True
    assert status["evaluationError"] == "node authorizer does not support user rule resolution"


def test_either_resource_or_non_resource_attributes():
    for spec in ({}, {"resourceAttributes": {}, "nonResourceAttributes": {}}):
        with pytest.raises(errors.APIError) as err:
            accessreview.review(SELF_SUBJECT_ACCESS_REVIEW, None, {"spec": spec}, VIEWER, AUTHZ)
        assert err.value.code == 422
