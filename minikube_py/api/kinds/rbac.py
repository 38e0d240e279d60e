"""rbac.authorization.k8s.io/v1: Role, ClusterRole, RoleBinding, ClusterRoleBinding.

A Role lists what may be done (rules: verbs on resources of API groups, or on
non-resource URLs such as /healthz for a ClusterRole); a binding grants a Role or
ClusterRole to subjects (Users, Groups, ServiceAccounts). Roles and bindings are
namespaced, their Cluster- twins are not. They are stored and validated here; the
RBAC authorizer that enforces them comes with the security issue.

A binding's `roleRef` cannot change: granting another role is deleting the binding
and making a new one, so nobody gains rights through an edit that looks harmless.
"""
from __future__ import annotations

from ..names import is_dns1123_subdomain
from ..selectors import LabelSelector, SelectorError
from ..validation import invalid, not_supported, required
from .columns import AGE, NAME, age_of, col
from .kind import Kind

GROUP = "rbac.authorization.k8s.io"
SUBJECT_KINDS = ("ServiceAccount", "User", "Group")


def path_segment_name(name: str) -> list:
    """ValidateRBACName: a name is a URL path segment (system:controller:x is fine)."""
    if name in (".", ".."):
        return [f"may not be '{name}'"]
    return [f"may not contain '{c}'" for c in ("/", "%") if c in name]


# ---------------------------------------------------------------- roles
def _validate_rules(rules, namespaced: bool) -> list:
    if rules is None:
        return []
    if not isinstance(rules, list):
        return [invalid("rules", rules, "must be a list")]
    causes = []
    for i, rule in enumerate(rules):
        rp = f"rules[{i}]"
        if not isinstance(rule, dict):
            causes.append(invalid(rp, rule, "must be an object"))
            continue
        if not rule.get("verbs"):
            causes.append(required(f"{rp}.verbs", "verbs must contain at least one value"))
        urls = rule.get("nonResourceURLs") or []
        if urls:
            if namespaced:
                causes.append(invalid(f"{rp}.nonResourceURLs", urls,
                                      "namespaced rules cannot apply to non-resource URLs"))
            if rule.get("apiGroups") or rule.get("resources"):
                causes.append(invalid(f"{rp}.nonResourceURLs", urls,
                                      "rules cannot apply to both regular resources and non-resource URLs"))
            continue
        if not rule.get("apiGroups"):
            causes.append(required(f"{rp}.apiGroups", "resource rules must supply at least one api group"))
        if not rule.get("resources"):
            causes.append(required(f"{rp}.resources", "resource rules must supply at least one resource"))
    return causes


def validate_role(role: dict) -> list:
    return _validate_rules(role.get("rules"), namespaced=True)


def validate_cluster_role(role: dict) -> list:
    causes = _validate_rules(role.get("rules"), namespaced=False)
    rule = role.get("aggregationRule")
    if rule is not None:
        selectors = (rule or {}).get("clusterRoleSelectors") or []
        if not selectors:
            causes.append(required("aggregationRule.clusterRoleSelectors",
                                   "at least one clusterRoleSelector required if aggregationRule is non-nil"))
        for i, sel in enumerate(selectors):
            try:
                LabelSelector.from_dict(sel)
            except SelectorError as err:
                causes.append(invalid(f"aggregationRule.clusterRoleSelectors[{i}]", sel, str(err)))
    return causes


def created_at_row(obj: dict) -> list:
    return [obj["metadata"]["name"], obj["metadata"].get("creationTimestamp")]


CREATED_AT = col("Created At", "date")

ROLE = Kind(
    GROUP, "v1", "Role", "roles", has_status=False, counts_generation=False, name_rule=path_segment_name,
    validate=validate_role, columns=(NAME, CREATED_AT), row=created_at_row,
    proto="k8s.io.api.rbac.v1.Role")

CLUSTER_ROLE = Kind(
    GROUP, "v1", "ClusterRole", "clusterroles", namespaced=False, has_status=False, counts_generation=False,
    name_rule=path_segment_name, validate=validate_cluster_role, columns=(NAME, CREATED_AT), row=created_at_row,
    proto="k8s.io.api.rbac.v1.ClusterRole")


# ---------------------------------------------------------------- bindings
def default_binding(binding: dict):
    """roleRef.apiGroup is RBAC's own; a User's or Group's apiGroup too (a ServiceAccount's is core)."""
    ref = binding.get("roleRef")
    if isinstance(ref, dict) and not ref.get("apiGroup"):
        ref["apiGroup"] = GROUP
    for subject in binding.get("subjects") or []:
        if isinstance(subject, dict) and not subject.get("apiGroup") and subject.get("kind") in ("User", "Group"):
            subject["apiGroup"] = GROUP


