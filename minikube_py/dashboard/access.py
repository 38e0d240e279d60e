"""Who is looking at the dashboard, and what they may see: the cluster's own credentials.

Authentication: the browser gives a bearer token the apiserver accepts (a ServiceAccount
token from `kubectl create token`, a --token-auth-file token); the dashboard asks the
apiserver who it is (POST a TokenReview), as a kubelet does with --authentication-token-webhook.
The dashboard never decides itself whether a token is good.

Authorization: each thing a user reads is a question to the apiserver (POST a
SubjectAccessReview for that user), answered by the cluster's own authorizer (RBAC):

    the event stream   a record of `pods` in namespace N is sent only if the user may
                       list pods in N (or in all namespaces; a watch shows nothing a
                       list does not, so list is the question asked); the same for
                       deployments, replicasets, events, tfjobs; nodes cluster-wide;
                       CPU/memory figures: list nodes/pods of metrics.k8s.io; a pod's GPU
                       ids: those of the pods the user sees
    a pod's YAML       get pods/<name> in its namespace (its events: list events there)
    a pod's log        get pods/log in its namespace

So the stream is filtered per user: two people see different pages from the one set of
informers the dashboard keeps (under its own identity, which may read everything the page
shows). A page whose user may list pods nowhere gets 403.

Answers are kept a short while (30 s for a yes, 10 s for a no; Kubernetes' webhook
authenticator and authorizer cache theirs likewise), so an SSE update costs a dict
lookup, not a review. A page's stream remembers the answers it acted on and asks again
every RECHECK seconds: when one changed (a RoleBinding made or removed) or the token
stopped being good, the stream ends, and the page reconnects to a snapshot filtered by
the new answers. A revoked permission thus takes up to ALLOWED_TTL + RECHECK to show.
"""
from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import requests

from ..client.errors import ApiError
from ..client.ttlcache import TTLCache

ALLOWED_TTL, DENIED_TTL = 30.0, 10.0
RECHECK = 5.0                 # seconds between two re-checks of a stream's answers
PARALLEL_REVIEWS = 8          # reviews asked side by side for a page's first snapshot

# the page's resources: (API group, namespaced)
RESOURCES = {
    "nodes": ("", False),
    "pods": ("", True),
    "deployments": ("apps", True),
    "replicasets": ("apps", True),
    "events": ("", True),
    "tfjobs": ("kubeflow.org", True),
}
METRICS = "metrics.k8s.io"


class ReviewUnavailable(Exception):
    """The apiserver could not be asked (it is restarting, unreachable): neither yes nor no."""


@dataclass(frozen=True)
class User:
    name: str
    uid: str = ""
    groups: tuple = ()
    extra: tuple = field(default=(), compare=True)    # ((key, (values...)), ...): hashable

    def spec(self) -> dict:
        """The user part of a SubjectAccessReview's spec."""
        return {"user": self.name, "uid": self.uid, "groups": list(self.groups),
                "extra": {k: list(v) for k, v in self.extra}}


class Access:
    """Reviews asked of the apiserver with the dashboard's own client (which must be
    allowed to create tokenreviews and subjectaccessreviews)."""

    def __init__(self, client, allowed_ttl: float = ALLOWED_TTL, denied_ttl: float = DENIED_TTL,
                 recheck: float = RECHECK):
        self.client = client
        self.allowed_ttl, self.denied_ttl, self.recheck = allowed_ttl, denied_ttl, recheck
        self.tokens = TTLCache()
        self.decisions = TTLCache()
        self.reviews = 0                  # how many reviews were sent (tests, the docs' numbers)

    def authenticate(self, token: str) -> User | None:
        """The token's user, or None when the apiserver says it is not good."""
        if not token:
            return None
        cached = self.tokens.get(token)
        if cached is not None:
            return cached or None
        try:
            self.reviews += 1
            review = self.client.create("tokenreviews", {"apiVersion": "authentication.k8s.io/v1",
                                                         "kind": "TokenReview", "spec": {"token": token}})
        except (ApiError, requests.RequestException) as e:
            raise ReviewUnavailable(f"TokenReview failed: {e}") from e
        status = review.get("status") or {}
        user = None
        if status.get("authenticated"):
            info = status.get("user") or {}
            user = User(info.get("username", ""), info.get("uid", ""), tuple(info.get("groups") or ()),
                        tuple(sorted((k, tuple(v)) for k, v in (info.get("extra") or {}).items())))
        self.tokens.put(token, user or False, self.allowed_ttl if user else self.denied_ttl)
        return user

    def allowed(self, user: User, verb: str, resource: str, group: str = "", namespace: str = "",
                name: str = "", subresource: str = "") -> bool:
        """May `user` do this? namespace "" for a namespaced resource: in every namespace."""
        attrs = {"verb": verb, "group": group, "resource": resource, "namespace": namespace,
                 "name": name, "subresource": subresource}
        key = (user, tuple(attrs.values()))
        cached = self.decisions.get(key)
        if cached is not None:
            return cached
        review = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                  "spec": {**user.spec(), "resourceAttributes": {k: v for k, v in attrs.items() if v}}}
        try:
            self.reviews += 1
            allowed = bool((self.client.create("subjectaccessreviews", review).get("status") or {})
                           .get("allowed"))
        except (ApiError, requests.RequestException) as e:
            raise ReviewUnavailable(f"SubjectAccessReview failed: {e}") from e
        self.decisions.put(key, allowed, self.allowed_ttl if allowed else self.denied_ttl)
        return allowed

    def forbidden_message(self, user: User, verb: str, resource: str, group: str = "", namespace: str = "",
                          name: str = "", subresource: str = "") -> str:
        """The apiserver's words for a refusal (`pods "web" is forbidden: User "u" cannot get ...`)."""
        full = f"{resource}/{subresource}" if subresource else resource
        what = f'{full} "{name}"' if name else full
        where = f' in the namespace "{namespace}"' if namespace else " at the cluster scope"
        return (f'{what} is forbidden: User "{user.name}" cannot {verb} resource "{full}" '
                f'in API group "{group}"{where}')


