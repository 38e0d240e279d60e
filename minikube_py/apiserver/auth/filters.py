"""The WSGI middleware in front of the whole apiserver: authenticate, then authorize.

    request → Authenticate (401 Unauthorized; impersonation: 403) → max-in-flight (429)
            → Authorize (403 Forbidden) → the app (ResourceRoutes, Flask) → admission → storage

as kube-apiserver's DefaultBuildHandlerChain puts WithAuthentication, WithImpersonation,
WithMaxInFlightLimit and WithAuthorization: two filters, so that the in-flight limit
(inflight.py) sits between them, knows the user (system:masters is never refused) and
sheds load before an authorizer is asked anything. AuthFilter is the two back to back.
What they found is left in the WSGI environ for what comes after (admission, the review
APIs, audit): ``environ[USER]`` the UserInfo and ``environ[REQUEST_INFO]`` the
RequestInfo; read them with `user_of` and `request_info_of`, which also answer for an
apiserver started without any authentication (tests, benchmarks: no middleware at all,
so the request path costs what it did; everyone is the unsecured system:masters user
and every request is allowed, as on kube-apiserver's old insecure port).
"""
from __future__ import annotations

from ... import codec
from . import impersonation
from .authenticator import AuthenticationError
from .authorizer import Attributes, Decision
from .requestinfo import RequestInfo, request_info
from .user import UNSECURED, UserInfo

USER = "minikube_py.user"
# the user who authenticated, when it impersonates another (USER): the audit log names both
AUTHENTICATED_USER = "minikube_py.authenticated_user"
REQUEST_INFO = "minikube_py.request_info"


def user_of(environ) -> UserInfo:
    return environ.get(USER, UNSECURED)


def request_info_of(environ) -> RequestInfo:
    info = environ.get(REQUEST_INFO)
    if info is None:
        info = environ[REQUEST_INFO] = request_info(environ)
    return info


class Authenticate:
    """Who is asking (401 if no one we believe), and whom they act as (kubectl --as)."""

    def __init__(self, app, authentication, authorizer):
        self.app = app
        self.authentication = authentication
        self.authorizer = authorizer          # impersonation asks it whether --as is allowed

    def __call__(self, environ, start_response):
        try:
            user = self.authentication.authenticate(environ)
        except AuthenticationError:
            user = None
        if user is None:
            return send(start_response, 401, unauthorized())
        if impersonation.wanted(environ):        # kubectl --as: act as another user, if allowed
            environ[AUTHENTICATED_USER] = user
            try:
                user = impersonation.impersonate(environ, user, self.authorizer)
            except impersonation.ImpersonationRefused as refused:
                if refused.code == 400:
                    return send(start_response, 400, bad_request(str(refused)))
                return send(start_response, 403, forbidden(refused.attrs, refused.reason))
        environ[USER] = user
        environ[REQUEST_INFO] = request_info(environ)
        return self.app(environ, start_response)


class Authorize:
    """May the user (Authenticate's) do what the request asks? Else 403."""

    def __init__(self, app, authorizer):
        self.app = app
        self.authorizer = authorizer

    def __call__(self, environ, start_response):
        attrs = Attributes(user_of(environ), request_info_of(environ))
        decision, reason = self.authorizer.authorize(attrs)
        if decision is not Decision.ALLOW:
            return send(start_response, 403, forbidden(attrs, reason))
        return self.app(environ, start_response)


def AuthFilter(app, authentication, authorizer):  # noqa: N802 - reads as the class it was
    """Authenticate, then Authorize, with nothing between them."""
    return Authenticate(Authorize(app, authorizer), authentication, authorizer)


def send(start_response, code: int, status: dict):
    body = codec.dumps(status)
    start_response(f"{code} {STATUS_TEXT[code]}",
                   [("Content-Type", "application/json"), ("Content-Length", str(len(body))),
                    ("Cache-Control", "no-cache, private")])
    return [body]


STATUS_TEXT = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden"}


def bad_request(message: str) -> dict:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": "BadRequest", "code": 400}


def unauthorized() -> dict:
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": "Unauthorized", "reason": "Unauthorized", "code": 401}


def forbidden_message(attrs: Attributes) -> str:
    """`User "u" cannot list resource "pods" in API group "" in the namespace "ns"` (Kubernetes' words)."""
    user = attrs.user.name
    if not attrs.is_resource_request:
        return f'User "{user}" cannot {attrs.verb} path "{attrs.path}"'
    resource = f"{attrs.resource}/{attrs.subresource}" if attrs.subresource else attrs.resource
    if attrs.namespace:
        return (f'User "{user}" cannot {attrs.verb} resource "{resource}" in API group '
                f'"{attrs.api_group}" in the namespace "{attrs.namespace}"')
    return f'User "{user}" cannot {attrs.verb} resource "{resource}" in API group "{attrs.api_group}" at the cluster scope'


def forbidden(attrs: Attributes, reason: str = "") -> dict:
    """The 403 Status: `pods "x" is forbidden: User ... cannot get resource ...: <reason>`."""
    message = forbidden_message(attrs)
    if reason:
        message = f"{message}: {reason}"
    details = {}
    if attrs.resource:
        qualified = f"{attrs.resource}.{attrs.api_group}" if attrs.api_group else attrs.resource
        if attrs.name:
            message = f'{qualified} "{attrs.name}" is forbidden: {message}'
            details["name"] = attrs.name
        else:
            message = f"{qualified} is forbidden: {message}"
        if attrs.api_group:
            details["group"] = attrs.api_group
        details["kind"] = attrs.resource
    else:
        message = f"forbidden: {message}"
    return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": message, "reason": "Forbidden", "details": details, "code": 403}
