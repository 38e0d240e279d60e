"""NodeResourcesBalancedAllocation: prefer nodes whose cpu and memory fill up evenly.

A node with 90% of its cpu requested but 10% of its memory strands the memory: no
cpu is left for pods to use it. For cpu and memory take the fraction requested
(the pod included, capped at 1); the score is ``(1 - standard deviation) * 100``,
and the standard deviation of two numbers is half their distance:
``(1 - |cpu - memory| / 2) * 100``.
"""
from ..resources import CPU, MEMORY

NAME = "NodeResourcesBalancedAllocation"
CACHEABLE = True     # depends only on the pod's spec and this NodeInfo (equivalence.py)


def score(pod, node) -> int:
    alloc, used = node.allocatable, node.requested
    cpu, memory = alloc[CPU], alloc[MEMORY]
    if not (cpu and memory):
        return 100          # one resource (or none) reported: nothing to balance
    cpu_fraction = min((used[CPU] + pod.requests.get(CPU, 0)) / cpu, 1.0)
    memory_fraction = min((used[MEMORY] + pod.requests.get(MEMORY, 0)) / memory, 1.0)
    # the standard deviation of two values is half their distance
    return int((1 - abs(cpu_fraction - memory_fraction) / 2) * 100)
