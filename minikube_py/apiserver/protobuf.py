"""Kubernetes protobuf request bodies, turned into the dict their JSON would have given.

kubectl's typed commands (`kubectl create namespace`, `kubectl create deployment`,
`kubectl debug node/...`) send `Content-Type: application/vnd.kubernetes.protobuf`
and do not retry as JSON. Such a body is

    b"k8s\\x00" + runtime.Unknown{typeMeta: {apiVersion, kind}, raw: <the object's own message>}

so decoding is: check the 4 magic bytes, parse the envelope, pick the message class
from (apiVersion, kind) -- the kind's declaration names it, parse `raw`, then walk the message building the JSON shape.
The messages are generated from the subset of Kubernetes' .proto files in k8sproto/.

Kubernetes' Go types show through on the wire in three ways, and the walk undoes them:

1. Go writes every field that is not a pointer, even when it is "" / 0 / false, where
   its JSON leaves it out (`omitempty`). So a zero value is dropped, except in the
   fields listed in ZERO_KEPT: Go pointers (`replicas *int32`: nil is "unset", 0 is a
   value) and fields whose JSON has no omitempty (a container's `name`).
2. Some structs are embedded in Go, so their fields sit inline in the JSON
   (`{"name": "data", "emptyDir": {}}`, not `{"name": ..., "volumeSource": {...}}`): INLINE.
3. A few messages have a JSON form of their own: Quantity is its string ("500m"),
   IntOrString an int or a string, Time an RFC 3339 string, FieldsV1 and RawExtension
   the JSON they hold.

A body that sets a field the subset does not list is refused (Unsupported) instead of
losing the field silently; zero values of unlisted fields are fine (Go always sends them).
"""
from __future__ import annotations

import base64
from datetime import datetime, timedelta, timezone

from google.protobuf import empty_pb2, message, unknown_fields
from google.protobuf.descriptor import FieldDescriptor

from .. import codec
from ..api.kinds import SCHEME
from .k8sproto import (apps_pb2, authentication_pb2, authorization_pb2, batch_pb2, coordination_pb2, core_pb2,
                       discovery_pb2, policy_pb2, rbac_pb2, runtime_pb2, storage_pb2)

CONTENT_TYPE = "application/vnd.kubernetes.protobuf"
MAGIC = b"k8s\x00"


class DecodeError(ValueError):
    """The bytes are not a well-formed Kubernetes protobuf body (answered 400)."""


class Unsupported(Exception):
    """Well-formed, but a kind or a field this apiserver does not decode (answered 415)."""


# Every message of the .proto subset, by full name (a kind's declaration names its own).
MESSAGES = {cls.DESCRIPTOR.full_name: cls
            for module in (core_pb2, apps_pb2, coordination_pb2, policy_pb2, batch_pb2, rbac_pb2, discovery_pb2,
                           storage_pb2, authorization_pb2, authentication_pb2)
            for cls in (getattr(module, name) for name in module.DESCRIPTOR.message_types_by_name)}

# Bodies POSTed to a subresource of another kind (pods/{name}/eviction): not kinds of their own.
# (kubectl 1.32's drain sends JSON; protobuf clients send this. `kubectl create token` sends
# its TokenRequest, to serviceaccounts/{name}/token, as protobuf.)
SUBRESOURCE_BODIES = {("policy/v1", "Eviction"): "k8s.io.api.policy.v1.Eviction",
                      ("authentication.k8s.io/v1", "TokenRequest"): "k8s.io.api.authentication.v1.TokenRequest"}


def message_class(api_version: str, kind: str):
    """The message class of a body of this apiVersion and kind, or None when not decoded here."""
    declared = SCHEME.by_kind(kind, group=api_version.rpartition("/")[0])
    if declared is not None and declared.version == api_version.rpartition("/")[2] and declared.proto:
        return MESSAGES.get(declared.proto)
    name = SUBRESOURCE_BODIES.get((api_version, kind))
    return MESSAGES.get(name) if name else None


# Embedded Go structs: their fields go into the enclosing JSON object.
INLINE = {
    "Volume": {"volumeSource"},
    "Probe": {"handler"},
    "ConfigMapKeySelector": {"localObjectReference"},
    "SecretKeySelector": {"localObjectReference"},
    "ConfigMapEnvSource": {"localObjectReference"},
    "SecretEnvSource": {"localObjectReference"},
    "ConfigMapVolumeSource": {"localObjectReference"},
    "PersistentVolumeSpec": {"persistentVolumeSource"},
}

