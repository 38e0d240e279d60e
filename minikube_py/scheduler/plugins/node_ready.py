"""NodeReady: no new pods on a node whose kubelet is not Ready.

In Kubernetes the node lifecycle controller turns a Ready condition that is False
into the taint ``node.kubernetes.io/not-ready:NoSchedule`` (Unknown, i.e. the kubelet
stopped reporting, into ``node.kubernetes.io/unreachable:NoSchedule``), and the
TaintToleration plugin keeps pods off. This plugin applies the same rule straight
from the condition, so it holds even before (or without) that controller: the pod
needs a toleration for the taint the node *would* carry.
"""
from ...api.taints import tolerates
from .taint_toleration import reason

NAME = "NodeReady"
CACHEABLE = True     # depends only on the pod's spec and this NodeInfo (equivalence.py)

NOT_READY = "node.kubernetes.io/not-ready"
UNREACHABLE = "node.kubernetes.io/unreachable"


def filter(pod, node):
    if node.ready == "True":
        return None
    key = NOT_READY if node.ready == "False" else UNREACHABLE
    if any(t.get("key") == key for t in node.taints):
        return None            # a real taint: TaintToleration judges it
    taint = {"key": key, "effect": "NoSchedule"}
    if any(tolerates(t, taint) for t in pod.tolerations):
        return None
    return reason(taint)