def _validate_binding(binding: dict, namespaced: bool) -> list:
    causes = []
    ref = binding.get("roleRef")
    if not isinstance(ref, dict):
        ref = {}
    if ref.get("apiGroup") != GROUP:
        causes.append(not_supported("roleRef.apiGroup", ref.get("apiGroup", ""), [GROUP]))
    kinds = ("Role", "ClusterRole") if namespaced else ("ClusterRole",)
    if ref.get("kind") not in kinds:
        causes.append(not_supported("roleRef.kind", ref.get("kind", ""), kinds))
    if not ref.get("name"):
        causes.append(required("roleRef.name"))
    else:
        causes += [invalid("roleRef.name", ref["name"], msg) for msg in path_segment_name(ref["name"])]
    subjects = binding.get("subjects") or []
    if not isinstance(subjects, list):
        return causes + [invalid("subjects", subjects, "must be a list")]
    for i, subject in enumerate(subjects):
        causes += _validate_subject(subject if isinstance(subject, dict) else {}, f"subjects[{i}]", namespaced)
    return causes


def _validate_subject(subject: dict, sp: str, namespaced: bool) -> list:
    causes = []
    name, kind, group = subject.get("name"), subject.get("kind"), subject.get("apiGroup", "")
    if not name:
        causes.append(required(f"{sp}.name"))
    if kind == "ServiceAccount":
        if name:
            causes += [invalid(f"{sp}.name", name, msg) for msg in is_dns1123_subdomain(name)]
        if group:
            causes.append(not_supported(f"{sp}.apiGroup", group, [""]))
        if not namespaced and not subject.get("namespace"):
            causes.append(required(f"{sp}.namespace"))
    elif kind in ("User", "Group"):
        if group != GROUP:
            causes.append(not_supported(f"{sp}.apiGroup", group, [GROUP]))
    else:
        causes.append(not_supported(f"{sp}.kind", kind or "", SUBJECT_KINDS))
    return causes


def validate_role_ref_unchanged(old: dict, new: dict) -> list:
    if (old.get("roleRef") or {}) != (new.get("roleRef") or {}):
        return [invalid("roleRef", new.get("roleRef"), "cannot change roleRef")]
    return []


def subjects_cells(binding: dict) -> list:
    """USERS, GROUPS and SERVICEACCOUNTS (-o wide); a ServiceAccount as namespace/name."""
    users, groups, sas = [], [], []
    for s in binding.get("subjects") or []:
        if s.get("kind") == "User":
            users.append(s.get("name", ""))
        elif s.get("kind") == "Group":
            groups.append(s.get("name", ""))
        elif s.get("kind") == "ServiceAccount":
            sas.append(f"{s.get('namespace', '')}/{s.get('name', '')}")
    return [", ".join(users), ", ".join(groups), ", ".join(sas)]


def binding_row(binding: dict) -> list:
    ref = binding.get("roleRef") or {}
    return [binding["metadata"]["name"], f"{ref.get('kind', '')}/{ref.get('name', '')}", age_of(binding)] \
        + subjects_cells(binding)


BINDING_COLUMNS = (NAME, col("Role"), AGE, col("Users", priority=1), col("Groups", priority=1),
                   col("ServiceAccounts", priority=1))

ROLE_BINDING = Kind(
    GROUP, "v1", "RoleBinding", "rolebindings", has_status=False, counts_generation=False,
    name_rule=path_segment_name, default=default_binding,
    validate=lambda b: _validate_binding(b, namespaced=True), validate_update=validate_role_ref_unchanged,
    columns=BINDING_COLUMNS, row=binding_row,
    proto="k8s.io.api.rbac.v1.RoleBinding")

CLUSTER_ROLE_BINDING = Kind(
    GROUP, "v1", "ClusterRoleBinding", "clusterrolebindings", namespaced=False, has_status=False,
    counts_generation=False, name_rule=path_segment_name, default=default_binding,
    validate=lambda b: _validate_binding(b, namespaced=False), validate_update=validate_role_ref_unchanged,
    columns=BINDING_COLUMNS, row=binding_row,
    proto="k8s.io.api.rbac.v1.ClusterRoleBinding")

KINDS = (ROLE, CLUSTER_ROLE, ROLE_BINDING, CLUSTER_ROLE_BINDING)
