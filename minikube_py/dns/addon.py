"""The `kube-dns` Service, as kubeadm's DNS addon makes it, and where the DNS server should listen.

kubeadm gives the cluster DNS the tenth address of the Service range (10.96.0.10) and
a Service `kube-system/kube-dns` that selects the CoreDNS pods. Our DNS server is a
process on the host rather than a pod, so the Service has no selector and its
Endpoints name the server's real address (as for any Service outside the cluster).
Once a kube-proxy routes ClusterIPs, kubelets may name 10.96.0.10; until then they
name the real address.
"""
from __future__ import annotations

import logging
from typing import Optional

from ..client import errors

log = logging.getLogger(__name__)

NAMESPACE, NAME = "kube-system", "kube-dns"
CLUSTER_IP = "10.96.0.10"
LABELS = {"k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "KubeDNS"}
PORTS = [("dns", "UDP"), ("dns-tcp", "TCP")]


def kube_dns_service() -> dict:
    return {"apiVersion": "v1", "kind": "Service",
            "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": dict(LABELS)},
            "spec": {"clusterIP": CLUSTER_IP,
                     "ports": [{"name": n, "port": 53, "targetPort": 53, "protocol": p} for n, p in PORTS]}}


def kube_dns_endpoints(ip: str, port: int = 53) -> dict:
    return {"apiVersion": "v1", "kind": "Endpoints",
            "metadata": {"name": NAME, "namespace": NAMESPACE, "labels": dict(LABELS)},
            "subsets": [{"addresses": [{"ip": ip}],
                         "ports": [{"name": n, "port": port, "protocol": p} for n, p in PORTS]}]}


def ensure_kube_dns(client, ip: str, port: int = 53) -> None:
    """Create (or point again) the kube-dns Service and its Endpoints at ``ip:port``."""
    try:
        client.create("services", kube_dns_service(), namespace=NAMESPACE)
    except errors.AlreadyExists:
        pass
    except errors.Invalid as err:
        # 10.96.0.10 is outside this cluster's range, or taken: by kube-dns itself when `up` runs
        # on a kept state dir (as kube-apiserver, we allocate the address before the name check)
        if not _service_exists(client):
            log.warning("kube-dns Service at %s: %s; creating it with any address", CLUSTER_IP, err)
            svc = kube_dns_service()
            del svc["spec"]["clusterIP"]
            try:
                client.create("services", svc, namespace=NAMESPACE)
            except errors.AlreadyExists:     # made meanwhile by someone else
                pass
    _point_endpoints(client, ip, port)


def _service_exists(client) -> bool:
    try:
        client.get("services", NAME, namespace=NAMESPACE)
        return True
    except errors.NotFound:
        return False


def _point_endpoints(client, ip: str, port: int) -> None:
    ep = kube_dns_endpoints(ip, port)
    try:
        client.create("endpoints", ep, namespace=NAMESPACE)
    except errors.AlreadyExists:
        current = client.get("endpoints", NAME, namespace=NAMESPACE)
        current["subsets"] = ep["subsets"]
        client.update("endpoints", current)


def docker_network_gateway(client, names=("minikube-py", "bridge")) -> Optional[str]:
    """The host's address on the first of these Docker networks that exists: where pods reach it."""
    import docker
    for name in names:
        try:
            net = client.networks.get(name)
        except docker.errors.NotFound:
            continue
        for cfg in (net.attrs.get("IPAM") or {}).get("Config") or []:
            if cfg.get("Gateway") and ":" not in cfg["Gateway"]:
                return cfg["Gateway"]
            if cfg.get("Subnet") and ":" not in cfg["Subnet"]:
                import ipaddress
                return str(next(ipaddress.ip_network(cfg["Subnet"]).hosts()))
    return None
