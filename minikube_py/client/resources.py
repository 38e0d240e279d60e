"""Resource registry: how a resource name becomes a REST path.

Kubernetes addresses every object by group, version, resource (plural),
namespace and name::

    /api/v1/namespaces/default/pods/web-1             core group ("" group)
    /apis/apps/v1/namespaces/default/deployments/web  named group "apps"
    /api/v1/nodes/node-1                              cluster-scoped
    /api/v1/namespaces/default/pods/web-1/status      a subresource

The real client learns this table from the discovery endpoints (``/api``,
``/apis``); minikube-py's client knows its small fixed set of resources up
front, so the table below *is* the discovery document, in Python.  Like
kubectl, it accepts the kind (``Pod``), the plural (``pods``), the singular
(``pod``), a short name (``po``) or ``plural.group`` (``deployments.apps``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional, Union
from urllib.parse import quote


@dataclass(frozen=True)
class ResourceInfo:
    """One API resource, as discovery would describe it."""

    plural: str
    kind: str
    group: str = ""  # "" is the core group, served under /api
    version: str = "v1"
    namespaced: bool = True
    short_names: tuple = field(default_factory=tuple)

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def api_version(self) -> str:
        """The ``apiVersion`` field of objects of this resource."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def base_path(self) -> str:
        """``/api/v1`` for the core group, ``/apis/{group}/{version}`` otherwise."""
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"


# The resources minikube-py serves.  Adding one here is all the client needs.
RESOURCES: list[ResourceInfo] = [
    ResourceInfo("pods", "Pod", short_names=("po",)),
    ResourceInfo("namespaces", "Namespace", namespaced=False, short_names=("ns",)),
    ResourceInfo("nodes", "Node", namespaced=False, short_names=("no",)),
    ResourceInfo("events", "Event", short_names=("ev",)),
    ResourceInfo("services", "Service", short_names=("svc",)),
    ResourceInfo("endpoints", "Endpoints", short_names=("ep",)),
    ResourceInfo("configmaps", "ConfigMap", short_names=("cm",)),
    ResourceInfo("secrets", "Secret"),
    ResourceInfo("serviceaccounts", "ServiceAccount", short_names=("sa",)),
    ResourceInfo("resourcequotas", "ResourceQuota", short_names=("quota",)),
    ResourceInfo("limitranges", "LimitRange", short_names=("limits",)),
    ResourceInfo("leases", "Lease", group="coordination.k8s.io"),
    ResourceInfo("deployments", "Deployment", group="apps", short_names=("deploy",)),
    ResourceInfo("replicasets", "ReplicaSet", group="apps", short_names=("rs",)),
    ResourceInfo("jobs", "Job", group="batch"),
    ResourceInfo("tfjobs", "TFJob", group="kubeflow.org", short_names=("tfjob",)),
]

_LOOKUP: dict[str, ResourceInfo] = {}


def register_resource(info: ResourceInfo) -> ResourceInfo:
    """Teach the client a resource by every name kubectl would accept."""
    names = {info.plural, info.singular, info.kind, info.kind.lower(), *info.short_names}
    if info.group:
        names |= {f"{info.plural}.{info.group}", f"{info.singular}.{info.group}",
                  f"{info.kind}.{info.group}"}
    for n in names:
        _LOOKUP[n] = info
    return info


for _info in RESOURCES:
    register_resource(_info)


ResourceLike = Union[str, ResourceInfo]


def lookup(resource: ResourceLike) -> ResourceInfo:
    """Find a resource by kind, plural, singular, short name or plural.group."""
    if isinstance(resource, ResourceInfo):
        return resource
    info = _LOOKUP.get(resource) or _LOOKUP.get(resource.lower())
    if info is None:
        known = ", ".join(sorted(r.plural for r in RESOURCES))
        raise KeyError(f"unknown resource {resource!r} (known: {known})")
    return info


def resource_path(resource: ResourceLike, namespace: Optional[str] = None,
                  name: Optional[str] = None, subresource: Optional[str] = None) -> str:
    """Build the REST path of a collection, an object or a subresource.

    ``namespace`` is ignored for cluster-scoped resources; for a namespaced
    resource, leaving it out (with no name) addresses all namespaces, as
    ``kubectl get pods -A`` does.
    """
    info = lookup(resource)
    path = info.base_path
    if info.namespaced and namespace:
        path += f"/namespaces/{quote(namespace, safe='')}"
    path += f"/{info.plural}"
    if name:
        path += f"/{quote(name, safe='')}"
    elif subresource:
        raise ValueError("a subresource needs an object name")
    if subresource:
        path += f"/{subresource}"
    return path
