"""The kinds this apiserver serves, each one declaration.

Adding a kind to the API is adding a `ResourceType` to `RESOURCES`: the generic
handlers in handlers.py, discovery, watch, tables and storage all work from it.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ResourceType:
    group: str                 # "" for the core group
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    short_names: tuple = ()
    categories: tuple = ()
    subresources: tuple = ()   # "status", "scale", "binding", "log", "finalize", "eviction"
    has_status: bool = True    # main resource writes ignore .status (written through /status)
    return_deleted_object: bool = False  # DELETE answers the object instead of a Status
    verbs: tuple = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
    watch_trigger: str | None = None  # a field the watch cache indexes watches by (see watchcache.py)
    # Open the kind's watch cache when the apiserver starts. Events: only when first watched,
    # since kube-apiserver caches no events (they are written often and rarely watched).
    eager_watch_cache: bool = True

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version

    def etcd_prefix(self, namespace: str | None = None) -> str:
        """`/registry/pods/` (all namespaces) or `/registry/pods/default/`."""
        base = f"/registry/{self.storage_name}/"
        return base + f"{namespace}/" if (self.namespaced and namespace) else base

    def etcd_key(self, namespace: str | None, name: str) -> str:
        if self.namespaced:
            return f"/registry/{self.storage_name}/{namespace}/{name}"
        return f"/registry/{self.storage_name}/{name}"

    @property
    def storage_name(self) -> str:
        return self.plural


RESOURCES: list[ResourceType] = [
    ResourceType("", "v1", "Namespace", "namespaces", namespaced=False, short_names=("ns",),
                 subresources=("status", "finalize"), return_deleted_object=True,
                 verbs=("create", "delete", "get", "list", "patch", "update", "watch")),
    ResourceType("", "v1", "Pod", "pods", short_names=("po",), categories=("all",),
                 subresources=("status", "binding", "eviction", "log"), return_deleted_object=True,
                 watch_trigger="spec.nodeName"),
    ResourceType("", "v1", "Node", "nodes", namespaced=False, short_names=("no",),
                 subresources=("status",), return_deleted_object=True),
    ResourceType("", "v1", "Event", "events", short_names=("ev",), has_status=False,
                 eager_watch_cache=False),
    ResourceType("coordination.k8s.io", "v1", "Lease", "leases", has_status=False),
    ResourceType("apps", "v1", "Deployment", "deployments", short_names=("deploy",),
                 categories=("all",), subresources=("status", "scale")),
    ResourceType("apps", "v1", "ReplicaSet", "replicasets", short_names=("rs",),
                 categories=("all",), subresources=("status", "scale")),
]


def find(group: str, version: str, plural: str) -> ResourceType | None:
    for r in RESOURCES:
        if r.group == group and r.version == version and r.plural == plural:
            return r
    return None


def by_kind(kind: str) -> ResourceType | None:
    for r in RESOURCES:
        if r.kind == kind:
            return r
    return None


def group_versions() -> dict[str, list[str]]:
    """{group: [versions]} for every group we serve (core group is "")."""
    out: dict[str, list[str]] = {}
    for r in RESOURCES:
        versions = out.setdefault(r.group, [])
        if r.version not in versions:
            versions.append(r.version)
    return out
