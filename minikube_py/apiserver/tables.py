"""Server-side printing: the meta.k8s.io/v1 Table that `kubectl get` shows.

kubectl asks for `application/json;as=Table;v=v1;g=meta.k8s.io` and prints the
columns it gets back, so the columns for each kind live here, in the apiserver, as in
Kubernetes' pkg/printers/internalversion. Columns with priority 1 show only with `-o wide`.
"""
from __future__ import annotations

from ..api.meta import age
from ..api.selectors import LabelSelector

NAME = {"name": "Name", "type": "string", "format": "name", "priority": 0,
        "description": "Name must be unique within a namespace."}
AGE = {"name": "Age", "type": "string", "format": "", "priority": 0,
       "description": "CreationTimestamp is a timestamp representing the server time when this object was created."}


def col(name, type_="string", priority=0, description="", fmt=""):
    return {"name": name, "type": type_, "format": fmt, "priority": priority, "description": description}


def _age(obj):
    return age((obj.get("metadata") or {}).get("creationTimestamp"))


# ---------------------------------------------------------------- pods
def pod_status_reason(pod: dict) -> str:
    """The STATUS column: the phase, or the reason a user cares about (as kubectl prints it)."""
    st = pod.get("status") or {}
    reason = st.get("reason") or st.get("phase") or "Pending"
    init_statuses = st.get("initContainerStatuses") or []
    init_total = len((pod.get("spec") or {}).get("initContainers") or [])
    initializing = False
    for i, cs in enumerate(init_statuses):
        state = cs.get("state") or {}
        term = state.get("terminated")
        if term and term.get("exitCode") == 0:
            continue
        initializing = True
        if term:
            reason = "Init:" + (term.get("reason") or (f"Signal:{term['signal']}" if term.get("signal")
                                                       else f"ExitCode:{term.get('exitCode')}"))
        elif (state.get("waiting") or {}).get("reason") not in (None, "", "PodInitializing"):
            reason = "Init:" + state["waiting"]["reason"]
        else:
            reason = f"Init:{i}/{init_total}"
        break
    if not initializing:
        has_running = False
        for cs in reversed(st.get("containerStatuses") or []):
            state = cs.get("state") or {}
            if (state.get("waiting") or {}).get("reason"):
                reason = state["waiting"]["reason"]
            elif (state.get("terminated") or {}).get("reason"):
                reason = state["terminated"]["reason"]
            elif state.get("terminated"):
                t = state["terminated"]
                reason = f"Signal:{t['signal']}" if t.get("signal") else f"ExitCode:{t.get('exitCode')}"
            elif state.get("running") and cs.get("ready"):
                has_running = True
        if reason == "Completed" and has_running:
            reason = "Running"
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        reason = "Terminating" if st.get("reason") != "NodeLost" else "Unknown"
    return reason


def pod_row(pod):
    st = pod.get("status") or {}
    spec = pod.get("spec") or {}
    statuses = st.get("containerStatuses") or []
    total = len(spec.get("containers") or [])
    ready = sum(1 for c in statuses if c.get("ready"))
    restarts = sum(int(c.get("restartCount", 0)) for c in statuses)
    gates = spec.get("readinessGates") or []
    return [pod["metadata"]["name"], f"{ready}/{total}", pod_status_reason(pod), restarts, _age(pod),
            st.get("podIP") or "<none>", spec.get("nodeName") or "<none>",
            st.get("nominatedNodeName") or "<none>",
            "<none>" if not gates else f"{sum(1 for _ in gates)}/{len(gates)}"]


POD_COLUMNS = [NAME, col("Ready"), col("Status"), col("Restarts", "string"), AGE,
               col("IP", priority=1), col("Node", priority=1), col("Nominated Node", priority=1),
               col("Readiness Gates", priority=1)]


# ---------------------------------------------------------------- workloads
def _containers(obj):
    return ((obj.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []


def _selector(obj):
    return LabelSelector.from_dict((obj.get("spec") or {}).get("selector")).to_string() or "<none>"


def deployment_row(d):
    spec, st = d.get("spec") or {}, d.get("status") or {}
    cs = _containers(d)
    return [d["metadata"]["name"], f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
            st.get("updatedReplicas", 0), st.get("availableReplicas", 0), _age(d),
            ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs), _selector(d)]


DEPLOYMENT_COLUMNS = [NAME, col("Ready"), col("Up-to-date", "integer"), col("Available", "integer"), AGE,
                      col("Containers", priority=1), col("Images", priority=1), col("Selector", priority=1)]


def replicaset_row(rs):
    spec, st = rs.get("spec") or {}, rs.get("status") or {}
    cs = _containers(rs)
    return [rs["metadata"]["name"], spec.get("replicas", 0), st.get("replicas", 0), st.get("readyReplicas", 0),
            _age(rs), ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs),
            _selector(rs)]


