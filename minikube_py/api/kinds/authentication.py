"""The authentication.k8s.io group (`/apis/authentication.k8s.io/v1`): TokenReview, and
TokenRequest, the body of the `serviceaccounts/<name>/token` subresource.

Neither is stored: a TokenRequest asks the apiserver to sign a ServiceAccount token
(what the kubelet mounts into pods, what `kubectl create token` prints), a TokenReview
asks it whether a bearer token is good and whom it names (what a kubelet or webhook
asks before trusting a caller). Each is answered at once by a create (201) carrying
the answer in `status` (apiserver/tokenrequest.py, apiserver/tokenreview.py).
SelfSubjectReview (`kubectl auth whoami`) asks who the asker is (apiserver/accessreview.py).
"""
from __future__ import annotations

from .kind import Kind

GROUP, VERSION = "authentication.k8s.io", "v1"

# TokenRequest.spec.expirationSeconds: 1 h unless asked, at least 10 min, at most 2^32 s
DEFAULT_EXPIRATION_SECONDS = 3600
MIN_EXPIRATION_SECONDS = 600
MAX_EXPIRATION_SECONDS = 1 << 32

_STRINGS = {"type": "array", "items": {"type": "string"}}
_USER = {"type": "object", "description": "The user a token authenticates as.",
         "properties": {"username": {"type": "string"}, "uid": {"type": "string"},
                        "groups": _STRINGS,
                        "extra": {"type": "object", "additionalProperties": _STRINGS}}}

TOKEN_REVIEW = Kind(
    GROUP, VERSION, "TokenReview", "tokenreviews", namespaced=False, verbs=("create",),
    has_status=False, counts_generation=False, eager_watch_cache=False,
    proto="k8s.io.api.authentication.v1.TokenReview",
    schema={"description": "TokenReview attempts to authenticate a token to a known user.",
            "properties": {
                "spec": {"type": "object", "properties": {
                    "token": {"type": "string", "description": "The opaque bearer token."},
                    "audiences": {**_STRINGS, "description": "Identifiers the resource server "
                                                             "presented with the token identifies as."}}},
                "status": {"type": "object", "properties": {
                    "authenticated": {"type": "boolean"}, "user": _USER, "audiences": _STRINGS,
                    "error": {"type": "string"}}}}})

TOKEN_REQUEST_SCHEMA = {
    "description": "TokenRequest requests a token for a given service account.",
    "properties": {
        "spec": {"type": "object", "properties": {
            "audiences": _STRINGS,
            "expirationSeconds": {"type": "integer", "format": "int64"},
            "boundObjectRef": {"type": "object", "properties": {
                "kind": {"type": "string"}, "apiVersion": {"type": "string"},
                "name": {"type": "string"}, "uid": {"type": "string"}}}}},
        "status": {"type": "object", "properties": {
            "token": {"type": "string"},
            "expirationTimestamp": {"type": "string", "format": "date-time"}}}}}


def validate_token_request(spec: dict) -> list:
    """Upstream's ValidateTokenRequest: the lifetime a token may be asked for."""
    from ..validation import invalid
    seconds = spec.get("expirationSeconds")
    if not isinstance(seconds, int) or isinstance(seconds, bool):
        return [invalid("spec.expirationSeconds", seconds, "must be an integer")]
    if seconds < MIN_EXPIRATION_SECONDS:
        return [invalid("spec.expirationSeconds", seconds,
                        "may not specify a duration less than 10 minutes")]
    if seconds > MAX_EXPIRATION_SECONDS:
        return [invalid("spec.expirationSeconds", seconds,
                        "may not specify a duration larger than 2^32 seconds")]
    return []


# kubectl sends it as protobuf, but it carries nothing to read: the answer is the asker
SELF_SUBJECT_REVIEW = Kind(
    GROUP, VERSION, "SelfSubjectReview", "selfsubjectreviews", namespaced=False, verbs=("create",),
    has_status=False, counts_generation=False, eager_watch_cache=False,
    schema={"description": "SelfSubjectReview contains the user information that the kube-apiserver has "
                           "about the user making this request.",
            "properties": {"status": {"type": "object", "properties": {"userInfo": _USER}}}})

KINDS = (TOKEN_REVIEW, SELF_SUBJECT_REVIEW)