class Viewer:
    """What one open page may see: decides each record of the stream, remembering the
    answers it acted on so that a change of them ends the stream (see the module doc)."""

    def __init__(self, access: Access, user: User, token: str):
        self.access, self.user, self.token = access, user, token
        self.answers: dict[tuple, bool] = {}
        self.checked = time.monotonic()

    def _may(self, resource: str, group: str, namespace: str) -> bool:
        """May list: in all namespaces (one answer for every namespace), or in this one."""
        if namespace and self._may(resource, group, ""):
            return True
        key = (resource, group, namespace)
        answer = self.answers.get(key)
        if answer is None:
            answer = self.answers[key] = self._ask(*key)
        return answer

    def _ask(self, resource: str, group: str, namespace: str) -> bool:
        return self.access.allowed(self.user, "list", resource, group, namespace)

    def _prefetch(self, keys: set) -> None:
        """Ask the questions a snapshot needs side by side: a user who may see a few
        namespaces costs a review per (resource, namespace) at the first connect."""
        keys = [k for k in keys if k not in self.answers]
        if len(keys) < 2:
            return
        with ThreadPoolExecutor(min(len(keys), PARALLEL_REVIEWS), thread_name_prefix="review") as pool:
            for key, answer in zip(keys, pool.map(lambda k: self._ask(*k), keys)):
                self.answers[key] = answer

    def sees(self, resource: str, namespace: str = "") -> bool:
        group, namespaced = RESOURCES[resource]
        return self._may(resource, group, namespace if namespaced else "")

    def may_list_pods_somewhere(self, namespaces) -> bool:
        return self.sees("pods", "") or any(self.sees("pods", ns) for ns in namespaces)

    # ------------------------------------------------------------ the stream's messages
    def filter(self, message: dict) -> dict | None:
        """The message as this user may see it, or None."""
        op = message["op"]
        if op == "snapshot":
            wanted = {(r, RESOURCES[r][0], "") for r in message["records"]}
            self._prefetch(wanted)
            self._prefetch({(r, RESOURCES[r][0], rec.get("namespace") or "")
                            for r, recs in message["records"].items() if not self.answers.get((r, RESOURCES[r][0], ""))
                            for rec in recs.values() if RESOURCES[r][1]})
            records = {resource: {key: rec for key, rec in recs.items()
                                  if self.sees(resource, rec.get("namespace") or "")}
                       for resource, recs in message["records"].items()}
            return {**message, "records": records, "metrics": self.metrics(message["metrics"])}
        if op == "metrics":
            return {**message, "metrics": self.metrics(message["metrics"])}
        resource, key = message["resource"], message["key"]
        namespace = key.split("/", 1)[0] if RESOURCES[resource][1] else ""
        return message if self.sees(resource, namespace) else None

    def metrics(self, metrics: dict) -> dict:
        nodes = metrics.get("nodes") or {}
        return {"nodes": nodes if nodes and self._may("nodes", METRICS, "") else {},
                "pods": {k: v for k, v in (metrics.get("pods") or {}).items()
                         if self._may("pods", METRICS, k.split("/", 1)[0])},
                "gpuDevices": {k: v for k, v in (metrics.get("gpuDevices") or {}).items()
                               if self.sees("pods", k.split("/", 1)[0])}}

    def changed(self) -> bool:
        """Every RECHECK seconds: is the token still good, and is every answer the same?"""
        now = time.monotonic()
        if now - self.checked < self.access.recheck:
            return False
        self.checked = now
        if self.access.authenticate(self.token) != self.user:
            return True
        return any(self._ask(*key) != answer for key, answer in list(self.answers.items()))