# Scalar fields whose zero value stays in the JSON: Go pointers and fields without
# omitempty (read from the struct tags in k8s.io/api and k8s.io/apimachinery types.go).
ZERO_KEPT = {
    "ObjectMeta": {"deletionGracePeriodSeconds"},
    "DeleteOptions": {"gracePeriodSeconds", "orphanDependents", "propagationPolicy"},   # all pointers
    "Preconditions": {"uid", "resourceVersion"},
    "OwnerReference": {"kind", "name", "uid", "apiVersion", "controller", "blockOwnerDeletion"},
    "LabelSelectorRequirement": {"key", "operator"},
    "NamespaceCondition": {"type", "status"},
    "PodSpec": {"terminationGracePeriodSeconds", "activeDeadlineSeconds", "automountServiceAccountToken",
                "priority", "shareProcessNamespace", "runtimeClassName", "enableServiceLinks",
                "preemptionPolicy", "setHostnameAsFQDN", "hostUsers"},
    "Container": {"name", "restartPolicy"},
    "ContainerPort": {"containerPort"},
    "EnvVar": {"name"},
    "ObjectFieldSelector": {"fieldPath"},
    "ResourceFieldSelector": {"resource"},
    "ConfigMapKeySelector": {"key", "optional"},
    "SecretKeySelector": {"key", "optional"},
    "ConfigMapEnvSource": {"optional"},
    "SecretEnvSource": {"optional"},
    "ResourceClaim": {"name"},
    "VolumeMount": {"name", "mountPath", "mountPropagation", "recursiveReadOnly"},
    "Probe": {"terminationGracePeriodSeconds"},
    "HTTPHeader": {"name", "value"},
    "GRPCAction": {"port", "service"},
    "SleepAction": {"seconds"},
    "SecurityContext": {"privileged", "runAsUser", "runAsNonRoot", "readOnlyRootFilesystem",
                        "allowPrivilegeEscalation", "runAsGroup", "procMount"},
    "PodSecurityContext": {"runAsUser", "runAsNonRoot", "fsGroup", "runAsGroup", "fsGroupChangePolicy",
                           "supplementalGroupsPolicy"},
    "SeccompProfile": {"type", "localhostProfile"},
    "Sysctl": {"name", "value"},
    "Toleration": {"tolerationSeconds"},
    "HostAlias": {"ip"},
    "PodDNSConfigOption": {"value"},
    "PodReadinessGate": {"conditionType"},
    "PodOS": {"name"},
    "NodeSelectorRequirement": {"key", "operator"},
    "PreferredSchedulingTerm": {"weight"},
    "PodAffinityTerm": {"topologyKey"},
    "WeightedPodAffinityTerm": {"weight"},
    "TopologySpreadConstraint": {"maxSkew", "topologyKey", "whenUnsatisfiable", "minDomains",
                                 "nodeAffinityPolicy", "nodeTaintsPolicy"},
    "Volume": {"name"},
    "HostPathVolumeSource": {"path", "type"},
    "SecretVolumeSource": {"defaultMode", "optional"},
    "PersistentVolumeClaimVolumeSource": {"claimName"},
    "ConfigMapVolumeSource": {"defaultMode", "optional"},
    "KeyToPath": {"key", "path", "mode"},
    "PodCondition": {"type", "status"},
    "PodIP": {"ip"},
    "HostIP": {"ip"},
    "ContainerStatus": {"name", "ready", "restartCount", "image", "imageID", "started"},
    "ContainerStateTerminated": {"exitCode"},
    "Taint": {"key", "effect"},
    "NodeCondition": {"type", "status"},
    "NodeAddress": {"type", "address"},
    "DaemonEndpoint": {"Port"},
    "NodeSystemInfo": {"machineID", "systemUUID", "bootID", "kernelVersion", "osImage",
                       "containerRuntimeVersion", "kubeletVersion", "kubeProxyVersion",
                       "operatingSystem", "architecture"},
    "Event": {"reportingComponent", "reportingInstance"},
    "ConfigMap": {"immutable"},
    "Secret": {"immutable"},
    "ServiceAccount": {"automountServiceAccountToken"},
    "ServiceSpec": {"ipFamilyPolicy", "allocateLoadBalancerNodePorts", "loadBalancerClass",
                    "internalTrafficPolicy", "trafficDistribution"},
    "ServicePort": {"port", "appProtocol"},
    "LoadBalancerIngress": {"ipMode"},
    "EndpointAddress": {"ip", "nodeName"},
    "EndpointPort": {"port", "appProtocol"},
    "DeploymentSpec": {"replicas", "revisionHistoryLimit", "progressDeadlineSeconds"},
    "DeploymentStatus": {"collisionCount", "terminatingReplicas"},
    "DeploymentCondition": {"type", "status"},
    "ReplicaSetSpec": {"replicas"},
    "ReplicaSetStatus": {"replicas", "terminatingReplicas"},
    "ReplicaSetCondition": {"type", "status"},
    "LeaseSpec": {"holderIdentity", "leaseDurationSeconds", "leaseTransitions", "strategy",
                  "preferredHolder"},
    "ReplicationControllerSpec": {"replicas"},
    "ReplicationControllerStatus": {"replicas"},
    "ReplicationControllerCondition": {"type", "status"},
    "LimitRangeItem": {"type"},
    "ScopedResourceSelectorRequirement": {"scopeName", "operator"},
    "JobSpec": {"parallelism", "completions", "activeDeadlineSeconds", "backoffLimit", "backoffLimitPerIndex",
                "maxFailedIndexes", "manualSelector", "ttlSecondsAfterFinished", "completionMode", "suspend",
                "podReplacementPolicy", "managedBy"},
    "JobStatus": {"terminating", "failedIndexes", "ready"},
    "JobCondition": {"type", "status"},
    "PodFailurePolicyRule": {"action"},
    "PodFailurePolicyOnExitCodesRequirement": {"containerName", "operator"},
    "PodFailurePolicyOnPodConditionsPattern": {"type", "status"},
    "SuccessPolicyRule": {"succeededIndexes", "succeededCount"},
    "CronJobSpec": {"schedule", "timeZone", "startingDeadlineSeconds", "suspend", "successfulJobsHistoryLimit",
                    "failedJobsHistoryLimit"},
    "RoleRef": {"apiGroup", "kind", "name"},
    "Subject": {"kind", "name"},
    "EndpointSlice": {"addressType"},
    "EndpointConditions": {"ready", "serving", "terminating"},
    "Endpoint": {"hostname", "nodeName", "zone"},
    # discovery/v1 EndpointPort shares core/v1's name (and entry): its name and protocol are
    # pointers too, but a zero one is what their defaults ("" and TCP) would give anyway.
    "ForZone": {"name"},
    "ForNode": {"name"},
    "PersistentVolumeSpec": {"volumeMode", "volumeAttributesClassName"},
    "LocalVolumeSource": {"path", "fsType"},
    "PersistentVolumeClaimSpec": {"storageClassName", "volumeMode", "volumeAttributesClassName"},
    "PersistentVolumeClaimStatus": {"currentVolumeAttributesClassName"},
    "PersistentVolumeClaimCondition": {"type", "status"},
    "TypedLocalObjectReference": {"apiGroup", "kind", "name"},
    "TypedObjectReference": {"apiGroup", "kind", "name", "namespace"},
    "TopologySelectorLabelRequirement": {"key"},
    "StorageClass": {"provisioner", "reclaimPolicy", "allowVolumeExpansion", "volumeBindingMode"},
    "TokenRequestSpec": {"expirationSeconds"},
    "BoundObjectReference": {"kind", "apiVersion", "name", "uid"},
}


