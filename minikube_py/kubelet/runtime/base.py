"""What every container runtime of the kubelet shares: labels, names, errors, ContainerInfo.

A runtime (docker, hollow) runs the containers of the pods bound to one node.
It keeps no state of its own: everything the kubelet needs to find its
containers again after a restart is written on the containers themselves, as
labels (Kubernetes' dockershim did the same with its ``io.kubernetes.*``
labels).
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import re
from dataclasses import dataclass, field

def container_hash(spec: dict) -> str:
    """A short hash of a container spec, written on the container as a label.

    The kubelet compares it with the hash of the spec it wants: a changed spec
    means the container is killed and started anew (upstream's HashContainer).
    """
    return hashlib.sha256(json.dumps(spec, sort_keys=True).encode()).hexdigest()[:16]


# ---------------------------------------------------------------- labels
LABEL_NODE = "io.minikube-py.node"                  # which kubelet owns the container
LABEL_POD_NAMESPACE = "io.kubernetes.pod.namespace"
LABEL_POD_NAME = "io.kubernetes.pod.name"
LABEL_POD_UID = "io.kubernetes.pod.uid"
LABEL_CONTAINER_NAME = "io.kubernetes.container.name"  # "POD" for the sandbox
LABEL_RESTART_COUNT = "io.minikube-py.restart-count"
LABEL_KIND = "io.minikube-py.container-kind"        # sandbox | init | app
LABEL_CONTAINER_HASH = "io.minikube-py.container-hash"  # hash of the container spec
LABEL_GRACE_PERIOD = "io.minikube-py.termination-grace-period"

SANDBOX_CONTAINER_NAME = "POD"
KIND_SANDBOX = "sandbox"
KIND_INIT = "init"
KIND_APP = "app"
KINDS = (KIND_SANDBOX, KIND_INIT, KIND_APP)

# ContainerInfo.state values (the three states of a CRI container, less "unknown")
STATE_CREATED = "created"
STATE_RUNNING = "running"
STATE_EXITED = "exited"


# ---------------------------------------------------------------- errors
class ContainerRuntimeError(Exception):
    """Base class of the errors a container runtime raises."""


class RuntimeUnavailable(ContainerRuntimeError):
    """The container engine cannot be reached (daemon down, socket missing ...)."""


class ContainerNotFound(ContainerRuntimeError):
    """No such container (it may have been removed meanwhile)."""


class ImageError(ContainerRuntimeError):
    """The image is not there and cannot be fetched.

    ``reason`` is the waiting reason the kubelet reports in the container
    status: ``ErrImagePull``, ``ErrImageNeverPull`` or ``InvalidImageName``.
    """

    def __init__(self, reason: str, message: str):
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message


class ContainerStartError(ContainerRuntimeError):
    """A container could not be created or started.

    ``reason`` is the waiting reason Kubernetes shows:
    ``CreateContainerConfigError`` (the spec cannot be turned into a container:
    missing volume, unresolvable env ...), ``CreateContainerError`` (the engine
    refused to create it) or ``RunContainerError`` (created, but the process could
    not be started, e.g. the command does not exist).  ``container_id`` is set when
    a container was created; it then shows up in ``list_containers()`` as exited
    with reason ``StartError``, as containerd reports it.
    """

    def __init__(self, reason: str, message: str, container_id: str | None = None):
        super().__init__(f"{reason}: {message}")
        self.reason = reason
        self.message = message
        self.container_id = container_id


class ExecTimeout(ContainerRuntimeError, TimeoutError):
    """An exec (e.g. an exec probe) did not finish within its timeout."""


# ---------------------------------------------------------------- names
_NAME_BAD = re.compile(r"[^a-zA-Z0-9_.-]")


def container_name(container: str, pod_name: str, namespace: str, pod_uid: str,
                   restart_count: int) -> str:
    """``k8s_<container>_<pod>_<namespace>_<uid8>_<restartcount>``, as dockershim named them.

    Kubernetes names cannot contain ``_``, so the name splits back unambiguously.
    """
    parts = [container, pod_name, namespace, pod_uid[:8], str(int(restart_count))]
    return "k8s_" + "_".join(_NAME_BAD.sub("-", p) for p in parts)


def parse_container_name(name: str) -> dict | None:
    """Inverse of container_name(); None for names that are not ours."""
    name = name.lstrip("/")
    parts = name.split("_")
    if len(parts) != 6 or parts[0] != "k8s":
        return None
    _, container, pod, ns, uid8, count = parts
    try:
        restart = int(count)
    except ValueError:
        return None
    return {"container": container, "pod_name": pod, "namespace": ns,
            "uid8": uid8, "restart_count": restart}


# ---------------------------------------------------------------- times
def parse_time(value: str | None) -> _dt.datetime | None:
    """Docker's RFC 3339 (nanosecond) time -> aware UTC datetime; None for the zero time."""
    if not value or value.startswith("0001-01-01"):
        return None
    m = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)?$", value)
    if not m:
        return None
    base, frac, tz = m.groups()
    dt = _dt.datetime.strptime(base, "%Y-%m-%dT%H:%M:%S")
    if frac:
        dt = dt.replace(microsecond=int(frac[:6].ljust(6, "0")))
    if tz and tz != "Z":
        sign = 1 if tz[0] == "+" else -1
        offset = _dt.timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6])) * sign
        dt = dt - offset
    return dt.replace(tzinfo=_dt.timezone.utc)


def rfc3339(dt: _dt.datetime | None) -> str | None:
    """datetime -> the RFC 3339 form Kubernetes puts in statuses ("2024-05-01T10:00:00Z")."""
    if dt is None:
        return None
    if dt.tzinfo is not None:
        dt = dt.astimezone(_dt.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


# ---------------------------------------------------------------- ContainerInfo
@dataclass
class ContainerInfo:
    """One container of this node, as the runtime sees it (what PLEG relists)."""

    id: str
    name: str
    pod_uid: str
    pod_name: str
    namespace: str
    container_name: str          # "POD" for the sandbox
    kind: str                    # sandbox | init | app
    restart_count: int
    state: str                   # created | running | exited
    exit_code: int | None = None
    started_at: _dt.datetime | None = None
    finished_at: _dt.datetime | None = None
    created_at: _dt.datetime | None = None
    image: str = ""              # the image as the pod spec names it
    image_id: str = ""           # sha256:... of the image actually run
    oom_killed: bool = False
    # Kubernetes' terminated.reason: Completed | Error | OOMKilled | StartError
    reason: str | None = None
    message: str | None = None   # the engine's error text, if any
    pid: int | None = None
    container_hash: str | None = None
    labels: dict = field(default_factory=dict, repr=False)

    @property
    def is_sandbox(self) -> bool:
        return self.kind == KIND_SANDBOX

    @property
    def running(self) -> bool:
        return self.state == STATE_RUNNING
