"""The core group's kinds (`/api/v1`): Namespace, Pod, Node, Event."""
from __future__ import annotations

from .. import defaults, names, podvalidation, validation
from ..meta import age
from .columns import AGE, NAME, age_of, col
from .kind import Kind


# ---------------------------------------------------------------- Namespace
def namespace_row(ns):
    return [ns["metadata"]["name"], (ns.get("status") or {}).get("phase", "Active"), age_of(ns)]


NAMESPACE = Kind(
    "", "v1", "Namespace", "namespaces", namespaced=False, short_names=("ns",),
    subresources=("status", "finalize"), return_deleted_object=True,
    verbs=("create", "delete", "get", "list", "patch", "update", "watch"),
    default=defaults.default_namespace, validate=lambda obj: [], name_rule=names.is_dns1123_label,
    columns=(NAME, col("Status"), AGE), row=namespace_row,
    proto="k8s.io.api.core.v1.Namespace")


# ---------------------------------------------------------------- Pod
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
    return [pod["metadata"]["name"], f"{ready}/{total}", pod_status_reason(pod), restarts, age_of(pod),
            st.get("podIP") or "<none>", spec.get("nodeName") or "<none>",
            st.get("nominatedNodeName") or "<none>",
            "<none>" if not gates else f"{sum(1 for _ in gates)}/{len(gates)}"]


POD = Kind(
    "", "v1", "Pod", "pods", short_names=("po",), categories=("all",),
    subresources=("status", "binding", "eviction", "log", "exec", "attach", "portforward"), return_deleted_object=True,
    default=defaults.default_pod, validate=podvalidation.validate_pod,
    validate_update=podvalidation.validate_pod_update,
    columns=(NAME, col("Ready"), col("Status"), col("Restarts", "string"), AGE,
             col("IP", priority=1), col("Node", priority=1), col("Nominated Node", priority=1),
             col("Readiness Gates", priority=1)),
    row=pod_row,
    watch_trigger="spec.nodeName",   # each kubelet watches its own node's pods
    proto="k8s.io.api.core.v1.Pod")


# ---------------------------------------------------------------- Node
def node_row(n):
    st = n.get("status") or {}
    ready = next((c for c in st.get("conditions") or [] if c.get("type") == "Ready"), None)
    # as kubectl's node printer: Ready=Unknown (a silent node) is NotReady too; Unknown means
    # the node reports no Ready condition at all
    status = "Unknown" if ready is None else "Ready" if ready.get("status") == "True" else "NotReady"
    if (n.get("spec") or {}).get("unschedulable"):
        status += ",SchedulingDisabled"
    labels = (n.get("metadata") or {}).get("labels") or {}
    roles = sorted(k.split("/", 1)[1] for k in labels if k.startswith("node-role.kubernetes.io/"))
    addrs = st.get("addresses") or []
    internal = next((a["address"] for a in addrs if a.get("type") == "InternalIP"), "<none>")
    external = next((a["address"] for a in addrs if a.get("type") == "ExternalIP"), "<none>")
    info = st.get("nodeInfo") or {}
    return [n["metadata"]["name"], status, ",".join(roles) or "<none>", age_of(n), info.get("kubeletVersion", ""),
            internal, external, info.get("osImage", "<unknown>"), info.get("kernelVersion", "<unknown>"),
            info.get("containerRuntimeVersion", "<unknown>")]


NODE = Kind(
    "", "v1", "Node", "nodes", namespaced=False, short_names=("no",),
    subresources=("status", "proxy"), return_deleted_object=True,
    status_on_create=True,     # a kubelet registers its Node with capacity and conditions
    watch_trigger="metadata.name",   # each kubelet watches its own Node (kube's NameTriggerFunc)
    default=defaults.default_node, validate=validation.validate_node,
    columns=(NAME, col("Status"), col("Roles"), AGE, col("Version"), col("Internal-IP", priority=1),
             col("External-IP", priority=1), col("OS-Image", priority=1), col("Kernel-Version", priority=1),
             col("Container-Runtime", priority=1)),
    row=node_row,
    proto="k8s.io.api.core.v1.Node")


# ---------------------------------------------------------------- Event
def event_row(ev):
    io = ev.get("involvedObject") or {}
    last = ev.get("lastTimestamp") or ev.get("eventTime") or (ev.get("metadata") or {}).get("creationTimestamp")
    return [age(last), ev.get("type", ""), ev.get("reason", ""),
            f"{(io.get('kind') or '').lower()}/{io.get('name', '')}", ev.get("message", ""),
            (ev.get("source") or {}).get("component", ""), io.get("name", ""),
            age(ev.get("firstTimestamp")) if ev.get("firstTimestamp") else "<unknown>",
            ev.get("count", 1), ev["metadata"]["name"]]


EVENT = Kind(
    "", "v1", "Event", "events", short_names=("ev",), has_status=False, counts_generation=False,
    validate=validation.validate_event,
    columns=(col("Last Seen"), col("Type"), col("Reason"), col("Object"), col("Message"),
             col("Source", priority=1), col("Subobject", priority=1), col("First Seen", priority=1),
             col("Count", "integer", priority=1), col("Name", priority=1)),
    row=event_row,
    # kube-apiserver caches no events: written often, rarely watched
    eager_watch_cache=False,
    proto="k8s.io.api.core.v1.Event")

KINDS = (NAMESPACE, POD, NODE, EVENT)
