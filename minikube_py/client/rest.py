"""The REST client: typed verbs over the Kubernetes HTTP API.

Every component -- controllers, scheduler, kubelet, mkctl -- talks to the
apiserver through this one class, as Go components use client-go's
RESTClient.  It is deliberately thin: it builds the path from the resource
registry, sends JSON, and turns failures into typed errors (``NotFound``,
``Conflict``, ...) so callers can write ``except Conflict: retry``.

Connections are kept for the life of the client and reused (keep-alive); the
pools are large because a busy controller-manager runs many requests and
watches at once.  The typed verbs (get, create, bind, ...) go through plain
``http.client`` connections (connections.py): they are every component's hot path,
and ``requests`` spends about five times the CPU per call (~1.1 ms against ~0.2 ms
there) on the same cores as the apiserver.  Streams (watches, logs) and
``request()`` use a ``requests.Session``, whose Response is the friendlier object
to hand to callers.

Network failures (server down, connection reset) surface as ``requests``
exceptions (``ConnectionError``, ``Timeout``) from both paths, not ApiErrors:
the server never answered, so there is no Status.
"""

from __future__ import annotations

import datetime
import json
import logging
import os
import threading
import time
from typing import Any, Iterator, Optional

from urllib.parse import urlencode

import requests
from requests.adapters import HTTPAdapter

from .. import codec
from . import errors
from .connections import Connections
from .events import object_reference
from .kubeconfig import ClientConfig, load_config
from .discovery import ResourceLike, RESTMapper, resource_path

__all__ = ["Client", "Watch", "resource_path", "PATCH_CONTENT_TYPES"]

log = logging.getLogger(__name__)

# kubectl's --type=merge|strategic|json and the content type each one sends.
PATCH_CONTENT_TYPES = {
    "merge": "application/merge-patch+json",
    "strategic": "application/strategic-merge-patch+json",
    "json": "application/json-patch+json",
}

DEFAULT_TIMEOUT = 30.0
# An apiserver over its --max-requests-inflight answers 429 with Retry-After (1 s) and did
# nothing: client-go waits and sends the same request again, up to 10 times.
TOO_MANY_REQUESTS_RETRIES = 10
RETRY_AFTER_DEFAULT = 1.0


def _retry_after(value) -> float:
    try:
        return min(max(float(value), 0.0), 10.0)
    except (TypeError, ValueError):
        return RETRY_AFTER_DEFAULT


def _now_rfc3339() -> str:
    """Kubernetes ``Time``: RFC 3339, seconds, UTC with a ``Z``."""
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _meta(obj: dict) -> dict:
    return obj.get("metadata") or {}


