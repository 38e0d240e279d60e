"""The Node authorizer: a kubelet may touch its own node and what its pods use, nothing else.

Kubernetes' plugin/pkg/auth/authorizer/node, smaller. A kubelet authenticates as
`system:node:<name>` in group `system:nodes`. For the kinds a node could use to
reach into other nodes' business, this decides on a graph of what its pods use,
built from the apiserver's own pod (and claim) caches:

  pods          get / update / patch / delete (and pods/status, pods/eviction): only
                pods bound to the node; list / watch: only with the field selector
                spec.nodeName=<node> (what the kubelet's pod informer sends), as
                Kubernetes 1.32's node authorizer with AuthorizeNodeWithSelectors;
                create: allowed, for mirror pods (NodeRestriction checks the pod)
  nodes         get / list / watch: only its own; create / update / patch (and
                nodes/status): allowed, as Kubernetes' authorizer does without seeing
                the object -- the NodeRestriction admission plugin (noderestriction.py)
                limits them to its own Node, so enable it with this authorizer
  secrets, configmaps, persistentvolumeclaims, persistentvolumes
                get (or a list / watch of one by name): only those its pods use
  serviceaccounts/token
                create: only for the ServiceAccount of a pod bound to the node
  leases        in kube-node-lease, only the one named after the node

Everything else a node asks is checked against the system:node rules (events,
services, TokenReviews, ...). Whatever is refused here is NO_OPINION with a reason,
as Kubernetes does: RBAC may still grant it (system:node is not bound by default).
Anyone who is not a node gets NO_OPINION at once.
"""
from __future__ import annotations

from typing import Callable, Iterable, Optional

from ...api.volumebinding import pod_claim_names
from .authorizer import Decision
from .bootstrappolicy import NODE_RULES
from .rbac import rules_allow

NODES_GROUP = "system:nodes"
NODE_USER_PREFIX = "system:node:"
NODE_LEASE_NAMESPACE = "kube-node-lease"

# the kinds whose objects a node reaches through its pods
GRAPH_READ = {"secrets": "secret", "configmaps": "configmap",
              "persistentvolumeclaims": "persistentvolumeclaim", "persistentvolumes": "persistentvolume"}


def node_name(user) -> Optional[str]:
    """The node a user is (NodeIdentifier): None for anyone else, "" for a nameless node."""
    if NODES_GROUP not in user.groups or not user.name.startswith(NODE_USER_PREFIX):
        return None
    return user.name[len(NODE_USER_PREFIX):]


# ------------------------------------------------------------------ what a pod uses
def pod_secret_names(pod: dict) -> set[str]:
    spec = pod.get("spec") or {}
    names = {s.get("name") for s in spec.get("imagePullSecrets") or ()}
    for vol in spec.get("volumes") or ():
        if vol.get("secret"):
            names.add(vol["secret"].get("secretName"))
        for source in (vol.get("projected") or {}).get("sources") or ():
            if source.get("secret"):
                names.add(source["secret"].get("name"))
    names |= _env_refs(spec, "secretKeyRef", "secretRef")
    return names - {None, ""}


def pod_configmap_names(pod: dict) -> set[str]:
    spec = pod.get("spec") or {}
    names = set()
    for vol in spec.get("volumes") or ():
        if vol.get("configMap"):
            names.add(vol["configMap"].get("name"))
        for source in (vol.get("projected") or {}).get("sources") or ():
            if source.get("configMap"):
                names.add(source["configMap"].get("name"))
    names |= _env_refs(spec, "configMapKeyRef", "configMapRef")
    return names - {None, ""}


def _env_refs(spec: dict, key_ref: str, from_ref: str) -> set[str]:
    names = set()
    for c in (spec.get("initContainers") or []) + (spec.get("containers") or []) \
            + (spec.get("ephemeralContainers") or []):
        for env in c.get("env") or ():
            ref = (env.get("valueFrom") or {}).get(key_ref)
            if ref:
                names.add(ref.get("name"))
        for env_from in c.get("envFrom") or ():
            if env_from.get(from_ref):
                names.add(env_from[from_ref].get("name"))
    return names


def service_account_of(pod: dict) -> str:
    spec = pod.get("spec") or {}
    return spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"


# ------------------------------------------------------------------ the graph
class NodeGraph:
    """What a node's pods use, read from the apiserver's caches on each question.

    pods(namespace) and claims(namespace) give a namespace's objects, pod(namespace, name)
    one pod, all_pods() every pod (for the cluster-scoped PersistentVolumes).
    """

    def __init__(self, pods: Callable[[str], list], pod: Callable[[str, str], Optional[dict]],
                 claims: Callable[[str], list], all_pods: Callable[[], Iterable[dict]]):
        self.pods, self.pod, self.claims, self.all_pods = pods, pod, claims, all_pods

    def pods_on(self, node: str, namespace: str) -> list[dict]:
        return [p for p in self.pods(namespace) if (p.get("spec") or {}).get("nodeName") == node]

    def uses(self, node: str, resource: str, namespace: str, name: str) -> bool:
        if resource == "persistentvolumes":
            return any(self._volume_of(claim) == name
                       for pod in self.all_pods() if (pod.get("spec") or {}).get("nodeName") == node
                       for claim in self._claims_of(pod))
        if resource == "serviceaccounts":
            return any(service_account_of(p) == name for p in self.pods_on(node, namespace))
        refs = {"secrets": pod_secret_names, "configmaps": pod_configmap_names,
                "persistentvolumeclaims": pod_claim_names}[resource]
        return any(name in refs(p) for p in self.pods_on(node, namespace))

    def _claims_of(self, pod: dict) -> list[dict]:
        names = pod_claim_names(pod)
        return [c for c in self.claims(pod["metadata"].get("namespace", "")) if c["metadata"]["name"] in names]

    @staticmethod
    def _volume_of(claim: dict) -> str:
        return (claim.get("spec") or {}).get("volumeName") or ""


