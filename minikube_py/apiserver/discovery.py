"""Discovery documents: how kubectl learns which resources exist and what they are called.

kubectl reads `/api` and `/apis`, then `/api/v1` and each `/apis/{group}/{version}`,
and caches the answer. Everything here is derived from resources.RESOURCES.
"""
from __future__ import annotations

import platform

from .resources import RESOURCES, group_versions

KUBERNETES_VERSION = {"major": "1", "minor": "32", "gitVersion": "v1.32.0-minikube-py",
                      "gitCommit": "minikube-py", "gitTreeState": "clean",
                      "buildDate": "2026-11-29T00:00:00Z", "goVersion": "python" + platform.python_version(),
                      "compiler": "cpython", "platform": f"linux/{platform.machine().replace('x86_64', 'amd64')}"}

# Subresources that are their own entries in discovery, with the group/kind they use.
SUBRESOURCE_KINDS = {
    "status": (None, None, ("get", "patch", "update")),
    "scale": ("autoscaling", "Scale", ("get", "patch", "update")),
    "binding": (None, "Binding", ("create",)),
    "log": (None, "Pod", ("get",)),
    "finalize": (None, None, ("update",)),
    "eviction": ("policy", "Eviction", ("create",)),
}


def version() -> dict:
    return dict(KUBERNETES_VERSION)


def api_versions() -> dict:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}]}


def api_group_list() -> dict:
    groups = []
    for group, versions in group_versions().items():
        if group == "":
            continue
        groups.append(api_group(group, versions))
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(group: str, versions: list[str] | None = None) -> dict:
    versions = versions or group_versions().get(group, [])
    gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": gvs,
            "preferredVersion": gvs[0] if gvs else None}


def api_resource_list(group: str, version: str) -> dict | None:
    rts = [r for r in RESOURCES if r.group == group and r.version == version]
    if not rts:
        return None
    resources = []
    for r in rts:
        entry = {"name": r.plural, "singularName": r.singular, "namespaced": r.namespaced, "kind": r.kind,
                 "verbs": list(r.verbs)}
        if r.short_names:
            entry["shortNames"] = list(r.short_names)
        if r.categories:
            entry["categories"] = list(r.categories)
        resources.append(entry)
        for sub in r.subresources:
            sub_group, sub_kind, verbs = SUBRESOURCE_KINDS[sub]
            e = {"name": f"{r.plural}/{sub}", "singularName": "", "namespaced": r.namespaced,
                 "kind": sub_kind or r.kind, "verbs": list(verbs)}
            if sub_group:
                e["group"], e["version"] = sub_group, "v1"
            resources.append(e)
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": rts[0].api_version,
            "resources": resources}
