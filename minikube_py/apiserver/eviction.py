"""pods/eviction: a DELETE that first asks the pod's PodDisruptionBudget.

`kubectl drain` does not delete pods; it POSTs a policy/v1 Eviction for each one
(pkg/registry/core/pod/storage/eviction.go upstream). The apiserver then:

1. deletes at once a pod that no budget protects: one that has finished, is still
   Pending, is already being deleted, or that no PodDisruptionBudget selects;
2. refuses (500) a pod that two budgets select: which one would decide is undefined;
3. otherwise spends one of the budget's `status.disruptionsAllowed`, written back with a
   compare-and-swap on the budget (two evictions at once can't both spend the last one),
   records the pod in `status.disruptedPods` (so the disruption controller doesn't count
   it healthy before its deletion shows), and deletes the pod;
4. answers **429 TooManyRequests** when nothing is left to spend, or when the disruption
   controller has not yet seen the budget's latest spec. kubectl drain retries a 429
   every 5 s until its --timeout.

A pod that is not Ready is not "healthy", so evicting it costs nothing when the budget is
already met (`unhealthyPodEvictionPolicy: IfHealthyBudget`, the default) or in every case
(`AlwaysAllow`).
"""
from __future__ import annotations

from ..api import meta
from ..api.conditions import set_condition
from ..api.kinds.core import POD
from ..api.kinds.policy import POD_DISRUPTION_BUDGET
from ..api.selectors import LabelSelector
from ..storage.store import KeyNotFound, RevisionConflict
from . import errors

PDB = POD_DISRUPTION_BUDGET
MAX_DISRUPTED_PODS = 2000          # upstream's MaxDisruptedPodSize
RETRIES = 10                       # conflicts on the budget are retried (upstream: EvictionsRetry)
SUCCESS = {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}


def too_many_requests(pdb_name: str, cause: str) -> errors.APIError:
    return errors.APIError(429, "TooManyRequests",
                           "Cannot evict pod as it would violate the pod's disruption budget.",
                           {"causes": [{"reason": "DisruptionBudget", "message": cause}]})


def check_eviction_body(namespace, name, eviction) -> dict:
    """The Eviction's deleteOptions, once its kind, namespace and name agree with the URL."""
    if not isinstance(eviction, dict):
        raise errors.bad_request("the body of the request must be an Eviction object")
    kind, api_version = eviction.get("kind"), eviction.get("apiVersion")
    if kind not in (None, "Eviction") or api_version not in (None, "policy/v1", "policy/v1beta1"):
        raise errors.bad_request(f"not an Eviction object: {api_version}, Kind={kind}")
    md = eviction.get("metadata") or {}
    options = eviction.get("deleteOptions") or {}
    if not isinstance(md, dict) or not isinstance(options, dict):
        raise errors.bad_request("metadata and deleteOptions must be objects")
    if md.get("namespace") not in (None, "", namespace):
        raise errors.bad_request("the namespace of the provided object does not match the "
                                 "namespace sent on the request")
    if md.get("name") != name:
        raise errors.bad_request("name in URL does not match name in Eviction object")
    return options


def can_ignore_budget(pod: dict) -> bool:
    """Finished, not yet started, or already going: deleting it disrupts nothing."""
    phase = (pod.get("status") or {}).get("phase")
    return phase in ("Succeeded", "Failed", "Pending") or bool(pod["metadata"].get("deletionTimestamp"))


def is_ready(pod: dict) -> bool:
    return any(c.get("type") == "Ready" and c.get("status") == "True"
               for c in (pod.get("status") or {}).get("conditions") or [])


def budgets_for(registry, pod: dict) -> list[dict]:
    """The namespace's PodDisruptionBudgets whose selector picks this pod (a nil selector picks none)."""
    labels = pod["metadata"].get("labels") or {}
    found = []
    for pdb in registry.list(PDB, pod["metadata"]["namespace"])["items"]:
        selector = (pdb.get("spec") or {}).get("selector")
        if selector is not None and LabelSelector.from_dict(selector).matches(labels):
            found.append(pdb)
    return found


def spend_disruption(pdb: dict, pod_name: str) -> None:
    """checkAndDecrement: take one allowed disruption from the budget, or refuse."""
    status = pdb.setdefault("status", {})
    name = pdb["metadata"]["name"]
    if status.get("observedGeneration", 0) < pdb["metadata"].get("generation", 1):
        raise too_many_requests(name, f"The disruption budget {name} is still being processed by the server.")
    allowed = status.get("disruptionsAllowed", 0)
    if allowed < 0:
        raise errors.forbidden(PDB, name, "pdb disruptions allowed is negative")
    if len(status.get("disruptedPods") or {}) > MAX_DISRUPTED_PODS:
        raise errors.forbidden(PDB, name, "DisruptedPods map too big - too many evictions not "
                                          "confirmed by PDB controller")
    if allowed == 0:
        raise too_many_requests(name, f"The disruption budget {name} needs {status.get('desiredHealthy', 0)} "
                                      f"healthy pods and has {status.get('currentHealthy', 0)} currently")
    status["disruptionsAllowed"] = allowed - 1
    if allowed - 1 == 0:
        set_condition(status, {"type": "DisruptionAllowed", "status": "False", "reason": "InsufficientPods",
                               "message": "", "observedGeneration": status.get("observedGeneration"),
                               "lastTransitionTime": meta.now_rfc3339()})
    status.setdefault("disruptedPods", {})[pod_name] = meta.now_rfc3339()


def evict(registry, namespace, name, eviction: dict, dry_run=False):
    """POST pods/{name}/eviction: the pod's DELETE, as its PodDisruptionBudget allows it."""
    options = check_eviction_body(namespace, name, eviction)
    dry_run = dry_run or bool(options.get("dryRun"))
    for _ in range(RETRIES):
        pod = registry.get(POD, namespace, name)
        if not can_ignore_budget(pod):
            budgets = budgets_for(registry, pod)
            if len(budgets) > 1:
                raise errors.APIError(500, "InternalError", "This pod has more than one PodDisruptionBudget, "
                                                            "which the eviction subresource does not support.")
            if budgets and not _unhealthy_may_go(pod, budgets[0]):
                pdb = budgets[0]
                spend_disruption(pdb, name)
                if not dry_run:
                    try:
                        registry.store.update(PDB.etcd_key(namespace, pdb["metadata"]["name"]), pdb,
                                              int(pdb["metadata"]["resourceVersion"]))
                    except RevisionConflict:
                        continue            # another eviction spent from it meanwhile: decide again
                    except KeyNotFound:
                        continue            # the budget went away: decide again
        registry.delete(POD, namespace, name, options, dry_run=dry_run)
        return SUCCESS
    raise errors.conflict(PDB, name)


def _unhealthy_may_go(pod: dict, pdb: dict) -> bool:
    """A pod that is not Ready may go without spending the budget, as the policy says."""
    if is_ready(pod):
        return False
    if (pdb.get("spec") or {}).get("unhealthyPodEvictionPolicy") == "AlwaysAllow":
        return True
    status = pdb.get("status") or {}
    return status.get("observedGeneration", 0) >= pdb["metadata"].get("generation", 1) \
        and status.get("desiredHealthy", 0) > 0 \
        and status.get("currentHealthy", 0) >= status.get("desiredHealthy", 0)