REPLICASET_COLUMNS = [NAME, col("Desired", "integer"), col("Current", "integer"), col("Ready", "integer"), AGE,
                      col("Containers", priority=1), col("Images", priority=1), col("Selector", priority=1)]


# ---------------------------------------------------------------- cluster objects
def node_row(n):
    st = n.get("status") or {}
    ready = next((c for c in st.get("conditions") or [] if c.get("type") == "Ready"), None)
    status = "Ready" if ready and ready.get("status") == "True" else "NotReady" if ready and \
        ready.get("status") == "False" else "Unknown" if ready else "Unknown"
    if (n.get("spec") or {}).get("unschedulable"):
        status += ",SchedulingDisabled"
    labels = (n.get("metadata") or {}).get("labels") or {}
    roles = sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/"))
    addrs = st.get("addresses") or []
    internal = next((a["address"] for a in addrs if a.get("type") == "InternalIP"), "<none>")
    external = next((a["address"] for a in addrs if a.get("type") == "ExternalIP"), "<none>")
    info = st.get("nodeInfo") or {}
    return [n["metadata"]["name"], status, ",".join(roles) or "<none>", _age(n), info.get("kubeletVersion", ""),
            internal, external, info.get("osImage", "<unknown>"), info.get("kernelVersion", "<unknown>"),
            info.get("containerRuntimeVersion", "<unknown>")]


NODE_COLUMNS = [NAME, col("Status"), col("Roles"), AGE, col("Version"), col("Internal-IP", priority=1),
                col("External-IP", priority=1), col("OS-Image", priority=1), col("Kernel-Version", priority=1),
                col("Container-Runtime", priority=1)]


def namespace_row(ns):
    return [ns["metadata"]["name"], (ns.get("status") or {}).get("phase", "Active"), _age(ns)]


NAMESPACE_COLUMNS = [NAME, col("Status"), AGE]


def event_row(ev):
    io = ev.get("involvedObject") or {}
    last = ev.get("lastTimestamp") or ev.get("eventTime") or (ev.get("metadata") or {}).get("creationTimestamp")
    return [age(last), ev.get("type", ""), ev.get("reason", ""),
            f"{(io.get('kind') or '').lower()}/{io.get('name', '')}", ev.get("message", ""),
            (ev.get("source") or {}).get("component", ""), io.get("name", ""),
            age(ev.get("firstTimestamp")) if ev.get("firstTimestamp") else "<unknown>",
            ev.get("count", 1), ev["metadata"]["name"]]


EVENT_COLUMNS = [col("Last Seen"), col("Type"), col("Reason"), col("Object"), col("Message"),
                 col("Source", priority=1), col("Subobject", priority=1), col("First Seen", priority=1),
                 col("Count", "integer", priority=1), col("Name", priority=1)]


def lease_row(lease):
    return [lease["metadata"]["name"], (lease.get("spec") or {}).get("holderIdentity") or "<none>", _age(lease)]


LEASE_COLUMNS = [NAME, col("Holder"), AGE]


def default_row(obj):
    return [obj["metadata"]["name"], _age(obj)]


PRINTERS = {
    "Pod": (POD_COLUMNS, pod_row),
    "Deployment": (DEPLOYMENT_COLUMNS, deployment_row),
    "ReplicaSet": (REPLICASET_COLUMNS, replicaset_row),
    "Node": (NODE_COLUMNS, node_row),
    "Namespace": (NAMESPACE_COLUMNS, namespace_row),
    "Event": (EVENT_COLUMNS, event_row),
    "Lease": (LEASE_COLUMNS, lease_row),
}


def partial_metadata(obj: dict) -> dict:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata", {})}


def to_table(kind: str, objects: list[dict], resource_version: str | None = None,
             include_object: str = "Metadata") -> dict:
    """A Table of objects; include_object is None, Metadata (default) or Object, as kubectl asks."""
    columns, row = PRINTERS.get(kind, ([NAME, AGE], default_row))
    rows = []
    for obj in objects:
        r = {"cells": row(obj)}
        if include_object == "Object":
            r["object"] = obj
        elif include_object != "None":
            r["object"] = partial_metadata(obj)
        rows.append(r)
    table = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {}, "columnDefinitions": columns,
             "rows": rows}
    if resource_version:
        table["metadata"]["resourceVersion"] = resource_version
    return table
