"""A profile: the enabled plugins and their weights, and the filter/score loop over nodes.

``Profile.schedule(pod, nodes)`` is one scheduling cycle's decision:

1. run each plugin's ``pre_filter`` once for the pod (which also skips plugins
   that have nothing to check for it);
2. walk the nodes, starting where the previous cycle stopped, and run the filters
   on each until enough feasible nodes are found -- in a big cluster, scoring
   every node costs more than it gains (``percentageOfNodesToScore``);
3. score the feasible nodes with each scorer, normalize, weight, add up;
4. return the best node (a random one among equals, so equal nodes share load).

Answers of cacheable plugins are remembered per pod class and node generation
(:mod:`.equivalence`), so the replicas of one template mostly skip steps 2-3.

If no node passes, raise :class:`FitError`, whose message counts each reason
over the nodes ("0/3 nodes are available: 2 Insufficient cpu, ...").
"""
from __future__ import annotations

import random
from collections import Counter

from . import plugins as plugin_registry
from .equivalence import EquivalenceCache
from .framework import MAX_NODE_SCORE, NodeInfo, PodInfo, PodSpecError

__all__ = ["Profile", "FitError", "PluginError", "num_feasible_nodes_to_find",
           "fit_error_message"]

# Below this many nodes all are scored; above, at least this many (kube-scheduler's values).
MIN_FEASIBLE_NODES_TO_FIND = 100
MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND = 5


