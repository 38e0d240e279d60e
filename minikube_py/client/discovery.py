"""RESTMapper: from a name a user types (`po`, `deployments.apps`, `Gizmo`) to where it lives.

Kubernetes addresses every object by group, version, resource (plural), namespace
and name::

    /api/v1/namespaces/default/pods/web-1             core group ("" group)
    /apis/apps/v1/namespaces/default/deployments/web  named group "apps"
    /api/v1/nodes/node-1                              cluster-scoped
    /api/v1/namespaces/default/pods/web-1/status      a subresource

A client learns this table from discovery (`/api/v1`, `/apis`, `/apis/{group}/{version}`),
as kubectl's deferred discovery RESTMapper does. This one starts from the built-in
kinds' declarations (api/kinds/, the same ones the apiserver serves), so a component
can address pods and nodes before it has asked the server anything, and reads the
server's discovery whenever it meets a name it does not know (a CRD's kind) or is
asked for everything served (`discover()`: the garbage collector and the namespace
controller walk every resource). Like kubectl it accepts the kind (`Pod`), the plural
(`pods`), the singular (`pod`), a short name (`po`) or `plural.group`.
"""
from __future__ import annotations

import threading
from typing import Callable, Iterable, Optional, Union

from ..api.kinds import BUILTIN_KINDS, Kind
from . import errors

ResourceLike = Union[str, Kind]


class RESTMapper:
    def __init__(self, read: Optional[Callable[[str], dict]] = None, kinds: Iterable[Kind] = BUILTIN_KINDS):
        """`read(path) -> dict` GETs a discovery document; without it only `kinds` are known."""
        self._read = read
        self._lock = threading.Lock()
        self._names: dict[str, Kind] = {}
        self._by_group_kind: dict[tuple[str, str], Kind] = {}
        for kind in kinds:
            self.learn(kind)

    def learn(self, kind: Kind) -> Kind:
        """Know a resource by every name kubectl accepts. A name already taken by another
        resource keeps it (the first one wins, as kubectl prefers the core group)."""
        with self._lock:
            for name in kind.names():
                for key in (name, name.lower()):
                    known = self._names.get(key)
                    if known is None or (known.group, known.plural) == (kind.group, kind.plural):
                        self._names[key] = kind
            self._by_group_kind[(kind.group, kind.kind)] = kind
        return kind

    def resource_for(self, resource: ResourceLike) -> Kind:
        """The resource a name means; reads discovery once when the name is new."""
        if isinstance(resource, Kind):
            return resource
        kind = self._names.get(resource) or self._names.get(resource.lower())
        if kind is None and self._read is not None:
            self.discover()
            kind = self._names.get(resource) or self._names.get(resource.lower())
        if kind is None:
            known = ", ".join(sorted({k.plural for k in self._names.values()}))
            raise KeyError(f"unknown resource {resource!r} (known: {known})")
        return kind

    def kind_for(self, api_version: str, kind: str) -> Optional[Kind]:
        """The resource of objects of `kind` in `api_version` (an ownerReference's target)."""
        group = api_version.rpartition("/")[0]
        found = self._by_group_kind.get((group, kind))
        if found is None and self._read is not None:
            self.discover()
            found = self._by_group_kind.get((group, kind))
        return found

    def discover(self) -> list[Kind]:
        """Every resource the server serves, with its verbs, learnt on the way.

        Reads `/api/v1` and each `/apis/{group}/{version}` (what kubectl does); a
        subresource ("pods/status") becomes part of its resource, not one of its own.
        """
        if self._read is None:
            raise RuntimeError("this RESTMapper has no server to read discovery from")
        group_versions = ["v1"]
        for group in self._read("/apis").get("groups") or []:
            group_versions += [gv["groupVersion"] for gv in group.get("versions") or []]
        served = []
        for gv in group_versions:
            try:
                doc = self._read("/api/v1" if gv == "v1" else f"/apis/{gv}")
            except errors.NotFound:
                continue    # a group that went away between the two reads
            entries = doc.get("resources") or []
            subs: dict[str, list[str]] = {}
            for e in entries:
                if "/" in e["name"]:
                    parent, _, sub = e["name"].partition("/")
                    subs.setdefault(parent, []).append(sub)
            for e in entries:
                if "/" not in e["name"]:
                    served.append(self.learn(Kind.from_discovery(e, gv, tuple(subs.get(e["name"], ())))))
        return served


# The built-in kinds only: for code that builds paths with no server at hand.
BUILTIN = RESTMapper()


def resource_path(resource: ResourceLike, namespace: Optional[str] = None,
                  name: Optional[str] = None, subresource: Optional[str] = None) -> str:
    """The REST path of a built-in resource's collection, object or subresource (see Kind.path)."""
    return BUILTIN.resource_for(resource).path(namespace, name, subresource)
