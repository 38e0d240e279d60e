"""NodeRestriction on a real apiserver and etcd, with real node credentials (client
certificates CN=system:node:<name> O=system:nodes of the cluster CA), under Node,RBAC
with --enable-admission-plugins NodeRestriction, as kubeadm runs kube-apiserver."""
import os
import uuid

import pytest

from clusters import Cluster
from minikube_py.apiserver.auth import pki
from minikube_py.client import errors
from minikube_py.client.kubeconfig import write_kubeconfig
from minikube_py.client.rest import Client


@pytest.fixture(scope="module")
def cluster():
    c = Cluster(tls=True, apiserver_args=("--authorization-mode", "Node,RBAC",
                                          "--enable-admission-plugins", "NodeRestriction")).start()
    yield c
    c.stop()


@pytest.fixture(scope="module")
def nodes(cluster):
    """Two nodes, each registered with its own credentials: {name: client}."""
    suffix = uuid.uuid4().hex[:4]
    clients = {}
    for name in (f"n1-{suffix}", f"n2-{suffix}"):
        cert, key = pki.ensure_client(cluster.pki, f"kubelet-{name}", f"system:node:{name}", ["system:nodes"])
        path = write_kubeconfig(os.path.join(cluster.dir, f"{name}.conf"), cluster.server,
                                certificate_authority=cluster.ca_file, client_certificate=cert, client_key=key)
        clients[name] = Client(kubeconfig=path)
        clients[name].create("nodes", {"metadata": {"name": name, "labels": {"kubernetes.io/hostname": name}}})
    yield clients
    for c in clients.values():
        c.close()


@pytest.fixture(scope="module")
def admin(cluster):
    with Client(kubeconfig=cluster.kubeconfig) as c:
        yield c


def refused(call) -> str:
    with pytest.raises(errors.Forbidden) as e:
        call()
    return e.value.message


def test_a_node_may_write_only_its_own_node(nodes):
    (n1, c1), (n2, _) = nodes.items()
    assert refused(lambda: c1.patch("nodes", n2, {"metadata": {"labels": {"x": "y"}}})) == \
        f'nodes "{n2}" is forbidden: node "{n1}" is not allowed to modify node "{n2}"'
    assert refused(lambda: c1.patch("nodes", n2, {"status": {"phase": "Running"}}, subresource="status")) == \
        f'nodes "{n2}" is forbidden: node "{n1}" is not allowed to modify node "{n2}"'
    assert refused(lambda: c1.create("nodes", {"metadata": {"name": "someone-else"}})) == \
        f'nodes "someone-else" is forbidden: node "{n1}" is not allowed to modify node "someone-else"'
    status = {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]}
    written = c1.patch("nodes", n1, {"status": status}, subresource="status")       # 200
    assert written["status"]["conditions"][0]["reason"] == "KubeletReady"


def test_a_node_may_not_give_itself_restricted_labels(nodes, admin):
    (n1, c1), _ = nodes.items()
    for label in ("node-role.kubernetes.io/control-plane", "node-restriction.kubernetes.io/trusted"):
        assert refused(lambda: c1.patch("nodes", n1, {"metadata": {"labels": {label: ""}}})) == \
            f'nodes "{n1}" is forbidden: is not allowed to modify labels: {label}'
    # its own labels, and the kubelet's kubernetes.io ones, it may set
    labels = c1.patch("nodes", n1, {"metadata": {"labels": {"disk": "ssd", "node.kubernetes.io/instance-type": "lab",
                                                            "topology.kubernetes.io/zone": "a"}}})["metadata"]["labels"]
    assert labels["disk"] == "ssd" and labels["topology.kubernetes.io/zone"] == "a"
    # an administrator may label it (NodeRestriction is for nodes only)
    admin.patch("nodes", n1, {"metadata": {"labels": {"node-role.kubernetes.io/worker": ""}}})
    # ... and then the node may not take that label away
    assert refused(lambda: c1.patch("nodes", n1, {"metadata": {"labels": {"node-role.kubernetes.io/worker": None}}})) \
        == f'nodes "{n1}" is forbidden: is not allowed to modify labels: node-role.kubernetes.io/worker'


