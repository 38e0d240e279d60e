"""What the page draws, as small records: one per node, pod, Deployment, ReplicaSet,
Event and TFJob.

A page holding 500 pods should not receive 500 full Pod objects (with their
managedFields) every time one of them changes; each record keeps only what a box
on the page shows, computed the way kubectl computes it (the STATUS column is
kubectl's, the revision is the Deployment controller's annotation). The records
are plain dicts that go to the browser as JSON.
"""
from __future__ import annotations

from typing import Optional

from ..api.conditions import condition_status, object_condition
from ..api.kinds.core import pod_status_reason
from ..scheduler.resources import ResourceError, pod_requests

GPU = "nvidia.com/gpu"
REVISION = "deployment.kubernetes.io/revision"


def _meta(obj: dict) -> dict:
    return obj.get("metadata") or {}


def _controller(obj: dict) -> Optional[dict]:
    for ref in _meta(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            return {"kind": ref.get("kind"), "name": ref.get("name")}
    return None


def _int(value) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def pod_gpus(pod: dict) -> int:
    """How many GPUs the pod holds (its effective nvidia.com/gpu request, as the scheduler counts)."""
    try:
        return int(pod_requests(pod.get("spec") or {}).get(GPU, 0))
    except ResourceError:
        return 0


def pod_view(pod: dict) -> dict:
    meta, spec, st = _meta(pod), pod.get("spec") or {}, pod.get("status") or {}
    statuses = st.get("containerStatuses") or []
    return {
        "namespace": meta.get("namespace"), "name": meta["name"], "uid": meta.get("uid"),
        "node": spec.get("nodeName") or "",
        "phase": st.get("phase") or "Pending",
        "status": pod_status_reason(pod),             # kubectl's STATUS column
        "ready": f"{sum(1 for c in statuses if c.get('ready'))}/{len(spec.get('containers') or [])}",
        "restarts": sum(_int(c.get("restartCount")) for c in statuses),
        "ip": st.get("podIP") or "",
        "gpus": pod_gpus(pod),
        "owner": _controller(pod),
        "containers": [c.get("name") for c in spec.get("containers") or []],
        "created": meta.get("creationTimestamp"),
        "deleting": bool(meta.get("deletionTimestamp")),
    }


def node_view(node: dict) -> dict:
    meta, spec, st = _meta(node), node.get("spec") or {}, node.get("status") or {}
    ready = condition_status(node, "Ready") or "Unknown"
    capacity, allocatable = st.get("capacity") or {}, st.get("allocatable") or {}
    return {
        "name": meta["name"],
        # kubectl's STATUS: NotReady for False and Unknown, plus SchedulingDisabled
        "ready": ready,
        "status": ("Ready" if ready == "True" else "NotReady")
                  + (",SchedulingDisabled" if spec.get("unschedulable") else ""),
        "taints": [f"{t.get('key')}{'=' + t['value'] if t.get('value') else ''}:{t.get('effect')}"
                   for t in spec.get("taints") or []],
        "cpu": allocatable.get("cpu") or capacity.get("cpu"),
        "memory": allocatable.get("memory") or capacity.get("memory"),
        "pods": allocatable.get("pods") or capacity.get("pods"),
        "gpus": _int(allocatable.get(GPU)),           # the slots the page draws
        "gpuCapacity": _int(capacity.get(GPU)),       # > gpus: some are Unhealthy
    }


def deployment_view(dep: dict) -> dict:
    meta, spec, st = _meta(dep), dep.get("spec") or {}, dep.get("status") or {}
    progressing = object_condition(dep, "Progressing") or {}
    containers = ((spec.get("template") or {}).get("spec") or {}).get("containers") or []
    return {
        "namespace": meta.get("namespace"), "name": meta["name"],
        "revision": (meta.get("annotations") or {}).get(REVISION, ""),
        "replicas": _int(spec.get("replicas", 1)),
        "updated": _int(st.get("updatedReplicas")),
        "ready": _int(st.get("readyReplicas")),
        "available": _int(st.get("availableReplicas")),
        "images": [c.get("image") for c in containers],
        # rolled out: the controller saw this generation and every replica is updated and available
        "complete": progressing.get("reason") == "NewReplicaSetAvailable",
        "progress": progressing.get("reason") or "",
        "message": progressing.get("message") or "",
    }


def replicaset_view(rs: dict) -> dict:
    meta, spec, st = _meta(rs), rs.get("spec") or {}, rs.get("status") or {}
    return {
        "namespace": meta.get("namespace"), "name": meta["name"],
        "owner": _controller(rs),
        "revision": (meta.get("annotations") or {}).get(REVISION, ""),
        "replicas": _int(spec.get("replicas", 1)),
        "ready": _int(st.get("readyReplicas")),
    }


def event_view(event: dict) -> dict:
    meta, involved = _meta(event), event.get("involvedObject") or {}
    return {
        "namespace": meta.get("namespace"), "name": meta["name"],
        "type": event.get("type") or "Normal",
        "reason": event.get("reason") or "",
        "message": event.get("message") or "",
        "object": f"{(involved.get('kind') or '').lower()}/{involved.get('name')}",
        "objectNamespace": involved.get("namespace") or "",
        "count": _int(event.get("count")) or 1,
        "time": (event.get("lastTimestamp") or event.get("eventTime")
                 or meta.get("creationTimestamp") or ""),
    }


def tfjob_view(job: dict) -> dict:
    meta, st = _meta(job), job.get("status") or {}
    specs = (job.get("spec") or {}).get("tfReplicaSpecs") or {}
    last = next((c for c in reversed(st.get("conditions") or []) if c.get("status") == "True"), {})
    return {
        "namespace": meta.get("namespace"), "name": meta["name"],
        "state": last.get("type") or "Created",
        "replicas": {rtype: {"want": _int((spec or {}).get("replicas", 1)),
                             **{k: _int(v) for k, v in ((st.get("replicaStatuses") or {})
                                                        .get(rtype) or {}).items()
                                if k in ("active", "succeeded", "failed")}}
                     for rtype, spec in specs.items()},
    }


# resource name -> the record of one of its objects (the page's sections)
VIEWS = {
    "nodes": node_view,
    "pods": pod_view,
    "deployments": deployment_view,
    "replicasets": replicaset_view,
    "events": event_view,
    "tfjobs": tfjob_view,
}
