"""The default ClusterRoles and ClusterRoleBindings every cluster starts with.

Kubernetes' plugin/pkg/auth/authorizer/rbac/bootstrappolicy, for the components this
cluster has. The apiserver reconciles them when it starts (`reconcile`, as its
rbac/bootstrap-roles post-start hook does): a missing one is created; one that exists
and carries `rbac.authorization.kubernetes.io/autoupdate: "true"` gets the rules (or
subjects) it lacks added, never removed, so an administrator's additions stay and a
role they took over (autoupdate "false") is left alone.

The user-facing roles aggregate: `admin`, `edit` and `view` have no rules of their
own but an aggregationRule; the aggregation controller (controllers/
clusterroleaggregation.py) fills in the rules of every ClusterRole labelled
`rbac.authorization.k8s.io/aggregate-to-<role>: "true"` -- the system:aggregate-to-*
ones here, and any a CRD's installer adds. `edit` is itself aggregated into `admin`,
and `view` into `edit`, so each includes the next.

Our control-plane components each have a user (their client certificate's CN) and a
role with what they do: system:kube-scheduler, system:kube-controller-manager (which,
unlike kube-controller-manager with --use-service-account-credentials, runs every
controller under one identity, so its role is the union of the controllers' roles),
system:kube-proxy (system:node-proxier), system:coredns (our cluster DNS; kubeadm's
name for the role CoreDNS gets), system:tf-operator and system:minikube-py:dashboard
(the web dashboard: read what it shows, review its users' tokens and access).
Kubelets (system:node:<name>) are authorized by the Node authorizer (node.py); the
system:node role is not bound, as in Kubernetes since 1.8.
"""
from __future__ import annotations

import copy
import logging
import time

log = logging.getLogger(__name__)

RBAC_GROUP = "rbac.authorization.k8s.io"
AUTOUPDATE = "rbac.authorization.kubernetes.io/autoupdate"
BOOTSTRAPPING = {"kubernetes.io/bootstrapping": "rbac-defaults"}
AGGREGATE_TO = "rbac.authorization.k8s.io/aggregate-to-"

READ = ("get", "list", "watch")
WRITE = ("create", "update", "patch", "delete", "deletecollection")
ALL = ("*",)


def rule(verbs, groups=None, resources=None, names=None, urls=None) -> dict:
    """A PolicyRule: resource rule (groups + resources) or a non-resource one (urls)."""
    r = {"verbs": list(verbs)}
    if urls is not None:
        r["nonResourceURLs"] = list(urls)
        return r
    r["apiGroups"] = list(groups)
    r["resources"] = list(resources)
    if names:
        r["resourceNames"] = list(names)
    return r


def cluster_role(name: str, rules=(), labels=None, aggregate_from: str | None = None) -> dict:
    role = {"apiVersion": f"{RBAC_GROUP}/v1", "kind": "ClusterRole",
            "metadata": {"name": name, "labels": {**BOOTSTRAPPING, **(labels or {})},
                         "annotations": {AUTOUPDATE: "true"}},
            "rules": list(rules)}
    if aggregate_from:
        role["aggregationRule"] = {"clusterRoleSelectors": [
            {"matchLabels": {AGGREGATE_TO + aggregate_from: "true"}}]}
    return role


def cluster_role_binding(name: str, role: str, users=(), groups=(), service_accounts=()) -> dict:
    subjects = [{"apiGroup": RBAC_GROUP, "kind": "User", "name": u} for u in users]
    subjects += [{"apiGroup": RBAC_GROUP, "kind": "Group", "name": g} for g in groups]
    subjects += [{"kind": "ServiceAccount", "namespace": ns, "name": n} for ns, n in service_accounts]
    return {"apiVersion": f"{RBAC_GROUP}/v1", "kind": "ClusterRoleBinding",
            "metadata": {"name": name, "labels": dict(BOOTSTRAPPING), "annotations": {AUTOUPDATE: "true"}},
            "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": role},
            "subjects": subjects}


def aggregated_into(role: str) -> dict:
    return {AGGREGATE_TO + role: "true"}


