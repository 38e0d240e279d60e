"""What a request carries, read as kube-apiserver reads it.

A body is JSON, or protobuf (kubectl's typed commands), or YAML (server-side apply);
a PATCH names its kind of patch by its Content-Type; a DELETE's options come in the
body and in the query. Every reader answers a bad request with a Status (400, 413, 415).
"""
from __future__ import annotations

import yaml
from werkzeug.wrappers import Request

from .. import codec
from ..api.kinds.customresource import CustomResourceKind
from . import errors, protobuf

MAX_BODY = 3 * 1024 * 1024   # kube-apiserver's limit on a request body
JSON = "application/json"
PATCH_TYPES = {"application/merge-patch+json": "merge",
               "application/strategic-merge-patch+json": "strategic",
               "application/json-patch+json": "json",
               "application/apply-patch+yaml": "apply"}    # server-side apply (fieldmanager.py)


def read_json(req: Request):
    data = req.get_data(cache=True)
    if len(data) > MAX_BODY:
        raise errors.too_large()
    if not data:
        raise errors.bad_request("the request body is empty")
    ctype = (req.content_type or "").split(";")[0].strip()
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
    if ctype == "application/yaml":
        raise errors.unsupported_media(ctype)
    try:
        return codec.loads(data)
    except (ValueError, UnicodeDecodeError) as err:
        raise errors.bad_request(f"the body of the request could not be decoded as JSON: {err}") from None


# A query parameter's bool, as Go's strconv.ParseBool reads it (the Python client sends "True").
BOOLS = {**dict.fromkeys(("1", "t", "T", "true", "TRUE", "True"), True),
          **dict.fromkeys(("0", "f", "F", "false", "FALSE", "False"), False)}


def read_yaml(data: bytes):
    """An apply configuration: YAML, or the JSON kubectl sends (JSON is YAML too)."""
    try:
        return codec.loads(data)
    except (ValueError, UnicodeDecodeError):
        pass
    try:
        return yaml.safe_load(data)
    except yaml.YAMLError as err:
        raise errors.bad_request(f"error decoding YAML: {err}") from None


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
    return options
