"""NodeUnschedulable: a cordoned node (``spec.unschedulable: true``) takes no new pods.

``kubectl cordon`` sets the flag (and ``kubectl drain`` starts with it); pods that
tolerate the ``node.kubernetes.io/unschedulable`` taint may still go there, which is
how DaemonSet pods reach cordoned nodes.
"""
from ...api.taints import tolerates

NAME = "NodeUnschedulable"
CACHEABLE = True     # depends only on the pod's spec and this NodeInfo (equivalence.py)

REASON = "node(s) were unschedulable"
TAINT = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}


def filter(pod, node):
    if node.unschedulable and not any(tolerates(t, TAINT) for t in pod.tolerations):
        return REASON
    return None