# ------------------------------------------------------------------ the roles people get
VIEW_RULES = [
    rule(READ, [""], ["pods", "replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts",
                      "services", "services/status", "endpoints", "persistentvolumeclaims",
                      "persistentvolumeclaims/status", "configmaps"]),
    rule(READ, [""], ["limitranges", "resourcequotas", "bindings", "events", "pods/status",
                      "resourcequotas/status", "namespaces/status", "replicationcontrollers/status",
                      "pods/log"]),
    rule(READ, [""], ["namespaces"]),
    rule(READ, ["discovery.k8s.io"], ["endpointslices"]),
    rule(READ, ["apps"], ["controllerrevisions", "statefulsets", "statefulsets/scale", "statefulsets/status",
                          "daemonsets", "daemonsets/status", "deployments", "deployments/scale",
                          "deployments/status", "replicasets", "replicasets/scale", "replicasets/status"]),
    rule(READ, ["autoscaling"], ["horizontalpodautoscalers", "horizontalpodautoscalers/status"]),
    rule(READ, ["batch"], ["jobs", "cronjobs", "cronjobs/status", "jobs/status"]),
    rule(READ, ["policy"], ["poddisruptionbudgets", "poddisruptionbudgets/status"]),
    rule(READ, ["metrics.k8s.io"], ["pods", "nodes"]),
]

EDIT_RULES = [
    rule(("impersonate",), [""], ["serviceaccounts"]),
    rule(WRITE, [""], ["pods", "pods/attach", "pods/proxy", "pods/exec", "pods/portforward"]),
    rule(("create",), [""], ["pods/eviction"]),
    rule(WRITE, [""], ["replicationcontrollers", "replicationcontrollers/scale", "serviceaccounts", "services",
                       "services/proxy", "persistentvolumeclaims", "configmaps", "secrets", "events"]),
    rule(("create",), [""], ["serviceaccounts/token"]),
    rule(WRITE, ["apps"], ["statefulsets", "statefulsets/scale", "daemonsets", "deployments",
                           "deployments/rollback", "deployments/scale", "replicasets", "replicasets/scale"]),
    rule(WRITE, ["autoscaling"], ["horizontalpodautoscalers"]),
    rule(WRITE, ["batch"], ["jobs", "cronjobs"]),
    rule(WRITE, ["policy"], ["poddisruptionbudgets"]),
    rule(READ, [""], ["pods/attach", "pods/proxy", "pods/exec", "pods/portforward", "secrets",
                      "services/proxy"]),
    rule(READ, ["kubeflow.org"], ["tfjobs", "tfjobs/status"]),
    rule(WRITE, ["kubeflow.org"], ["tfjobs"]),
]

ADMIN_RULES = [
    rule(("create",), ["authorization.k8s.io"], ["localsubjectaccessreviews"]),
    rule(READ + WRITE, [RBAC_GROUP], ["rolebindings", "roles"]),
]

# ------------------------------------------------------------------ the components
SCHEDULER_RULES = [
    rule(("create", "patch", "update"), ["", "events.k8s.io"], ["events"]),
    rule(("create",), ["coordination.k8s.io"], ["leases"]),
    rule(("get", "update"), ["coordination.k8s.io"], ["leases"], names=["kube-scheduler"]),
    rule(READ, [""], ["nodes"]),
    rule(READ + ("delete",), [""], ["pods"]),
    rule(("create",), [""], ["bindings", "pods/binding"]),
    rule(("patch", "update"), [""], ["pods/status"]),
    rule(READ, [""], ["replicationcontrollers", "services", "namespaces", "persistentvolumeclaims",
                      "persistentvolumes"]),
    rule(READ, ["apps"], ["replicasets", "statefulsets"]),
    rule(READ, ["policy"], ["poddisruptionbudgets"]),
    rule(READ, ["storage.k8s.io"], ["storageclasses"]),
    rule(("create",), ["authentication.k8s.io"], ["tokenreviews"]),
    rule(("create",), ["authorization.k8s.io"], ["subjectaccessreviews"]),
]

# The scheduler's volume binding (WaitForFirstConsumer) writes the claim's selected node:
# Kubernetes' system:volume-scheduler, bound to system:kube-scheduler.
VOLUME_SCHEDULER_RULES = [
    rule(READ + ("patch", "update"), [""], ["persistentvolumes", "persistentvolumeclaims"]),
    rule(READ, ["storage.k8s.io"], ["storageclasses"]),
]

