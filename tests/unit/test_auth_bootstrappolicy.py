"""The default roles: valid objects, the bindings Kubernetes makes, reconciling adds only."""
from __future__ import annotations

import copy

from minikube_py.api.kinds import apply_defaults, validate
from minikube_py.apiserver.auth import bootstrappolicy as bp
from minikube_py.apiserver.auth.authorizer import Attributes, Decision
from minikube_py.apiserver.auth.rbac import RBACAuthorizer, RBACObjects
from minikube_py.apiserver.auth.requestinfo import RequestInfo
from minikube_py.apiserver.auth.user import UserInfo


def test_every_default_object_is_valid():
    for obj in bp.cluster_roles() + bp.cluster_role_bindings():
        obj = apply_defaults(obj["kind"], copy.deepcopy(obj))
        assert validate(obj["kind"], obj) == [], obj["metadata"]["name"]


def test_every_binding_names_a_default_role():
    roles = {r["metadata"]["name"] for r in bp.cluster_roles()}
    assert {b["roleRef"]["name"] for b in bp.cluster_role_bindings()} <= roles


def attrs(user, verb, resource="", namespace="", group="", path="", sub=""):
    return Attributes(user, RequestInfo(path=path, verb=verb, is_resource_request=bool(resource),
                                        namespace=namespace, api_group=group, resource=resource, subresource=sub))


def test_the_defaults_grant_what_kubernetes_grants():
    rbac = RBACAuthorizer(RBACObjects.of(bp.cluster_roles() + bp.cluster_role_bindings()))
    admin = UserInfo("kubernetes-admin", groups=("system:masters", "system:authenticated"))
    someone = UserInfo("someone", groups=("system:authenticated",))
    anonymous = UserInfo("system:anonymous", groups=("system:unauthenticated",))
    assert rbac.authorize(attrs(admin, "delete", "nodes"))[0] is Decision.ALLOW
    assert rbac.authorize(attrs(someone, "get", path="/apis/apps/v1"))[0] is Decision.ALLOW
    assert rbac.authorize(attrs(someone, "create", "selfsubjectaccessreviews",
                                group="authorization.k8s.io"))[0] is Decision.ALLOW
    assert rbac.authorize(attrs(someone, "list", "pods", "default"))[0] is Decision.NO_OPINION
    assert rbac.authorize(attrs(anonymous, "get", path="/version"))[0] is Decision.ALLOW
    assert rbac.authorize(attrs(anonymous, "get", path="/api"))[0] is Decision.NO_OPINION
    scheduler = UserInfo("system:kube-scheduler", groups=("system:authenticated",))
    assert rbac.authorize(attrs(scheduler, "create", "pods", "default", sub="binding"))[0] is Decision.ALLOW


def test_reconcile_adds_missing_rules_and_keeps_the_administrators():
    expected = bp.cluster_role("r", [bp.rule(("get",), [""], ["pods"]), bp.rule(("list",), [""], ["pods"])])
    existing = copy.deepcopy(expected)
    existing["rules"] = [bp.rule(("get",), [""], ["pods", "services"]), bp.rule(("delete",), [""], ["pods"])]
    new = bp.reconciled_role(existing, expected)
    assert new["rules"] == existing["rules"] + [bp.rule(("list",), [""], ["pods"])]
    assert bp.reconciled_role(new, expected) is None            # nothing more to do
    existing["metadata"]["annotations"][bp.AUTOUPDATE] = "false"  # taken over: left alone
    assert bp.reconciled_role(existing, expected) is None


def test_reconcile_adds_missing_subjects_and_aggregation_selectors():
    expected = bp.cluster_role_binding("b", "r", groups=["a", "b"])
    existing = bp.cluster_role_binding("b", "r", users=["u"], groups=["a"])
    new = bp.reconciled_binding(existing, expected)
    assert [s["name"] for s in new["subjects"]] == ["u", "a", "b"]
    admin = next(r for r in bp.cluster_roles() if r["metadata"]["name"] == "admin")
    emptied = copy.deepcopy(admin)
    emptied["aggregationRule"]["clusterRoleSelectors"] = []
    emptied["rules"] = [bp.rule(("get",), [""], ["pods"])]     # the controller's, untouched
    new = bp.reconciled_role(emptied, admin)
    assert new["aggregationRule"] == admin["aggregationRule"]
    assert new["rules"] == emptied["rules"]


def test_aggregation_gathers_admin_edit_view_from_the_labelled_roles():
    from minikube_py.controllers.clusterroleaggregation import aggregated_rules
    roles = bp.cluster_roles()
    by_name = {r["metadata"]["name"]: r for r in roles}
    # the controller writes view first, then edit (which gathers view), then admin
    for name in ("view", "edit", "admin"):
        by_name[name]["rules"] = aggregated_rules(by_name[name], roles)
    assert by_name["view"]["rules"] == bp.VIEW_RULES
    assert by_name["edit"]["rules"] == bp.EDIT_RULES + bp.VIEW_RULES
    assert by_name["admin"]["rules"] == bp.EDIT_RULES + bp.VIEW_RULES + bp.ADMIN_RULES   # by name: "edit" first
    assert aggregated_rules(by_name["admin"], roles) == by_name["admin"]["rules"]     # nothing more to do


def test_the_controller_manager_may_create_what_our_controllers_create():
    """Every kind a controller of ours POSTs (found in their code by hand: statefulset's
    claims, the provisioner's volumes, history's revisions, ...)."""
    rbac = RBACAuthorizer(RBACObjects.of(bp.cluster_roles() + bp.cluster_role_bindings()))
    cm = UserInfo("system:kube-controller-manager", groups=("system:authenticated",))
    for group, resource in (("", "pods"), ("", "persistentvolumeclaims"), ("", "persistentvolumes"),
                            ("", "endpoints"), ("", "serviceaccounts"), ("", "configmaps"), ("", "events"),
                            ("apps", "replicasets"), ("apps", "controllerrevisions"), ("batch", "jobs"),
                            ("discovery.k8s.io", "endpointslices")):
        assert rbac.authorize(attrs(cm, "create", resource, "default", group=group))[0] is Decision.ALLOW, resource


def test_the_scheduler_may_write_a_claims_selected_node():
    rbac = RBACAuthorizer(RBACObjects.of(bp.cluster_roles() + bp.cluster_role_bindings()))
    scheduler = UserInfo("system:kube-scheduler", groups=("system:authenticated",))
    assert rbac.authorize(attrs(scheduler, "patch", "persistentvolumeclaims", "default"))[0] is Decision.ALLOW
