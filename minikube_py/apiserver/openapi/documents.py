"""The OpenAPI documents the apiserver serves, built from the kinds in SCHEME.

    /openapi/v2                   one Swagger 2.0 document of every kind
    /openapi/v3                   an index: {"paths": {"apis/apps/v1": {"serverRelativeURL": ...}}}
    /openapi/v3/apis/apps/v1      one OpenAPI 3.0 document per group-version
    /openapi/v3/api/v1            (the core group)

kubectl 1.32 reads the v3 ones: `kubectl explain` walks a kind's schema, `kubectl apply`
computes strategic merge patches from the patch extensions, and create/apply send
`fieldValidation=Strict` to the server -- instead of validating on the client --
once a kind's PATCH operation lists that parameter (cli-runtime's QueryParamVerifierV3).
So every kind gets its REST operations here, with their parameters.

A CRD registers its kind at run time, so the documents are built when asked for and
kept until the set of declarations in SCHEME changes.
"""
from __future__ import annotations

import hashlib
import threading

from werkzeug.wrappers import Response

from ... import codec
from ...api.kinds import SCHEME
from ...version import version as server_version
from .. import errors
from .schema import Definitions, definition_name

PATCH_TYPES = ("application/json-patch+json", "application/merge-patch+json",
               "application/strategic-merge-patch+json", "application/apply-patch+yaml")
PATCH = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch"
STATUS = "io.k8s.apimachinery.pkg.apis.meta.v1.Status"

QUERY = {
    "dryRun": "When present, indicates that modifications should not be persisted. "
              "Valid values: All.",
    "fieldManager": "A name associated with the actor or entity that is making these changes.",
    "fieldValidation": "Instructs the server on how to handle objects in the request containing "
                       "unknown or duplicate fields. Valid values are: Ignore, Warn (a warning "
                       "for each such field) and Strict (the request fails with a BadRequest).",
}
# What a list (and a watch: ?watch=true on the list path) reads from its query, as
# Kubernetes declares it; a client's generator (and a fuzzer) learns them from here.
LIST_QUERY = {
    "labelSelector": ("string", "A selector to restrict the list of returned objects by their labels. "
                                "Defaults to everything."),
    "fieldSelector": ("string", "A selector to restrict the list of returned objects by their fields. "
                                "Defaults to everything."),
    "limit": ("integer", "limit is a maximum number of responses to return for a list call."),
    "continue": ("string", "The continue option should be set when retrieving more results from the server."),
    "resourceVersion": ("string", "resourceVersion sets a constraint on what resource versions a request "
                                  "may be served from."),
    "timeoutSeconds": ("integer", "Timeout for the list/watch call."),
    "watch": ("boolean", "Watch for changes to the described resources and return them as a stream of "
                         "add, update, and remove notifications."),
}
DELETE_QUERY = {
    "gracePeriodSeconds": ("integer", "The duration in seconds before the object should be deleted."),
    "propagationPolicy": ("string", "Whether and how garbage collection will be performed: 'Orphan', "
                                    "'Background' or 'Foreground'."),
}


def group_version_path(group: str, version: str) -> str:
    """The key of a group-version in the v3 index: `api/v1`, `apis/apps/v1`."""
    return f"apis/{group}/{version}" if group else f"api/{version}"


class Documents:
    """Builds and caches the documents; `current()` rebuilds when SCHEME has changed."""

    def __init__(self, scheme=SCHEME):
        self.scheme = scheme
        self._lock = threading.Lock()
        self._key = None
        self._kinds = ()     # holds the declarations the key's ids belong to
        self.v2: bytes = b""
        self.v3: dict[str, bytes] = {}           # "apis/apps/v1" -> document
        self.v3_index: bytes = b""

    def current(self) -> "Documents":
        kinds = tuple(self.scheme.all())
        key = tuple(id(k) for k in kinds)
        with self._lock:
            if key != self._key:
                self._build(kinds)
                self._key, self._kinds = key, kinds
        return self

    def _build(self, kinds):
        info = {"title": "Kubernetes", "version": server_version()["gitVersion"]}
        v2 = Definitions(v3=False)
        self.v2 = codec.dumps({"swagger": "2.0", "info": info, "paths": _paths(v2, kinds),
                               "definitions": dict(sorted(v2.defs.items()))})
        self.v3, index = {}, {}
        by_gv: dict[tuple, list] = {}
        for k in kinds:
            by_gv.setdefault((k.group, k.version), []).append(k)
        for (group, version), gv_kinds in sorted(by_gv.items()):
            v3 = Definitions(v3=True)
            paths = _paths(v3, gv_kinds)
            roots = [name for k in gv_kinds for name in (definition_name(k), definition_name(k) + "List")]
            doc = codec.dumps({"openapi": "3.0.0", "info": info, "paths": paths,
                               "components": {"schemas": v3.reachable(roots + [PATCH, STATUS])}})
            key = group_version_path(group, version)
            self.v3[key] = doc
            digest = hashlib.sha512(doc).hexdigest().upper()
            index[key] = {"serverRelativeURL": f"/openapi/v3/{key}?hash={digest}"}
        self.v3_index = codec.dumps({"paths": index})


# ---------------------------------------------------------------- REST operations

