"""NodeAffinity: ``nodeSelector`` and node affinity say which nodes a pod may use.

* ``spec.nodeSelector``: every label listed must be on the node with that value.
* ``affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution``: a list
  of ``nodeSelectorTerms``; the node must match at least one term (OR), and a term
  matches when all its ``matchExpressions`` (on labels: In, NotIn, Exists,
  DoesNotExist, Gt, Lt) and ``matchFields`` (on ``metadata.name``) hold (AND).
* ``preferredDuringSchedulingIgnoredDuringExecution``: weighted terms that only
  score -- the node gets the sum of the weights of the terms it matches.

The terms are parsed once per pod (kept in ``pod.memo``); a term that cannot be
parsed (an unknown operator, ``Gt`` with a non-integer) is a bad pod spec.
"""
from ...api.selectors import LabelSelector, SelectorError
from ..framework import PodSpecError, normalize_scores

NAME = "NodeAffinity"
CACHEABLE = True     # depends only on the pod's spec and this NodeInfo (equivalence.py)

REASON = "node(s) didn't match Pod's node affinity/selector"


class _Term:
    """One nodeSelectorTerm: label requirements plus ``metadata.name`` requirements."""

    def __init__(self, term: dict, where: str):
        if not isinstance(term, dict):
            raise PodSpecError(f"{where}: must be an object")
        exprs = term.get("matchExpressions") or []
        fields = term.get("matchFields") or []
        self.empty = not exprs and not fields       # an empty term matches no node
        try:
            self.labels = LabelSelector.from_dict({"matchExpressions": exprs})
        except (SelectorError, AttributeError, TypeError) as err:
            raise PodSpecError(f"{where}.matchExpressions: {err}") from None
        self.names = []                              # [(is "In", {node names})]
        for f in fields:
            if not isinstance(f, dict) or f.get("key") != "metadata.name" \
                    or f.get("operator") not in ("In", "NotIn") or len(f.get("values") or []) != 1:
                raise PodSpecError(f"{where}.matchFields: only metadata.name with In or NotIn "
                                   "and one value is supported")
            self.names.append((f["operator"] == "In", set(f["values"])))

    def matches(self, node) -> bool:
        if self.empty or not self.labels.matches(node.labels):
            return False
        return all((node.name in names) == is_in for is_in, names in self.names)


def _parsed(pod):
    """(nodeSelector dict, required terms or None, [(weight, term)]), parsed once per pod."""
    parsed = pod.memo.get(NAME)
    if parsed is None:
        spec = pod.spec
        selector = spec.get("nodeSelector") or {}
        if not isinstance(selector, dict) or not all(isinstance(v, str) for v in selector.values()):
            raise PodSpecError("spec.nodeSelector: must be a map of label names to strings")
        affinity = ((spec.get("affinity") or {}).get("nodeAffinity")) or {}
        where = "spec.affinity.nodeAffinity"
        required = affinity.get("requiredDuringSchedulingIgnoredDuringExecution")
        terms = None
        if required is not None:
            raw = required.get("nodeSelectorTerms") or []
            terms = [_Term(t, f"{where}.required...nodeSelectorTerms[{i}]")
                     for i, t in enumerate(raw)]
        preferred = []
        for i, p in enumerate(affinity.get("preferredDuringSchedulingIgnoredDuringExecution") or []):
            weight = p.get("weight") if isinstance(p, dict) else None
            if not isinstance(weight, int) or not 1 <= weight <= 100:
                raise PodSpecError(f"{where}.preferred...[{i}].weight: must be 1 to 100")
            preferred.append((weight, _Term(p.get("preference") or {}, f"{where}.preferred...[{i}]")))
        parsed = pod.memo[NAME] = (selector, terms, preferred)
    return parsed


def pre_filter(pod) -> bool:
    selector, terms, _ = _parsed(pod)      # raises PodSpecError for a bad spec
    return bool(selector) or terms is not None


def filter(pod, node):
    selector, terms, _ = _parsed(pod)
    labels = node.labels
    for key, value in selector.items():
        if labels.get(key) != value:
            return REASON
    if terms is not None and not any(term.matches(node) for term in terms):
        return REASON
    return None


def pre_score(pod) -> bool:
    return bool(_parsed(pod)[2])


def score(pod, node) -> int:
    """Raw score: the summed weights of the preferred terms this node matches."""
    return sum(weight for weight, term in _parsed(pod)[2] if term.matches(node))


def normalize(pod, scores: dict) -> None:
    normalize_scores(scores)
