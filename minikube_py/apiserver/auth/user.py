"""The user a request was authenticated as: Kubernetes' user.Info.

Authorizers (RBAC, Node) match on the name and the groups; the well-known names below
are the ones Kubernetes gives special meaning to.
"""
from __future__ import annotations

from dataclasses import dataclass, field

ANONYMOUS_USER = "system:anonymous"
UNAUTHENTICATED_GROUP = "system:unauthenticated"
AUTHENTICATED_GROUP = "system:authenticated"
MASTERS_GROUP = "system:masters"
# the user of an apiserver that authenticates no one (kube-apiserver's old insecure port)
UNSECURED_USER = "system:unsecured"


@dataclass(frozen=True)
class UserInfo:
    name: str
    uid: str = ""
    groups: tuple = ()
    extra: dict = field(default_factory=dict, hash=False, compare=False)

    def with_group(self, group: str) -> "UserInfo":
        """The same user, also in `group` (kept once)."""
        if group in self.groups:
            return self
        return UserInfo(self.name, self.uid, (*self.groups, group), self.extra)


ANONYMOUS = UserInfo(ANONYMOUS_USER, groups=(UNAUTHENTICATED_GROUP,))
UNSECURED = UserInfo(UNSECURED_USER, groups=(MASTERS_GROUP, AUTHENTICATED_GROUP))
