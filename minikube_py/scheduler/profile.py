"""A profile: the enabled plugins and their weights, and one pod's filter/score decision.

:meth:`Profile.schedule` is kube-scheduler's ``schedulePod``, in three steps:

1. **find the nodes that fit** (``find_nodes_that_fit``): run each plugin's
   ``pre_filter`` once for the pod (a plugin with nothing to check is skipped),
   then walk the nodes, from where the previous cycle stopped, through the
   filters until enough feasible nodes are found -- in a big cluster, scoring
   every node costs more than it gains (``percentageOfNodesToScore``);
2. **prioritize them** (``prioritize_nodes``): each scorer rates every feasible
   node; normalize, weight, add up;
3. **select the host** (``select_host``): the highest total, a random one among
   equals so that equal nodes share the load.

If no node passes, :class:`FitError` says why, counting each reason over the nodes
("0/3 nodes are available: 2 Insufficient cpu, ...").

The plugins are run on the nodes by an *evaluator*. :class:`Evaluator`, at the end
of this module, is the textbook one: every node through the filters, one by one,
every time. The scheduler uses :class:`.equivalence.CachedEvaluator`, which gives
the same answers faster (it remembers them for the replicas of one template, and
filters many nodes at once).
"""
from __future__ import annotations

import random
from collections import Counter

from . import plugins as plugin_registry
from .equivalence import CachedEvaluator
from .framework import MAX_NODE_SCORE, NodeInfo, PodInfo, PodSpecError, filter_reasons

__all__ = ["Profile", "Evaluator", "FitError", "PluginError", "num_feasible_nodes_to_find",
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
        self.pre_bind = getattr(module, "pre_bind", None)
        self.cacheable = bool(getattr(module, "CACHEABLE", False))

    def __repr__(self) -> str:
        return f"Plugin({self.name!r}, weight={self.weight})"


class Profile:
    """The plugins one scheduler runs, and how it walks the nodes.

    ``weights`` overrides :data:`plugins.DEFAULT_WEIGHTS` (by plugin NAME);
    ``percentage_of_nodes_to_score`` 0 is adaptive (see num_feasible_nodes_to_find);
    ``evaluator`` runs the plugins on nodes (default: the cached, fast one).
    """

    def __init__(self, modules=None, weights: dict[str, int] | None = None,
                 percentage_of_nodes_to_score: int = 0, rng: random.Random | None = None,
                 evaluator=None):
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
        self.evaluator = CachedEvaluator() if evaluator is None else evaluator

    def add_plugin(self, plugin, weight: int = 0) -> None:
        """Add a plugin object (one that needs state, such as VolumeBinding's informers)."""
        p = Plugin(plugin, weight)
        self.plugins.append(p)
        if p.filter:
            self.filters.append(p)
        if p.score and p.weight > 0:
            self.scorers.append(p)

    @property
    def pre_binders(self) -> list[Plugin]:
        return [p for p in self.plugins if p.pre_bind]

    def schedule(self, pod: PodInfo, nodes: list[NodeInfo]) -> NodeInfo:
        """Pick a node for the pod, or raise FitError / PluginError."""
        if not nodes:
            raise FitError(0, {})
        self.evaluator.start_cycle(pod, nodes)
        feasible, failed = self.find_nodes_that_fit(pod, nodes)
        if not feasible:
            raise FitError(len(nodes), failed)
        if len(feasible) == 1:
            return feasible[0]          # nothing to compare
        return self.select_host(feasible, self.prioritize_nodes(pod, feasible))

    def find_nodes_that_fit(self, pod: PodInfo, nodes: list[NodeInfo]):
        """The feasible nodes found, and the reasons of each node that failed."""
        filters = self._active(pod, self.filters, "pre_filter")
        n = len(nodes)
        want = num_feasible_nodes_to_find(self.percentage, n)
        start = self.next_start_index % n
        in_turn = nodes[start:] + nodes[:start] if start else nodes
        try:
            feasible, failed, looked_at = self.evaluator.find_feasible(pod, filters, in_turn, want)
        except PodSpecError as err:
            raise PluginError(f"{err}", bad_spec=True) from None
        except Exception as err:
            raise PluginError(f"running filter plugins: {type(err).__name__}: {err}") from err
        # Next time, start after the last node looked at: every node gets its turn.
        self.next_start_index = (start + looked_at) % n
        return feasible, failed

    def prioritize_nodes(self, pod: PodInfo, feasible: list[NodeInfo]) -> list[int]:
        """Weighted total score of each feasible node (same order)."""
        scorers = self._active(pod, self.scorers, "pre_score")
        try:
            raw = self.evaluator.score(pod, scorers, feasible)
        except Exception as err:
            raise PluginError(f"running score plugins: {type(err).__name__}: {err}") from err
        totals = [0] * len(feasible)
        for p, scores in zip(scorers, raw):
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

    def select_host(self, feasible: list[NodeInfo], totals: list[int]) -> NodeInfo:
        """The highest total; among equal ones a random pick, so equal nodes share the load."""
        best = max(totals)
        ties = [i for i, t in enumerate(totals) if t == best]
        return feasible[ties[0] if len(ties) == 1 else self.rng.choice(ties)]

    def _active(self, pod: PodInfo, plugins: list[Plugin], hook: str) -> list[Plugin]:
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


class Evaluator:
    """Runs the plugins on nodes the textbook way: node by node, nothing remembered.

    The profile asks an evaluator only these three things; any other evaluator
    (:class:`.equivalence.CachedEvaluator`) must answer them with the same results.
    """

    def start_cycle(self, pod: PodInfo, nodes: list[NodeInfo]) -> None:
        """A new scheduling cycle for this pod begins (nothing to prepare here)."""

    def find_feasible(self, pod: PodInfo, filters: list[Plugin], nodes: list[NodeInfo],
                      want: int) -> tuple[list[NodeInfo], dict[str, list[str]], int]:
        """Walk the nodes in order until ``want`` of them pass every filter.

        Returns the feasible nodes, the reasons of each node that failed (its first
        filter's "no"), and how many nodes were looked at.
        """
        feasible: list[NodeInfo] = []
        failed: dict[str, list[str]] = {}
        looked_at = 0
        for node in nodes:
            if len(feasible) >= want:
                break
            looked_at += 1
            for p in filters:
                reasons = filter_reasons(p.filter(pod, node))
                if reasons:
                    failed[node.name] = reasons
                    break
            else:
                feasible.append(node)
        return feasible, failed, looked_at

    def score(self, pod: PodInfo, scorers: list[Plugin], nodes: list[NodeInfo]) -> list[list[int]]:
        """Raw scores: one list per scorer, one number per node."""
        return [[p.score(pod, node) for node in nodes] for p in scorers]
