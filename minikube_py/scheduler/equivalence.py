"""The scheduler's fast path: the same answers as profile.Evaluator, for less work.

:class:`CachedEvaluator` answers the profile's three questions ("start a cycle",
"find feasible nodes", "score these nodes") with two tricks; both keep every
decision exactly what the textbook :class:`.profile.Evaluator` would make
(tests/unit/test_scheduler_evaluators.py runs both side by side).

**The equivalence cache.** The ten replicas of a Deployment ask the same question
of every node -- "do I fit, and how well?" -- and a node that has not changed
since the last replica asked gives the same answer. So the answers are kept, per
*equivalence class* of pods and per node generation:

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

**Batches.** Instead of one node through all filters, one filter runs over a
batch of nodes (a node leaves the batch at its first "no"), and a batch is as
many nodes as feasible ones are still missing: the walk looks at exactly the
nodes a node-by-node walk would, with less Python overhead per node.
"""
from __future__ import annotations

import json
from collections import OrderedDict

from .framework import NodeInfo, PodInfo, filter_reasons

__all__ = ["CachedEvaluator", "EquivalenceCache", "pod_class"]


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


class CachedEvaluator:
    """profile.Evaluator's interface, answered from the equivalence cache and in batches."""

    def __init__(self, max_classes: int = 64):
        self.cache = EquivalenceCache(max_classes)
        self.answers: dict = {}            # this cycle's pod class's answers

    def start_cycle(self, pod: PodInfo, nodes: list[NodeInfo]) -> None:
        self.answers = self.cache.answers_for(pod, max_entries=2 * len(nodes) + 100)

    def find_feasible(self, pod, filters, nodes: list[NodeInfo], want: int):
        """See profile.Evaluator.find_feasible."""
        # One plugin without CACHEABLE among them: this pod's filter answers are not kept.
        answers = self.answers if all(p.cacheable for p in filters) else None
        functions = [p.filter for p in filters]
        feasible: list[NodeInfo] = []
        failed: dict[str, list[str]] = {}
        looked_at, n = 0, len(nodes)
        while looked_at < n and len(feasible) < want:
            batch = nodes[looked_at:looked_at + want - len(feasible)]
            looked_at += len(batch)
            results = self._filter_batch(functions, pod, batch, answers)
            if not any(results):
                feasible.extend(batch)          # the common case: all of them fit
                continue
            for node, result in zip(batch, results):
                if result:
                    failed[node.name] = result
                else:
                    feasible.append(node)
        return feasible, failed, looked_at

    def _filter_batch(self, functions, pod, batch, answers) -> list:
        """Each node's reasons or None: from the cache where the node is unchanged."""
        if answers is None:
            return _run_filters(functions, pod, batch)
        get = answers.get
        known = [get(node.generation) for node in batch]
        todo = [i for i, k in enumerate(known) if k is None]
        if todo:
            computed = _run_filters(functions, pod, [batch[i] for i in todo])
            for i, result in zip(todo, computed):
                known[i] = answers[batch[i].generation] = (result, None)
        self.cache.hits += len(batch) - len(todo)
        self.cache.misses += len(todo)
        return [k[0] for k in known]

    def score(self, pod, scorers, nodes: list[NodeInfo]) -> list[list[int]]:
        """Raw scores, one list per scorer. Cacheable scorers' scores are kept per node as
        one tuple beside the filters' answer (computed once per node generation)."""
        cached = [p for p in scorers if p.cacheable]
        by_plugin: dict[str, list[int]] = {}
        if cached:
            # Entries exist when the filters' answers were cached too (they were just
            # looked up or stored); otherwise the scores are computed, not kept.
            answers = self.answers
            get = answers.get
            entries = [get(node.generation) for node in nodes]
            for i in [i for i, entry in enumerate(entries) if entry is None or entry[1] is None]:
                node = nodes[i]
                row = tuple(p.score(pod, node) for p in cached)
                if entries[i] is not None:
                    answers[node.generation] = (entries[i][0], row)
                entries[i] = (None, row)
            rows = [entry[1] for entry in entries]
            for p, column in zip(cached, zip(*rows)):
                by_plugin[p.name] = list(column)
        for p in scorers:
            if p.name not in by_plugin:
                fn = p.score
                by_plugin[p.name] = [fn(pod, node) for node in nodes]
        return [by_plugin[p.name] for p in scorers]


def _run_filters(functions, pod: PodInfo, nodes: list[NodeInfo]) -> list:
    """Each node's reasons (a list) or None. Each filter sees only the nodes that
    passed the filters before it, so a node gets the first plugin's "no"."""
    results: list = [None] * len(nodes)
    alive = list(range(len(nodes)))
    for f in functions:
        verdicts = [f(pod, nodes[i]) for i in alive]
        if any(verdicts):
            still = []
            for i, verdict in zip(alive, verdicts):
                if verdict:
                    results[i] = filter_reasons(verdict)
                else:
                    still.append(i)
            alive = still
    return results
