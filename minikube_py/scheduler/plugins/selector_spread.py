"""SelectorSpread: spread the pods of one controller across nodes.

Five replicas of a Deployment on five nodes survive a node failure; five on one
node do not. The pods of one owner are found by their controller ownerReference
(the ReplicaSet, Job, ... with ``controller: true``); the cache counts them per
node. A node with fewer of them scores higher:
``100 * (most on any node - on this node) / most on any node``.
"""
from ..framework import normalize_scores

NAME = "SelectorSpread"
CACHEABLE = True     # depends only on the pod's spec and this NodeInfo (equivalence.py)


def pre_score(pod) -> bool:
    return pod.owner_uid is not None      # a bare pod has nothing to spread from


def score(pod, node) -> int:
    """Raw score: this owner's pods already on the node (fewer is better)."""
    return node.owner_counts.get(pod.owner_uid, 0)


def normalize(pod, scores: dict) -> None:
    normalize_scores(scores, reverse=True)