def test_a_node_registering_with_a_restricted_label_is_refused(cluster):
    name = f"n3-{uuid.uuid4().hex[:4]}"
    cert, key = pki.ensure_client(cluster.pki, f"kubelet-{name}", f"system:node:{name}", ["system:nodes"])
    path = write_kubeconfig(os.path.join(cluster.dir, f"{name}.conf"), cluster.server,
                            certificate_authority=cluster.ca_file, client_certificate=cert, client_key=key)
    with Client(kubeconfig=path) as c:
        node = {"metadata": {"name": name, "labels": {"node-role.kubernetes.io/control-plane": ""}}}
        assert refused(lambda: c.create("nodes", node)) == (
            f'nodes "{name}" is forbidden: node "{name}" is not allowed to set the following labels: '
            "node-role.kubernetes.io/control-plane")


def test_a_node_creates_only_mirror_pods_bound_to_itself(nodes, admin):
    (n1, c1), (n2, _) = nodes.items()
    uid = admin.get("nodes", n1)["metadata"]["uid"]

    def pod(name, node, mirror=True, owner=True):
        md = {"name": name}
        if mirror:
            md["annotations"] = {"kubernetes.io/config.mirror": "hash"}
        if owner:
            md["ownerReferences"] = [{"apiVersion": "v1", "kind": "Node", "name": n1, "uid": uid, "controller": True}]
        return {"metadata": md, "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]}}
    assert refused(lambda: c1.create("pods", pod("plain", n1, mirror=False), "default")) == (
        f'pods "plain" is forbidden: pod does not have "kubernetes.io/config.mirror" annotation, node "{n1}" '
        "can only create mirror pods")
    assert refused(lambda: c1.create("pods", pod("elsewhere", n2), "default")) == (
        f'pods "elsewhere" is forbidden: node "{n1}" can only create pods with spec.nodeName set to itself')
    assert refused(lambda: c1.create("pods", pod("orphan", n1, owner=False), "default")) == (
        f'pods "orphan" is forbidden: node "{n1}" can only create pods with an owner reference set to itself')
    mirror = c1.create("pods", pod(f"static-{n1}", n1), "default")                  # 201
    assert mirror["spec"]["nodeName"] == n1
    c1.delete("pods", mirror["metadata"]["name"], "default", grace_period_seconds=0)


def test_a_node_writes_the_status_only_of_its_own_pods(nodes, admin):
    (n1, c1), (n2, _) = nodes.items()
    for name, node in (("on-1", n1), ("on-2", n2)):
        admin.create("pods", {"metadata": {"name": name},
                              "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox"}]}},
                     "default")
    assert c1.patch("pods", "on-1", {"status": {"phase": "Running"}}, namespace="default",
                    subresource="status")["status"]["phase"] == "Running"
    assert "forbidden" in refused(lambda: c1.patch("pods", "on-2", {"status": {"phase": "Running"}},
                                                   namespace="default", subresource="status"))
    assert "forbidden" in refused(lambda: c1.patch("pods", "on-1", {"metadata": {"labels": {"a": "b"}}},
                                                   namespace="default"))
    for name in ("on-1", "on-2"):
        admin.delete("pods", name, "default", grace_period_seconds=0)


def test_a_node_holds_only_its_own_lease(nodes):
    (n1, c1), (n2, _) = nodes.items()
    lease = c1.create("leases", {"metadata": {"name": n1}, "spec": {"holderIdentity": n1}},
                      namespace="kube-node-lease")
    assert lease["metadata"]["name"] == n1
    assert refused(lambda: c1.create("leases", {"metadata": {"name": n2}, "spec": {"holderIdentity": n1}},
                                     namespace="kube-node-lease")) == \
        f'leases.coordination.k8s.io "{n2}" is forbidden: can only access node lease with the same name as ' \
        "the requesting node"
