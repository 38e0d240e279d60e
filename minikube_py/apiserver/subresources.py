"""Subresources with rules of their own: pods/binding, {deployments,replicasets,...}/scale.

`/status` and `/finalize` are plain writes of one part of the object (registry.py);
these are verbs of their own, each what one client does (pods/eviction, what
`kubectl drain` asks, has a module of its own: eviction.py):

  binding   the scheduler's one write: spec.nodeName, set once, and PodScheduled=True
  scale     `kubectl scale`: an autoscaling/v1 Scale view of spec.replicas
"""
from __future__ import annotations

import copy
import json

from ..api import meta
from ..api.kinds.core import POD
from ..api.selectors import LabelSelector
from ..storage.store import KeyNotFound, RevisionConflict
from . import errors

# A patch (or bind) that names no resourceVersion cannot be "stale": when another write
# lands between its read and its txn, it is applied again to the newer object, as
# kube-apiserver's GuaranteedUpdate does until it wins. Under a hot writer that can take
# several rounds (writes grouped into one etcd txn wait a little longer), so the bound is
# only against a runaway loop.
PATCH_RETRIES = 100


def bind(registry, namespace, name, binding: dict):
    """pods/binding: the scheduler's one write. Sets spec.nodeName once and PodScheduled=True."""
    rt = POD
    target = (binding or {}).get("target") or {}
    node = target.get("name")
    if not node:
        raise errors.invalid(rt, name, [{"type": "FieldValueRequired", "field": "target.name",
                                         "message": "Required value"}])
    if binding.get("metadata", {}).get("name") not in (None, name):
        raise errors.bad_request("the name of the binding does not match the pod")
    for attempt in range(PATCH_RETRIES):
        pod, fresh = registry.base(rt, namespace, name, guess=attempt == 0)
        refusal = _binding_refusal(pod, name, binding)
        if refusal is not None:
            if not fresh:
                continue    # decided on etcd's copy, not on a cached one
            raise refusal
        pod["spec"]["nodeName"] = node
        st = pod.setdefault("status", {})
        conds = [c for c in st.get("conditions", []) if c.get("type") != "PodScheduled"]
        conds.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                      "lastTransitionTime": meta.now_rfc3339()})
        st["conditions"] = conds
        try:
            registry.store.update(rt.etcd_key(namespace, name), pod, int(pod["metadata"]["resourceVersion"]))
            return {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "code": 201}
        except RevisionConflict:
            continue
        except KeyNotFound:
            raise errors.not_found(rt, name) from None
    raise errors.conflict(rt, name)

def scale_of(obj) -> dict:
    md = obj["metadata"]
    sel = (obj.get("spec") or {}).get("selector") or {}
    if obj.get("kind") == "ReplicationController":     # a plain map of labels, not a LabelSelector
        sel = {"matchLabels": sel}
    return {"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {k: md[k] for k in ("name", "namespace", "uid", "resourceVersion",
                                             "creationTimestamp") if k in md},
            "spec": {"replicas": (obj.get("spec") or {}).get("replicas", 0)},
            "status": {"replicas": (obj.get("status") or {}).get("replicas", 0),
                       "selector": LabelSelector.from_dict(sel).to_string()}}

def scale_replicas(rt, name, scale) -> int:
    """The replicas a Scale body asks for (400 for no Scale, 422 for a bad number)."""
    if not isinstance(scale, dict) or not isinstance(scale.get("spec"), dict):
        raise errors.bad_request("the body must be a Scale object")
    replicas = scale["spec"].get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        raise errors.invalid(rt, name, [{"type": "FieldValueInvalid", "field": "spec.replicas",
                                         "message": f"Invalid value: {json.dumps(replicas)}: must be "
                                                    "greater than or equal to 0"}])
    return replicas


def update_scale(registry, rt, namespace, name, scale: dict, base=None, writer=None):
    replicas = scale_replicas(rt, name, scale)
    obj = base or registry.get(rt, namespace, name)
    rv = (scale.get("metadata") or {}).get("resourceVersion")
    new = copy.deepcopy(obj)
    new["spec"]["replicas"] = replicas
    written = registry.write(rt, obj, new, int(rv) if rv else int(obj["metadata"]["resourceVersion"]), None,
                             writer=writer)
    return scale_of(written)


def _binding_refusal(pod: dict, name: str, binding: dict) -> errors.APIError | None:
    """Why this pod cannot be bound (kube-apiserver's words), or None."""
    if pod["metadata"].get("deletionTimestamp"):
        return errors.APIError(409, "Conflict", f"pod {name} is being deleted, cannot be assigned to a host")
    if pod["spec"].get("nodeName"):
        return errors.APIError(409, "Conflict",
                               f'Operation cannot be fulfilled on pods/binding "{name}": pod {name} '
                               f'is already assigned to node "{pod["spec"]["nodeName"]}"')
    uid = (binding.get("metadata") or {}).get("uid")
    if uid and uid != pod["metadata"]["uid"]:
        return errors.APIError(409, "Conflict", f"Precondition failed: UID in precondition: {uid}")
    return None