def _paths(defs: Definitions, kinds) -> dict:
    defs.defs[PATCH] = {"description": "Patch is provided to give a concrete name and type to the "
                                       "Kubernetes PATCH request body.", "type": "object"}
    defs.defs[STATUS] = {"description": "Status is a return value for calls that don't return other "
                                        "objects.", "type": "object"}
    paths = {}
    for k in sorted(kinds, key=lambda k: (k.group, k.version, k.plural)):
        name = defs.kind(k)
        collection = k.base_path + ("/namespaces/{namespace}" if k.namespaced else "") + f"/{k.plural}"
        scope = [_path_param(defs, "namespace")] if k.namespaced else []
        op = _Operations(defs, k, name)
        patch_types = [t for t in PATCH_TYPES if k.schema is None or "strategic" not in t]
        # only the operations the kind serves (metrics.k8s.io's kinds: get and list)
        collection_ops = {"get": ("list", lambda: op("list", "list", response=name + "List",
                                                     query=LIST_QUERY)),
                          "post": ("create", lambda: op("create", "post", body=name, write=True))}
        object_ops = {"get": ("get", lambda: op("read", "get")),
                      "put": ("update", lambda: op("replace", "put", body=name, write=True)),
                      "patch": ("patch", lambda: op("patch", "patch", body=PATCH, write=True,
                                                    consumes=patch_types)),
                      "delete": ("delete", lambda: op("delete", "delete", response=STATUS,
                                                      query=DELETE_QUERY))}
        paths[collection] = {**{m: make() for m, (verb, make) in collection_ops.items()
                                if verb in k.verbs}, "parameters": scope}
        paths[collection + "/{name}"] = {
            **{m: make() for m, (verb, make) in object_ops.items() if verb in k.verbs},
            "parameters": [_path_param(defs, "name")] + scope}
    return paths


class _Operations:
    def __init__(self, defs: Definitions, kind, name: str):
        self.defs, self.kind, self.name = defs, kind, name

    def __call__(self, verb: str, action: str, body: str | None = None, response: str | None = None,
                 write: bool = False, consumes=("application/json",), query=None) -> dict:
        k, defs = self.kind, self.defs
        suffix = ("Namespaced" if k.namespaced else "") + k.kind
        group = "".join(p.capitalize() for p in (k.group.split(".")[0] if k.group else "core", k.version))
        op = {"description": f"{verb} the specified {k.kind}" if verb != "list" else f"list objects of kind {k.kind}",
              "operationId": f"{verb}{group}{suffix}", "tags": [group.lower()],
              "parameters": ([_query_param(defs, p) for p in QUERY] if write else [])
                            + [_typed_query_param(defs, p, *spec) for p, spec in (query or {}).items()],
              "responses": {"200": self._response(response or self.name)},
              "x-kubernetes-action": action,
              "x-kubernetes-group-version-kind": {"group": k.group, "kind": k.kind, "version": k.version}}
        if body is not None:
            if defs.v3:
                op["requestBody"] = {"content": {t: {"schema": defs.ref(body, in_property=False)}
                                                 for t in consumes}, "required": True}
            else:
                op["parameters"].insert(0, {"in": "body", "name": "body", "required": True,
                                            "schema": defs.ref(body, in_property=False)})
                op["consumes"] = list(consumes)
        if not defs.v3:
            op["produces"] = ["application/json", "application/yaml"]
        return op

    def _response(self, name: str) -> dict:
        if self.defs.v3:
            return {"description": "OK", "content": {"application/json": {
                "schema": self.defs.ref(name, in_property=False)}}}
        return {"description": "OK", "schema": self.defs.ref(name, in_property=False)}


def _string_param(defs: Definitions, param: dict, type_: str = "string") -> dict:
    """A parameter (a string unless said): v2 says its type inline, v3 in a schema."""
    if defs.v3:
        param["schema"] = {"type": type_, "uniqueItems": True}
    else:
        param.update(type=type_, uniqueItems=True)
    return param


def _query_param(defs: Definitions, name: str) -> dict:
    return _string_param(defs, {"name": name, "in": "query", "description": QUERY[name]})


def _typed_query_param(defs: Definitions, name: str, type_: str, description: str) -> dict:
    return _string_param(defs, {"name": name, "in": "query", "description": description}, type_)


def _path_param(defs: Definitions, name: str) -> dict:
    return _string_param(defs, {
        "name": name, "in": "path", "required": True,
        "description": f"{name} of the object" if name == "name" else "object name and auth scope, "
                                                                    "such as for teams and projects"})


DOCUMENTS = Documents()


# ---------------------------------------------------------------- HTTP

# The type as kube-apiserver answers it (kubectl asks with an "@" in place of the second ".",
# which Go's mime parser refuses in a response: "unexpected content after media subtype").
V2_PROTOBUF = "application/com.github.proto-openapi.spec.v2.v1.0+protobuf"


def v2_response(req) -> Response:
    """/openapi/v2 as JSON. kubectl asks for it only as gnostic protobuf, and only when the
    v3 documents fail it; this apiserver does not encode that protobuf and answers such a
    request with an empty body -- a valid, empty document -- so kubectl goes on."""
    accept = req.headers.get("Accept", "")
    if accept and "json" not in accept and "*/*" not in accept and "protobuf" in accept:
        return Response(b"", mimetype=V2_PROTOBUF)
    return Response(DOCUMENTS.current().v2, mimetype="application/json")


def v3_response(req, group_version: str | None) -> Response:
    """The index of group-versions, or one group-version's document (any ?hash= is the
    current one: the index always names the current hash)."""
    docs = DOCUMENTS.current()
    if group_version is None:
        return Response(docs.v3_index, mimetype="application/json")
    doc = docs.v3.get(group_version.strip("/"))
    if doc is None:
        raise errors.no_such_path()
    return Response(doc, mimetype="application/json")
