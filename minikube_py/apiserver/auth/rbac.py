"""The RBAC authorizer: may this user do this verb on this resource (or URL)?

Kubernetes' plugin/pkg/auth/authorizer/rbac, smaller. A request is allowed when some
rule grants it; RBAC never denies, it only has no opinion (another authorizer may
still allow, and the union of all of them says 403 when none did). The rules a user
has come from:

  - every ClusterRoleBinding whose subjects include the user: its ClusterRole's rules,
    everywhere;
  - in the request's namespace, every RoleBinding whose subjects include the user: its
    Role's (or ClusterRole's) rules, in that namespace only.

A rule matches on verbs, apiGroups, resources ("pods", "pods/log", "*", "*/scale"),
resourceNames (empty: any), or for a non-resource request on nonResourceURLs (exact,
or a prefix ending in "*"). A ServiceAccount subject is the user
`system:serviceaccount:<namespace>:<name>`.

The Roles and bindings are read from the apiserver's own watch-fed copies
(`RBACObjects`, see lister.py), never from etcd on the request path.

The reason strings are Kubernetes': an allow says which binding allowed it
(`RBAC: allowed by ClusterRoleBinding "cluster-admin" of ClusterRole "cluster-admin"
to Group "system:masters"`); a refusal says "" unless a binding pointed at a role
that does not exist. SubjectAccessReview hands them back in `status.reason`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Optional

from .authorizer import Decision

SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"


# ---------------------------------------------------------------- one rule
def verb_matches(rule: dict, verb: str) -> bool:
    verbs = rule.get("verbs") or ()
    return "*" in verbs or verb in verbs


def api_group_matches(rule: dict, group: str) -> bool:
    groups = rule.get("apiGroups") or ()
    return "*" in groups or group in groups


def resource_matches(rule: dict, combined: str, subresource: str) -> bool:
    """`combined` is "pods" or "pods/log"; "*/log" matches any resource's log."""
    for resource in rule.get("resources") or ():
        if resource == "*" or resource == combined:
            return True
        if subresource and resource == "*/" + subresource:
            return True
    return False


def resource_name_matches(rule: dict, name: str) -> bool:
    names = rule.get("resourceNames") or ()
    return not names or name in names


def non_resource_url_matches(rule: dict, path: str) -> bool:
    for url in rule.get("nonResourceURLs") or ():
        if url == "*" or url == path:
            return True
        if url.endswith("*") and path.startswith(url.rstrip("*")):
            return True
    return False


def rule_allows(attrs, rule: dict) -> bool:
    """Does one PolicyRule grant the request described by `attrs`?"""
    if not verb_matches(rule, attrs.verb):
        return False
    if not attrs.is_resource_request:
        return non_resource_url_matches(rule, attrs.path)
    combined = attrs.resource + ("/" + attrs.subresource if attrs.subresource else "")
    return (api_group_matches(rule, attrs.api_group)
            and resource_matches(rule, combined, attrs.subresource or "")
            and resource_name_matches(rule, attrs.name or ""))


def rules_allow(attrs, rules) -> bool:
    return any(rule_allows(attrs, rule) for rule in rules)


# ---------------------------------------------------------------- subjects
def service_account_username(namespace: str, name: str) -> str:
    return f"{SERVICE_ACCOUNT_PREFIX}{namespace}:{name}"


def applies_to(user, subject: dict, binding_namespace: str) -> bool:
    """Is `user` this subject? A ServiceAccount subject without a namespace is one of
    the binding's own namespace (a RoleBinding may leave it out)."""
    kind, name = subject.get("kind"), subject.get("name")
    if kind == "User":
        return user.name == name
    if kind == "Group":
        return name in user.groups
    if kind == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return bool(namespace) and user.name == service_account_username(namespace, name)
    return False


def describe_subject(subject: dict, binding_namespace: str) -> str:
    if subject.get("kind") == "ServiceAccount":
        namespace = subject.get("namespace") or binding_namespace
        return f'ServiceAccount "{subject.get("name")}/{namespace}"'
    return f'{subject.get("kind")} "{subject.get("name")}"'


# ---------------------------------------------------------------- the objects
class RBACObjects:
    """Roles, ClusterRoles and their bindings, as the authorizer reads them: four
    listers (lister.py's NamespaceLister in the apiserver, `FixedObjects` in tests),
    each with in_namespace(namespace) and get(namespace, name)."""

    def __init__(self, roles, cluster_roles, role_bindings, cluster_role_bindings):
        self._roles, self._cluster_roles = roles, cluster_roles
        self._role_bindings, self._cluster_role_bindings = role_bindings, cluster_role_bindings

    @classmethod
    def of(cls, objects: list[dict]) -> "RBACObjects":
        """A fixed set of objects of the four kinds."""
        return cls(*(FixedObjects([o for o in objects if o.get("kind") == kind])
                     for kind in ("Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding")))

    def role(self, namespace: str, name: str) -> Optional[dict]:
        return self._roles.get(namespace, name)

    def cluster_role(self, name: str) -> Optional[dict]:
        return self._cluster_roles.get("", name)

    def cluster_role_bindings(self) -> list[dict]:
        return self._cluster_role_bindings.in_namespace("")

    def role_bindings(self, namespace: str) -> list[dict]:
        return self._role_bindings.in_namespace(namespace)


