"""RBAC rule matching and binding resolution, as Kubernetes' rbac authorizer decides."""
from __future__ import annotations

import pytest

from minikube_py.apiserver.auth.authorizer import Attributes, Decision
from minikube_py.apiserver.auth.rbac import RBACAuthorizer, RBACObjects, rule_allows
from minikube_py.apiserver.auth.requestinfo import RequestInfo
from minikube_py.apiserver.auth.user import UserInfo

ALICE = UserInfo("alice", groups=("devs", "system:authenticated"))


def res(verb, resource, namespace="default", group="", sub="", name="", user=ALICE):
    return Attributes(user, RequestInfo(path="", verb=verb, is_resource_request=True, namespace=namespace,
                                        api_group=group, resource=resource, subresource=sub, name=name))


def url(verb, path, user=ALICE):
    return Attributes(user, RequestInfo(path=path, verb=verb))


@pytest.mark.parametrize("rule, attrs, allowed", [
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}, res("get", "pods"), True),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}, res("list", "pods"), False),
    ({"verbs": ["*"], "apiGroups": [""], "resources": ["pods"]}, res("delete", "pods"), True),
    ({"verbs": ["get"], "apiGroups": ["apps"], "resources": ["pods"]}, res("get", "pods"), False),
    ({"verbs": ["get"], "apiGroups": ["*"], "resources": ["deployments"]},
     res("get", "deployments", group="apps"), True),
    # a subresource is its own resource: "pods" does not grant "pods/log"
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods"]}, res("get", "pods", sub="log"), False),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods/log"]}, res("get", "pods", sub="log"), True),
    ({"verbs": ["get"], "apiGroups": [""], "resources": ["pods/log"]}, res("get", "pods"), False),
    ({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*/scale"]},
     res("update", "deployments", group="apps", sub="scale"), True),
    ({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*/scale"]}, res("update", "deployments", group="apps"),
     False),
    ({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}, res("get", "pods", sub="exec"), True),
    # resourceNames: only those objects (a list has no name, so it is not granted)
    ({"verbs": ["get", "list"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["a"]},
     res("get", "configmaps", name="a"), True),
    ({"verbs": ["get", "list"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["a"]},
     res("get", "configmaps", name="b"), False),
    ({"verbs": ["get", "list"], "apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["a"]},
     res("list", "configmaps"), False),
    # non-resource URLs: exact, or a prefix ending in *
    ({"verbs": ["get"], "nonResourceURLs": ["/healthz"]}, url("get", "/healthz"), True),
    ({"verbs": ["get"], "nonResourceURLs": ["/healthz"]}, url("get", "/healthz/etcd"), False),
    ({"verbs": ["get"], "nonResourceURLs": ["/healthz/*"]}, url("get", "/healthz/etcd"), True),
    ({"verbs": ["get"], "nonResourceURLs": ["/apis*"]}, url("get", "/apis/apps"), True),
    ({"verbs": ["get"], "nonResourceURLs": ["*"]}, url("get", "/metrics"), True),
    ({"verbs": ["get"], "nonResourceURLs": ["/metrics"]}, url("post", "/metrics"), False),
    # a resource rule grants no URL, a URL rule no resource
    ({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}, url("get", "/healthz"), False),
    ({"verbs": ["*"], "nonResourceURLs": ["*"]}, res("get", "pods"), False),
])
def test_one_rule(rule, attrs, allowed):
    assert rule_allows(attrs, rule) is allowed


def cluster_role(name, rules):
    return {"kind": "ClusterRole", "metadata": {"name": name}, "rules": rules}


def role(namespace, name, rules):
    return {"kind": "Role", "metadata": {"name": name, "namespace": namespace}, "rules": rules}


def binding(kind, name, role_kind, role_name, subjects, namespace=""):
    md = {"name": name, **({"namespace": namespace} if namespace else {})}
    return {"kind": kind, "metadata": md, "subjects": subjects,
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": role_kind, "name": role_name}}


READ_PODS = [{"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["pods"]}]
POLICY = RBACObjects.of([
    cluster_role("cluster-admin", [{"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]},
                                   {"verbs": ["*"], "nonResourceURLs": ["*"]}]),
    cluster_role("pod-reader", READ_PODS),
    role("team", "cm-writer", [{"verbs": ["create"], "apiGroups": [""], "resources": ["configmaps"]}]),
    binding("ClusterRoleBinding", "cluster-admin", "ClusterRole", "cluster-admin",
            [{"kind": "Group", "name": "system:masters"}]),
    # a RoleBinding to a ClusterRole grants its rules in the binding's namespace only
    binding("RoleBinding", "read-pods", "ClusterRole", "pod-reader",
            [{"kind": "User", "name": "alice"}], namespace="team"),
    binding("RoleBinding", "cm", "Role", "cm-writer", [{"kind": "Group", "name": "devs"}], namespace="team"),
    # a ServiceAccount subject without a namespace is one of the binding's namespace
    binding("RoleBinding", "sa", "ClusterRole", "pod-reader", [{"kind": "ServiceAccount", "name": "viewer"}],
            namespace="team"),
    binding("RoleBinding", "dangling", "Role", "gone", [{"kind": "User", "name": "bob"}], namespace="team"),
])


def test_a_binding_grants_its_role_to_its_subjects_only_where_it_applies():
    rbac = RBACAuthorizer(POLICY)
    assert rbac.authorize(res("list", "pods", namespace="team")) == (
        Decision.ALLOW, 'RBAC: allowed by RoleBinding "read-pods/team" of ClusterRole "pod-reader" to User "alice"')
    assert rbac.authorize(res("list", "pods", namespace="default")) == (Decision.NO_OPINION, "")
    assert rbac.authorize(res("list", "pods", namespace="")) == (Decision.NO_OPINION, "")
    assert rbac.authorize(res("create", "configmaps", namespace="team"))[0] is Decision.ALLOW
    assert rbac.authorize(res("create", "pods", namespace="team"))[0] is Decision.NO_OPINION


def test_cluster_role_bindings_apply_everywhere_and_to_groups():
    admin = UserInfo("kubernetes-admin", groups=("system:masters",))
    decision, reason = RBACAuthorizer(POLICY).authorize(res("delete", "nodes", namespace="", user=admin))
    assert decision is Decision.ALLOW
    assert reason == ('RBAC: allowed by ClusterRoleBinding "cluster-admin" of ClusterRole "cluster-admin" '
                      'to Group "system:masters"')
    assert RBACAuthorizer(POLICY).authorize(url("get", "/metrics", user=admin))[0] is Decision.ALLOW


def test_service_account_subjects_are_their_username():
    sa = UserInfo("system:serviceaccount:team:viewer", groups=("system:serviceaccounts",))
    other = UserInfo("system:serviceaccount:default:viewer")
    rbac = RBACAuthorizer(POLICY)
    assert rbac.authorize(res("get", "pods", namespace="team", user=sa)) == (
        Decision.ALLOW, 'RBAC: allowed by RoleBinding "sa/team" of ClusterRole "pod-reader" '
                        'to ServiceAccount "viewer/team"')
    assert rbac.authorize(res("get", "pods", namespace="team", user=other))[0] is Decision.NO_OPINION


def test_a_binding_to_a_missing_role_is_the_reason_of_a_refusal():
    bob = UserInfo("bob")
    assert RBACAuthorizer(POLICY).authorize(res("get", "pods", namespace="team", user=bob)) == (
        Decision.NO_OPINION, 'RBAC: role.rbac.authorization.k8s.io "gone" not found')


def test_rules_for_lists_cluster_wide_and_namespace_rules():
    rules, errors = RBACAuthorizer(POLICY).rules_for(ALICE, "team")
    assert errors == []
    assert READ_PODS[0] in rules
    assert {"verbs": ["create"], "apiGroups": [""], "resources": ["configmaps"]} in rules
    assert RBACAuthorizer(POLICY).rules_for(ALICE, "default") == ([], [])
