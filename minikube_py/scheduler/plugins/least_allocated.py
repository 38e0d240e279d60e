"""NodeResourcesLeastAllocated: prefer the node with the most room left.

For cpu and memory: ``(allocatable - requested) * 100 / allocatable`` after adding
the pod, averaged. Spreading load this way leaves every node some headroom.
Containers without requests count as 100m cpu / 200Mi memory here (the "non-zero"
requests), or a node full of request-less pods would look empty.
(In Kubernetes this is NodeResourcesFit's default scoring strategy, LeastAllocated.)
"""
from ..resources import CPU, MEMORY

NAME = "NodeResourcesLeastAllocated"
CACHEABLE = True     # depends only on the pod's spec and this NodeInfo (equivalence.py)


def least_requested(requested: int, allocatable: int) -> int:
    if requested > allocatable:
        return 0
    return (allocatable - requested) * 100 // allocatable


def score(pod, node) -> int:
    # Written out for cpu and memory (no loop, no .get): this runs for every
    # feasible node of every pod, hundreds of times per pod in a big cluster.
    alloc, used = node.allocatable, node.nonzero_requested
    cpu, memory = alloc[CPU], alloc[MEMORY]
    if cpu and memory:
        return (least_requested(used[CPU] + pod.nonzero_requests[CPU], cpu)
                + least_requested(used[MEMORY] + pod.nonzero_requests[MEMORY], memory)) // 2
    if cpu:       # a resource the node does not report is left out of the average
        return least_requested(used[CPU] + pod.nonzero_requests[CPU], cpu)
    if memory:
        return least_requested(used[MEMORY] + pod.nonzero_requests[MEMORY], memory)
    return 0
