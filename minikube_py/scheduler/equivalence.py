"""Equivalence cache: pods from one template get the same answers, so keep them.

The ten replicas of a Deployment ask the same question of every node -- "do I fit,
and how well?" -- and a node that has not changed since the last replica asked
gives the same answer. Filtering and scoring are the hot path (hundreds of nodes
per pod), so the profile remembers, per *equivalence class* of pods and per node
generation:

    node generation -> (filter reasons or None, (raw score of each cacheable scorer))

Any change to a node (a pod added or removed, a Node update) gives it a new
generation number, never used before, so an answer found under a node's current
generation is always current; answers for old generations are simply not asked
for again (and are dropped when a class collects too many). Between two
replicas only the node that took the previous one has changed, so nearly every
node is answered from here. (kube-scheduler had the same idea, 1.10-1.12.)

Two pods are equivalent when everything a plugin may look at is equal: the spec
(except nodeName), labels, namespace and controller. That is only sound for
plugins whose answer depends on nothing else, so a plugin opts in with
``CACHEABLE = True``; results of plugins without it are never reused.
"""
from __future__ import annotations

import json
from collections import OrderedDict

from .framework import PodInfo

__all__ = ["EquivalenceCache", "pod_class"]


def pod_class(pod: PodInfo) -> str:
    """A string equal for pods that no cacheable plugin can tell apart."""
    spec = {k: v for k, v in pod.spec.items() if k != "nodeName"}
    return json.dumps([pod.namespace, pod.labels, pod.owner_uid, spec], sort_keys=True,
                      separators=(",", ":"), default=str)


class EquivalenceCache:
    """The last ``max_classes`` pod classes, each with its per-node answers."""

    def __init__(self, max_classes: int = 64):
        self.max_classes = max_classes
        self._classes: OrderedDict[str, dict] = OrderedDict()
        self.hits = self.misses = 0

    def answers_for(self, pod: PodInfo, max_entries: int = 10000) -> dict:
        """The answers for the pod's class, by node generation (empty for a new class)."""
        key = pod_class(pod)
        answers = self._classes.get(key)
        if answers is None or len(answers) > max_entries:   # new, or full of stale answers
            answers = self._classes[key] = {}
            if len(self._classes) > self.max_classes:
                self._classes.popitem(last=False)
        else:
            self._classes.move_to_end(key)
        return answers

    def clear(self) -> None:
        self._classes.clear()
