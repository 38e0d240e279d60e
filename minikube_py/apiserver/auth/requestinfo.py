"""What a request asks for, read from its URL alone: Kubernetes' RequestInfoFactory.

Authorization decides on these attributes (verb, API group, resource, subresource,
namespace, name) before any handler runs, so it reads them the way kube-apiserver does:

    GET    /api/v1/namespaces/ns/pods            list pods in ns
    GET    /api/v1/namespaces/ns/pods?watch=1    watch
    GET    /api/v1/watch/namespaces/ns/pods      watch (the old form)
    DELETE /api/v1/namespaces/ns/pods            deletecollection
    GET    /api/v1/nodes/n1/proxy/stats          get nodes/proxy, name n1
    GET    /api/v1/namespaces/ns                 get namespaces, name ns (namespace ns)
    GET    /healthz, /api, /apis/apps/v1         non-resource: verb "get", the path

A path's first parts that are not a resource (fewer than /api/{version}/{resource} or
/apis/{group}/{version}/{resource}) make a non-resource request, whose verb is the HTTP
method in lower case; RBAC matches those on nonResourceURLs.
"""
from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import parse_qsl

API_PREFIXES = ("api", "apis")
GROUPLESS_PREFIXES = ("api",)
# /api/v1/watch/..., /api/v1/proxy/...: a verb in the path instead of the method
SPECIAL_VERBS = ("proxy", "watch")
SPECIAL_VERBS_NO_SUBRESOURCES = ("proxy",)
# /api/v1/namespaces/{name}/status and /finalize are the namespace's own subresources
NAMESPACE_SUBRESOURCES = ("status", "finalize")
METHOD_VERBS = {"POST": "create", "GET": "get", "HEAD": "get", "PUT": "update",
                "PATCH": "patch", "DELETE": "delete"}
# what the app serves as a watch (apiserver/app.py reads ?watch= the same way)
WATCH_VALUES = ("1", "true", "True")


@dataclass
class RequestInfo:
    path: str
    verb: str
    is_resource_request: bool = False
    api_prefix: str = ""
    api_group: str = ""
    api_version: str = ""
    namespace: str = ""
    resource: str = ""
    subresource: str = ""
    name: str = ""
    field_selector: str = ""     # a list's or watch's ?fieldSelector= (the Node authorizer reads it)


def request_info(environ) -> RequestInfo:
    """The RequestInfo of a WSGI request (PATH_INFO, REQUEST_METHOD, QUERY_STRING)."""
    return parse(environ.get("PATH_INFO", "") or "/", environ.get("REQUEST_METHOD", "GET"),
                 environ.get("QUERY_STRING", ""))


def parse(path: str, method: str, query: str = "") -> RequestInfo:
    method = method.upper()
    info = RequestInfo(path=path, verb=method.lower())
    parts = [p for p in path.strip("/").split("/") if p] if path.strip("/") else []
    if len(parts) < 3 or parts[0] not in API_PREFIXES:
        return info
    prefix, parts = parts[0], parts[1:]
    group = ""
    if prefix not in GROUPLESS_PREFIXES:
        if len(parts) < 3:
            return info                   # /apis/{group}/{version}: discovery
        group, parts = parts[0], parts[1:]
    info.is_resource_request = True
    info.api_prefix, info.api_group, info.api_version = prefix, group, parts[0]
    parts = parts[1:]

    if parts[0] in SPECIAL_VERBS:
        if len(parts) < 2:
            # kube-apiserver refuses to guess ("unable to determine kind and namespace")
            info.is_resource_request = False
            info.verb = method.lower()
            return info
        info.verb, parts = parts[0], parts[1:]
    else:
        info.verb = METHOD_VERBS.get(method, method.lower())

    if parts[0] == "namespaces":
        if len(parts) > 1:
            info.namespace = parts[1]
            if len(parts) > 2 and parts[2] not in NAMESPACE_SUBRESOURCES:
                parts = parts[2:]

    if len(parts) >= 3 and info.verb not in SPECIAL_VERBS_NO_SUBRESOURCES:
        info.subresource = parts[2]
    if len(parts) >= 2:
        info.name = parts[1]
    info.resource = parts[0]

    if not info.name and info.verb == "get":
        args = dict(parse_qsl(query, keep_blank_values=True)) if query else {}
        info.verb = "watch" if args.get("watch") in WATCH_VALUES else "list"
        info.field_selector = args.get("fieldSelector", "")
        # a list or watch of one object by name (what `kubectl get pod x -w` sends)
        # is checked against that name, so RBAC resourceNames can allow it
        name = exact_name(args.get("fieldSelector", ""))
        if name:
            info.name = name
    if not info.name and info.verb == "delete":
        info.verb = "deletecollection"
    return info


def exact_name(field_selector: str) -> str:
    """The X of a field selector that requires metadata.name=X (or ==X); else ""."""
    for term in field_selector.split(","):
        key, op, value = term.partition("==") if "==" in term else term.partition("=")
        if op and key.strip() == "metadata.name" and valid_path_segment(value):
            return value
    return ""


def valid_path_segment(name: str) -> bool:
    """Kubernetes' IsValidPathSegmentName: a name that could be a URL path segment."""
    return bool(name) and name not in (".", "..") and "/" not in name and "%" not in name
