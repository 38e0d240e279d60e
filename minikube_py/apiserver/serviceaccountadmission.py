"""ServiceAccount admission: every pod runs as a ServiceAccount that exists, and gets its
token, the cluster's CA and its namespace as files (kube-apiserver's ServiceAccount
plugin, plugin/pkg/admission/serviceaccount).

On a pod create:
- `spec.serviceAccountName` defaults to `default` (and `spec.serviceAccount`, its old
  name, says the same);
- the ServiceAccount must exist, or the pod is refused (403): `default` is made by the
  serviceaccount controller a moment after its namespace, so it is looked up again a few
  times before giving up, as upstream does;
- unless the pod or its ServiceAccount says `automountServiceAccountToken: false`, a
  projected volume `kube-api-access-<5 random>` is added -- a bound token (expiring after
  3607 s, which the kubelet renews), the `kube-root-ca.crt` ConfigMap's `ca.crt`
  (controllers/rootcacertpublisher.py) and the namespace -- and mounted read-only at
  /var/run/secrets/kubernetes.io/serviceaccount in every container that does not mount
  something there already. That directory is what `load_incluster_config()` reads.

It runs only on an apiserver that issues tokens (a signing key, `mount_tokens`): one
that cannot sign a token has nothing to mount, and runs pods as before.
"""
from __future__ import annotations

import random
import time

from ..api import meta
from ..api.kinds.config import SERVICE_ACCOUNT
from . import errors
from .lister import NamespaceObjects

DEFAULT_SERVICE_ACCOUNT = "default"
MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
VOLUME_PREFIX = "kube-api-access-"
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"
TOKEN_EXPIRATION_SECONDS = 3607     # upstream's: an hour and a bit, so it is told from others
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"
# the default ServiceAccount appears a moment after its namespace: look this many times
DEFAULT_ACCOUNT_LOOKUPS = 10


def api_access_volume(name: str) -> dict:
    """The projected volume upstream adds (its field order, defaultMode 0644 as 420)."""
    return {"name": name, "projected": {"defaultMode": 420, "sources": [
        {"serviceAccountToken": {"expirationSeconds": TOKEN_EXPIRATION_SECONDS, "path": "token"}},
        {"configMap": {"name": ROOT_CA_CONFIGMAP, "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace",
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}},
    ]}}


def should_automount(pod_spec: dict, service_account: dict) -> bool:
    """The pod's automountServiceAccountToken wins, then the ServiceAccount's; default true."""
    if pod_spec.get("automountServiceAccountToken") is not None:
        return bool(pod_spec["automountServiceAccountToken"])
    if service_account.get("automountServiceAccountToken") is not None:
        return bool(service_account["automountServiceAccountToken"])
    return True


def mount_api_access(spec: dict, volume_name: str) -> None:
    """Add the volume and mount it in every (init) container that has nothing at MOUNT_PATH."""
    needed = False
    for container in (spec.get("initContainers") or []) + (spec.get("containers") or []):
        mounts = container.setdefault("volumeMounts", [])
        if any(m.get("mountPath") == MOUNT_PATH for m in mounts):
            continue
        mounts.append({"name": volume_name, "readOnly": True, "mountPath": MOUNT_PATH})
        needed = True
    volumes = spec.setdefault("volumes", [])
    if needed and not any(v.get("name") == volume_name for v in volumes):
        volumes.append(api_access_volume(volume_name))


class ServiceAccountAdmission:
    def __init__(self, registry, sleep=time.sleep):
        self.registry = registry
        self.accounts = NamespaceObjects(registry, SERVICE_ACCOUNT)
        self.mount_tokens = False       # the apiserver sets it when it can sign tokens
        self.sleep = sleep

    def _account(self, namespace: str, name: str) -> dict | None:
        for obj in self.accounts(namespace):        # the lister's copy, when it has one
            if obj["metadata"]["name"] == name:
                return obj
        tries = DEFAULT_ACCOUNT_LOOKUPS if name == DEFAULT_SERVICE_ACCOUNT else 1
        interval = random.uniform(0.1, 0.2)
        for attempt in range(tries):
            if attempt:
                self.sleep(interval)
            try:
                return self.registry.get(SERVICE_ACCOUNT, namespace, name)
            except errors.APIError as err:
                if err.code != 404:
                    raise
        return None

    def admit(self, rt, pod: dict) -> None:
        """Mutating admission of a pod create (after NamespaceLifecycle)."""
        if not self.mount_tokens or rt.kind != "Pod" or rt.group != "":
            return
        md, spec = pod["metadata"], pod.setdefault("spec", {})
        if (md.get("annotations") or {}).get(MIRROR_POD_ANNOTATION) is not None:
            return      # a static pod's mirror: the kubelet made it, no account of its own
        name = spec.get("serviceAccountName") or spec.get("serviceAccount") or DEFAULT_SERVICE_ACCOUNT
        spec["serviceAccountName"] = spec["serviceAccount"] = name
        namespace = md["namespace"]
        account = self._account(namespace, name)
        if account is None:
            raise errors.APIError(
                403, "Forbidden", f'pods "{md.get("name", "")}" is forbidden: error looking up service '
                f'account {namespace}/{name}: serviceaccount "{name}" not found',
                {"name": md.get("name", ""), "kind": "pods"})
        if should_automount(spec, account):
            existing = next((v["name"] for v in spec.get("volumes") or []
                             if v.get("name", "").startswith(VOLUME_PREFIX) and v.get("projected")), None)
            mount_api_access(spec, existing or meta.generate_name(VOLUME_PREFIX))