def decode(body: bytes) -> dict:
    """A Kubernetes protobuf body -> the JSON-shaped dict (apiVersion and kind first)."""
    if not body.startswith(MAGIC):
        raise DecodeError("it does not start with the magic bytes k8s\\x00")
    try:
        envelope = runtime_pb2.Unknown.FromString(body[len(MAGIC):])
    except message.DecodeError as err:
        raise DecodeError(f"runtime.Unknown: {err}") from None
    if envelope.contentEncoding:
        raise Unsupported(f"content encoding {envelope.contentEncoding!r}")
    api_version, kind = envelope.typeMeta.apiVersion, envelope.typeMeta.kind
    cls = message_class(api_version, kind)
    if cls is None:
        raise Unsupported(f"kind {kind!r} of apiVersion {api_version!r} is not decoded from protobuf here")
    try:
        obj = cls.FromString(envelope.raw)
        fields = _message(obj, "")
    except message.DecodeError as err:
        raise DecodeError(f"{cls.DESCRIPTOR.full_name}: {err}") from None
    except UnicodeDecodeError as err:            # a map key that is not UTF-8
        raise DecodeError(f"{cls.DESCRIPTOR.full_name}: {err}") from None
    return {"apiVersion": api_version, "kind": kind, **fields}


# ---------------------------------------------------------------- the walk

