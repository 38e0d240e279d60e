"""The root CA publisher: a ConfigMap `kube-root-ca.crt` in every namespace, whose `ca.crt`
is the CA that the apiserver's serving certificate is signed by.

A pod reaches the apiserver at https://kubernetes.default.svc and must be able to check
whom it talks to: the ServiceAccount admission plugin projects this ConfigMap's `ca.crt`
next to the pod's token (serviceaccountadmission.py), and `load_incluster_config()` trusts
it. kube-controller-manager's "root-ca-cert-publisher" keeps it there: made when a
namespace appears, put back when it is deleted or edited.

The CA is `--root-ca-file`, else the one the controller-manager's own kubeconfig trusts
(upstream does the same); an apiserver reached over plain HTTP has none, and `ca.crt`
is then empty, as upstream writes it for a kubeconfig without CA data.

    watches  namespaces, configmaps (kube-root-ca.crt)
    writes   configmaps (create, update)
"""
from __future__ import annotations

from ..client import errors
from .base import Controller

CONFIGMAP_NAME = "kube-root-ca.crt"
DESCRIPTION_ANNOTATION = "kubernetes.io/description"
DESCRIPTION = ("Contains a CA bundle that can be used to verify the kube-apiserver when using "
               "internal endpoints such as the internal service IP or kubernetes.default.svc. "
               "No other usage is guaranteed across distributions of Kubernetes clusters.")


def root_ca(root_ca_file, client) -> str:
    """The PEM to publish: --root-ca-file, else the CA file the client verifies with."""
    path = root_ca_file
    if path is None:
        verify = getattr(getattr(client, "config", None), "verify", None)
        path = verify if isinstance(verify, str) else None
    if path is None:
        return ""
    with open(path) as f:
        return f.read()


class RootCACertPublisher(Controller):
    name = "root-ca-cert-publisher"
    workers = 1
    quiet_retries = True        # a 409 (edited meanwhile) is tried again on the newer copy

    def __init__(self, client, informers):
        super().__init__(client, informers)
        self.namespaces = informers.get("namespaces")
        self.configmaps = informers.get("configmaps")
        self._ca = None
        self.namespaces.add_handler(on_add=self._namespace_changed,
                                    on_update=lambda old, new: self._namespace_changed(new))
        self.configmaps.add_handler(on_update=lambda old, new: self._configmap_changed(new),
                                    on_delete=self._configmap_changed)

    @property
    def ca(self) -> str:
        if self._ca is None:
            self._ca = root_ca(getattr(self.config, "root_ca_file", None), self.client)
        return self._ca

    def _namespace_changed(self, ns: dict):
        self.queue.add(ns["metadata"]["name"])

    def _configmap_changed(self, cm: dict):
        if cm["metadata"]["name"] == CONFIGMAP_NAME:
            self.queue.add(cm["metadata"]["namespace"])

    def sync(self, namespace: str) -> None:
        ns = self.namespaces.get(namespace)
        if ns is None or ns["metadata"].get("deletionTimestamp"):
            return
        data = {"ca.crt": self.ca}
        cm = self.configmaps.get(f"{namespace}/{CONFIGMAP_NAME}")
        try:
            if cm is None:
                self.client.create("configmaps", {
                    "apiVersion": "v1", "kind": "ConfigMap",
                    "metadata": {"name": CONFIGMAP_NAME,
                                 "annotations": {DESCRIPTION_ANNOTATION: DESCRIPTION}},
                    "data": data}, namespace=namespace)
                self.log.info("published %s in namespace %s", CONFIGMAP_NAME, namespace)
                return
            annotations = cm["metadata"].get("annotations") or {}
            if cm.get("data") == data and annotations.get(DESCRIPTION_ANNOTATION) == DESCRIPTION \
                    and not cm.get("binaryData"):
                return
            fixed = dict(cm, data=data)
            fixed.pop("binaryData", None)
            fixed["metadata"] = dict(cm["metadata"], annotations={**annotations,
                                                                   DESCRIPTION_ANNOTATION: DESCRIPTION})
            self.client.update("configmaps", fixed)
        except errors.AlreadyExists:
            pass        # the cache lagged: its ADDED event brings us back if it differs
        except (errors.Forbidden, errors.NotFound):
            pass        # the namespace is terminating or gone
