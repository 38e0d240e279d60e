"""kube-apiserver's --max-requests-inflight and --max-mutating-requests-inflight.

The apiserver answers at most N read-only requests (get, list) and M mutating ones
(create, update, patch, delete, ...) at once; one over the limit is answered at
once with 429 TooManyRequests and ``Retry-After: 1`` instead of queueing behind the
others, so an overloaded apiserver sheds load rather than piling up threads, and
clients back off (client-go and our client/flowcontrol.py retry a 429 after
Retry-After). As in Kubernetes' WithMaxInFlightLimit:

- long-running requests are not counted: watches, proxy, and the log, exec,
  attach and portforward subresources (they would hold a slot for minutes);
- a user in system:masters is never refused (it is the cluster's admin, or a
  component on loopback), but does use a slot while there is one;
- a limit of 0 means no limit.

A slot is a token popped from a deque and appended back (both atomic, no lock), and
the URL is parsed only when it might name a long-running request (or the auth filter
has parsed it already), so a request that is not refused pays a few microseconds for
all this. (A semaphore, even acquired without blocking, takes its condition's lock:
a py-spy dump at 500 hollow nodes had 326 of 951 threads queued on the two.)
"""
from __future__ import annotations

import collections

from .. import codec
from .auth.filters import REQUEST_INFO, USER, request_info_of
from .auth.user import MASTERS_GROUP

DEFAULT_MAX_REQUESTS_INFLIGHT = 400          # kube-apiserver's defaults
DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT = 200
LONG_RUNNING_VERBS = ("watch", "proxy")
LONG_RUNNING_SUBRESOURCES = ("attach", "exec", "proxy", "log", "portforward")
NON_MUTATING_VERBS = ("get", "list", "watch")
RETRY_AFTER_SECONDS = 1

TOO_MANY_REQUESTS = codec.dumps({
    "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
    "message": "Too many requests, please try again later.", "reason": "TooManyRequests",
    "details": {"retryAfterSeconds": RETRY_AFTER_SECONDS}, "code": 429})


LONG_RUNNING_HINTS = ("/watch/", "/proxy", "/log", "/exec", "/attach", "/portforward")


def might_be_long_running(environ) -> bool:
    """A cheap first look: only a URL with one of these can be long-running."""
    path = environ.get("PATH_INFO", "")
    return "watch" in environ.get("QUERY_STRING", "") or any(hint in path for hint in LONG_RUNNING_HINTS)


def long_running(info) -> bool:
    return info.verb in LONG_RUNNING_VERBS or (info.is_resource_request
                                               and info.subresource in LONG_RUNNING_SUBRESOURCES)


class Slots:
    """N slots without a lock: a deque of tokens (pop and append are atomic)."""

    def __init__(self, n: int):
        self._tokens = collections.deque([None] * n)

    def acquire(self, blocking: bool = False) -> bool:
        try:
            self._tokens.pop()
            return True
        except IndexError:
            return False

    def release(self) -> None:
        self._tokens.append(None)

    def free(self) -> int:
        return len(self._tokens)


class MaxInFlight:
    """WSGI middleware: a slot from the read-only or the mutating pool, or a 429."""

    def __init__(self, app, max_requests: int = DEFAULT_MAX_REQUESTS_INFLIGHT,
                 max_mutating: int = DEFAULT_MAX_MUTATING_REQUESTS_INFLIGHT):
        self.app = app
        self.read_only = Slots(max_requests) if max_requests > 0 else None
        self.mutating = Slots(max_mutating) if max_mutating > 0 else None

    def __call__(self, environ, start_response):
        if REQUEST_INFO in environ or might_be_long_running(environ):
            info = request_info_of(environ)
            if long_running(info):
                return self.app(environ, start_response)
            read_only = info.verb in NON_MUTATING_VERBS
        else:               # the common case, without parsing the URL: get and list read
            read_only = environ.get("REQUEST_METHOD") in ("GET", "HEAD")
        slots = self.read_only if read_only else self.mutating
        if slots is None:
            return self.app(environ, start_response)
        if not slots.acquire(blocking=False):
            if privileged(environ):
                return self.app(environ, start_response)
            start_response("429 Too Many Requests", [
                ("Content-Type", "application/json"), ("Content-Length", str(len(TOO_MANY_REQUESTS))),
                ("Retry-After", str(RETRY_AFTER_SECONDS))])
            return [TOO_MANY_REQUESTS]
        try:
            # the app has built its whole answer when it returns (all but the
            # long-running requests above, which stream theirs)
            return self.app(environ, start_response)
        finally:
            slots.release()


def privileged(environ) -> bool:
    """Authenticated as a member of system:masters (with no authentication configured,
    there is no authenticated user: everyone is limited, as on the old insecure port)."""
    user = environ.get(USER)
    return user is not None and MASTERS_GROUP in user.groups