def _message(msg, path: str):
    """One message -> its JSON value (usually a dict; see SPECIAL for the others)."""
    special = SPECIAL.get(msg.DESCRIPTOR.full_name)
    if special is not None:
        return special(msg, path)
    _refuse_unknown_fields(msg, path)
    name = msg.DESCRIPTOR.name
    out = {}
    for field, value in msg.ListFields():        # the fields present on the wire
        key = field.name                         # Kubernetes' proto names are its JSON names
        where = f"{path}.{key}" if path else key
        if _is_map(field):
            value_field = field.message_type.fields_by_name["value"]
            out[key] = {_text(k, where): _value(value_field, v, f"{where}[{k}]") for k, v in value.items()}
        elif field.is_repeated:
            out[key] = [_value(field, v, f"{where}[{i}]") for i, v in enumerate(value)]
        elif key in INLINE.get(name, ()):
            out.update(_message(value, path))
        elif field.type == FieldDescriptor.TYPE_MESSAGE:
            converted = _message(value, where)
            if converted is not None:            # None: a zero Time, null in JSON, so left out
                out[key] = converted
        elif value or key in ZERO_KEPT.get(name, ()):
            out[key] = _value(field, value, where)
    return out


def _value(field, value, path):
    if field.type == FieldDescriptor.TYPE_MESSAGE:
        return _message(value, path)
    if field.type == FieldDescriptor.TYPE_BYTES:     # []byte is base64 in JSON (a Secret's data)
        return base64.b64encode(value).decode()
    return _text(value, path)


def _text(value, path):
    """Strings in proto2 are not checked on parsing: one that is not UTF-8 comes back as bytes."""
    if isinstance(value, bytes):
        raise DecodeError(f"{path}: a string that is not UTF-8")
    return value


def _is_map(field) -> bool:
    return field.is_repeated and field.message_type is not None and field.message_type.GetOptions().map_entry


def _quantity(msg, path):
    return _text(msg.string, path)


def _int_or_string(msg, path):
    return _text(msg.strVal, path) if msg.type == 1 else msg.intVal


def _time(msg, _path):
    """meta/v1 Time: seconds precision, "2026-01-02T03:04:05Z"; the zero time is JSON null."""
    if not msg.seconds and not msg.nanos:
        return None
    return _utc(msg).strftime("%Y-%m-%dT%H:%M:%SZ")


def _micro_time(msg, _path):
    """meta/v1 MicroTime: "2026-01-02T03:04:05.000000Z"."""
    if not msg.seconds and not msg.nanos:
        return None
    return _utc(msg).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _utc(msg) -> datetime:
    try:
        return datetime.fromtimestamp(msg.seconds, tz=timezone.utc) + timedelta(microseconds=msg.nanos // 1000)
    except (OverflowError, OSError, ValueError) as err:
        raise DecodeError(f"time {msg.seconds}s: {err}") from None


def _fields_v1(msg, path):
    """managedFields[].fieldsV1 carries its JSON object as bytes."""
    try:
        return codec.loads(msg.Raw)
    except ValueError as err:
        raise DecodeError(f"{path}: not JSON: {err}") from None


def _raw_extension(msg, path):
    """runtime.RawExtension (a ControllerRevision's data): an embedded object as its JSON bytes."""
    if not msg.raw:
        return None
    try:
        return codec.loads(msg.raw)
    except ValueError as err:
        raise DecodeError(f"{path}: not JSON: {err}") from None


SPECIAL = {
    "k8s.io.apimachinery.pkg.runtime.RawExtension": _raw_extension,
    "k8s.io.apimachinery.pkg.api.resource.Quantity": _quantity,
    "k8s.io.apimachinery.pkg.util.intstr.IntOrString": _int_or_string,
    "k8s.io.apimachinery.pkg.apis.meta.v1.Time": _time,
    "k8s.io.apimachinery.pkg.apis.meta.v1.MicroTime": _micro_time,
    "k8s.io.apimachinery.pkg.apis.meta.v1.FieldsV1": _fields_v1,
}


# ---------------------------------------------------------------- fields we don't list

def _refuse_unknown_fields(msg, path):
    """Fields outside our subset were kept aside by the parser: refuse any that holds a value."""
    for field in unknown_fields.UnknownFieldSet(msg):
        if not _is_zero(field.wire_type, field.data):
            raise Unsupported(f"{path or 'the object'} sets field {field.field_number} of "
                              f"{msg.DESCRIPTOR.full_name}, which this apiserver does not decode "
                              f"from protobuf; send the object as JSON (kubectl create -f)")


def _is_zero(wire_type: int, data) -> bool:
    """Go's "zero value" on the wire: 0, an empty string, or a message of zero values."""
    if wire_type in (0, 1, 5):                   # varint, fixed64, fixed32
        return data == 0
    if wire_type != 2:                           # groups: never used by Kubernetes
        return False
    if not data:
        return True
    try:                                         # a nested message? Empty keeps all as unknown
        inner = empty_pb2.Empty.FromString(data)
    except message.DecodeError:
        return False                             # a non-empty string
    return all(_is_zero(f.wire_type, f.data) for f in unknown_fields.UnknownFieldSet(inner))
