"""Evaluators: what one object costs a quota (pkg/quota/v1/evaluator/core upstream).

Each kind quota can count has an evaluator that answers four questions:
- which of a quota's resource names it accounts for (`matching`);
- whether a quota applies to an object at all (`matches`: a resource it accounts for
  is in status.hard, and every scope of the quota matches);
- what the object uses (`usage`): a pod uses `pods: 1`, its requests and limits as
  `requests.cpu`, `limits.memory`, ..., `requests.nvidia.com/gpu` for an extended
  resource (extended resources are only quota'd as requests);
- what the object must declare (`constraints`): a pod under a quota of cpu or memory
  must set it in every container.

A PersistentVolumeClaim costs `persistentvolumeclaims: 1` and its storage as
`requests.storage`, both also per class (`gold.storageclass.storage.k8s.io/requests.storage`).

Every kind also has the object count `count/<plural>.<group>` (`count/pods`,
`count/deployments.apps`); the core kinds that predate it keep their short names
too (`pods`, `services`, `configmaps`, ...).
"""
from __future__ import annotations

from datetime import datetime, timezone
from fractions import Fraction

from ..api.kinds.storage import claim_class
from ..api.meta import parse_time
from . import resources, scopes

ONE = Fraction(1)
# core kinds counted by their plural before count/<resource> existed
LEGACY_COUNTS = {"pods", "services", "configmaps", "secrets", "replicationcontrollers",
                 "resourcequotas", "persistentvolumeclaims"}
COMPUTE = ("cpu", "memory", "ephemeral-storage")
# a quota on one of these makes every container declare it (a backward-compatibility rule)
MUST_DECLARE = {"cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"}
NATIVE_PREFIXES = ("kubernetes.io/", "requests.", "limits.")


def count_name(group: str, plural: str) -> str:
    return f"count/{plural}.{group}" if group else f"count/{plural}"


def is_extended(name: str) -> bool:
    """nvidia.com/gpu: a fully qualified name outside kubernetes.io, not a hugepage."""
    return "/" in name and not name.startswith(NATIVE_PREFIXES) and not name.startswith("count/")


class ObjectCount:
    """Counts objects of one kind: `count/<plural>.<group>` (and `<plural>` for the old core kinds)."""

    def __init__(self, group: str, plural: str):
        self.group, self.plural = group, plural
        self.names = {count_name(group, plural)}
        if not group and plural in LEGACY_COUNTS:
            self.names.add(plural)

    def matching(self, hard_names) -> set[str]:
        return self.names & set(hard_names)

    def matches(self, quota: dict, obj: dict) -> bool:
        """Admission's question: a resource this evaluator accounts for is in the quota's
        status.hard (a quota the controller has not seen yet limits nothing), and the
        object is in the quota's scopes."""
        hard = ((quota.get("status") or {}).get("hard") or {})
        return bool(self.matching(hard)) and self.in_scope(quota, obj)

    def in_scope(self, quota: dict, obj: dict) -> bool:
        return not scopes.selectors_of(quota)      # scopes select pods only

    def usage(self, obj: dict, now: datetime | None = None) -> dict[str, Fraction]:
        return {name: ONE for name in self.names}

    def constraints(self, required, obj: dict) -> str | None:
        return None

    def handles_update(self) -> bool:
        return False


class ServiceEvaluator(ObjectCount):
    """Services also cost `services.nodeports` (one per port with a node port) and
    `services.loadbalancers`."""

    def __init__(self):
        super().__init__("", "services")
        self.names |= {"services.nodeports", "services.loadbalancers"}

    def usage(self, obj, now=None):
        spec = obj.get("spec") or {}
        type_ = spec.get("type", "ClusterIP")
        ports = len(spec.get("ports") or [])
        return {"services": ONE, "count/services": ONE,
                "services.loadbalancers": ONE if type_ == "LoadBalancer" else Fraction(0),
                "services.nodeports": Fraction(ports if type_ in ("NodePort", "LoadBalancer") else 0)}

    def handles_update(self) -> bool:
        return True       # a ClusterIP Service turned NodePort takes node ports


STORAGE_CLASS = ".storageclass.storage.k8s.io/"


class ClaimEvaluator(ObjectCount):
    """PersistentVolumeClaims: the claim and its storage, in total and per storage class."""

    def __init__(self):
        super().__init__("", "persistentvolumeclaims")
        self.names.add("requests.storage")

    def matching(self, hard_names) -> set[str]:
        return {name for name in hard_names if name in self.names or (
            STORAGE_CLASS in name and name.endswith(("/requests.storage", "/persistentvolumeclaims")))}

    def usage(self, claim, now=None):
        """The larger of what the claim asks and what a resize has already allocated."""
        out = {"persistentvolumeclaims": ONE, "count/persistentvolumeclaims": ONE}
        klass = claim_class(claim)
        if klass:
            out[f"{klass}{STORAGE_CLASS}persistentvolumeclaims"] = ONE
        asked = resources.parse((((claim.get("spec") or {}).get("resources") or {}).get("requests")))
        allocated = resources.parse(((claim.get("status") or {}).get("allocatedResources")))
        if "storage" in asked or "storage" in allocated:
            storage = max(asked.get("storage", Fraction(0)), allocated.get("storage", Fraction(0)))
            out["requests.storage"] = storage
            if klass:
                out[f"{klass}{STORAGE_CLASS}requests.storage"] = storage
        return out

    def handles_update(self) -> bool:
        return True       # a claim resized up takes more storage


