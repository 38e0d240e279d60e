"""The ServiceAccount controller: every namespace has a ServiceAccount named `default`.

A pod that names no `serviceAccountName` runs as `default`, so each namespace must
have one: this controller makes it when a namespace appears, and makes it again when
somebody deletes it (kube-controller-manager's "serviceaccount" controller).

    watches  namespaces, serviceaccounts
    writes   serviceaccounts (create)
"""
from __future__ import annotations

from ..client import errors
from .base import Controller

DEFAULT_ACCOUNTS = ("default",)


class ServiceAccountsController(Controller):
    name = "serviceaccount"
    workers = 1

    def __init__(self, client, informers):
        super().__init__(client, informers)
        self.namespaces = informers.get("namespaces")
        self.accounts = informers.get("serviceaccounts")
        self.namespaces.add_handler(on_add=self._namespace_changed,
                                    on_update=lambda old, new: self._namespace_changed(new))
        self.accounts.add_handler(on_delete=self._account_deleted)

    def _namespace_changed(self, ns: dict):
        self.queue.add(ns["metadata"]["name"])

    def _account_deleted(self, sa: dict):
        if sa["metadata"]["name"] in DEFAULT_ACCOUNTS:
            self.queue.add(sa["metadata"]["namespace"])

    def sync(self, namespace: str) -> None:
        """Create each missing default account of an active namespace."""
        ns = self.namespaces.get(namespace)
        if ns is None or ns["metadata"].get("deletionTimestamp") \
                or (ns.get("status") or {}).get("phase") == "Terminating":
            return   # a terminating namespace refuses new objects; nothing to do
        for name in DEFAULT_ACCOUNTS:
            if self.accounts.get(f"{namespace}/{name}") is not None:
                continue
            try:
                self.client.create("serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount",
                                                       "metadata": {"name": name}}, namespace=namespace)
                self.log.info("created serviceaccount %s/%s", namespace, name)
            except errors.AlreadyExists:
                pass   # the cache lagged behind: it is there, which is all we want
            except errors.Forbidden:
                pass   # the namespace began terminating meanwhile
