"""Kubernetes `Status` errors.

Every failure the API returns is a `Status` object whose `reason` and `code` a client
can act on: kubectl prints `Error from server (NotFound): pods "x" not found`, an
informer re-lists on 410 Expired, a controller retries on 409 Conflict.
"""
from __future__ import annotations


class APIError(Exception):
    def __init__(self, code: int, reason: str, message: str, details: dict | None = None):
        super().__init__(message)
        self.code = code
        self.reason = reason
        self.message = message
        self.details = details
        self.list_metadata: dict = {}     # e.g. a `continue` token with a 410 Expired

    def status(self) -> dict:
        s = {"kind": "Status", "apiVersion": "v1", "metadata": dict(self.list_metadata), "status": "Failure",
             "message": self.message, "reason": self.reason, "code": self.code}
        if self.details:
            s["details"] = self.details
        return s


def _details(rt, name) -> dict:
    d = {"name": name, "kind": rt.plural}
    if rt.group:
        d["group"] = rt.group
    return d


def qualified(rt) -> str:
    """`pods` or `deployments.apps`, as Kubernetes names a resource in messages."""
    return f"{rt.plural}.{rt.group}" if rt.group else rt.plural


def not_found(rt, name) -> APIError:
    return APIError(404, "NotFound", f'{qualified(rt)} "{name}" not found', _details(rt, name))


def already_exists(rt, name) -> APIError:
    return APIError(409, "AlreadyExists", f'{qualified(rt)} "{name}" already exists', _details(rt, name))


def conflict(rt, name) -> APIError:
    return APIError(409, "Conflict",
                    f'Operation cannot be fulfilled on {qualified(rt)} "{name}": the object has been '
                    "modified; please apply your changes to the latest version and try again",
                    _details(rt, name))


def invalid(rt, name, causes: list[dict]) -> APIError:
    kind = rt.kind if rt else "Object"
    msgs = ", ".join(f"{c.get('field')}: {c.get('message')}" if c.get("field") else c.get("message", "")
                     for c in causes)
    return APIError(422, "Invalid", f'{kind} "{name}" is invalid: {msgs}',
                    {"name": name, "group": rt.group if rt else "", "kind": kind, "causes": causes})


def bad_request(message: str) -> APIError:
    return APIError(400, "BadRequest", message)


def forbidden(rt, name, message: str) -> APIError:
    return APIError(403, "Forbidden", f'{qualified(rt)} "{name}" is forbidden: {message}', _details(rt, name))


def expired(message: str) -> APIError:
    return APIError(410, "Expired", message)


def unavailable(message: str) -> APIError:
    return APIError(503, "ServiceUnavailable", message)


def too_large() -> APIError:
    return APIError(413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728")


def no_such_path() -> APIError:
    """A URL that names no resource, version or group this server has."""
    return APIError(404, "NotFound", "the server could not find the requested resource")


def method_not_allowed(message: str = "the server does not allow this method on the requested resource"):
    return APIError(405, "MethodNotAllowed", message)


PATCH_MEDIA_TYPES = ("application/json-patch+json", "application/merge-patch+json",
                     "application/strategic-merge-patch+json")


def unsupported_media(ctype: str, accepted=("application/json", *PATCH_MEDIA_TYPES)) -> APIError:
    return APIError(415, "UnsupportedMediaType", f"the body of the request was in an unknown format - "
                                                 f"accepted media types include: {', '.join(accepted)} ({ctype})")
