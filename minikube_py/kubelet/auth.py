"""Who may use the kubelet's API, and for what: the kubelet's webhook authentication and
authorization, as a kubelet run with --authentication-token-webhook and
--authorization-mode=Webhook.

Authentication: a client certificate of the cluster CA (verified in the TLS handshake:
CN is the user, O its groups), else ``Authorization: Bearer <token>`` checked by the
apiserver (POST a TokenReview). Neither: 401.

Authorization: each request is a question about the node object, asked of the apiserver
(POST a SubjectAccessReview): verb from the method (GET → get, POST → create, ...),
resource ``nodes``, name this node, subresource from the path (``/stats`` → stats,
``/metrics`` → metrics, ``/logs`` → log, ``/spec`` → spec, anything else -- exec, logs of
a container, port-forward, pods -- → proxy). RBAC's system:kubelet-api-admin grants them
all. A refusal is 403 ``Forbidden (user=..., verb=..., resource=nodes, subresource=...)``.

Answers are remembered for a while (Kubernetes' webhook caches: 2 minutes for a yes,
30 seconds for a no), so a busy client costs the apiserver one review, not one per request.
"""
from __future__ import annotations

from dataclasses import dataclass

import requests

from ..client.errors import ApiError
from ..client.ttlcache import TTLCache

VERBS = {"GET": "get", "HEAD": "get", "POST": "create", "PUT": "update", "PATCH": "patch",
         "DELETE": "delete"}
SUBRESOURCES = (("/stats", "stats"), ("/metrics", "metrics"), ("/logs", "log"), ("/spec", "spec"),
                ("/checkpoint", "checkpoint"))
ALLOWED_TTL, DENIED_TTL = 120.0, 30.0


@dataclass(frozen=True)
class Caller:
    name: str
    uid: str = ""
    groups: tuple = ()


def subresource_of(path: str) -> str:
    for prefix, sub in SUBRESOURCES:
        if path == prefix or path.startswith(prefix + "/"):
            return sub
    return "proxy"


class KubeletAuth:
    """`client`: the kubelet's own apiserver client (it must be allowed to create
    tokenreviews and subjectaccessreviews, as system:node is)."""

    def __init__(self, client, token_webhook: bool = True, authorize_webhook: bool = True):
        self.client = client
        self.token_webhook = token_webhook
        self.authorize_webhook = authorize_webhook
        self.tokens = TTLCache()
        self.decisions = TTLCache()

    def authenticate(self, cert: dict | None, authorization: str) -> Caller | None:
        if cert:
            names = [(k, v) for rdn in cert.get("subject", ()) for k, v in rdn]
            common = [v for k, v in names if k == "commonName"]
            if common:
                return Caller(common[0], groups=tuple(v for k, v in names if k == "organizationName"))
        scheme, _, token = (authorization or "").partition(" ")
        if not self.token_webhook or scheme.lower() != "bearer" or not token.strip():
            return None
        return self._review_token(token.strip())

    def _review_token(self, token: str) -> Caller | None:
        cached = self.tokens.get(token)
        if cached is not None:
            return cached or None
        try:
            review = self.client.create("tokenreviews", {"apiVersion": "authentication.k8s.io/v1",
                                                         "kind": "TokenReview", "spec": {"token": token}})
        except (ApiError, requests.RequestException):
            return None                  # not cached: the apiserver may answer next time
        status = review.get("status") or {}
        caller = None
        if status.get("authenticated"):
            user = status.get("user") or {}
            caller = Caller(user.get("username", ""), user.get("uid", ""), tuple(user.get("groups") or ()))
        self.tokens.put(token, caller or False, ALLOWED_TTL if caller else DENIED_TTL)
        return caller

    def authorize(self, caller: Caller, method: str, path: str, node: str) -> tuple[bool, str, str]:
        """(allowed, verb, subresource)."""
        verb, sub = VERBS.get(method, method.lower()), subresource_of(path)
        if not self.authorize_webhook:
            return True, verb, sub
        key = (caller, verb, sub, node)
        cached = self.decisions.get(key)
        if cached is not None:
            return cached, verb, sub
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                  "spec": {"user": caller.name, "uid": caller.uid, "groups": list(caller.groups),
                           "resourceAttributes": {"verb": verb, "resource": "nodes", "name": node,
                                                  "subresource": sub}}}
        try:
            allowed = bool((self.client.create("subjectaccessreviews", review).get("status") or {})
                           .get("allowed"))
        except (ApiError, requests.RequestException):
            return False, verb, sub
        self.decisions.put(key, allowed, ALLOWED_TTL if allowed else DENIED_TTL)
        return allowed, verb, sub
