"""The ReplicationController controller: the ReplicaSet controller, run for core/v1 RCs.

A ReplicationController is a ReplicaSet whose selector is a plain map of labels
(`{app: web}` rather than `{matchLabels: {app: web}}`). Kubernetes' ReplicationManager
(pkg/controller/replication) is the ReplicaSet controller with the kind swapped in,
and so is this: same claims, expectations, slow-start batches, status and events;
only the resource, the kind its pods' ownerReferences name, the event source and
the reading of the selector differ.
"""
from __future__ import annotations

from .replicaset import ReplicaSetController


class ReplicationManager(ReplicaSetController):
    name = "replicationcontroller"
    workers = 5               # kube-controller-manager's --concurrent-rc-syncs
    resource = "replicationcontrollers"
    kind = "ReplicationController"
    component = "replication-controller"

    @staticmethod
    def selector_dict(rc: dict):
        """An RC's map selector, as the LabelSelector it means; an empty one selects nothing."""
        selector = (rc.get("spec") or {}).get("selector") or {}
        return {"matchLabels": selector} if selector else None
