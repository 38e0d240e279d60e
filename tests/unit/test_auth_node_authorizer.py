"""The Node authorizer: a kubelet reaches its own node and what its pods use, nothing else."""
from __future__ import annotations

from minikube_py.apiserver.auth.authorizer import Attributes, Decision
from minikube_py.apiserver.auth.node import NodeAuthorizer, NodeGraph, node_name
from minikube_py.apiserver.auth.requestinfo import RequestInfo
from minikube_py.apiserver.auth.user import UserInfo

N1 = UserInfo("system:node:n1", groups=("system:nodes", "system:authenticated"))


def pod(name, node, namespace="default", **spec):
    return {"metadata": {"name": name, "namespace": namespace}, "spec": {"nodeName": node, **spec}}


PODS = [
    pod("web", "n1", serviceAccountName="web-sa",
        volumes=[{"name": "cfg", "configMap": {"name": "web-config"}},
                 {"name": "data", "persistentVolumeClaim": {"claimName": "web-data"}},
                 {"name": "tok", "projected": {"sources": [{"secret": {"name": "projected-secret"}}]}}],
        containers=[{"name": "c", "env": [{"name": "P", "valueFrom": {"secretKeyRef": {"name": "db-pass",
                                                                                       "key": "p"}}}],
                     "envFrom": [{"configMapRef": {"name": "env-config"}}]}]),
    pod("other", "n2", volumes=[{"name": "s", "secret": {"secretName": "n2-secret"}},
                                {"name": "data", "persistentVolumeClaim": {"claimName": "n2-data"}}]),
]
CLAIMS = [{"metadata": {"name": "web-data", "namespace": "default"}, "spec": {"volumeName": "pv-web"}},
          {"metadata": {"name": "n2-data", "namespace": "default"}, "spec": {"volumeName": "pv-n2"}}]


def in_ns(objs):
    return lambda ns: [o for o in objs if o["metadata"]["namespace"] == ns]


GRAPH = NodeGraph(in_ns(PODS), lambda ns, name: next((p for p in in_ns(PODS)(ns) if p["metadata"]["name"] == name),
                                                     None),
                  in_ns(CLAIMS), lambda: PODS)
NODE = NodeAuthorizer(GRAPH)


def ask(verb, resource, name="", namespace="default", sub="", group="", field_selector="", user=N1):
    return NODE.authorize(Attributes(user, RequestInfo(
        path="", verb=verb, is_resource_request=True, api_group=group, namespace=namespace, resource=resource,
        subresource=sub, name=name, field_selector=field_selector)))[0]


def test_who_is_a_node():
    assert node_name(N1) == "n1"
    assert node_name(UserInfo("system:node:n1")) is None          # not in system:nodes
    assert node_name(UserInfo("alice", groups=("system:nodes",))) is None
    assert ask("get", "pods", "web", user=UserInfo("alice")) is Decision.NO_OPINION


def test_pods_only_its_own():
    assert ask("get", "pods", "web") is Decision.ALLOW
    assert ask("patch", "pods", "web", sub="status") is Decision.ALLOW
    assert ask("delete", "pods", "web") is Decision.ALLOW
    assert ask("get", "pods", "other") is Decision.NO_OPINION
    assert ask("patch", "pods", "other", sub="status") is Decision.NO_OPINION
    assert ask("watch", "pods", namespace="", field_selector="spec.nodeName=n1") is Decision.ALLOW
    assert ask("list", "pods", namespace="", field_selector="spec.nodeName=n2") is Decision.NO_OPINION
    assert ask("list", "pods", namespace="") is Decision.NO_OPINION
    assert ask("create", "pods") is Decision.ALLOW           # mirror pods: NodeRestriction checks the pod


def test_secrets_configmaps_claims_volumes_only_those_its_pods_use():
    for resource, name in (("secrets", "db-pass"), ("secrets", "projected-secret"), ("configmaps", "web-config"),
                           ("configmaps", "env-config"), ("persistentvolumeclaims", "web-data")):
        assert ask("get", resource, name) is Decision.ALLOW, name
    assert ask("get", "persistentvolumes", "pv-web", namespace="") is Decision.ALLOW
    assert ask("get", "secrets", "n2-secret") is Decision.NO_OPINION
    assert ask("get", "persistentvolumeclaims", "n2-data") is Decision.NO_OPINION
    assert ask("get", "persistentvolumes", "pv-n2", namespace="") is Decision.NO_OPINION
    assert ask("list", "secrets") is Decision.NO_OPINION                 # no name: every secret
    assert ask("update", "configmaps", "web-config") is Decision.NO_OPINION
    assert ask("get", "secrets", "db-pass", namespace="elsewhere") is Decision.NO_OPINION


def test_tokens_for_its_pods_service_accounts():
    assert ask("create", "serviceaccounts", "web-sa", sub="token") is Decision.ALLOW
    assert ask("create", "serviceaccounts", "default", sub="token") is Decision.NO_OPINION


def test_its_own_node_and_lease():
    assert ask("get", "nodes", "n1", namespace="") is Decision.ALLOW
    assert ask("patch", "nodes", "n1", namespace="", sub="status") is Decision.ALLOW
    assert ask("create", "nodes", namespace="") is Decision.ALLOW
    assert ask("get", "nodes", "n2", namespace="") is Decision.NO_OPINION
    assert ask("list", "nodes", namespace="") is Decision.NO_OPINION
    # writes are allowed without seeing the object, as in Kubernetes: NodeRestriction
    # admission (tests/integration/test_noderestriction.py) limits them to its own Node
    assert ask("patch", "nodes", "n2", namespace="", sub="status") is Decision.ALLOW
    assert ask("update", "nodes", "n2", namespace="") is Decision.ALLOW
    assert ask("delete", "nodes", "n1", namespace="") is Decision.NO_OPINION
    assert ask("update", "leases", "n1", namespace="kube-node-lease", group="coordination.k8s.io") \
        is Decision.ALLOW
    assert ask("update", "leases", "n2", namespace="kube-node-lease", group="coordination.k8s.io") \
        is Decision.NO_OPINION
    assert ask("get", "leases", "n1", namespace="kube-system", group="coordination.k8s.io") \
        is Decision.NO_OPINION


def test_the_rest_by_the_node_rules():
    assert ask("create", "events") is Decision.ALLOW
    assert ask("watch", "services", namespace="") is Decision.ALLOW
    assert ask("create", "deployments", group="apps") is Decision.NO_OPINION
    assert ask("delete", "namespaces", "default", namespace="default") is Decision.NO_OPINION