# Our controller-manager runs every controller under one user: the union of what
# Kubernetes' per-controller roles (system:controller:*) grant. The garbage collector
# and the namespace controller read and delete objects of every kind (CRDs' included);
# the rest create the kinds they own.
CONTROLLER_MANAGER_RULES = [
    rule(READ + ("patch", "update", "delete", "deletecollection"), ["*"], ["*"]),
    rule(("create",), [""], ["pods", "events", "endpoints", "serviceaccounts", "configmaps", "secrets",
                             "persistentvolumes", "persistentvolumeclaims", "pods/eviction", "pods/binding",
                             "serviceaccounts/token"]),
    rule(("create",), ["events.k8s.io"], ["events"]),
    rule(("create",), ["apps"], ["replicasets", "controllerrevisions"]),
    rule(("create",), ["batch"], ["jobs"]),
    rule(("create",), ["discovery.k8s.io"], ["endpointslices"]),
    rule(("create",), ["coordination.k8s.io"], ["leases"]),
    rule(("create",), ["authentication.k8s.io"], ["tokenreviews"]),
    rule(("create",), ["authorization.k8s.io"], ["subjectaccessreviews"]),
]

NODE_PROXIER_RULES = [
    rule(READ, [""], ["services", "endpoints", "nodes"]),
    rule(READ, ["discovery.k8s.io"], ["endpointslices"]),
    rule(("create", "patch", "update"), ["", "events.k8s.io"], ["events"]),
]

KUBE_DNS_RULES = [
    rule(READ, [""], ["endpoints", "services", "pods", "namespaces"]),
    rule(READ, ["discovery.k8s.io"], ["endpointslices"]),
    # our DNS add-on writes its own kube-system/kube-dns Service and Endpoints (dns/addon.py)
    rule(("create",), [""], ["services", "endpoints"]),
    rule(("update", "patch"), [""], ["services", "endpoints"], names=["kube-dns"]),
]

TF_OPERATOR_RULES = [
    rule(READ + WRITE, ["kubeflow.org"], ["tfjobs", "tfjobs/status", "tfjobs/finalizers"]),
    rule(READ + WRITE, [""], ["pods", "services", "configmaps"]),
    rule(("create", "patch", "update"), ["", "events.k8s.io"], ["events"]),
    rule(READ + ("create", "update"), ["apiextensions.k8s.io"], ["customresourcedefinitions"]),
    rule(READ + ("create", "update"), ["coordination.k8s.io"], ["leases"]),
]

# What a kubelet needs beyond its own objects (node.py checks those): Kubernetes' NodeRules.
NODE_RULES = [
    rule(("create", "get", "list", "watch", "update", "patch"), [""], ["nodes"]),
    rule(("update", "patch"), [""], ["nodes/status"]),
    rule(READ + ("delete",), [""], ["pods"]),
    rule(("update", "patch"), [""], ["pods/status"]),
    rule(("create",), [""], ["pods/eviction"]),
    rule(("create", "update", "patch"), ["", "events.k8s.io"], ["events"]),
    rule(READ, [""], ["services", "endpoints"]),
    rule(("get",), [""], ["secrets", "configmaps", "persistentvolumeclaims", "persistentvolumes"]),
    rule(("create",), [""], ["serviceaccounts/token"]),
    rule(("get", "create", "update", "patch", "delete"), ["coordination.k8s.io"], ["leases"]),
    rule(("create",), ["authentication.k8s.io"], ["tokenreviews"]),
    rule(("create",), ["authorization.k8s.io"], ["subjectaccessreviews", "localsubjectaccessreviews"]),
    rule(READ, ["storage.k8s.io"], ["storageclasses"]),
]

# Full use of the kubelet API (kubelet/auth.py asks about nodes/<subresource>): Kubernetes'
# system:kubelet-api-admin, not bound by default; bind it to whoever must reach kubelets.
KUBELET_API_ADMIN_RULES = [
    rule(READ, [""], ["nodes"]),
    rule(("proxy",), [""], ["nodes"]),
    rule(ALL, [""], ["nodes/proxy", "nodes/metrics", "nodes/stats", "nodes/log"]),
]

DISCOVERY_URLS = ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*",
                  "/readyz", "/version", "/version/"]
PUBLIC_INFO_URLS = ["/healthz", "/livez", "/readyz", "/version", "/version/"]