def _sum_containers(containers, field: str) -> dict[str, Fraction]:
    total: dict[str, Fraction] = {}
    for c in containers or []:
        total = resources.add(total, resources.parse(((c.get("resources") or {}).get(field))))
    return total


def pod_requests(spec: dict, field: str = "requests") -> dict[str, Fraction]:
    """A pod's requests (or limits): its containers' sum, at least each init container's
    (they run one at a time, before the others), plus the pod's overhead."""
    total = _sum_containers(spec.get("containers"), field)
    for init in spec.get("initContainers") or []:
        for name, value in resources.parse((init.get("resources") or {}).get(field)).items():
            total[name] = max(total.get(name, Fraction(0)), value)
    if spec.get("overhead"):
        total = resources.add(total, resources.parse(spec["overhead"]))
    return total


def compute_usage(requests: dict, limits: dict) -> dict[str, Fraction]:
    """podComputeUsageHelper: a pod's (or one container's) requests and limits as quota names."""
    out = {"pods": ONE}
    for name in COMPUTE:
        if name in requests:
            out[name] = out[f"requests.{name}"] = requests[name]
        if name in limits:
            out[f"limits.{name}"] = limits[name]
    for name, value in requests.items():
        if name.startswith("hugepages-"):
            out[name] = out[f"requests.{name}"] = value
        elif is_extended(name):
            out[f"requests.{name}"] = value
    return out


def is_terminal(pod: dict, now: datetime | None = None) -> bool:
    """A pod that no longer costs compute quota: finished, or past its deletion grace."""
    if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
        return True
    md = pod.get("metadata") or {}
    if md.get("deletionTimestamp") and md.get("deletionGracePeriodSeconds") is not None:
        gone_at = parse_time(md["deletionTimestamp"]).timestamp() + int(md["deletionGracePeriodSeconds"])
        return (now or datetime.now(timezone.utc)).timestamp() > gone_at
    return False


class PodEvaluator(ObjectCount):
    def __init__(self):
        super().__init__("", "pods")

    def matching(self, hard_names) -> set[str]:
        out = set()
        for name in hard_names:
            base = name.split(".", 1)[1] if name.startswith(("requests.", "limits.")) else name
            if name in self.names or base in COMPUTE or name.startswith(("hugepages-", "requests.hugepages-")) \
                    or (name.startswith("requests.") and is_extended(base)):
                out.add(name)
        return out

    def in_scope(self, quota: dict, pod: dict) -> bool:
        return all(scopes.pod_matches(s, pod) for s in scopes.selectors_of(quota))

    def usage(self, pod: dict, now: datetime | None = None) -> dict[str, Fraction]:
        """count/pods always (every stored pod); the rest only while the pod is not terminal."""
        out = {"count/pods": ONE}
        if is_terminal(pod, now):
            return out
        spec = pod.get("spec") or {}
        out.update(compute_usage(pod_requests(spec, "requests"), pod_requests(spec, "limits")))
        return out

    def constraints(self, required, pod: dict) -> str | None:
        """The message when a container leaves out a cpu/memory amount that a quota covers."""
        required = set(required) & MUST_DECLARE
        if not required:
            return None
        missing: dict[str, list[str]] = {}
        spec = pod.get("spec") or {}
        for c in (spec.get("initContainers") or []) + (spec.get("containers") or []):
            res = c.get("resources") or {}
            has = set(compute_usage(resources.parse(res.get("requests")), resources.parse(res.get("limits"))))
            for name in sorted(required - has):
                missing.setdefault(name, []).append(c.get("name", ""))
        if not missing:
            return None
        return "must specify " + "; ".join(f"{name} for: {','.join(sorted(set(names)))}"
                                           for name, names in sorted(missing.items()))


_SPECIAL = {("", "pods"): PodEvaluator, ("", "services"): ServiceEvaluator,
            ("", "persistentvolumeclaims"): ClaimEvaluator}
_cache: dict[tuple[str, str], ObjectCount] = {}


def evaluator_for(group: str, plural: str) -> ObjectCount:
    """The evaluator of a kind (every kind can at least be counted)."""
    key = (group, plural)
    ev = _cache.get(key)
    if ev is None:
        ev = _cache[key] = _SPECIAL[key]() if key in _SPECIAL else ObjectCount(group, plural)
    return ev


def resource_of(name: str) -> tuple[str, str] | None:
    """The (group, plural) a quota resource name counts, for names that count objects."""
    if name.startswith("count/"):
        plural, _, group = name[len("count/"):].partition(".")
        return group, plural
    if name in LEGACY_COUNTS:
        return "", name
    if name.startswith("services."):
        return "", "services"
    if name == "requests.storage" or STORAGE_CLASS in name:
        return "", "persistentvolumeclaims"
    return None


def usage_of_all(evaluator, quota: dict, objects, now=None) -> dict[str, Fraction]:
    """The usage of every object in the quota's scopes, summed (the controller's recount),
    counted for the resources of spec.hard this evaluator accounts for."""
    names = evaluator.matching((quota.get("spec") or {}).get("hard") or {})
    total: dict[str, Fraction] = {name: Fraction(0) for name in names}
    for obj in objects:
        if evaluator.in_scope(quota, obj):
            total = resources.add(total, resources.mask(evaluator.usage(obj, now), names))
    return total
