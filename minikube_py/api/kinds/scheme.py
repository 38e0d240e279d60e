"""The scheme: which kinds exist, found by group/version/plural or by kind.

As Kubernetes' runtime.Scheme and its RESTMapper do, it answers "what is the kind
served at /apis/apps/v1/.../deployments?" and "where are Deployments stored?". The
built-in kinds are registered when it is made; a CustomResourceDefinition registers
its kind at run time (`register`), and from then on the apiserver serves it exactly
as a built-in one: discovery, routes, storage and watch all read this scheme.
"""
from __future__ import annotations

import threading
from typing import Iterable, Optional

from .kind import Kind


class Scheme:
    def __init__(self, kinds: Iterable[Kind] = ()):
        self._lock = threading.Lock()
        self._kinds: dict[tuple[str, str, str], Kind] = {}   # (group, version, plural) -> kind
        for kind in kinds:
            self.register(kind)

    def register(self, kind: Kind) -> Kind:
        """Serve a kind (a CRD's, at run time); re-registering replaces the declaration."""
        with self._lock:
            self._kinds[(kind.group, kind.version, kind.plural)] = kind
        return kind

    def unregister(self, group: str, version: str, plural: str) -> None:
        with self._lock:
            self._kinds.pop((group, version, plural), None)

    def all(self) -> list[Kind]:
        return list(self._kinds.values())

    def find(self, group: str, version: str, plural: str) -> Optional[Kind]:
        return self._kinds.get((group, version, plural))

    def by_kind(self, kind: str, group: Optional[str] = None) -> Optional[Kind]:
        """The declaration of `kind` (in `group`, when given); None when nothing serves it."""
        for k in list(self._kinds.values()):
            if k.kind == kind and (group is None or k.group == group):
                return k
        return None

    def group_versions(self) -> dict[str, list[str]]:
        """{group: [versions]} for every group served (the core group is "")."""
        out: dict[str, list[str]] = {}
        for k in list(self._kinds.values()):
            versions = out.setdefault(k.group, [])
            if k.version not in versions:
                versions.append(k.version)
        return out
