"""``mkctl describe``: an object, what it relates to, and its events, as text.

Unlike ``get``, describe is computed on the client (as in kubectl): it reads the
object, then asks for related things -- the pods of a ReplicaSet, the pods
running on a Node, the ReplicaSets of a Deployment -- and the Events whose
``involvedObject`` is this object.  The layout copies kubectl's describers
(k8s.io/kubectl/pkg/describe), so the output reads the same.
"""
from __future__ import annotations

from .batch import describe_cronjob, describe_job
from .generic import describe_generic, describe_namespace
from .node import describe_node
from .quota import describe_limit_range, describe_quota
from .storage import describe_persistent_volume, describe_persistent_volume_claim, describe_storage_class
from .text import Writer
from .workloads import (describe_daemonset, describe_deployment, describe_pod, describe_replicaset,
                        describe_statefulset)


DESCRIBERS = {"Pod": describe_pod, "Deployment": describe_deployment, "ReplicaSet": describe_replicaset,
              "DaemonSet": describe_daemonset, "StatefulSet": describe_statefulset,
              "Node": describe_node, "Namespace": describe_namespace, "ResourceQuota": describe_quota,
              "LimitRange": describe_limit_range, "PersistentVolume": describe_persistent_volume,
              "PersistentVolumeClaim": describe_persistent_volume_claim, "StorageClass": describe_storage_class,
              "Job": describe_job, "CronJob": describe_cronjob}


def describe_object(c, res, obj: dict) -> str:
    """The describe text of one object (``c`` is mkctl's Cluster, for related lookups)."""
    w = Writer()
    DESCRIBERS.get(res.kind, describe_generic)(c, w, obj)
    return w.getvalue()