class FixedObjects:
    """A lister over a fixed list of objects."""

    def __init__(self, objects: list[dict]):
        self.objects = objects

    def in_namespace(self, namespace: str) -> list[dict]:
        return [o for o in self.objects if (o["metadata"].get("namespace") or "") == (namespace or "")]

    def get(self, namespace: str, name: str) -> Optional[dict]:
        return next((o for o in self.in_namespace(namespace) if o["metadata"]["name"] == name), None)


@dataclass
class RuleSource:
    """Where a rule came from: a binding, its role, and the subject that matched."""
    binding: dict
    subject: dict

    def __str__(self) -> str:
        md, ref = self.binding["metadata"], self.binding.get("roleRef") or {}
        namespace = md.get("namespace") or ""
        if self.binding.get("kind") == "RoleBinding":
            name = f'RoleBinding "{md["name"]}/{namespace}"'
        else:
            name = f'ClusterRoleBinding "{md["name"]}"'
        return f'{name} of {ref.get("kind")} "{ref.get("name")}" to {describe_subject(self.subject, namespace)}'


def role_not_found(kind: str, name: str) -> str:
    resource = "clusterrole" if kind == "ClusterRole" else "role"
    return f'{resource}.rbac.authorization.k8s.io "{name}" not found'


class RBACAuthorizer:
    """authorize(attrs) -> (Decision, reason); rules_for(user, namespace) for the rules reviews."""

    def __init__(self, objects: RBACObjects):
        self.objects = objects

    def visit_rules(self, user, namespace: str) -> Iterator[tuple[Optional[RuleSource], list, Optional[str]]]:
        """(source, rules, None) per binding that applies to `user`, or (None, [], error) for
        a binding whose role is missing. ClusterRoleBindings first, then the namespace's."""
        for binding in self.objects.cluster_role_bindings():
            subject = _matching_subject(user, binding, "")
            if subject is not None:
                yield self._rules_of(binding, subject, "")
        if namespace:
            for binding in self.objects.role_bindings(namespace):
                subject = _matching_subject(user, binding, namespace)
                if subject is not None:
                    yield self._rules_of(binding, subject, namespace)

    def _rules_of(self, binding, subject, namespace):
        ref = binding.get("roleRef") or {}
        kind, name = ref.get("kind"), ref.get("name", "")
        role = self.objects.role(namespace, name) if kind == "Role" else self.objects.cluster_role(name)
        if role is None:
            return None, [], role_not_found(kind, name)
        return RuleSource(binding, subject), role.get("rules") or [], None

    def authorize(self, attrs) -> tuple[Decision, str]:
        errors = []
        for source, rules, error in self.visit_rules(attrs.user, attrs.namespace or ""):
            if error:
                errors.append(error)
            elif rules_allow(attrs, rules):
                return Decision.ALLOW, f"RBAC: allowed by {source}"
        return Decision.NO_OPINION, "RBAC: " + aggregate(errors) if errors else ""

    def rules_for(self, user, namespace: str) -> tuple[list[dict], list[str]]:
        """Every rule `user` has in `namespace` (with the cluster-wide ones), and the errors
        met on the way: what SelfSubjectRulesReview returns."""
        rules, errors = [], []
        for _source, found, error in self.visit_rules(user, namespace):
            if error:
                errors.append(error)
            rules.extend(found)
        return rules, errors


def aggregate(errors: list[str]) -> str:
    """Several errors as one message, as Kubernetes' utilerrors.NewAggregate writes them."""
    return errors[0] if len(errors) == 1 else "[" + ", ".join(errors) + "]"


def _matching_subject(user, binding: dict, namespace: str) -> Optional[dict]:
    for subject in binding.get("subjects") or ():
        if applies_to(user, subject, namespace):
            return subject
    return None


class ServerLister:
    """One kind's lister of the apiserver, made on the first question (the authorizer is
    built before the apiserver has started, maybe before etcd answers)."""

    def __init__(self, server, rt):
        self.server, self.rt = server, rt

    def in_namespace(self, namespace: str) -> list[dict]:
        return self.server.lister(self.rt).in_namespace(namespace or "")

    def get(self, namespace: str, name: str) -> Optional[dict]:
        return self.server.lister(self.rt).get(namespace or "", name)

    def all(self) -> list[dict]:
        return self.server.lister(self.rt).all()


def authorizer(server) -> RBACAuthorizer:
    """--authorization-mode=RBAC: on the apiserver's watch-fed copies of the four kinds."""
    from ...api.kinds.rbac import CLUSTER_ROLE, CLUSTER_ROLE_BINDING, ROLE, ROLE_BINDING
    return RBACAuthorizer(RBACObjects(*(ServerLister(server, rt) for rt in
                                        (ROLE, CLUSTER_ROLE, ROLE_BINDING, CLUSTER_ROLE_BINDING))))
