"""Scheduler plugins: one module per rule, and the list of those enabled.

A plugin is a module with a ``NAME`` and one or more of these functions:

``filter(pod, node) -> None | str | list[str]``
    May the pod go on this node? ``None`` means yes; otherwise the reason(s), in
    the words that end up in the FailedScheduling message ("Insufficient cpu").
``score(pod, node) -> int``
    How good is this (feasible) node, 0..100, higher is better.
``normalize(pod, scores: dict[node name, int]) -> None``   (optional)
    Rewrite the raw scores of all feasible nodes in place, onto 0..100; for
    plugins whose raw score is a count (see ``framework.normalize_scores``).
``pre_filter(pod) -> bool`` / ``pre_score(pod) -> bool``   (optional)
    Called once per pod before the node loop; ``False`` skips ``filter`` /
    ``score`` for this pod (nothing to check), which keeps the loop fast. A good
    place to parse the pod once (into ``pod.memo``) and to raise
    ``framework.PodSpecError`` for a spec that makes no sense.

``pod`` is a :class:`~..framework.PodInfo` and ``node`` a
:class:`~..framework.NodeInfo`; both keep the raw API objects (``pod.pod``,
``node.node``). Plugins must not change them.

Filters run in the order of :data:`PLUGINS` and stop at the first one that says
no, so cheap and common vetoes come first (as in kube-scheduler).
To add a plugin: write the module, add it to :data:`PLUGINS` and, if it scores,
give it a weight in :data:`DEFAULT_WEIGHTS` (docs/tutorials/03-scheduler-write-a-plugin.md).
"""
from __future__ import annotations

from . import (balanced_allocation, least_allocated, node_affinity, node_ports, node_ready,
               node_resources_fit, node_unschedulable, selector_spread, taint_toleration)

PLUGINS = [
    node_unschedulable,
    node_ready,
    taint_toleration,
    node_affinity,
    node_ports,
    node_resources_fit,
    least_allocated,
    balanced_allocation,
    selector_spread,
]

# Score weights, as in kube-scheduler's default profile (0 turns a scorer off).
DEFAULT_WEIGHTS = {
    least_allocated.NAME: 1,
    balanced_allocation.NAME: 1,
    taint_toleration.NAME: 3,
    node_affinity.NAME: 2,
    selector_spread.NAME: 2,
}


def by_name(name: str):
    """Find a plugin by its NAME or module name, ignoring case ("TaintToleration",
    "taint_toleration")."""
    wanted = name.strip().lower().replace("-", "_")
    for plugin in PLUGINS:
        if wanted in (plugin.NAME.lower(), plugin.__name__.rsplit(".", 1)[-1]):
            return plugin
    raise KeyError(f"no scheduler plugin named {name!r}; known: "
                   f"{', '.join(p.NAME for p in PLUGINS)}")


def parse_weights(text: str | None) -> dict[str, int]:
    """``"TaintToleration=3,least_allocated=0"`` -> ``{"TaintToleration": 3, ...}``."""
    weights: dict[str, int] = {}
    for part in (text or "").split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        if not sep:
            raise ValueError(f"weight {part!r}: expected plugin=weight")
        plugin = by_name(name)
        if not hasattr(plugin, "score"):
            raise ValueError(f"plugin {plugin.NAME} does not score; only scorers have weights")
        try:
            weight = int(value)
        except ValueError:
            raise ValueError(f"weight {part!r}: {value!r} is not an integer") from None
        if weight < 0:
            raise ValueError(f"weight {part!r}: must be 0 or more")
        weights[plugin.NAME] = weight
    return weights
