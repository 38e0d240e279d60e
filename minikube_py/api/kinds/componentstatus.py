"""core/v1 ComponentStatus (`kubectl get componentstatuses`, short `cs`): is the control plane well?

Kubernetes deprecated it in 1.19 (the apiserver cannot see every component) but labs
still reach for it. Ours is computed on each request, never stored
(apiserver/componentstatus.py): one `etcd-<i>` per etcd *member* (from the member list,
each asked for its status: who leads, raft term, database size), and `scheduler` /
`controller-manager` from their leader-election Leases (held and fresh: Healthy).
"""
from __future__ import annotations

from .columns import NAME, col
from .kind import Kind


def _healthy(obj: dict) -> dict:
    for c in obj.get("conditions") or []:
        if c.get("type") == "Healthy":
            return c
    return {}


def _status_word(obj: dict) -> str:
    return {"True": "Healthy", "False": "Unhealthy"}.get(_healthy(obj).get("status"), "Unknown")


COMPONENT_STATUS = Kind(
    "", "v1", "ComponentStatus", "componentstatuses", namespaced=False, short_names=("cs",),
    verbs=("get", "list"), has_status=False, counts_generation=False, eager_watch_cache=False,
    columns=(NAME, col("Status"), col("Message"), col("Error")),
    row=lambda o: [o["metadata"]["name"], _status_word(o), _healthy(o).get("message", ""),
                   _healthy(o).get("error", "")],
    schema={"description": "ComponentStatus (and ComponentStatusList) holds the cluster validation "
                           "info. Deprecated: This API is deprecated in v1.19+",
            "properties": {"conditions": {
                "type": "array", "description": "List of component conditions observed",
                "items": {"type": "object", "properties": {
                    "type": {"type": "string", "description": 'Type of condition for a component. '
                                                              'Valid value: "Healthy"'},
                    "status": {"type": "string", "description": 'Status of the condition for a component. '
                                                                'Valid values for "Healthy": "True", "False", '
                                                                'or "Unknown".'},
                    "message": {"type": "string", "description": "Message about the condition for a "
                                                                 "component."},
                    "error": {"type": "string", "description": "Condition error code for a component."}}}}}})

KINDS = (COMPONENT_STATUS,)
