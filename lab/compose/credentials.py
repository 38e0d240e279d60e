"""The compose lab's PKI, made by its one-shot `pki` service before anything else starts.

The same CA, certificates and kubeconfigs `minikube-py up` makes (cli/credentials.py,
apiserver/auth/pki.py), laid out as kubeadm does, in the lab's `pki` volume (mounted at
/etc/kubernetes in every service that needs it; `docker-compose down -v` removes it):

    pki/ca.crt, ca.key                      the cluster CA
    pki/apiserver.crt                       both apiservers' serving certificate: apiserver-1,
                                            apiserver-2, "apiserver" (the name both answer to in
                                            the lab), localhost and 127.0.0.1 (the published ports),
                                            the `kubernetes` Service's names and ClusterIP (pods)
    pki/apiserver-kubelet-client.crt        the apiservers, to the kubelets
    pki/kubelet-lab-node-N-serving.crt      each kubelet's API (https): its fixed address in the
                                            lab (docker-compose.yml), the one its Node publishes
    sa.key                                  signs ServiceAccount tokens; shared by both apiservers,
                                            so a token one issues verifies on the other
    kubeconfigs/<component>.conf            controller-manager, scheduler, dns, dashboard, kube-proxy,
                                            kubelet-lab-node-N: each its own client certificate
    kubeconfig                              the admin's (CN=kubernetes-admin, O=system:masters)

and the admin kubeconfig for the host, with the certificates inline (the paths above mean
nothing there): lab/compose/kubeconfig, one context per published apiserver port. Run again
on an existing volume it keeps what is there (the ensure_* functions), so `docker-compose up -d`
twice is one cluster.

    python3 credentials.py /etc/kubernetes /lab/kubeconfig     # as the `pki` service runs it
"""
from __future__ import annotations

import base64
import os
import sys

import yaml

from minikube_py.apiserver.auth import pki
from minikube_py.apiserver.auth.serviceaccount import write_signing_key
from minikube_py.cli.credentials import APISERVER_KUBELET_CLIENT, ClusterCredentials

IN_LAB = "https://apiserver:6443"                   # both apiservers, by Docker's DNS
SERVICE_IP = "10.96.0.1"                            # the `kubernetes` Service (10.96.0.0/12)
APISERVER_HOSTS = ["apiserver", "apiserver-1", "apiserver-2", "localhost", "127.0.0.1",
                   *pki.SERVICE_DNS_NAMES, SERVICE_IP]
# each node's fixed address on the lab network: its kubelet listens there, its Node's InternalIP
NODES = {"lab-node-1": "10.245.200.11", "lab-node-2": "10.245.200.12", "lab-node-3": "10.245.200.13"}


def make(state_dir: str, proxy_server: str) -> ClusterCredentials:
    creds = ClusterCredentials(state_dir)
    pki.ensure_serving(creds.pki, "apiserver", "kube-apiserver", APISERVER_HOSTS)
    pki.ensure_client(creds.pki, "apiserver-kubelet-client", *APISERVER_KUBELET_CLIENT)
    sa_key = os.path.join(state_dir, "sa.key")
    if not os.path.exists(sa_key):
        write_signing_key(sa_key)
    creds.admin(IN_LAB)
    for name in ("controller-manager", "scheduler", "dns", "dashboard"):
        creds.component(IN_LAB, name)
    creds.component(proxy_server, "kube-proxy")     # host network: the published port
    for node, address in NODES.items():
        creds.kubelet(IN_LAB, node)
        pki.ensure_serving(creds.pki, f"kubelet-{node}-serving", node, [address, "localhost", node])
    return creds


def host_kubeconfig(creds: ClusterCredentials, path: str, ports: list[str]) -> None:
    """The admin's kubeconfig with the CA and its certificate inline; the file keeps the
    owner of the directory it is written to (the user who cloned the repository)."""
    def data(name):
        with open(os.path.join(creds.pki, name), "rb") as f:
            return base64.b64encode(f.read()).decode()
    clusters = [f"minikube-py-lab{'' if i == 0 else f'-{i + 1}'}" for i in range(len(ports))]
    doc = {
        "apiVersion": "v1", "kind": "Config", "preferences": {},
        "clusters": [{"name": c, "cluster": {"server": f"https://127.0.0.1:{p}",
                                             "certificate-authority-data": data("ca.crt")}}
                     for c, p in zip(clusters, ports)],
        "users": [{"name": "lab-admin", "user": {"client-certificate-data": data("admin.crt"),
                                                 "client-key-data": data("admin.key")}}],
        "contexts": [{"name": c, "context": {"cluster": c, "user": "lab-admin", "namespace": "default"}}
                     for c in clusters],
        "current-context": clusters[0],
    }
    header = ("# The compose lab's admin kubeconfig, written by its `pki` service (lab/compose/credentials.py)\n"
              f"# at each `docker-compose up`. apiserver-2: kubectl --context {clusters[-1]} ...\n")
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(header + yaml.safe_dump(doc, default_flow_style=False, sort_keys=False))
    st = os.stat(os.path.dirname(os.path.abspath(path)))
    os.chown(tmp, st.st_uid, st.st_gid)
    os.replace(tmp, path)


def main(argv: list[str]) -> None:
    state_dir, host_path = argv
    ports = [os.environ.get("LAB_APISERVER_PORT", "16443"), os.environ.get("LAB_APISERVER_2_PORT", "16444")]
    creds = make(state_dir, f"https://127.0.0.1:{ports[0]}")
    host_kubeconfig(creds, host_path, ports)
    print(f"cluster CA and credentials in {state_dir}; admin kubeconfig {host_path}")


if __name__ == "__main__":
    main(sys.argv[1:])
