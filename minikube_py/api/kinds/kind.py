"""`Kind`: everything the system knows about one kind of object, in one declaration.

Kubernetes spreads what a kind is over many places: its Go type and scheme
registration, its REST storage strategy (defaults, validation, status handling),
its printer columns, its discovery entry and its protobuf message. Here one frozen
dataclass holds all of it, and every part of the system reads the same declaration:

    apiserver   routing, storage keys, defaults, validation, Tables, watch index
    discovery   the APIResourceList entries kubectl and the Python client read
    protobuf    which message a protobuf request body of this kind is
    client      the REST path of a resource name (client/discovery.py)

The client learns kinds it has no declaration for (a CRD) from discovery, as a
`Kind` too (`Kind.from_discovery`): the apiserver writes a declaration out as a
discovery entry, the client reads one back.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional
from urllib.parse import quote

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")

# Subresources are their own entries in discovery, with the group/kind and verbs they use.
SUBRESOURCES = {
    "status": (None, None, ("get", "patch", "update")),
    "scale": ("autoscaling", "Scale", ("get", "patch", "update")),
    "binding": (None, "Binding", ("create",)),
    "log": (None, "Pod", ("get",)),
    "finalize": (None, None, ("update",)),
    "eviction": ("policy", "Eviction", ("create",)),
    "exec": (None, "PodExecOptions", ("create", "get")),
    "attach": (None, "PodAttachOptions", ("create", "get")),
    "portforward": (None, "PodPortForwardOptions", ("create", "get")),
    "proxy": (None, "NodeProxyOptions", ("get",)),
    "token": ("authentication.k8s.io", "TokenRequest", ("create",)),
}


@dataclass(frozen=True)
class Kind:
    group: str                 # "" for the core group (served under /api)
    version: str
    kind: str
    plural: str
    namespaced: bool = True
    short_names: tuple = ()
    categories: tuple = ()     # "all" makes `kubectl get all` list it
    subresources: tuple = ()   # keys of SUBRESOURCES
    verbs: tuple = ALL_VERBS
    # --- REST strategy (kube-apiserver's per-kind "strategy")
    has_status: bool = True    # main-resource writes keep .status (it is written through /status)
    status_on_create: bool = False      # a create may carry status (a kubelet registering its Node)
    counts_generation: bool = True      # metadata.generation counts spec changes
    return_deleted_object: bool = False  # DELETE answers the object instead of a Status
    default: Optional[Callable[[dict], None]] = None          # fills in defaults, in place
    validate: Optional[Callable[[dict], list]] = None         # causes of a 422, [] when valid
    validate_update: Optional[Callable[[dict, dict], list]] = None  # (old, new): immutable fields
    name_rule: Optional[Callable[[str], list]] = None         # None: a DNS-1123 subdomain
    # what decoding the JSON into Kubernetes' Go type would refuse (a 400, before validation):
    # returns the problem, or None
    decode_check: Optional[Callable[[dict], Optional[str]]] = None
    # --- printing: `kubectl get` columns (priority 1: only with -o wide) and one row per object
    columns: tuple = ()
    row: Optional[Callable[[dict], list]] = None
    # --- watch cache
    watch_trigger: Optional[str] = None  # a field the watch cache indexes watches by (watchcache.py)
    eager_watch_cache: bool = True       # open it when the apiserver starts (else on the first watch)
    # --- protobuf: the full name of the message a protobuf body of this kind is
    proto: Optional[str] = None
    # --- OpenAPI v3 schema of the whole object, for kinds whose schema is not derived from
    # their protobuf message (a CRD's openAPIV3Schema); None: derived (apiserver/openapi)
    schema: Optional[dict] = None

    # ------------------------------------------------------------ names and paths
    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def api_version(self) -> str:
        """The `apiVersion` of objects of this kind: `v1` or `apps/v1`."""
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def base_path(self) -> str:
        """`/api/v1` for the core group, `/apis/{group}/{version}` otherwise."""
        return f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"

    @property
    def qualified_singular(self) -> str:
        """`deployment.apps`: how kubectl names the kind in `deployment.apps/nginx created`."""
        return self.singular + (f".{self.group}" if self.group else "")

    def names(self) -> set[str]:
        """Every name kubectl accepts for it: plural, singular, kind, short names, `plural.group`."""
        names = {self.plural, self.singular, self.kind, *self.short_names}
        if self.group:
            names |= {f"{self.plural}.{self.group}", f"{self.singular}.{self.group}",
                      f"{self.kind}.{self.group}"}
        return names

    def path(self, namespace: Optional[str] = None, name: Optional[str] = None,
             subresource: Optional[str] = None) -> str:
        """The REST path of the collection, an object or its subresource.

        `namespace` is ignored for cluster-scoped kinds; for a namespaced kind, leaving
        it out (with no name) addresses all namespaces, as `kubectl get pods -A` does.
        """
        path = self.base_path
        if self.namespaced and namespace:
            path += f"/namespaces/{quote(namespace, safe='')}"
        path += f"/{self.plural}"
        if name:
            path += f"/{quote(name, safe='')}"
        elif subresource:
            raise ValueError("a subresource needs an object name")
        if subresource:
            path += f"/{subresource}"
        return path

    def etcd_prefix(self, namespace: Optional[str] = None) -> str:
        """`/registry/pods/` (all namespaces) or `/registry/pods/default/`."""
        base = f"/registry/{self.plural}/"
        return base + f"{namespace}/" if (self.namespaced and namespace) else base

    def etcd_key(self, namespace: Optional[str], name: str) -> str:
        if self.namespaced:
            return f"/registry/{self.plural}/{namespace}/{name}"
        return f"/registry/{self.plural}/{name}"

    # ------------------------------------------------------------ discovery
    def discovery_entries(self) -> list[dict]:
        """Its APIResource entries in `/api/v1` or `/apis/{group}/{version}`: itself, then
        one per subresource (kubectl needs `deployments/scale` to say autoscaling/v1 Scale)."""
        entry = {"name": self.plural, "singularName": self.singular, "namespaced": self.namespaced,
                 "kind": self.kind, "verbs": list(self.verbs)}
        if self.short_names:
            entry["shortNames"] = list(self.short_names)
        if self.categories:
            entry["categories"] = list(self.categories)
        entries = [entry]
        for sub in self.subresources:
            sub_group, sub_kind, verbs = SUBRESOURCES[sub]
            e = {"name": f"{self.plural}/{sub}", "singularName": "", "namespaced": self.namespaced,
                 "kind": sub_kind or self.kind, "verbs": list(verbs)}
            if sub_group:
                e["group"], e["version"] = sub_group, "v1"
            entries.append(e)
        return entries

    @classmethod
    def from_discovery(cls, entry: dict, group_version: str, subresources: tuple = ()) -> "Kind":
        """The client's view of a resource it read from discovery (the inverse of the above)."""
        group, _, version = group_version.rpartition("/")
        return cls(group=group, version=version, kind=entry["kind"], plural=entry["name"],
                   namespaced=bool(entry.get("namespaced")),
                   short_names=tuple(entry.get("shortNames") or ()),
                   categories=tuple(entry.get("categories") or ()),
                   subresources=subresources, verbs=tuple(entry.get("verbs") or ()))
