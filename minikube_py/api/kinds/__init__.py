"""Every kind of object the API serves, each one declaration (`Kind`, in kind.py).

    core.py          Namespace, Pod, Node, Event          /api/v1
    config.py        ConfigMap, Secret, ServiceAccount    /api/v1
    service.py       Service, Endpoints                   /api/v1
    apps.py          Deployment, ReplicaSet, DaemonSet,   /apis/apps/v1
                     StatefulSet, ControllerRevision
    coordination.py  Lease                                /apis/coordination.k8s.io/v1
    replication.py   ReplicationController                /api/v1
    quota.py         LimitRange, ResourceQuota            /api/v1
    rbac.py          Role, ClusterRole, RoleBinding, ClusterRoleBinding
                                                          /apis/rbac.authorization.k8s.io/v1
    endpointslice.py EndpointSlice                        /apis/discovery.k8s.io/v1
    batch.py         Job, CronJob                         /apis/batch/v1
    policy.py        PodDisruptionBudget                  /apis/policy/v1
    storage.py       PersistentVolume, PersistentVolumeClaim /api/v1; StorageClass /apis/storage.k8s.io/v1
    metrics.py       NodeMetrics, PodMetrics (read-only)  /apis/metrics.k8s.io/v1beta1
    componentstatus.py ComponentStatus (read-only, computed) /api/v1
    apiextensions.py CustomResourceDefinition             /apis/apiextensions.k8s.io/v1
    authentication.py TokenReview (create only; and TokenRequest, serviceaccounts/token's body)
                                                          /apis/authentication.k8s.io/v1
    authorization.py the access reviews (create only)    /apis/authorization.k8s.io/v1
    customresource.py  the Kind a CRD declares (registered at run time), structural.py its schema

A declaration names the kind's group, version, plural, scope and subresources, its
defaults and validation, its Table columns, its watch index and its protobuf message.
The apiserver (routes, storage, discovery, Tables, protobuf) and the client's
RESTMapper (client/discovery.py) all read these declarations, so adding a kind is
adding one `Kind` here -- or, at run time, registering one in `SCHEME`.

`apply_defaults`, `validate` and `validate_update` run a kind's own rules on an object,
with the rules every kind shares (metadata) around them.
"""
from __future__ import annotations

from typing import Union

from .. import validation
from . import apps, config, coordination, core, service
from . import apiextensions, authentication, authorization, batch, componentstatus, endpointslice, metrics, policy, quota, rbac, replication, storage
from .kind import ALL_VERBS, SUBRESOURCES, Kind
from .scheme import Scheme

BUILTIN_KINDS = core.KINDS + config.KINDS + service.KINDS + apps.KINDS + coordination.KINDS
BUILTIN_KINDS += (replication.KINDS + quota.KINDS + rbac.KINDS + endpointslice.KINDS + batch.KINDS
                  + policy.KINDS + storage.KINDS + apiextensions.KINDS + metrics.KINDS + componentstatus.KINDS
                  + authorization.KINDS + authentication.KINDS)

# The kinds this apiserver serves: the built-in ones, and any registered at run time.
SCHEME = Scheme(BUILTIN_KINDS)

KindLike = Union[str, Kind]

__all__ = ["ALL_VERBS", "BUILTIN_KINDS", "Kind", "SCHEME", "SUBRESOURCES", "Scheme",
           "apply_defaults", "validate", "validate_update"]


def _declaration(kind: KindLike):
    return kind if isinstance(kind, Kind) else SCHEME.by_kind(kind)


def apply_defaults(kind: KindLike, obj: dict) -> dict:
    """Fill in the defaults of `kind` into `obj` (in place); returns obj for convenience."""
    k = _declaration(kind)
    if k is not None and k.default is not None:
        try:
            k.default(obj)
        except (AttributeError, TypeError):
            pass   # a malformed object (a list where a map belongs, ...): validation reports it
    return obj


def validate(kind: KindLike, obj: dict) -> list:
    """All causes that make `obj` invalid; [] for valid objects and kinds with no rules."""
    k = _declaration(kind)
    if k is None or k.validate is None:
        return []
    try:
        return validation.validate_meta(obj, k.name_rule) + k.validate(obj)
    except (AttributeError, TypeError, ValueError) as err:
        return [validation.wrong_types(err)]


def validate_update(kind: KindLike, old: dict, new: dict) -> list:
    """The checks only an update has: fields that may not change.

    Call `validate(kind, new)` as well; this does not repeat it. `new` should have had
    its defaults applied (as the apiserver does first), or missing defaults look like changes.
    """
    causes = validation.validate_metadata_update(old, new)
    k = _declaration(kind)
    if k is not None and k.validate_update is not None:
        causes += k.validate_update(old, new)
    return causes
