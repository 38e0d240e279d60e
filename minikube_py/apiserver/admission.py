"""Admission: checks that need other objects, run after defaults and before validation.

kube-apiserver runs a chain of admission plugins on every write. We run the ones our
kinds need, in the same order:
- NamespaceLifecycle: no object may be created in a namespace that does not exist or
  is being deleted, and the system namespaces can't be deleted.
- ServiceAccount (serviceaccountadmission.py): a pod runs as an existing ServiceAccount
  and gets its token, the cluster CA and its namespace mounted (on an apiserver that
  signs tokens).
- NodeRestriction (noderestriction.py), when enabled (--enable-admission-plugins, as
  kubeadm enables it): a kubelet writes only its own Node and Lease and its own pods.
  It needs to know who asks: the apiserver sets REQUESTER around each API request, as
  Kubernetes hands its plugins the user in admission.Attributes.
- DefaultStorageClass: a PersistentVolumeClaim that names no class gets the default
  one (defaultstorageclass.py).
- StorageObjectInUseProtection (storageprotection.py): a new claim or volume gets the
  finalizer that keeps it while a pod uses it (or, a volume, while a claim is bound to it).
- LimitRanger (limitranger.py): fills in a pod's default requests and limits (mutating,
  before validation) and refuses one outside its namespace's min and max (after it).
- ResourceQuota (resourcequota.py): last, after validation; charges the namespace's
  quotas and returns the Charge, which the registry gives back if the write fails.
"""
from __future__ import annotations

import threading
import time
from contextvars import ContextVar

from . import defaultstorageclass, errors, storageprotection
from ..api.kinds.core import NAMESPACE
from .limitranger import LimitRanger
from .resourcequota import Charge, QuotaAdmission
from .serviceaccountadmission import ServiceAccountAdmission

SYSTEM_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")
# The plugins kube-apiserver's --enable-admission-plugins may name here: all but
# NodeRestriction are always on.
ALWAYS_ON = ("NamespaceLifecycle", "ServiceAccount", "DefaultStorageClass", "StorageObjectInUseProtection",
             "LimitRanger", "ResourceQuota")
OPTIONAL = ("NodeRestriction",)

# The user (auth/user.UserInfo) whose request is being admitted; None for the apiserver's own writes.
REQUESTER: ContextVar = ContextVar("minikube_py.requester", default=None)

# A namespace seen Active is trusted for this long before it is looked up again.
NAMESPACE_CACHE_SECONDS = 2.0


class Admission:
    def __init__(self, registry):
        self.registry = registry
        self._active: dict[str, float] = {}
        self._lock = threading.Lock()
        self.limit_ranger = LimitRanger(registry)
        self.quota = QuotaAdmission(registry)
        self.service_accounts = ServiceAccountAdmission(registry)
        self.node_restriction = None

    def enable(self, plugins) -> None:
        """--enable-admission-plugins: the optional plugins named (ValueError for an unknown one)."""
        for plugin in plugins:
            if plugin not in ALWAYS_ON + OPTIONAL:
                raise ValueError(f'admission plugin "{plugin}" is not known (known: '
                                 f'{", ".join(ALWAYS_ON + OPTIONAL)})')
            if plugin == "NodeRestriction" and self.node_restriction is None:
                from .noderestriction import NodeRestriction
                self.node_restriction = NodeRestriction(self._lookup)

    def _lookup(self, resource, namespace, name):
        from ..api.kinds.core import NODE
        try:
            return self.registry.get(NODE, namespace, name) if resource == "nodes" else None
        except errors.APIError as err:
            if err.code == 404:
                return None
            raise

    def _restrict_nodes(self, operation, rt, subresource, new, old):
        if self.node_restriction is None:
            return
        md = (new or old)["metadata"]
        self.node_restriction.admit(REQUESTER.get(), operation, rt, subresource, md.get("name", ""),
                                    md.get("namespace"), new, old)

    def use_listers(self, quotas, limit_ranges, service_accounts=None) -> None:
        """Read ResourceQuotas, LimitRanges and ServiceAccounts from watch-fed listers
        (lister.py), not etcd."""
        self.quota.quotas.lister, self.limit_ranger.limit_ranges.lister = quotas, limit_ranges
        self.service_accounts.accounts.lister = service_accounts

    # -- NamespaceLifecycle --------------------------------------------------------
    def _check_namespace(self, rt, obj):
        if not rt.namespaced:
            return
        ns = obj["metadata"]["namespace"]
        with self._lock:
            seen = self._active.get(ns)
        if seen and time.monotonic() - seen < NAMESPACE_CACHE_SECONDS:
            return
        try:
            namespace = self.registry.get(NAMESPACE, None, ns)
        except errors.APIError as err:
            if err.code == 404:
                raise errors.APIError(404, "NotFound", f'namespaces "{ns}" not found',
                                      {"name": ns, "kind": "namespaces"}) from None
            raise
        if namespace["metadata"].get("deletionTimestamp"):
            if rt.kind != "Event":
                raise errors.forbidden(rt, obj["metadata"].get("name", ""),
                                       f"unable to create new content in namespace {ns} because it "
                                       "is being terminated")
            return
        with self._lock:
            self._active[ns] = time.monotonic()

    def forget_namespace(self, name):
        with self._lock:
            self._active.pop(name, None)

    # -- hooks called by the registry ---------------------------------------------
    def admit_create(self, rt, obj):
        """Mutating admission of a create (before validation)."""
        self._check_namespace(rt, obj)
        self.service_accounts.admit(rt, obj)
        self._restrict_nodes("CREATE", rt, None, obj, None)
        if rt.kind == "PersistentVolumeClaim" and rt.group == "":
            defaultstorageclass.admit_claim(self.registry, obj)
        storageprotection.admit(rt, obj)
        self.limit_ranger.default(rt, obj)

    def admit_update(self, rt, old, new, subresource=None):
        """Mutating admission of an update (of the object, or of a subresource: status)."""
        self._restrict_nodes("UPDATE", rt, subresource, new, old)

    def validate_create(self, rt, obj, dry_run=False) -> Charge:
        """Validating admission of a valid create, last before storage; release() the
        Charge if the object is then not stored."""
        self.limit_ranger.validate(rt, obj)
        return self.quota.charge(rt, obj, dry_run=dry_run)

    def validate_update(self, rt, old, new, dry_run=False) -> Charge:
        return self.quota.charge(rt, new, old, dry_run=dry_run)

    def admit_delete(self, rt, obj):
        self._restrict_nodes("DELETE", rt, None, None, obj)
        if rt.kind == "Namespace" and obj["metadata"]["name"] in SYSTEM_NAMESPACES:
            raise errors.forbidden(rt, obj["metadata"]["name"],
                                   "this namespace may not be deleted")
        if rt.kind == "Namespace":
            self.forget_namespace(obj["metadata"]["name"])
