"""TaintToleration: a node's taints keep away every pod that does not tolerate them.

A taint ``{key, value, effect}`` on a node repels pods; a pod's toleration lets it
in anyway. Effects:

* ``NoSchedule`` and ``NoExecute``: a hard rule -- the filter rejects the node.
* ``PreferNoSchedule``: a soft rule -- the node still fits, but scores lower for
  every such taint the pod does not tolerate.

A toleration matches a taint when the effects agree (an empty toleration effect
matches all), the keys agree (an empty key with ``operator: Exists`` matches every
key), and, for ``operator: Equal`` (the default), the values agree.
"""
from __future__ import annotations

from ...api.taints import tolerates
from ..framework import normalize_scores

NAME = "TaintToleration"
CACHEABLE = True     # depends only on the pod's spec and this NodeInfo (equivalence.py)

HARD_EFFECTS = ("NoSchedule", "NoExecute")


def untolerated(taints: list[dict], tolerations: list[dict], effects=HARD_EFFECTS) -> dict | None:
    """The first taint with one of ``effects`` that no toleration covers, or None."""
    for taint in taints:
        if taint.get("effect") in effects and not any(tolerates(t, taint) for t in tolerations):
            return taint
    return None


def reason(taint: dict) -> str:
    """kube-scheduler's words: ``node(s) had untolerated taint {gpu: true}``."""
    return f"node(s) had untolerated taint {{{taint.get('key', '')}: {taint.get('value') or ''}}}"


def filter(pod, node):
    if not node.taints:
        return None
    taint = untolerated(node.taints, pod.tolerations)
    return reason(taint) if taint is not None else None


def score(pod, node) -> int:
    """Raw score: how many PreferNoSchedule taints the pod does not tolerate (fewer is better)."""
    if not node.taints:
        return 0
    soft = [t for t in pod.tolerations if (t.get("effect") or "PreferNoSchedule") == "PreferNoSchedule"]
    return sum(1 for taint in node.taints if taint.get("effect") == "PreferNoSchedule"
               and not any(tolerates(t, taint) for t in soft))


def normalize(pod, scores: dict) -> None:
    normalize_scores(scores, reverse=True)
