"""NodeRestriction admission: a kubelet writes only its own Node, its own Lease and the pods
bound to it (kube-apiserver's plugin/pkg/admission/noderestriction, for our kinds).

The Node authorizer (auth/node.py) lets a node create, update and patch Nodes (and their
status) and create pods, as Kubernetes' does: it cannot see the object. This plugin, run
on the object, limits a node (user system:node:<name> in system:nodes) to

  nodes        only the one named after it; and on create or update no label it may not
               set itself: node-restriction.kubernetes.io/..., and kubernetes.io / k8s.io
               labels other than the kubelet's own (hostname, os, arch, zone, region,
               instance type, kubelet.kubernetes.io/..., node.kubernetes.io/...), so a node
               cannot call itself a control-plane node (node-role.kubernetes.io/...) to draw
               pods meant for other nodes;
  pods         create: only mirror pods (annotation kubernetes.io/config.mirror) bound to
               itself, owned by its Node and using no ServiceAccount, Secret, ConfigMap or
               claim; delete: only pods bound to it; no other write but status, and the
               status only of pods bound to it;
  leases       only in kube-node-lease, only the one named after it.

Everyone else passes untouched. A refusal is 403 with Kubernetes' words, e.g.
`nodes "n2" is forbidden: node "n1" is not allowed to modify node "n2"`.
"""
from __future__ import annotations

from . import errors
from .auth.node import NODE_LEASE_NAMESPACE, node_name, pod_configmap_names, pod_secret_names

NAME = "NodeRestriction"
MIRROR_POD_ANNOTATION = "kubernetes.io/config.mirror"
NODE_RESTRICTION_LABELS = "node-restriction.kubernetes.io"
# k8s.io/kubelet/pkg/apis: the kubernetes.io labels a kubelet sets on its own Node
KUBELET_LABELS = {"kubernetes.io/hostname", "kubernetes.io/os", "kubernetes.io/arch",
                  "beta.kubernetes.io/os", "beta.kubernetes.io/arch", "beta.kubernetes.io/instance-type",
                  "node.kubernetes.io/instance-type", "topology.kubernetes.io/zone",
                  "topology.kubernetes.io/region", "failure-domain.beta.kubernetes.io/zone",
                  "failure-domain.beta.kubernetes.io/region"}
KUBELET_LABEL_NAMESPACES = ("kubelet.kubernetes.io", "node.kubernetes.io")


def _prefix(key: str) -> str:
    return key.split("/", 1)[0] if "/" in key else ""


def _within(prefix: str, domain: str) -> bool:
    return prefix == domain or prefix.endswith("." + domain)


def forbidden_labels(modified) -> list[str]:
    """The label keys a node may not add, change or remove on itself."""
    bad = []
    for key in modified:
        prefix = _prefix(key)
        if _within(prefix, NODE_RESTRICTION_LABELS):
            bad.append(key)
        elif (_within(prefix, "kubernetes.io") or _within(prefix, "k8s.io")) and key not in KUBELET_LABELS \
                and not any(_within(prefix, ns) for ns in KUBELET_LABEL_NAMESPACES):
            bad.append(key)
    return sorted(bad)


def modified_labels(new: dict, old: dict) -> set[str]:
    return {k for k in set(new) | set(old) if new.get(k) != old.get(k)}


def _labels(obj) -> dict:
    return ((obj or {}).get("metadata") or {}).get("labels") or {}


