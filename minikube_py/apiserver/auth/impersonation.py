"""Impersonation: `kubectl --as=bob --as-group=devs` acts as another user, when allowed to.

kube-apiserver's WithImpersonation filter, between authentication and authorization.
The client sends `Impersonate-User`, `Impersonate-Group` (repeated), `Impersonate-Uid`
and `Impersonate-Extra-<key>` headers; the authenticated user needs the verb
`impersonate` on each thing it asks to be:

    users <name>                          (apiGroup "")
    serviceaccounts <name> in <namespace> for a user system:serviceaccount:<ns>:<name>
    groups <name>                         (apiGroup "")
    uids <uid>                            (authentication.k8s.io)
    userextras/<key> <value>              (authentication.k8s.io)

The request then goes on as the impersonated user -- authorization, admission and
`kubectl auth can-i --as` (the reviews read this user) all see it -- who is also in
system:authenticated (system:unauthenticated for system:anonymous), and, a
ServiceAccount asked for without groups, in its ServiceAccount groups.
"""
from __future__ import annotations

from urllib.parse import unquote

from .authorizer import Attributes, Decision
from .requestinfo import RequestInfo
from .user import ANONYMOUS_USER, AUTHENTICATED_GROUP, UNAUTHENTICATED_GROUP, UserInfo

USER_HEADER, GROUP_HEADER, UID_HEADER = "HTTP_IMPERSONATE_USER", "HTTP_IMPERSONATE_GROUP", "HTTP_IMPERSONATE_UID"
EXTRA_PREFIX = "HTTP_IMPERSONATE_EXTRA_"
SERVICE_ACCOUNT_PREFIX = "system:serviceaccount:"


class ImpersonationRefused(Exception):
    """`attrs` (the impersonate check) was not allowed: a 403 as Kubernetes writes it;
    or, with code 400, the headers make no sense (groups without a user)."""

    def __init__(self, attrs: Attributes | None, reason: str = "", code: int = 403):
        super().__init__(reason)
        self.attrs, self.reason, self.code = attrs, reason, code


def wanted(environ) -> bool:
    return any(key.startswith("HTTP_IMPERSONATE_") for key in environ)


def _values(environ, key: str) -> list[str]:
    """A header's values: cheroot joins a repeated header with ", " (comma_separated_headers)."""
    raw = environ.get(key)
    if raw is None:
        return []
    return [v.strip() for v in raw.split(",")] if key == GROUP_HEADER or key.startswith(EXTRA_PREFIX) else [raw]


def impersonate(environ, requester: UserInfo, authorizer) -> UserInfo:
    """The user this request acts as (checking each part against `authorizer`)."""
    name = environ.get(USER_HEADER, "")
    groups = _values(environ, GROUP_HEADER)
    uid = environ.get(UID_HEADER, "")
    extra = {unquote(key[len(EXTRA_PREFIX):].lower().replace("_", "-")): _values(environ, key)
             for key in environ if key.startswith(EXTRA_PREFIX)}
    if not name:
        raise ImpersonationRefused(None, "requested impersonation without impersonating a user", code=400)

    def check(resource, name_, namespace="", group="", subresource=""):
        info = RequestInfo(path="", verb="impersonate", is_resource_request=True, api_group=group,
                           namespace=namespace, resource=resource, subresource=subresource, name=name_)
        attrs = Attributes(requester, info)
        decision, reason = authorizer.authorize(attrs)
        if decision is not Decision.ALLOW:
            raise ImpersonationRefused(attrs, reason)

    sa_groups: list[str] = []
    if name.startswith(SERVICE_ACCOUNT_PREFIX) and name.count(":") == 3:
        namespace, sa = name[len(SERVICE_ACCOUNT_PREFIX):].split(":")
        check("serviceaccounts", sa, namespace=namespace)
        sa_groups = ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"]
    else:
        check("users", name)
    for group in groups:
        check("groups", group)
    if uid:
        check("uids", uid, group="authentication.k8s.io")
    for key, values in extra.items():
        for value in values:
            check("userextras", value, group="authentication.k8s.io", subresource=key)

    groups = groups or sa_groups
    implied = UNAUTHENTICATED_GROUP if name == ANONYMOUS_USER else AUTHENTICATED_GROUP
    if implied not in groups:
        groups = [*groups, implied]
    for key in [k for k in environ if k.startswith("HTTP_IMPERSONATE_")]:
        del environ[key]          # what comes after sees only the impersonated user
    return UserInfo(name, uid, tuple(groups), extra)
