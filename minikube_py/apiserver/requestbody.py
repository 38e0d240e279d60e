"""What a request carries, read as kube-apiserver reads it.

A body is JSON, or protobuf (kubectl's typed commands), or YAML (server-side apply);
a PATCH names its kind of patch by its Content-Type; a DELETE's options come in the
body and in the query. Every reader answers a bad request with a Status (400, 413, 415).

What a body decodes to is bounded before anything walks it: at most MAX_DEPTH levels
of nesting (merge patches, apply, validation and the codecs recurse, and Python stops
at about 1000 frames: a 900-deep body was a 500 before), and a YAML document may not
grow far past its own size through aliases (a "billion laughs" of anchors).
"""
from __future__ import annotations

import yaml
from werkzeug.wrappers import Request

from .. import codec
from ..api.kinds.customresource import CustomResourceKind
from . import errors, protobuf

MAX_BODY = 3 * 1024 * 1024   # kube-apiserver's limit on a request body
MAX_DEPTH = 100              # no Kubernetes object nests nearly this deep
JSON = "application/json"
# what a create, an update or DeleteOptions may be sent as ("": no Content-Type, read as JSON,
# as kube-apiserver takes the first type it serves); a PATCH names its type (PATCH_TYPES)
BODY_TYPES = ("", JSON, protobuf.CONTENT_TYPE)
PATCH_TYPES = {"application/merge-patch+json": "merge",
               "application/strategic-merge-patch+json": "strategic",
               "application/json-patch+json": "json",
               "application/apply-patch+yaml": "apply"}    # server-side apply (fieldmanager.py)


def read_json(req: Request):
    data = req.get_data(cache=True)
    # a chunked body has no Content-Length: werkzeug stops reading it at the limit
    if len(data) > MAX_BODY or (len(data) == MAX_BODY and req.content_length is None):
        raise errors.too_large()
    if not data:
        raise errors.bad_request("the request body is empty")
    ctype = (req.content_type or "").split(";")[0].strip()
    if req.method != "PATCH" and ctype not in BODY_TYPES:
        raise errors.unsupported_media(ctype, accepted=(JSON, protobuf.CONTENT_TYPE))
    if ctype == protobuf.CONTENT_TYPE:
        # kubectl's typed commands (create namespace, create deployment, debug) send protobuf
        # and do not retry as JSON: decode it into the dict the JSON would have given.
        try:
            return protobuf.decode(data)
        except protobuf.Unsupported as err:
            raise errors.unsupported_media(f"{ctype}: {err}") from None
        except protobuf.DecodeError as err:
            raise errors.bad_request(f"the body of the request could not be decoded as protobuf: {err}") from None
    if ctype == "application/apply-patch+yaml":
        return read_yaml(data)
    try:
        body = codec.loads(data)
    except (ValueError, UnicodeDecodeError) as err:
        raise errors.bad_request(f"the body of the request could not be decoded as JSON: {err}") from None
    # a body with fewer brackets than MAX_DEPTH cannot nest deeper: most never need the walk
    if data.count(b"{") + data.count(b"[") > MAX_DEPTH:
        check_shape(body, "JSON", len(data))
    return body


def check_shape(body, format_: str, size: int):
    """400 unless `body` nests at most MAX_DEPTH deep and has no more values than a
    document of `size` bytes can write out (only aliases can make more)."""
    stack, values = [(body, 1)], 0
    while stack:
        value, depth = stack.pop()
        values += 1
        if isinstance(value, dict):
            children = value.values()
        elif isinstance(value, list):
            children = value
        else:
            continue
        if depth > MAX_DEPTH:
            raise errors.bad_request(f"the body of the request could not be decoded as {format_}: "
                                     f"exceeded max depth of {MAX_DEPTH}")
        if values + len(children) > 2 * size + 16:
            raise errors.bad_request(f"the body of the request could not be decoded as {format_}: "
                                     "document contains excessive aliasing")
        stack.extend((child, depth + 1) for child in children)


# A query parameter's bool, as Go's strconv.ParseBool reads it (the Python client sends "True").
BOOLS = {**dict.fromkeys(("1", "t", "T", "true", "TRUE", "True"), True),
          **dict.fromkeys(("0", "f", "F", "false", "FALSE", "False"), False)}


def read_yaml(data: bytes):
    """An apply configuration: YAML, or the JSON kubectl sends (JSON is YAML too)."""
    try:
        body = codec.loads(data)
    except (ValueError, UnicodeDecodeError):
        try:
            body = yaml.safe_load(data)
        except yaml.YAMLError as err:
            raise errors.bad_request(f"error decoding YAML: {err}") from None
        except RecursionError:
            raise errors.bad_request(f"error decoding YAML: exceeded max depth of {MAX_DEPTH}") from None
    check_shape(body, "YAML", len(data))
    return body


def patch_type(req: Request, rt=None) -> str:
    ctype = (req.content_type or "").split(";")[0].strip()
    if ctype not in PATCH_TYPES:
        raise errors.unsupported_media(ctype)
    if isinstance(rt, CustomResourceKind) and PATCH_TYPES[ctype] == "strategic":
        # A custom object has no Go struct with patch strategies: kube-apiserver refuses it.
        raise errors.APIError(415, "UnsupportedMediaType", "the body of the request was in an unknown "
                              "format - accepted media types include: application/json-patch+json, "
                              "application/merge-patch+json, application/apply-patch+yaml")
    return PATCH_TYPES[ctype]

def delete_options(req: Request) -> dict:
    options = {}
    if req.get_data():
        options = read_json(req)
        if not isinstance(options, dict):
            raise errors.bad_request("DeleteOptions must be a JSON object")
    args = req.args
    if args.get("propagationPolicy"):
        options["propagationPolicy"] = args["propagationPolicy"]
    if args.get("gracePeriodSeconds") is not None:
        try:
            options["gracePeriodSeconds"] = int(args["gracePeriodSeconds"])
        except ValueError:
            raise errors.bad_request("gracePeriodSeconds must be an integer") from None
    if args.get("orphanDependents") is not None:
        options["orphanDependents"] = args["orphanDependents"] == "true"
    problem = delete_options_problem(options)
    if problem:
        raise errors.bad_request(f"the body of the request could not be decoded as DeleteOptions: {problem}")
    return options


# DeleteOptions' fields and their Go types, as kube-apiserver's decoder holds a body to them
INT64 = range(-2 ** 63, 2 ** 63)


def delete_options_problem(options: dict) -> str | None:
    def wrong(field, go_type):
        return f"json: cannot unmarshal {type(options[field]).__name__} into Go struct field " \
               f"DeleteOptions.{field} of type {go_type}"
    grace = options.get("gracePeriodSeconds")
    if grace is not None and (isinstance(grace, bool) or not isinstance(grace, int)):
        return wrong("gracePeriodSeconds", "int64")
    if grace is not None and grace not in INT64:
        return f"gracePeriodSeconds: value out of range: {grace}"
    for field, kind, go_type in (("propagationPolicy", str, "v1.DeletionPropagation"),
                                 ("orphanDependents", bool, "bool"), ("preconditions", dict, "v1.Preconditions"),
                                 ("dryRun", list, "[]string")):
        if options.get(field) is not None and not isinstance(options[field], kind):
            return wrong(field, go_type)
    for field in ("uid", "resourceVersion"):
        if (options.get("preconditions") or {}).get(field) is not None and \
                not isinstance(options["preconditions"][field], str):
            return f"json: cannot unmarshal into Go struct field Preconditions.{field} of type string"
    return None
