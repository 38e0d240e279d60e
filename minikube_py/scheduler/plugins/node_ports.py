"""NodePorts: two pods cannot bind the same hostPort on one node.

A container port with ``hostPort`` is opened on the node's own address. It clashes
with another pod's when protocol and port are equal and the host IPs overlap
(``0.0.0.0``, the default, overlaps every address).
"""
NAME = "NodePorts"
CACHEABLE = True     # depends only on the pod's spec and this NodeInfo (equivalence.py)

REASON = "node(s) didn't have free ports for the requested pod ports"


def pre_filter(pod) -> bool:
    return bool(pod.host_ports)     # most pods ask for none: skip the filter


def filter(pod, node):
    for ip, proto, port in pod.host_ports:
        used = node.used_ports.get((proto, port))
        if used and (ip == "0.0.0.0" or "0.0.0.0" in used or ip in used):
            return REASON
    return None
