"""Typed API errors, built from the Kubernetes ``Status`` object.

The apiserver answers every failure with a ``Status`` (kind Status, reason,
message, code, details).  Controllers branch on *what* went wrong -- a
NotFound means "already gone", a Conflict means "re-read and retry" -- so the
client turns each Status into an exception class, the way client-go offers
``errors.IsNotFound(err)`` and ``errors.IsConflict(err)``.
"""

from __future__ import annotations

from typing import Optional


class ApiError(Exception):
    """An error answered by the apiserver; ``.status`` is the Status dict."""

    def __init__(self, status: dict):
        self.status = status or {}
        self.code: int = int(self.status.get("code") or 0)
        self.reason: str = self.status.get("reason") or ""
        self.message: str = self.status.get("message") or self.reason or "unknown error"
        super().__init__(f"{self.code} {self.reason}: {self.message}")

    @property
    def details(self) -> dict:
        return self.status.get("details") or {}


class BadRequest(ApiError):
    """400: the request itself is malformed."""


class Unauthorized(ApiError):
    """401: no or bad credentials."""


class Forbidden(ApiError):
    """403: authenticated, but not allowed."""


class NotFound(ApiError):
    """404: the object (or namespace) does not exist."""


class AlreadyExists(ApiError):
    """409 on create: an object with this name exists."""


class Conflict(ApiError):
    """409 on update: stale resourceVersion; re-read and try again."""


class Expired(ApiError):
    """410: the resourceVersion is too old (compacted); re-list."""


class Invalid(ApiError):
    """422: the object failed validation (see ``details.causes``)."""


class TooManyRequests(ApiError):
    """429: throttled; try again later."""


class ServerError(ApiError):
    """5xx, timeouts, service unavailable: the server failed, not the request."""


# Reasons are the more precise signal (409 means either AlreadyExists or
# Conflict); the HTTP code is the fallback.
_BY_REASON = {
    "BadRequest": BadRequest,
    "Unauthorized": Unauthorized,
    "Forbidden": Forbidden,
    "NotFound": NotFound,
    "AlreadyExists": AlreadyExists,
    "Conflict": Conflict,
    "Expired": Expired,
    "Gone": Expired,
    "Invalid": Invalid,
    "TooManyRequests": TooManyRequests,
    "InternalError": ServerError,
    "ServiceUnavailable": ServerError,
    "ServerTimeout": ServerError,
    "Timeout": ServerError,
}

_BY_CODE = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    409: Conflict,
    410: Expired,
    422: Invalid,
    429: TooManyRequests,
}


def error_class(reason: Optional[str], code: Optional[int]) -> type:
    """Pick the exception class for a Status' reason and code."""
    if reason in _BY_REASON:
        return _BY_REASON[reason]
    code = int(code or 0)
    if code in _BY_CODE:
        return _BY_CODE[code]
    if code >= 500:
        return ServerError
    return ApiError


def error_from_status(status: dict) -> ApiError:
    """Build the matching ApiError subclass for a Status dict."""
    return error_class(status.get("reason"), status.get("code"))(status)


_REASON_FOR_CODE = {
    400: "BadRequest", 401: "Unauthorized", 403: "Forbidden", 404: "NotFound",
    405: "MethodNotAllowed", 409: "Conflict", 410: "Expired", 415: "UnsupportedMediaType",
    422: "Invalid", 429: "TooManyRequests", 500: "InternalError",
    503: "ServiceUnavailable", 504: "Timeout",
}


def _status_of(resp) -> dict:
    """The Status in an error response, or one made up from the HTTP reply.

    A reply that is not a Status (a proxy's HTML page, say) gets the reason
    Kubernetes uses for that HTTP code, as client-go does.
    """
    try:
        body = resp.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("kind") == "Status":
        status = dict(body)
        status.setdefault("code", resp.status_code)
        return status
    text = (getattr(resp, "text", "") or "").strip()
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "status": "Failure",
        "code": resp.status_code,
        "reason": _REASON_FOR_CODE.get(resp.status_code, "Unknown"),
        "message": text[:500] or f"HTTP {resp.status_code}",
    }


def raise_for_response(resp) -> None:
    """Raise the typed ApiError for a non-2xx response; return for 2xx."""
    if 200 <= resp.status_code < 300:
        return
    raise error_from_status(_status_of(resp))
