"""ConfigMaps, Secrets (and the claims and volumes behind persistentVolumeClaim volumes)
as the kubelet reads them for its pods: GETs through a short cache.

Pods name ConfigMaps and Secrets in env (``configMapKeyRef``, ``envFrom``) and
in volumes; the kubelet fetches them from the apiserver (never etcd), as
upstream's configmap/secret managers do in their TTL mode
(``cache_based_manager.go``):

* a fetched object is kept for ``ttl`` seconds, so the containers and volumes of
  one sync -- and of pods sharing a ConfigMap -- cost one GET;
* a miss (NotFound) is never cached: a pod waiting for its ConfigMap sees it on
  the very next sync after it was created;
* errors read as upstream's: ``configmap "x" not found`` (singular, as the
  kubelet's managers name the resource), which is what the Failed and
  FailedMount events and the CreateContainerConfigError message show.

Service account tokens for projected volumes are asked of the TokenRequest API
(``serviceaccounts/<name>/token``); while the apiserver does not serve it, the
token is empty (see ``token``).
"""
from __future__ import annotations

import base64
import binascii
import logging
import threading
import time

from ..client import errors as api_errors

log = logging.getLogger(__name__)

DEFAULT_TTL = 5.0
TOKEN_API_RETRY = 300.0     # seconds before asking again an apiserver that had no TokenRequest


class ObjectError(Exception):
    """A ConfigMap/Secret could not be had; ``str()`` is the Kubernetes message."""

    def __init__(self, message: str, not_found: bool = False):
        super().__init__(message)
        self.message = message
        self.not_found = not_found


class ObjectCache:
    """``configmap(ns, name)`` / ``secret(ns, name)`` -> the object, or ObjectError."""

    def __init__(self, client, ttl: float = DEFAULT_TTL, clock=time.monotonic):
        self.client = client
        self.ttl = ttl
        self.clock = clock
        self._lock = threading.Lock()
        self._cache: dict[tuple, tuple[float, dict]] = {}
        self._tokens: dict[tuple, tuple[float, bytes]] = {}
        self._no_token_api_until = 0.0

    def _get(self, resource: str, singular: str, namespace: str, name: str) -> dict:
        key = (resource, namespace, name)
        now = self.clock()
        with self._lock:
            hit = self._cache.get(key)
            if hit is not None and now - hit[0] < self.ttl:
                return hit[1]
        try:
            obj = self.client.get(resource, name, namespace)
        except api_errors.NotFound:
            with self._lock:
                self._cache.pop(key, None)
            raise ObjectError(f'{singular} "{name}" not found', not_found=True) from None
        except api_errors.ApiError as e:
            raise ObjectError(f'failed to get {singular} "{name}": {e.message}') from e
        except Exception as e:  # noqa: BLE001 - connection errors and the like
            raise ObjectError(f'failed to get {singular} "{name}": {e}') from e
        with self._lock:
            self._cache[key] = (now, obj)
        return obj

    def services(self, namespace: str) -> list[dict]:
        """The Services a pod's environment is made from: its namespace's, and `default`'s
        (where the `kubernetes` Service is), one LIST each per ttl."""
        out = []
        for ns in dict.fromkeys((namespace, "default")):
            key = ("services", ns, "")
            now = self.clock()
            with self._lock:
                hit = self._cache.get(key)
            if hit is None or now - hit[0] >= self.ttl:
                try:
                    items = self.client.list("services", namespace=ns)["items"]
                except Exception as e:  # noqa: BLE001 - API and connection errors alike
                    raise ObjectError(f"failed to list services: {getattr(e, 'message', e)}") from e
                for svc in items:
                    svc.setdefault("metadata", {}).setdefault("namespace", ns)
                hit = (now, items)
                with self._lock:
                    self._cache[key] = hit
            out += hit[1]
        return out

    def claim(self, namespace: str, name: str) -> dict:
        """A PersistentVolumeClaim, kept only once Bound: a claim still waiting for its
        volume is read again on the next sync."""
        obj = self._get("persistentvolumeclaims", "persistentvolumeclaim", namespace, name)
        if (obj.get("status") or {}).get("phase") != "Bound":
            with self._lock:
                self._cache.pop(("persistentvolumeclaims", namespace, name), None)
        return obj

    def persistent_volume(self, name: str) -> dict:
        return self._get("persistentvolumes", "persistentvolume", None, name)

    def configmap(self, namespace: str, name: str) -> dict:
        return self._get("configmaps", "configmap", namespace, name)

    def secret(self, namespace: str, name: str) -> dict:
        return self._get("secrets", "secret", namespace, name)

    def token(self, pod: dict, audience: str | None, expiration: int) -> bytes:
        """A token for the pod's ServiceAccount, bound to the pod (TokenRequest API).

        Until the apiserver serves ``serviceaccounts/<name>/token`` this returns
        ``b""``: an empty token file, not a made-up credential.  Real tokens are
        kept until 80% of their lifetime has passed, as the kubelet's token
        manager does.
        """
        meta, spec = pod["metadata"], pod.get("spec") or {}
        sa = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
        ns = meta.get("namespace", "default")
        key = (ns, sa, meta.get("uid"), audience or "", expiration)
        now = self.clock()
        with self._lock:
            hit = self._tokens.get(key)
            if hit is not None and now < hit[0]:
                return hit[1]
            if now < self._no_token_api_until:
                return b""
        body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                "spec": {"audiences": [audience] if audience else [],
                         "expirationSeconds": int(expiration),
                         "boundObjectRef": {"apiVersion": "v1", "kind": "Pod",
                                            "name": meta["name"], "uid": meta.get("uid")}}}
        try:
            answer = self.client.request(
                "POST", self.client.path("serviceaccounts", ns, sa, "token"), body=body).json()
        except api_errors.ApiError as e:
            if e.code in (404, 405) and not (e.details.get("kind") == "serviceaccounts"
                                             and e.details.get("name") == sa):
                with self._lock:
                    self._no_token_api_until = now + TOKEN_API_RETRY
                log.info("the apiserver has no TokenRequest API (%s): projected service "
                         "account tokens are empty files", e.message)
                return b""
            raise ObjectError(f"failed to fetch token: {e.message}") from e
        except Exception as e:  # noqa: BLE001 - connection errors and the like
            raise ObjectError(f"failed to fetch token: {e}") from e
        token = ((answer.get("status") or {}).get("token") or "").encode()
        with self._lock:
            self._tokens[key] = (now + 0.8 * int(expiration), token)
        return token


def secret_bytes(secret: dict, key: str) -> bytes | None:
    """One value of a Secret's ``data`` (base64 in JSON), decoded; None if absent."""
    value = (secret.get("data") or {}).get(key)
    if value is None:
        return None
    try:
        return base64.b64decode(value)
    except (binascii.Error, ValueError):
        return b""


def configmap_bytes(cm: dict, key: str) -> bytes | None:
    """One value of a ConfigMap (``data``, else ``binaryData``); None if absent."""
    data = cm.get("data") or {}
    if key in data:
        return str(data[key]).encode()
    binary = (cm.get("binaryData") or {}).get(key)
    if binary is None:
        return None
    try:
        return base64.b64decode(binary)
    except (binascii.Error, ValueError):
        return b""