class NodeRestriction:
    """`lookup(kind, namespace, name)`: an object as the apiserver has it, or None (the
    Node whose uid a mirror pod's owner must carry)."""

    def __init__(self, lookup):
        self.lookup = lookup

    def admit(self, user, operation: str, rt, subresource: str | None, name: str, namespace: str | None,
              new: dict | None, old: dict | None) -> None:
        """`operation`: CREATE, UPDATE or DELETE; raises the 403 APIError."""
        node = node_name(user) if user is not None else None
        if node is None:
            return
        if not node:
            raise errors.forbidden(rt, name, f'could not determine node from user "{user.name}"')
        if rt.group == "" and rt.plural == "nodes":
            self._node(node, operation, rt, name, new, old)
        elif rt.group == "" and rt.plural == "pods":
            self._pod(node, operation, rt, subresource, name, new, old)
        elif rt.group == "coordination.k8s.io" and rt.plural == "leases":
            if namespace != NODE_LEASE_NAMESPACE:
                raise errors.forbidden(rt, name, f'can only access leases in the "{NODE_LEASE_NAMESPACE}" '
                                                 "system namespace")
            if name != node:
                raise errors.forbidden(rt, name, "can only access node lease with the same name as the "
                                                 "requesting node")

    def _node(self, node, operation, rt, name, new, old):
        if name != node:
            raise errors.forbidden(rt, name, f'node "{node}" is not allowed to modify node "{name}"')
        if operation == "CREATE":
            bad = forbidden_labels(_labels(new))
            if bad:
                raise errors.forbidden(rt, name, f'node "{node}" is not allowed to set the following labels: '
                                                 f'{", ".join(bad)}')
        elif operation == "UPDATE":
            bad = forbidden_labels(modified_labels(_labels(new), _labels(old)))
            if bad:
                raise errors.forbidden(rt, name, f'is not allowed to modify labels: {", ".join(bad)}')

    def _pod(self, node, operation, rt, subresource, name, new, old):
        if subresource == "status":
            if ((old or {}).get("spec") or {}).get("nodeName") != node:
                raise errors.forbidden(rt, name, f'node "{node}" can only update pod status for pods with '
                                                 "spec.nodeName set to itself")
            return
        if subresource:
            raise errors.forbidden(rt, name, f'unexpected pod subresource "{subresource}", only \'status\' and '
                                             "'eviction' are allowed")
        if operation == "DELETE":
            if ((old or {}).get("spec") or {}).get("nodeName") != node:
                raise errors.forbidden(rt, name, f'node "{node}" can only delete pods with spec.nodeName set '
                                                 "to itself")
            return
        if operation != "CREATE":
            raise errors.forbidden(rt, name, f'unexpected operation "{operation}", node "{node}" can only '
                                             "create and delete mirror pods")
        self._mirror_pod(node, rt, name, new)

    def _mirror_pod(self, node, rt, name, pod):
        md, spec = pod.get("metadata") or {}, pod.get("spec") or {}
        if MIRROR_POD_ANNOTATION not in (md.get("annotations") or {}):
            raise errors.forbidden(rt, name, f'pod does not have "{MIRROR_POD_ANNOTATION}" annotation, node '
                                             f'"{node}" can only create mirror pods')
        if spec.get("nodeName") != node:
            raise errors.forbidden(rt, name, f'node "{node}" can only create pods with spec.nodeName set to itself')
        owners = md.get("ownerReferences") or []
        owner = owners[0] if len(owners) == 1 else {}
        if owner.get("apiVersion") != "v1" or owner.get("kind") != "Node" or owner.get("name") != node:
            raise errors.forbidden(rt, name, f'node "{node}" can only create pods with an owner reference set '
                                             "to itself")
        if not owner.get("controller"):
            raise errors.forbidden(rt, name, f'node "{node}" can only create pods with a controller owner '
                                             "reference set to itself")
        if owner.get("blockOwnerDeletion"):
            raise errors.forbidden(rt, name, f'node "{node}" must not set blockOwnerDeletion on an owner '
                                             "reference")
        mine = self.lookup("nodes", None, node)
        if mine is None:
            raise errors.APIError(404, "NotFound", f'nodes "{node}" not found', {"name": node, "kind": "nodes"})
        if owner.get("uid") != mine["metadata"].get("uid"):
            raise errors.forbidden(rt, name, f'node {node} UID mismatch: expected {owner.get("uid")} got '
                                             f'{mine["metadata"].get("uid")}')
        for what, refs in (("a service account", {spec.get("serviceAccountName")} - {None, ""}),
                           ("secrets", pod_secret_names(pod)), ("configmaps", pod_configmap_names(pod)),
                           ("persistentvolumeclaims", {v["persistentVolumeClaim"].get("claimName")
                                                       for v in spec.get("volumes") or ()
                                                       if v.get("persistentVolumeClaim") is not None})):
            if refs:
                raise errors.forbidden(rt, name, f'node "{node}" can not create pods that reference {what}')