class Client:
    """A connection to one apiserver.

    ``Client()`` reads the kubeconfig (see :mod:`.kubeconfig`);
    ``Client("http://127.0.0.1:6443")`` talks to that server directly.
    """

    def __init__(self, server: Optional[str] = None, kubeconfig: Optional[str] = None,
                 timeout: float = DEFAULT_TIMEOUT, token: Optional[str] = None,
                 config: Optional[ClientConfig] = None, pool_maxsize: int = 64,
                 user_agent: str = "minikube-py"):
        if config is None:
            config = ClientConfig(server=server) if server and not kubeconfig \
                else load_config(kubeconfig)
        if server:
            config.server = server
        if token:
            config.token = token
        self.config = config
        self.server = config.server.rstrip("/")
        self.namespace = config.namespace or "default"
        self.timeout = timeout

        self.session = requests.Session()
        # Everything we need comes from the kubeconfig. Without this, requests re-reads the
        # proxy variables from the environment on every call (a quarter of a controller's CPU).
        self.session.trust_env = False
        adapter = HTTPAdapter(pool_connections=8, pool_maxsize=pool_maxsize)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.verify = config.verify
        self.session.cert = config.cert
        self.session.headers.update({"Accept": "application/json", "User-Agent": user_agent})
        if config.token:
            self.session.headers["Authorization"] = f"Bearer {config.token}"
        self.connections = Connections(config, timeout, pool_maxsize)
        self._headers = dict(self.session.headers)
        # Names -> paths: the built-in kinds, and whatever else the server's discovery lists.
        self.mapper = RESTMapper(read=lambda path: self._json("GET", path))

    def __repr__(self) -> str:
        return f"Client({self.server!r})"

    def close(self) -> None:
        self.session.close()
        self.connections.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ----------------------------------------------------------------- plumbing

    def _default_ns(self, resource: ResourceLike, namespace: Optional[str]) -> Optional[str]:
        """Namespaced objects default to the kubeconfig's namespace, as in kubectl."""
        if not self.mapper.resource_for(resource).namespaced:
            return None
        return namespace or self.namespace

    def request(self, method: str, path: str, params: Optional[dict] = None,
                body: Any = None, content_type: str = "application/json",
                stream: bool = False, timeout: Any = None,
                headers: Optional[dict] = None) -> requests.Response:
        """Send one request; return the response, or raise a typed ApiError.

        ``headers`` adds to the session's (e.g. an Accept asking for a Table).
        """
        headers = dict(headers or {})
        data = None
        if body is not None:
            data = json.dumps(body)
            headers["Content-Type"] = content_type
        params = {k: v for k, v in (params or {}).items() if v is not None}
        for retry in range(TOO_MANY_REQUESTS_RETRIES + 1):
            resp = self.session.request(method, self.server + path, params=params, data=data,
                                        headers=headers, stream=stream,
                                        timeout=self.timeout if timeout is None else timeout)
            if resp.status_code != 429 or retry == TOO_MANY_REQUESTS_RETRIES:
                break
            resp.close()
            time.sleep(_retry_after(resp.headers.get("Retry-After")))
        if not 200 <= resp.status_code < 300:
            try:
                errors.raise_for_response(resp)
            finally:
                resp.close()
        return resp

    def _json(self, method: str, path: str, params: Optional[dict] = None,
              body: Any = None, content_type: str = "application/json") -> dict:
        """Send one request and return its JSON body, or raise a typed ApiError."""
        headers = self._headers
        data = None
        if body is not None:
            data = codec.dumps(body)
            headers = {**headers, "Content-Type": content_type}
        if params:
            query = urlencode({k: v for k, v in params.items() if v is not None})
            if query:
                path += "?" + query
        for retry in range(TOO_MANY_REQUESTS_RETRIES + 1):
            status, content = self.connections.request(method, path, data, headers)
            if status != 429 or retry == TOO_MANY_REQUESTS_RETRIES:
                break
            time.sleep(RETRY_AFTER_DEFAULT)     # the 429 of max-inflight says Retry-After: 1
        reply = _Reply(status, content)
        if not 200 <= reply.status_code < 300:
            errors.raise_for_response(reply)
        return reply.json() if reply.content else {}

    def path(self, resource: ResourceLike, namespace: Optional[str] = None, name: Optional[str] = None,
             subresource: Optional[str] = None) -> str:
        """The REST path of a resource's collection, object or subresource (see Kind.path)."""
        return self.mapper.resource_for(resource).path(namespace, name, subresource)

    # -------------------------------------------------------------------- verbs

    def get(self, resource: ResourceLike, name: str, namespace: Optional[str] = None,
            subresource: Optional[str] = None, resource_version: Optional[str] = None) -> dict:
        """GET one object (or one of its subresources, e.g. ``scale``).

        ``resource_version="0"``: any version will do, the apiserver's cache may answer.
        """
        ns = self._default_ns(resource, namespace)
        params = {"resourceVersion": resource_version} if resource_version is not None else None
        return self._json("GET", self.path(resource, ns, name, subresource), params)

    def list(self, resource: ResourceLike, namespace: Optional[str] = None,
             label_selector: Optional[str] = None, field_selector: Optional[str] = None,
             resource_version: Optional[str] = None) -> dict:
        """GET a collection; returns the List (``items`` and ``metadata.resourceVersion``).

        ``namespace=None`` lists across all namespaces.
        """
        params = {"labelSelector": label_selector or None,
                  "fieldSelector": field_selector or None,
                  "resourceVersion": resource_version}
        return self._json("GET", self.path(resource, namespace), params=params)

    def create(self, resource: ResourceLike, obj: dict, namespace: Optional[str] = None) -> dict:
        """POST a new object; its namespace comes from ``obj.metadata`` if not given."""
        ns = self._default_ns(resource, namespace or _meta(obj).get("namespace"))
        return self._json("POST", self.path(resource, ns), body=obj)

    def update(self, resource: ResourceLike, obj: dict, subresource: Optional[str] = None) -> dict:
        """PUT the whole object back.

        If ``metadata.resourceVersion`` is set the server checks it and raises
        Conflict when someone else wrote in between (optimistic concurrency).
        """
        meta = _meta(obj)
        ns = self._default_ns(resource, meta.get("namespace"))
        return self._json("PUT", self.path(resource, ns, meta["name"], subresource), body=obj)

    def update_status(self, resource: ResourceLike, obj: dict) -> dict:
        """PUT to ``/status``: only ``status`` is written, as controllers report state."""
        return self.update(resource, obj, subresource="status")

    def patch(self, resource: ResourceLike, name: str, patch: Any,
              namespace: Optional[str] = None, patch_type: str = "merge",
              subresource: Optional[str] = None) -> dict:
        """PATCH an object: ``merge`` (RFC 7386), ``strategic`` or ``json`` (RFC 6902)."""
        try:
            content_type = PATCH_CONTENT_TYPES[patch_type]
        except KeyError:
            raise ValueError(f"patch_type must be one of {sorted(PATCH_CONTENT_TYPES)}") from None
        ns = self._default_ns(resource, namespace)
        return self._json("PATCH", self.path(resource, ns, name, subresource),
                          body=patch, content_type=content_type)

    def delete(self, resource: ResourceLike, name: str, namespace: Optional[str] = None,
               propagation_policy: Optional[str] = None,
               grace_period_seconds: Optional[int] = None,
               preconditions: Optional[dict] = None) -> dict:
        """DELETE an object, with DeleteOptions.

        ``propagation_policy`` is Background, Foreground or Orphan (what the
        garbage collector does with dependents); ``preconditions`` such as
        ``{"uid": ...}`` or ``{"resourceVersion": ...}`` make the delete
        conditional.  Returns what the server answers: the object (still
        terminating) or a Success Status.
        """
        options: dict = {"kind": "DeleteOptions", "apiVersion": "v1"}
        if propagation_policy:
            options["propagationPolicy"] = propagation_policy
        if grace_period_seconds is not None:
            options["gracePeriodSeconds"] = grace_period_seconds
        if preconditions:
            options["preconditions"] = preconditions
        ns = self._default_ns(resource, namespace)
        return self._json("DELETE", self.path(resource, ns, name), body=options)

    def watch(self, resource: ResourceLike, namespace: Optional[str] = None,
              resource_version: Optional[str] = None, label_selector: Optional[str] = None,
              field_selector: Optional[str] = None, timeout_seconds: Optional[int] = None,
              allow_bookmarks: bool = False) -> "Watch":
        """Open a watch stream; iterate it for ``(type, object)`` pairs.

        Start from the resourceVersion of a previous list to see every change
        after it.  The stream ends when the server closes it (after
        ``timeout_seconds``); a too-old resourceVersion raises ``Expired``.
        """
        params = {
            "watch": "1",
            "resourceVersion": resource_version or None,
            "allowWatchBookmarks": "true" if allow_bookmarks else None,
            "timeoutSeconds": timeout_seconds,
            "labelSelector": label_selector or None,
            "fieldSelector": field_selector or None,
        }
        # Connect quickly; while reading, wait a little longer than the
        # server's own timeout so the server, not we, ends a quiet stream.
        read_timeout = timeout_seconds + 30 if timeout_seconds else None
        resp = self.request("GET", self.path(resource, namespace), params=params,
                            stream=True, timeout=(min(self.timeout, 10.0), read_timeout))
        return Watch(resp)

    # --------------------------------------------------------------- extras

    def bind(self, pod_namespace: str, pod_name: str, node_name: str) -> dict:
        """Assign a pod to a node: what the scheduler does, via ``pods/binding``."""
        binding = {
            "apiVersion": "v1",
            "kind": "Binding",
            "metadata": {"name": pod_name, "namespace": pod_namespace},
            "target": {"apiVersion": "v1", "kind": "Node", "name": node_name},
        }
        return self._json("POST", self.path("pods", pod_namespace, pod_name, "binding"),
                          body=binding)

    def get_raw(self, path: str, params: Optional[dict] = None,
                stream: bool = False) -> requests.Response:
        """GET any path and return the raw response (pod logs are text, not JSON)."""
        timeout = (min(self.timeout, 10.0), None) if stream else None
        return self.request("GET", path, params=params, stream=stream, timeout=timeout)

    def create_event(self, involved_object: dict, reason: str, message: str,
                     type: str = "Normal", component: str = "minikube-py",
                     host: Optional[str] = None) -> dict:
        """Record a core/v1 Event about an object (what ``kubectl describe`` shows).

        ``involved_object`` is the object itself or an ObjectReference.  Like
        client-go's recorder, the Event is named ``<object>.<hex timestamp>``
        and lives in the object's namespace (``default`` for cluster-scoped
        objects such as Nodes).
        """
        ref = object_reference(involved_object)
        ref_name, ref_ns = ref.get("name"), ref.get("namespace")
        now = _now_rfc3339()
        event_ns = ref_ns or "default"
        source = {"component": component}
        if host:
            source["host"] = host
        event = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"{ref_name}.{os.urandom(8).hex()}", "namespace": event_ns},
            "involvedObject": ref,
            "reason": reason,
            "message": message,
            "type": type,
            "source": source,
            "reportingComponent": component,
            "reportingInstance": host or "",
            "firstTimestamp": now,
            "lastTimestamp": now,
            "count": 1,
        }
        return self.create("events", event, namespace=event_ns)