# ------------------------------------------------------------------ the authorizer
class NodeAuthorizer:
    def __init__(self, graph: NodeGraph, rules=NODE_RULES):
        self.graph, self.rules = graph, rules

    def authorize(self, attrs) -> tuple[Decision, str]:
        node = node_name(attrs.user)
        if node is None:
            return Decision.NO_OPINION, ""
        if not node:
            return Decision.NO_OPINION, "unknown node"
        if attrs.is_resource_request:
            group, resource = attrs.api_group, attrs.resource
            if group == "" and resource in GRAPH_READ and not attrs.subresource:
                return self._read_used(node, attrs)
            if group == "" and resource == "serviceaccounts" and attrs.subresource == "token":
                return self._token(node, attrs)
            if group == "" and resource == "pods":
                return self._pod(node, attrs)
            if group == "" and resource == "nodes":
                return self._node(node, attrs)
            if group == "coordination.k8s.io" and resource == "leases":
                return self._lease(node, attrs)
        if rules_allow(attrs, self.rules):
            return Decision.ALLOW, ""
        return Decision.NO_OPINION, ""

    def rules_for(self, user, namespace: str) -> tuple[list, list[str]]:
        """A node's rules depend on its pods: they cannot be listed (rules reviews say incomplete)."""
        if node_name(user) is not None:
            return [], ["node authorizer does not support user rule resolution"]
        return [], []

    def _read_used(self, node, attrs):
        if attrs.verb not in ("get", "list", "watch") or not attrs.name:
            return Decision.NO_OPINION, "can only read individual resources of this type"
        if self.graph.uses(node, attrs.resource, attrs.namespace, attrs.name):
            return Decision.ALLOW, ""
        return Decision.NO_OPINION, no_relationship(node, attrs)

    def _token(self, node, attrs):
        if attrs.verb != "create" or not attrs.name:
            return Decision.NO_OPINION, "can only create tokens for individual service accounts"
        if self.graph.uses(node, "serviceaccounts", attrs.namespace, attrs.name):
            return Decision.ALLOW, ""
        return Decision.NO_OPINION, no_relationship(node, attrs)

    def _pod(self, node, attrs):
        if attrs.verb in ("list", "watch") and not attrs.subresource:
            if field_requires(attrs, "spec.nodeName") == node:
                return Decision.ALLOW, ""
            return Decision.NO_OPINION, "can only list/watch pods with spec.nodeName field selector"
        if attrs.verb == "create" and not attrs.subresource:
            return Decision.ALLOW, ""      # mirror pods: NodeRestriction checks what it creates
        if not attrs.name:
            return Decision.NO_OPINION, "can only access individual pods"
        allowed_sub = {"": ("get", "update", "patch", "delete"), "status": ("get", "update", "patch"),
                       "eviction": ("create",)}
        if attrs.verb not in allowed_sub.get(attrs.subresource or "", ()):
            return Decision.NO_OPINION, ""
        pod = self.graph.pod(attrs.namespace, attrs.name)
        if pod is not None and (pod.get("spec") or {}).get("nodeName") == node:
            return Decision.ALLOW, ""
        return Decision.NO_OPINION, no_relationship(node, attrs)

    def _node(self, node, attrs):
        sub, verb = attrs.subresource or "", attrs.verb
        if (sub == "" and verb in ("create", "update", "patch")) or (sub == "status" and verb in ("update", "patch")):
            return Decision.ALLOW, ""      # which Node, and what in it: NodeRestriction, on the object
        if sub == "" and verb in ("get", "list", "watch"):
            if attrs.name == node:
                return Decision.ALLOW, ""
            if not attrs.name:
                return Decision.NO_OPINION, f"node '{node}' cannot read all nodes, only its own Node object"
            return Decision.NO_OPINION, f"node '{node}' cannot read '{attrs.name}', only its own Node object"
        return Decision.NO_OPINION, ""

    def _lease(self, node, attrs):
        if attrs.namespace != NODE_LEASE_NAMESPACE:
            return Decision.NO_OPINION, f"can only access leases in the {NODE_LEASE_NAMESPACE} namespace"
        if attrs.verb not in ("get", "create", "update", "patch", "delete"):
            return Decision.NO_OPINION, "can only get, create, update, patch, or delete a node lease"
        if attrs.verb != "create" and attrs.name != node:
            return Decision.NO_OPINION, "can only access node lease with the same name as the requesting node"
        return Decision.ALLOW, ""


def no_relationship(node: str, attrs) -> str:
    return f"no relationship found between node '{node}' and this object"


def field_requires(attrs, field: str) -> Optional[str]:
    """The value a list/watch's field selector requires of `field` (`field=x` or `field==x`)."""
    selector = getattr(attrs.info, "field_selector", "") if hasattr(attrs, "info") else ""
    for term in (selector or "").split(","):
        key, op, value = term.partition("==") if "==" in term else term.partition("=")
        if op and not key.endswith("!") and key.strip() == field:
            return value.strip()
    return None


def authorizer(server) -> NodeAuthorizer:
    """--authorization-mode=Node: on the apiserver's pod and claim caches."""
    from ...api.kinds.core import POD
    from ...api.kinds.storage import PERSISTENT_VOLUME_CLAIM
    from .rbac import ServerLister
    pods, claims = ServerLister(server, POD), ServerLister(server, PERSISTENT_VOLUME_CLAIM)
    return NodeAuthorizer(NodeGraph(pods.in_namespace, pods.get, claims.in_namespace, pods.all))
