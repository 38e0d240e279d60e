"""NodeResourcesFit: the node must have room for what the pod requests.

Room is ``allocatable - sum of the requests of the pods already there`` (assumed
pods included), checked for every resource the pod asks for: cpu, memory,
ephemeral-storage and extended resources such as ``nvidia.com/gpu`` -- a node that
has none of a resource has 0 of it. The node's ``pods`` allocatable caps how many
pods it takes. Requests, not actual usage, are what count: the scheduler
reserves, it does not measure.

One node may fail for several resources at once; each becomes a reason
("Insufficient cpu", "Insufficient memory") and is counted in the message.
"""
from ..resources import PODS

NAME = "NodeResourcesFit"
CACHEABLE = True     # depends only on the pod's spec and this NodeInfo (equivalence.py)


def filter(pod, node):
    allocatable, requested = node.allocatable, node.requested
    reasons = None
    if len(node.pods) >= allocatable[PODS]:
        reasons = ["Too many pods"]
    for name, value in pod.requests.items():
        if value > allocatable.get(name, 0) - requested.get(name, 0) and value > 0 and name != PODS:
            if reasons is None:
                reasons = []
            reasons.append(f"Insufficient {name}")
    return reasons
