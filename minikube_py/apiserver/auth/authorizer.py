"""May this user do this? Kubernetes' authorizer interface and its union.

Every authorizer answers ``authorize(attrs) -> (Decision, reason)``: ALLOW, DENY, or
NO_OPINION ("not mine to say"). ``--authorization-mode=Node,RBAC`` asks each mode in
order; the first ALLOW or DENY wins, and a request no one allows is forbidden (403).
"""
from __future__ import annotations

import enum
import importlib
from dataclasses import dataclass
from typing import Callable, Protocol

from .requestinfo import RequestInfo
from .user import UserInfo


class Decision(enum.Enum):
    ALLOW = "Allow"
    DENY = "Deny"
    NO_OPINION = "NoOpinion"


@dataclass(frozen=True)
class Attributes:
    """A request as an authorizer sees it: who (user) and what (the RequestInfo)."""
    user: UserInfo
    info: RequestInfo

    # the flat names Kubernetes' authorizer.Attributes has
    @property
    def verb(self) -> str:
        return self.info.verb

    @property
    def namespace(self) -> str:
        return self.info.namespace

    @property
    def api_group(self) -> str:
        return self.info.api_group

    @property
    def api_version(self) -> str:
        return self.info.api_version

    @property
    def resource(self) -> str:
        return self.info.resource

    @property
    def subresource(self) -> str:
        return self.info.subresource

    @property
    def name(self) -> str:
        return self.info.name

    @property
    def is_resource_request(self) -> bool:
        return self.info.is_resource_request

    @property
    def path(self) -> str:
        return self.info.path


class Authorizer(Protocol):
    def authorize(self, attrs: Attributes) -> tuple[Decision, str]: ...


class AlwaysAllow:
    def authorize(self, attrs: Attributes) -> tuple[Decision, str]:
        return Decision.ALLOW, ""


class AlwaysDeny:
    def authorize(self, attrs: Attributes) -> tuple[Decision, str]:
        return Decision.NO_OPINION, "Everything is forbidden."


class UnionAuthorizer:
    """Ask each authorizer in turn; the first ALLOW or DENY decides. The reasons of the
    ones with no opinion are kept (joined by newlines), as the 403 message ends with them."""

    def __init__(self, authorizers: list):
        self.authorizers = list(authorizers)

    def authorize(self, attrs: Attributes) -> tuple[Decision, str]:
        reasons = []
        for authorizer in self.authorizers:
            decision, reason = authorizer.authorize(attrs)
            if decision is not Decision.NO_OPINION:
                return decision, reason
            if reason:
                reasons.append(reason)
        return Decision.NO_OPINION, "\n".join(reasons)


# --authorization-mode names → a factory(server) of the authorizer. A factory given as
# "module:function" is imported on first use: the Node and RBAC authorizers live in
# auth/node.py and auth/rbac.py, each with an ``authorizer(server)`` function.
MODES: dict[str, Callable | str] = {
    "AlwaysAllow": lambda server: AlwaysAllow(),
    "AlwaysDeny": lambda server: AlwaysDeny(),
    "Node": "minikube_py.apiserver.auth.node:authorizer",
    "RBAC": "minikube_py.apiserver.auth.rbac:authorizer",
}


def authorizer_from_modes(modes: list[str], server) -> Authorizer:
    """The authorizer of ``--authorization-mode=A,B,...`` (one mode: that authorizer itself)."""
    if not modes:
        raise ValueError("at least one authorization-mode must be passed")
    if len(set(modes)) != len(modes):
        raise ValueError(f"authorization-mode {modes!r} has duplicate entries")
    built = []
    for mode in modes:
        factory = MODES.get(mode)
        if factory is None:
            raise ValueError(f"authorization-mode {mode!r} is not a valid mode "
                             f"(choose from {', '.join(MODES)})")
        if isinstance(factory, str):
            module, _, function = factory.partition(":")
            try:
                factory = getattr(importlib.import_module(module), function)
            except (ImportError, AttributeError) as err:
                raise ValueError(f"authorization-mode {mode!r} is not available: {err}") from err
        built.append(factory(server))
    return built[0] if len(built) == 1 else UnionAuthorizer(built)


def only_always_allow(modes: list[str] | None) -> bool:
    return not modes or list(modes) == ["AlwaysAllow"]
