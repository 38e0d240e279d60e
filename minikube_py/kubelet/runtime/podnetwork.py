"""The cluster's pod network: one Docker bridge network that every pod sandbox joins.

In Kubernetes a CNI plugin gives each pod an IP from the cluster's pod CIDR and
makes every pod reachable from every other, whatever node it runs on. Here all
nodes are kubelets on one Docker engine, so one user-defined bridge network
(``minikube-py``, 10.244.0.0/16 as flannel's default) does the same: Docker's
IPAM hands out the IPs, the bridge carries pod-to-pod traffic between "nodes",
and the host routes to it (the bridge's gateway, 10.244.0.1, is a host address),
so kube-proxy's DNAT rules on the host reach every pod.

``minikube-py up`` creates it, ``down`` removes it; a kubelet started with
``--pod-network NAME`` makes sure it exists too (so a hand-started node works).
"""
from __future__ import annotations

import ipaddress
import logging

import docker
import docker.errors
import docker.types

log = logging.getLogger(__name__)

POD_NETWORK = "minikube-py"
POD_CIDR = "10.244.0.0/16"
LABEL_POD_NETWORK = "io.minikube-py.pod-network"


def _find(client: docker.DockerClient, name: str):
    """The network called ``name`` (exactly), or None."""
    for net in client.networks.list(names=[name]):
        if net.name == name:
            return net
    return None


def ensure_pod_network(client: docker.DockerClient, name: str = POD_NETWORK,
                       cidr: str = POD_CIDR) -> dict:
    """Create the bridge network ``name`` on ``cidr`` unless it exists; return its attrs.

    Idempotent. An existing network of that name is used as it is (its subnet is
    what Docker says it is: ``pod_cidr()`` reads it back).
    """
    net = _find(client, name)
    if net is None:
        subnet = ipaddress.ip_network(cidr)
        gateway = str(next(subnet.hosts()))
        ipam = docker.types.IPAMConfig(pool_configs=[
            docker.types.IPAMPool(subnet=str(subnet), gateway=gateway)])
        try:
            net = client.networks.create(name, driver="bridge", ipam=ipam, check_duplicate=True,
                                         labels={LABEL_POD_NETWORK: "true"})
            log.info("created pod network %s (%s, gateway %s)", name, subnet, gateway)
        except docker.errors.APIError as e:
            net = _find(client, name)         # another node made it at the same moment
            if net is None:
                raise RuntimeError(f"cannot create the pod network {name} ({cidr}): "
                                   f"{e.explanation or e}") from e
    net.reload()
    return net.attrs


def pod_cidr(attrs: dict) -> str:
    """The subnet of a network, from ``docker network inspect``."""
    configs = (attrs.get("IPAM") or {}).get("Config") or []
    return configs[0]["Subnet"] if configs else ""


def remove_pod_network(client: docker.DockerClient, name: str = POD_NETWORK) -> bool:
    """Remove the network (after its containers are gone). False if it is still in use."""
    net = _find(client, name)
    if net is None:
        return True
    try:
        net.remove()
        return True
    except docker.errors.APIError as e:
        log.warning("pod network %s not removed: %s", name, e.explanation or e)
        return False