TF_OPERATOR_USER = "system:tf-operator"

# The web dashboard (dashboard/): its informers read what the page shows, it reads a pod's
# YAML and log and the kubelets' Summary (nodes/proxy: which GPU each pod got), and it asks
# the apiserver about its users, as Kubernetes' system:auth-delegator allows.
DASHBOARD_USER = "system:minikube-py:dashboard"
DASHBOARD_RULES = [
    rule(READ, [""], ["nodes", "pods", "events", "namespaces"]),
    rule(("get",), [""], ["pods/log", "nodes/proxy"]),
    rule(READ, ["apps"], ["deployments", "replicasets"]),
    rule(READ, ["kubeflow.org"], ["tfjobs"]),
    rule(("get", "list"), ["metrics.k8s.io"], ["nodes", "pods"]),
    rule(("create",), ["authentication.k8s.io"], ["tokenreviews"]),
    rule(("create",), ["authorization.k8s.io"], ["subjectaccessreviews"]),
]


def cluster_roles() -> list[dict]:
    return [
        cluster_role("cluster-admin", [rule(ALL, ["*"], ["*"]), rule(ALL, urls=["*"])]),
        cluster_role("system:discovery", [rule(("get",), urls=DISCOVERY_URLS)]),
        cluster_role("system:public-info-viewer", [rule(("get",), urls=PUBLIC_INFO_URLS)]),
        cluster_role("system:basic-user", [
            rule(("create",), ["authorization.k8s.io"], ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]),
            rule(("create",), ["authentication.k8s.io"], ["selfsubjectreviews"])]),
        cluster_role("admin", aggregate_from="admin"),
        cluster_role("edit", labels=aggregated_into("admin"), aggregate_from="edit"),
        cluster_role("view", labels=aggregated_into("edit"), aggregate_from="view"),
        cluster_role("system:aggregate-to-admin", ADMIN_RULES, labels=aggregated_into("admin")),
        cluster_role("system:aggregate-to-edit", EDIT_RULES, labels=aggregated_into("edit")),
        cluster_role("system:aggregate-to-view", VIEW_RULES, labels=aggregated_into("view")),
        cluster_role("system:node", NODE_RULES),
        cluster_role("system:node-proxier", NODE_PROXIER_RULES),
        cluster_role("system:kubelet-api-admin", KUBELET_API_ADMIN_RULES),
        cluster_role("system:kube-scheduler", SCHEDULER_RULES),
        cluster_role("system:volume-scheduler", VOLUME_SCHEDULER_RULES),
        cluster_role("system:kube-controller-manager", CONTROLLER_MANAGER_RULES),
        cluster_role("system:kube-dns", KUBE_DNS_RULES),
        cluster_role("system:coredns", KUBE_DNS_RULES),
        cluster_role("system:tf-operator", TF_OPERATOR_RULES),
        cluster_role(DASHBOARD_USER, DASHBOARD_RULES),
    ]


def cluster_role_bindings() -> list[dict]:
    return [
        cluster_role_binding("cluster-admin", "cluster-admin", groups=["system:masters"]),
        cluster_role_binding("system:discovery", "system:discovery", groups=["system:authenticated"]),
        cluster_role_binding("system:basic-user", "system:basic-user", groups=["system:authenticated"]),
        cluster_role_binding("system:public-info-viewer", "system:public-info-viewer",
                             groups=["system:authenticated", "system:unauthenticated"]),
        cluster_role_binding("system:node", "system:node"),     # no subjects: the Node authorizer decides
        cluster_role_binding("system:node-proxier", "system:node-proxier", users=["system:kube-proxy"]),
        cluster_role_binding("system:kube-scheduler", "system:kube-scheduler", users=["system:kube-scheduler"]),
        cluster_role_binding("system:volume-scheduler", "system:volume-scheduler", users=["system:kube-scheduler"]),
        cluster_role_binding("system:kube-controller-manager", "system:kube-controller-manager",
                             users=["system:kube-controller-manager"]),
        cluster_role_binding("system:kube-dns", "system:kube-dns", service_accounts=[("kube-system", "kube-dns")]),
        # our DNS runs as CoreDNS does (kubeadm's system:coredns), with a certificate of that name
        cluster_role_binding("system:coredns", "system:coredns", users=["system:coredns"],
                             service_accounts=[("kube-system", "coredns")]),
        cluster_role_binding("system:tf-operator", "system:tf-operator", users=[TF_OPERATOR_USER]),
        cluster_role_binding(DASHBOARD_USER, DASHBOARD_USER, users=[DASHBOARD_USER]),
    ]


