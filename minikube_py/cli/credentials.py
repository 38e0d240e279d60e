"""Who each component of `up` is: its client certificate and its kubeconfig, as kubeadm makes them.

    admin               CN=kubernetes-admin              O=system:masters   <state>/kubeconfig
    controller-manager  CN=system:kube-controller-manager                   <state>/kubeconfigs/*.conf
    scheduler           CN=system:kube-scheduler
    kubelet-<node>      CN=system:node:<node>            O=system:nodes
    kubelet-hollow      CN=system:node:hollow   (no group: many nodes, one credential; up.py)
    kube-proxy          CN=system:kube-proxy
    dns                 CN=system:coredns
    tf-operator         CN=system:tf-operator
    dashboard           CN=system:minikube-py:dashboard
    (the apiserver, to kubelets: CN=kube-apiserver-kubelet-client O=system:masters)

All signed by the cluster CA in <state>/pki (auth/pki.py), which also signs the
apiserver's serving certificate and each kubelet's (kubelet-<node>-serving: the kubelet
API is https, as kubeadm's kubelets serve it); every kubeconfig trusts that CA.
Authorization (RBAC's default roles, the Node authorizer) keys on exactly these names.
"""
from __future__ import annotations

import ipaddress
import os

from ..apiserver.auth import pki
from ..client.kubeconfig import write_kubeconfig

COMPONENTS = {
    "controller-manager": ("system:kube-controller-manager", ()),
    "scheduler": ("system:kube-scheduler", ()),
    "kube-proxy": ("system:kube-proxy", ()),
    "dns": ("system:coredns", ()),
    "tf-operator": ("system:tf-operator", ()),
    "dashboard": ("system:minikube-py:dashboard", ()),
}
ADMIN = ("kubernetes-admin", ("system:masters",))
# The hollow nodes' one process (hollow-0, hollow-1, ...): not a node identity, which
# the Node authorizer and NodeRestriction would hold to the one name "hollow"
HOLLOW_KUBELETS = ("system:node:hollow", ())
APISERVER_KUBELET_CLIENT = ("kube-apiserver-kubelet-client", ("system:masters",))
PUBLIC_PATHS = ("/healthz", "/livez", "/readyz", "/version")


def node_identity(node: str) -> tuple[str, tuple[str, ...]]:
    return f"system:node:{node}", ("system:nodes",)


class ClusterCredentials:
    """The files of one cluster's PKI under `state_dir` (made once, kept across `up`s)."""

    def __init__(self, state_dir: str):
        self.state_dir = state_dir
        self.pki = os.path.join(state_dir, "pki")
        self.ca_file = os.path.join(self.pki, "ca.crt")
        self.kubeconfigs = os.path.join(state_dir, "kubeconfigs")

    def apiserver_flags(self, service_ip: str, extra_hosts=()) -> list[str]:
        """kube-apiserver's TLS and authentication flags, making its serving certificate."""
        cert, key = pki.ensure_serving(self.pki, "apiserver", "kube-apiserver",
                                       pki.apiserver_hosts(service_ip, extra_hosts))
        return ["--tls-cert-file", cert, "--tls-private-key-file", key, "--client-ca-file", self.ca_file,
                "--anonymous-auth-paths", ",".join(PUBLIC_PATHS), *self.apiserver_kubelet_flags()]

    def apiserver_kubelet_flags(self) -> list[str]:
        """How the apiserver dials kubelets (logs, exec, nodes/proxy, the metrics scrapes):
        https, as kube-apiserver-kubelet-client, checking their certificates against the CA."""
        cert, key = pki.ensure_client(self.pki, "apiserver-kubelet-client", *APISERVER_KUBELET_CLIENT)
        return ["--kubelet-client-certificate", cert, "--kubelet-client-key", key,
                "--kubelet-certificate-authority", self.ca_file]

    def kubelet_flags(self, node: str, hosts) -> list[str]:
        """The kubelet API as kubeadm configures it: https with a serving certificate for the
        addresses the apiserver dials (`hosts`), client certificates of the cluster CA, bearer
        tokens checked by the apiserver (TokenReview) and every request authorized by it
        (SubjectAccessReview): no anonymous caller, no AlwaysAllow."""
        cert, key = pki.ensure_serving(self.pki, f"kubelet-{node}-serving", node, [*hosts, node])
        return ["--tls-cert-file", cert, "--tls-private-key-file", key, "--client-ca-file", self.ca_file,
                "--authentication-token-webhook", "--authorization-mode", "Webhook"]

    def kubeconfig(self, server: str, name: str, user: str, groups=()) -> str:
        """A kubeconfig for `user`: the CA to trust, its client certificate."""
        cert, key = pki.ensure_client(self.pki, name, user, groups)
        path = os.path.join(self.state_dir, "kubeconfig") if name == "admin" else \
            os.path.join(self.kubeconfigs, f"{name}.conf")
        return write_kubeconfig(path, server, certificate_authority=self.ca_file, client_certificate=cert,
                                client_key=key, user_name=user)

    def admin(self, server: str) -> str:
        return self.kubeconfig(server, "admin", *ADMIN)

    def component(self, server: str, name: str) -> str:
        return self.kubeconfig(server, name, *COMPONENTS[name])

    def kubelet(self, server: str, node: str) -> str:
        return self.kubeconfig(server, f"kubelet-{node}", *node_identity(node))

    def hollow_kubelets(self, server: str) -> str:
        return self.kubeconfig(server, "kubelet-hollow", *HOLLOW_KUBELETS)


def first_host(cidr: str) -> str:
    """A network's first address: the `kubernetes` Service's ClusterIP in the Service range,
    the gateway (this host, to pods) of a Docker bridge."""
    return str(next(ipaddress.ip_network(cidr, strict=False).hosts()))