def num_feasible_nodes_to_find(percentage: int, num_all_nodes: int) -> int:
    """How many feasible nodes to look for before scoring.

    ``percentage`` 0 means adaptive: 50% for a small cluster, one point less per
    125 nodes, never under 5%; and never fewer than 100 nodes.
    """
    if num_all_nodes < MIN_FEASIBLE_NODES_TO_FIND:
        return num_all_nodes
    if percentage <= 0:
        percentage = max(50 - num_all_nodes // 125, MIN_FEASIBLE_NODES_PERCENTAGE_TO_FIND)
    percentage = min(percentage, 100)
    return max(num_all_nodes * percentage // 100, MIN_FEASIBLE_NODES_TO_FIND)


def fit_error_message(num_nodes: int, reasons: dict[str, list[str]]) -> str:
    """kube-scheduler's words for "it fits nowhere": each reason counted over nodes, sorted."""
    if num_nodes == 0:
        return "no nodes available to schedule pods"
    histogram = Counter(r for node_reasons in reasons.values() for r in node_reasons)
    counted = sorted(f"{n} {reason}" for reason, n in histogram.items())
    return f"0/{num_nodes} nodes are available: {', '.join(counted)}."


class FitError(Exception):
    """No node fits the pod; ``reasons`` maps node name -> why not."""

    def __init__(self, num_nodes: int, reasons: dict[str, list[str]]):
        self.num_nodes = num_nodes
        self.reasons = reasons
        super().__init__(fit_error_message(num_nodes, reasons))


class PluginError(Exception):
    """A plugin failed (a bug, or a pod spec it cannot read); the message says which."""

    def __init__(self, message: str, bad_spec: bool = False):
        super().__init__(message)
        self.bad_spec = bad_spec


class Plugin:
    """A plugin module seen through one interface (missing functions are None)."""

    def __init__(self, module, weight: int = 0):
        self.module = module
        self.name = module.NAME
        self.weight = weight
        self.filter = getattr(module, "filter", None)
        self.score = getattr(module, "score", None)
        self.normalize = getattr(module, "normalize", None)
        self.pre_filter = getattr(module, "pre_filter", None)
        self.pre_score = getattr(module, "pre_score", None)
        self.cacheable = bool(getattr(module, "CACHEABLE", False))

    def __repr__(self) -> str:
        return f"Plugin({self.name!r}, weight={self.weight})"


def _as_reasons(result) -> list[str]:
    return [result] if isinstance(result, str) else list(result)


class Profile:
    """The plugins one scheduler runs, and how it walks the nodes.

    ``weights`` overrides :data:`plugins.DEFAULT_WEIGHTS` (by plugin NAME);
    ``percentage_of_nodes_to_score`` 0 is adaptive (see num_feasible_nodes_to_find).
    """

    def __init__(self, modules=None, weights: dict[str, int] | None = None,
                 percentage_of_nodes_to_score: int = 0, rng: random.Random | None = None,
                 equivalence_cache: bool = True):
        modules = plugin_registry.PLUGINS if modules is None else modules
        all_weights = dict(plugin_registry.DEFAULT_WEIGHTS)
        all_weights.update(weights or {})
        self.plugins = [Plugin(m, all_weights.get(m.NAME, 1)) for m in modules]
        self.filters = [p for p in self.plugins if p.filter]
        self.scorers = [p for p in self.plugins if p.score and p.weight > 0]
        if not 0 <= percentage_of_nodes_to_score <= 100:
            raise ValueError("percentage_of_nodes_to_score must be 0 (adaptive) to 100")
        self.percentage = percentage_of_nodes_to_score
        self.next_start_index = 0
        self.rng = rng or random.Random()
        self.equivalence = EquivalenceCache() if equivalence_cache else None

    # ------------------------------------------------------------------ stages
    def _prepare(self, pod: PodInfo, plugins, hook: str) -> list:
        """The plugins whose pre_filter/pre_score does not skip this pod."""
        active = []
        for p in plugins:
            pre = getattr(p, hook)
            try:
                if pre is None or pre(pod):
                    active.append(p)
            except PodSpecError as err:
                raise PluginError(f"{err}", bad_spec=True) from None
            except Exception as err:
                raise PluginError(f'running {hook} of plugin "{p.name}": {err}') from err
        return active

    def _run_filters(self, filters, pod: PodInfo, nodes: list[NodeInfo]) -> list:
        """Each node's reasons (a list) or None. Each filter sees only the nodes that
        passed the filters before it, so a node gets the first plugin's "no"."""
        results: list = [None] * len(nodes)
        alive = list(range(len(nodes)))
        for f in filters:
            verdicts = [f(pod, nodes[i]) for i in alive]
            if any(verdicts):
                still = []
                for i, verdict in zip(alive, verdicts):
                    if verdict:
                        results[i] = _as_reasons(verdict)
                    else:
                        still.append(i)
                alive = still
        return results

    def _filter_batch(self, filters, pod, batch, answers) -> list:
        """_run_filters, answered from the equivalence cache where the node is unchanged."""
        if answers is None:
            return self._run_filters(filters, pod, batch)
        get = answers.get
        known = [get(node.generation) for node in batch]
        todo = [i for i, k in enumerate(known) if k is None]
        if todo:
            computed = self._run_filters(filters, pod, [batch[i] for i in todo])
            for i, result in zip(todo, computed):
                known[i] = answers[batch[i].generation] = (result, None)
        self.equivalence.hits += len(batch) - len(todo)
        self.equivalence.misses += len(todo)
        return [k[0] for k in known]

    def find_feasible(self, pod: PodInfo, nodes: list[NodeInfo], answers=None) -> list[NodeInfo]:
        """Filter nodes, from where the last cycle stopped, until enough are feasible.

        Nodes are taken in batches of "how many feasible ones are still missing"
        and filtered together; that finds exactly the nodes a node-by-node walk
        would, with less work per node.
        """
        n = len(nodes)
        if n == 0:
            raise FitError(0, {})
        active = self._prepare(pod, self.filters, "pre_filter")
        filters = [p.filter for p in active]
        if answers is not None and not all(p.cacheable for p in active):
            answers = None
        want = num_feasible_nodes_to_find(self.percentage, n)
        start = self.next_start_index % n
        order = nodes[start:] + nodes[:start] if start else nodes
        feasible: list[NodeInfo] = []
        failed: dict[str, list[str]] = {}
        processed = 0
        try:
            while processed < n and len(feasible) < want:
                batch = order[processed:processed + want - len(feasible)]
                processed += len(batch)
                results = self._filter_batch(filters, pod, batch, answers)
                if not any(results):
                    feasible.extend(batch)          # the common case: all of them fit
                    continue
                for node, result in zip(batch, results):
                    if result:
                        failed[node.name] = result
                    else:
                        feasible.append(node)
        except PodSpecError as err:
            raise PluginError(f"{err}", bad_spec=True) from None
        except Exception as err:
            raise PluginError(f"running filter plugins: {type(err).__name__}: {err}") from err
        # Next time, start after the last node looked at: every node gets its turn.
        self.next_start_index = (start + processed) % n
        if not feasible:
            raise FitError(n, failed)
        return feasible

    def _raw_scores(self, plugins: list[Plugin], pod, feasible, answers) -> list[list[int]]:
        """Raw scores, one list per plugin. Cacheable plugins' scores are kept per node as
        one tuple in the equivalence answers (computed once per node generation)."""
        cached = [p for p in plugins if p.cacheable] if answers is not None else []
        by_plugin: dict[str, list[int]] = {}
        if cached:
            # Entries exist when the filters' answers were cached too (they were just
            # looked up or stored); otherwise the scores are computed, not kept.
            get = answers.get
            entries = [get(node.generation) for node in feasible]
            for i in [i for i, entry in enumerate(entries) if entry is None or entry[1] is None]:
                node = feasible[i]
                row = tuple(p.score(pod, node) for p in cached)
                if entries[i] is not None:
                    answers[node.generation] = (entries[i][0], row)
                entries[i] = (None, row)
            rows = [entry[1] for entry in entries]
            for p, column in zip(cached, zip(*rows)):
                by_plugin[p.name] = list(column)
        for p in plugins:
            if p.name not in by_plugin:
                fn = p.score
                by_plugin[p.name] = [fn(pod, node) for node in feasible]
        return [by_plugin[p.name] for p in plugins]

    def score(self, pod: PodInfo, feasible: list[NodeInfo], answers=None) -> list[int]:
        """Weighted total score of each feasible node (same order)."""
        totals = [0] * len(feasible)
        active = self._prepare(pod, self.scorers, "pre_score")
        try:
            raw = self._raw_scores(active, pod, feasible, answers)
        except Exception as err:
            raise PluginError(f"running score plugins: {type(err).__name__}: {err}") from err
        for p, scores in zip(active, raw):
            try:
                low, high = min(scores), max(scores)
                if low == high and (p.normalize is not None or 0 <= low <= MAX_NODE_SCORE):
                    continue      # the same for every node: cannot change the ranking
                if p.normalize is not None:
                    by_name = {node.name: s for node, s in zip(feasible, scores)}
                    p.normalize(pod, by_name)
                    scores = [by_name[node.name] for node in feasible]
                    low, high = min(scores), max(scores)
            except Exception as err:
                raise PluginError(f'running score plugin "{p.name}": {type(err).__name__}: {err}') \
                    from err
            if low < 0 or high > MAX_NODE_SCORE:
                raise PluginError(f'score plugin "{p.name}" returned a score outside '
                                  f"0..{MAX_NODE_SCORE}")
            w = p.weight
            totals = [t + s * w for t, s in zip(totals, scores)]
        return totals

    def select(self, feasible: list[NodeInfo], totals: list[int]) -> NodeInfo:
        """The highest total; among equal ones a random pick, so equal nodes share the load."""
        best = max(totals)
        ties = [i for i, t in enumerate(totals) if t == best]
        return feasible[ties[0] if len(ties) == 1 else self.rng.choice(ties)]

    def schedule(self, pod: PodInfo, nodes: list[NodeInfo]) -> NodeInfo:
        """Pick a node for the pod, or raise FitError / PluginError."""
        answers = None
        if self.equivalence is not None:
            answers = self.equivalence.answers_for(pod, max_entries=2 * len(nodes) + 100)
        feasible = self.find_feasible(pod, nodes, answers)
        if len(feasible) == 1:
            return feasible[0]          # nothing to compare
        return self.select(feasible, self.score(pod, feasible, answers))
