"""authentication.k8s.io/v1 TokenReview: "is this bearer token good, and who is it?"

A kubelet (or any webhook) that is handed a token asks the apiserver instead of
checking it itself: POST a TokenReview with `spec.token` (and the `spec.audiences` the
caller identifies as), get it back with `status.authenticated`, `status.user`
(username, uid, groups, extra) and the audiences the token is good for -- or with
`status.error` and no user. Nothing is stored; the answer is 201 as for any create.
"""
from __future__ import annotations

from ..api.kinds.authentication import GROUP
from .auth.authenticator import AuthenticationError
from . import errors


def review(authenticate_token, api_audiences, body) -> dict:
    """`authenticate_token(token, audiences)` -> (UserInfo or None, the audiences it is good for);
    it raises AuthenticationError for a token that was refused."""
    if not isinstance(body, dict) or body.get("kind") not in (None, "TokenReview"):
        raise errors.bad_request("the body must be a TokenReview")
    spec = dict(body.get("spec") or {})
    if not spec.get("token"):
        raise errors.bad_request("token is required for TokenReview in authentication")
    wanted = list(spec.get("audiences") or api_audiences)
    status: dict = {"user": {}}
    try:
        user, audiences = authenticate_token(spec["token"], wanted)
    except AuthenticationError as err:
        user, status["error"] = None, f"[invalid bearer token, {err}]"
    if user is not None:
        status = {"authenticated": True,
                  "user": {"username": user.name, "uid": user.uid, "groups": list(user.groups),
                           "extra": {k: list(v) for k, v in (user.extra or {}).items()}},
                  "audiences": audiences}
    elif "error" not in status:
        status["error"] = "[invalid bearer token, token lookup failed]"
    return {"kind": "TokenReview", "apiVersion": f"{GROUP}/v1",
            "metadata": {"creationTimestamp": None}, "spec": spec, "status": status}
