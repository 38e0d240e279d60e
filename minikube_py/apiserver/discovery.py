"""Discovery documents: how kubectl learns which resources exist and what they are called.

kubectl reads `/api` and `/apis`, then `/api/v1` and each `/apis/{group}/{version}`,
and caches the answer. Everything here is derived from the kinds' declarations (api/kinds/),
and the client reads it back into the same `Kind` (client/discovery.py).
"""
from __future__ import annotations

from ..api.kinds import SCHEME


def api_versions() -> dict:
    return {"kind": "APIVersions", "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": ""}]}


def api_group_list() -> dict:
    groups = []
    for group, versions in SCHEME.group_versions().items():
        if group == "":
            continue
        groups.append(api_group(group, versions))
    return {"kind": "APIGroupList", "apiVersion": "v1", "groups": groups}


def api_group(group: str, versions: list[str] | None = None) -> dict:
    versions = versions or SCHEME.group_versions().get(group, [])
    gvs = [{"groupVersion": f"{group}/{v}", "version": v} for v in versions]
    return {"kind": "APIGroup", "apiVersion": "v1", "name": group, "versions": gvs,
            "preferredVersion": gvs[0] if gvs else None}


def api_resource_list(group: str, version: str) -> dict | None:
    kinds = [k for k in SCHEME.all() if k.group == group and k.version == version]
    if not kinds:
        return None
    return {"kind": "APIResourceList", "apiVersion": "v1", "groupVersion": kinds[0].api_version,
            "resources": [entry for k in kinds for entry in k.discovery_entries()]}