class _Reply:
    """Status code and body of a pooled reply: what errors.raise_for_response reads."""

    def __init__(self, status_code: int, content: bytes):
        self.status_code = status_code
        self.content = content

    def json(self):
        return codec.loads(self.content)

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")


class Watch:
    """An open watch stream: iterate for ``(type, object)``; ``close()`` to stop.

    Each line of the body is one JSON event.  Lines are read with ``read1``
    (return whatever bytes have arrived) rather than ``read(n)`` (wait for n
    bytes), so an event is delivered as soon as it arrives, whether the
    server sends chunked or plain HTTP bodies.

    ``close()`` may be called from another thread: it shuts the socket down,
    which wakes the reader blocked in ``read1``.
    """

    def __init__(self, resp: requests.Response):
        self.resp = resp
        self._closed = threading.Event()

    def __iter__(self) -> Iterator[tuple[str, dict]]:
        try:
            for line in self._lines():
                line = line.strip()
                if not line:
                    continue  # a keep-alive newline
                event = codec.loads(line)
                etype, obj = event.get("type"), event.get("object") or {}
                if etype == "ERROR":
                    # An error inside a 200 stream, e.g. 410 Expired: the
                    # requested resourceVersion has been compacted away.
                    raise errors.error_from_status(obj)
                yield etype, obj
        finally:
            self.close()

    def _lines(self) -> Iterator[bytes]:
        """Split the body into lines as bytes arrive."""
        raw = self.resp.raw
        buf = b""
        while not self._closed.is_set():
            try:
                chunk = raw.read1(65536, decode_content=True)
            except Exception as exc:  # urllib3 and socket errors alike
                if self._closed.is_set():
                    return  # we closed the stream ourselves: a normal end
                raise requests.ConnectionError(f"watch stream broken: {exc}") from exc
            if not chunk:
                break  # the server ended the stream
            buf += chunk
            *lines, buf = buf.split(b"\n")
            yield from lines
        if buf.strip() and not self._closed.is_set():
            yield buf

    def close(self) -> None:
        """Stop the stream (safe to call twice, and from another thread)."""
        if self._closed.is_set():
            return
        self._closed.set()
        try:
            self.resp.raw.shutdown()  # wake a reader blocked on the socket
        except Exception:
            pass
        self.resp.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