# ------------------------------------------------------------------ reconciling
def reconciled_role(existing: dict, expected: dict) -> dict | None:
    """The role `existing` should become (its missing rules and selectors added), or None
    when nothing is to change -- because nothing is missing, or it is not ours to update."""
    if (existing["metadata"].get("annotations") or {}).get(AUTOUPDATE) != "true":
        return None
    new = copy.deepcopy(existing)
    changed = _add_missing(new["metadata"].setdefault("labels", {}), expected["metadata"].get("labels") or {})
    changed |= _add_missing(new["metadata"].setdefault("annotations", {}),
                            expected["metadata"].get("annotations") or {})
    if expected.get("aggregationRule"):
        # the rules of an aggregated role are the aggregation controller's to write
        selectors = new.setdefault("aggregationRule", {}).setdefault("clusterRoleSelectors", [])
        for selector in expected["aggregationRule"]["clusterRoleSelectors"]:
            if selector not in selectors:
                selectors.append(selector)
                changed = True
    else:
        rules = new.setdefault("rules", [])
        for r in expected.get("rules") or []:
            if not any(covers(have, r) for have in rules):
                rules.append(r)
                changed = True
    return new if changed else None


def reconciled_binding(existing: dict, expected: dict) -> dict | None:
    """The binding with the subjects it lacks, or None (see reconciled_role)."""
    if (existing["metadata"].get("annotations") or {}).get(AUTOUPDATE) != "true":
        return None
    new = copy.deepcopy(existing)
    changed = _add_missing(new["metadata"].setdefault("labels", {}), expected["metadata"].get("labels") or {})
    subjects = new.get("subjects") or []
    for s in expected.get("subjects") or []:
        if s not in subjects:
            subjects.append(s)
            changed = True
    new["subjects"] = subjects
    return new if changed else None


def _add_missing(have: dict, want: dict) -> bool:
    missing = {k: v for k, v in want.items() if k not in have}
    have.update(missing)
    return bool(missing)


def covers(have: dict, want: dict) -> bool:
    """Does rule `have` grant everything rule `want` does? (Kubernetes' rule coverage, for
    the common shapes: each field of `want` is a subset of `have`'s, "*" covering all.)"""
    def subset(field):
        h, w = have.get(field) or [], want.get(field) or []
        return "*" in h or set(w) <= set(h)
    if bool(have.get("nonResourceURLs")) != bool(want.get("nonResourceURLs")):
        return False
    if have.get("resourceNames") and not set(want.get("resourceNames") or []) <= set(have["resourceNames"]):
        return False
    if not want.get("resourceNames") and have.get("resourceNames"):
        return False
    fields = ("verbs", "nonResourceURLs") if want.get("nonResourceURLs") else ("verbs", "apiGroups", "resources")
    return all(subset(f) for f in fields)


def reconcile(registry, attempts: int = 20) -> None:
    """Create the default roles and bindings that are missing, add what is missing to
    ours (autoupdate). Several apiservers may do it at once: a 409 is looked at again."""
    from ...api.kinds.rbac import CLUSTER_ROLE, CLUSTER_ROLE_BINDING
    from .. import errors
    for rt, objects, reconciled in ((CLUSTER_ROLE, cluster_roles(), reconciled_role),
                                    (CLUSTER_ROLE_BINDING, cluster_role_bindings(), reconciled_binding)):
        for expected in objects:
            name = expected["metadata"]["name"]
            for attempt in range(attempts):
                try:
                    try:
                        existing = registry.get(rt, None, name)
                    except errors.APIError as err:
                        if err.code != 404:
                            raise
                        registry.create(rt, None, copy.deepcopy(expected))
                        log.info("created %s %s", rt.kind, name)
                        break
                    new = reconciled(existing, expected)
                    if new is not None:
                        registry.update(rt, None, name, new)
                        log.info("added what was missing to %s %s", rt.kind, name)
                    break
                except errors.APIError as err:
                    if err.code != 409 or attempt == attempts - 1:
                        raise
                    time.sleep(0.05)
