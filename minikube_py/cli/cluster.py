"""One mkctl run's view of the cluster: a client, the namespace, and the resources it serves.

Names -> paths by discovery: ``mkctl get deploy`` first asks the server what it
serves (``/api/v1``, ``/apis``, ``/apis/{group}/{version}``) and finds the
resource whose plural, singular, kind or short name is ``deploy``.  Resources are
the kinds' `Kind` declarations as the client's RESTMapper reads them from
discovery (client/discovery.py); nothing here lists the kinds, so a kind added
to the apiserver works at once.
"""
from __future__ import annotations

import time
from typing import Optional

import requests

from ..api.kinds import Kind
from ..client import errors
from ..client.kubeconfig import load_config
from ..client.rest import Client
from . import printers
from .errors import CLIError, warn

TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


class Cluster:
    """One mkctl run's view of the cluster: a client, the namespace, discovery."""

    def __init__(self, kubeconfig: Optional[str], context: Optional[str], namespace: Optional[str]):
        config = load_config(kubeconfig, context)
        self.client = Client(config=config, user_agent="mkctl")
        self.explicit_namespace = namespace          # -n, when given
        self.namespace = namespace or config.namespace or "default"
        self._resources: Optional[list[Kind]] = None

    # ---------------------------------------------------------------- requests
    def request(self, method: str, path: str, params: Optional[dict] = None,
                headers: Optional[dict] = None, stream: bool = False) -> requests.Response:
        """``Client.request``; streams (``-w``, ``logs -f``) have no read timeout."""
        return self.client.request(method, path, params=params, headers=headers, stream=stream,
                                   timeout=(10.0, None) if stream else None)

    def get_json(self, path: str) -> dict:
        return self.request("GET", path).json()

    # ---------------------------------------------------------------- discovery
    def resources(self) -> list[Kind]:
        """Every resource the server serves (read from discovery once per mkctl run)."""
        if self._resources is None:
            self._resources = self.client.mapper.discover()
        return self._resources

    def resolve(self, name: str) -> list[Kind]:
        """``deploy``, ``deployments.apps``, ``Pod``, ``all`` -> the resources meant."""
        wanted = name.lower()
        if wanted == "all" or any(wanted in r.categories for r in self.resources()):
            matches = [r for r in self.resources() if wanted in r.categories]
            if matches:
                return matches
        for r in self.resources():
            if wanted in r.names():
                return [r]
        # plural.group, or plural.version.group
        head, _, group = wanted.partition(".")
        for r in self.resources():
            if head in r.names() and group in (r.group, f"{r.version}.{r.group}"):
                return [r]
        raise CLIError(f'the server doesn\'t have a resource type "{name}"')

    def resolve_one(self, name: str) -> Kind:
        found = self.resolve(name)
        if len(found) != 1:
            raise CLIError(f'"{name}" names several resource types; name one of them')
        return found[0]

    def for_kind(self, api_version: str, kind: str) -> Kind:
        """The resource serving objects of ``kind`` in ``api_version`` (for manifests)."""
        found = self.client.mapper.kind_for(api_version or "", kind)
        if found is not None and found.api_version == api_version:
            return found
        raise CLIError(f'no matches for kind "{kind}" in version "{api_version}"\n'
                       "ensure CRDs are installed first")

    # ---------------------------------------------------------------- helpers
    def ns_for(self, res: Kind, all_namespaces: bool = False) -> Optional[str]:
        """The namespace a request goes to: None for cluster-scoped kinds and -A."""
        if not res.namespaced or all_namespaces:
            return None
        return self.namespace

    def path(self, res: Kind, namespace: Optional[str], name: Optional[str] = None,
             subresource: Optional[str] = None) -> str:
        return res.path(namespace if res.namespaced else None, name, subresource)

    def get_table(self, res: Kind, namespace: Optional[str], name: Optional[str] = None,
                  params: Optional[dict] = None) -> dict:
        """GET an object or a collection as a server-side Table."""
        body = self.request("GET", self.path(res, namespace, name), params,
                            headers={"Accept": TABLE_ACCEPT}).json()
        if body.get("kind") == "Table":
            return body
        return printers.fallback_table(body["items"] if "items" in body else [body])

    def list(self, res: Kind, namespace: Optional[str], label_selector: Optional[str] = None,
             field_selector: Optional[str] = None) -> list[dict]:
        """LIST objects; items get apiVersion and kind filled in, as kubectl shows them."""
        lst = self.client.list(res, namespace, label_selector, field_selector)
        return [typed(res, item) for item in lst.get("items") or []]

    def list_of(self, resource: str, namespace: Optional[str], **selectors) -> list[dict]:
        """LIST by resource name, [] if the server has no such resource (for describe)."""
        try:
            res = self.resolve_one(resource)
        except CLIError:
            return []
        return self.list(res, namespace if res.namespaced else None, **selectors)

    def get(self, res: Kind, name: str, namespace: Optional[str]) -> dict:
        return typed(res, self.client.get(res, name, namespace))

    def wait_until_gone(self, objects, timeout: float) -> bool:
        """Poll until each (resource, namespace, name, uid) is gone (or replaced by a new
        object with another uid).

        Deleting only *starts* the end of an object: a pod waits for its kubelet,
        an object with finalizers for the controllers that own them.
        """
        deadline = time.monotonic() + timeout
        for res, ns, name, uid in objects:
            while True:
                try:
                    if self.client.get(res, name, ns)["metadata"].get("uid") != uid:
                        break
                except errors.NotFound:
                    break
                if time.monotonic() > deadline:
                    warn(f"error: timed out waiting for the condition on {res.plural}/{name}")
                    return False
                time.sleep(0.5)
        return True


def typed(res: Kind, obj: dict) -> dict:
    """Fill in apiVersion and kind, which list items leave out."""
    obj.setdefault("apiVersion", res.api_version)
    obj.setdefault("kind", res.kind)
    return obj
