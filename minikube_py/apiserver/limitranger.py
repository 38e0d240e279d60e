"""LimitRanger admission: a namespace's LimitRanges fill in and bound pods' resources.

kube-apiserver's LimitRanger plugin (plugin/pkg/admission/limitranger) does two things
to a pod being created:

- mutating: each container that leaves out a resource gets the `default` (limit) and
  `defaultRequest` of a `type: Container` limit, and the pod says so in its annotation
  `kubernetes.io/limit-ranger: LimitRanger plugin set: cpu request for container app`;
- validating: every container (type Container) and the pod's sum (type Pod) must stay
  within `min` and `max`, and limit/request within `maxLimitRequestRatio`; otherwise the
  create is refused with 403 and Kubernetes' messages
  (`maximum cpu usage per Container is 1, but limit is 2`). A PersistentVolumeClaim's
  requested storage is held to a `type: PersistentVolumeClaim` limit's min and max.

The defaults run before validation and quota, so a pod defaulted here is charged to a
quota with the amounts it was given.
"""
from __future__ import annotations

from fractions import Fraction

from ..api.kinds.quota import LIMIT_RANGE
from ..quota import resources
from ..quota.evaluators import pod_requests
from . import errors
from .lister import NamespaceObjects

ANNOTATION = "kubernetes.io/limit-ranger"


def _text(name: str, raw) -> str:
    return resources.format_amount(name, resources.parse({name: raw}).get(name, Fraction(0)))


def min_problem(kind, name, enforced, requests, limits) -> str | None:
    bound = _text(name, enforced)
    if name not in requests:
        return f"minimum {name} usage per {kind} is {bound}.  No request is specified"
    low = resources.parse({name: enforced})[name]
    if resources.parse(requests)[name] < low:
        return f"minimum {name} usage per {kind} is {bound}, but request is {_text(name, requests[name])}"
    if name in limits and resources.parse(limits)[name] < low:
        return f"minimum {name} usage per {kind} is {bound}, but limit is {_text(name, limits[name])}"
    return None


def max_problem(kind, name, enforced, requests, limits) -> str | None:
    bound = _text(name, enforced)
    if name not in limits:
        return f"maximum {name} usage per {kind} is {bound}.  No limit is specified"
    high = resources.parse({name: enforced})[name]
    if resources.parse(limits)[name] > high:
        return f"maximum {name} usage per {kind} is {bound}, but limit is {_text(name, limits[name])}"
    if name in requests and resources.parse(requests)[name] > high:
        return f"maximum {name} usage per {kind} is {bound}, but request is {_text(name, requests[name])}"
    return None


def max_request_problem(kind, name, enforced, requests, limits=None) -> str | None:
    """A claim's max is checked against its request (a claim has no limit that counts)."""
    bound = _text(name, enforced)
    if name not in requests:
        return f"maximum {name} usage per {kind} is {bound}.  No request is specified"
    if resources.parse(requests)[name] > resources.parse({name: enforced})[name]:
        return f"maximum {name} usage per {kind} is {bound}, but request is {_text(name, requests[name])}"
    return None


def ratio_problem(kind, name, enforced, requests, limits) -> str | None:
    bound = _text(name, enforced)
    req = resources.parse(requests).get(name, Fraction(0))
    lim = resources.parse(limits).get(name, Fraction(0))
    if req == 0:
        return f"{name} max limit to request ratio per {kind} is {bound}, but no request is specified or request is 0"
    if lim == 0:
        return f"{name} max limit to request ratio per {kind} is {bound}, but no limit is specified or limit is 0"
    if lim / req > resources.parse({name: enforced})[name]:
        return f"{name} max limit to request ratio per {kind} is {bound}, but provided ratio is {float(lim / req):f}"
    return None


CHECKS = (("min", min_problem), ("max", max_problem), ("maxLimitRequestRatio", ratio_problem))
CLAIM_CHECKS = (("min", min_problem), ("max", max_request_problem))


def problems(kind: str, limit: dict, requests: dict, limits: dict, checks=CHECKS) -> list[str]:
    out = []
    for section, check in checks:
        for name in sorted(limit.get(section) or {}):
            problem = check(kind, name, limit[section][name], requests, limits)
            if problem:
                out.append(problem)
    return out


def _containers(spec: dict):
    for c in spec.get("initContainers") or []:
        yield "init container", c
    for c in spec.get("containers") or []:
        yield "container", c


class LimitRanger:
    def __init__(self, registry):
        self.limit_ranges = NamespaceObjects(registry, LIMIT_RANGE)

    @staticmethod
    def _limits(ranges, type_):
        for lr in ranges:
            for limit in (lr.get("spec") or {}).get("limits") or []:
                if limit.get("type") == type_:
                    yield limit

    def _ranges_for(self, rt, obj: dict, kinds=("Pod",)) -> list[dict]:
        """The LimitRanges of a pod's (or claim's) namespace; other kinds have none to obey."""
        if rt.kind not in kinds or rt.group:
            return []
        return self.limit_ranges(obj["metadata"]["namespace"])

    def default(self, rt, pod: dict) -> None:
        """Fill in each container's missing requests and limits (mutating, on create)."""
        ranges = self._ranges_for(rt, pod)
        if not ranges:
            return
        default_requests, default_limits = {}, {}
        for limit in self._limits(ranges, "Container"):
            default_requests.update(limit.get("defaultRequest") or {})
            default_limits.update(limit.get("default") or {})
        notes = []
        for kind, c in _containers(pod.get("spec") or {}):
            res = c.get("resources")
            if not isinstance(res, dict):
                res = c["resources"] = {}
            set_requests, set_limits = [], []
            for field, defaults, took in (("limits", default_limits, set_limits),
                                          ("requests", default_requests, set_requests)):
                have = res.get(field) or {}
                for name, value in defaults.items():
                    if name not in have:
                        have[name] = value
                        took.append(name)
                if have:
                    res[field] = have
            if set_requests:
                notes.append(f"{', '.join(sorted(set_requests))} request for {kind} {c.get('name', '')}")
            if set_limits:
                notes.append(f"{', '.join(sorted(set_limits))} limit for {kind} {c.get('name', '')}")
        if notes:
            md = pod["metadata"]
            md["annotations"] = {**(md.get("annotations") or {}),
                                 ANNOTATION: "LimitRanger plugin set: " + "; ".join(notes)}

    def validate(self, rt, obj: dict) -> None:
        """Refuse (403) a pod outside its namespace's min, max or ratio, or a claim outside
        its min and max storage."""
        ranges = self._ranges_for(rt, obj, ("Pod", "PersistentVolumeClaim"))
        if not ranges:
            return
        spec = obj.get("spec") or {}
        found = []
        if rt.kind == "PersistentVolumeClaim":
            requests = (spec.get("resources") or {}).get("requests") or {}
            for limit in self._limits(ranges, "PersistentVolumeClaim"):
                found += problems("PersistentVolumeClaim", limit, requests, {}, CLAIM_CHECKS)
        else:
            for limit in self._limits(ranges, "Container"):
                for _, c in _containers(spec):
                    res = c.get("resources") or {}
                    found += problems("Container", limit, res.get("requests") or {}, res.get("limits") or {})
            for limit in self._limits(ranges, "Pod"):
                requests = resources.to_strings(pod_requests(spec, "requests"))
                limits = resources.to_strings(pod_requests(spec, "limits"))
                found += problems("Pod", limit, requests, limits)
        if found:
            message = found[0] if len(found) == 1 else "[" + ", ".join(found) + "]"
            raise errors.forbidden(rt, obj["metadata"].get("name", ""), message)
