"""Defaulting: fill in the fields a user may leave out, as the Kubernetes apiserver does.

A three-line Pod manifest comes back from `kubectl get pod -o yaml` with restartPolicy,
dnsPolicy, imagePullPolicy, tolerations and more: the apiserver wrote them before
storing the object, so every controller and kubelet can rely on them being there.
Each kind's declaration (api/kinds/) names its function here; `kinds.apply_defaults` runs it.
A defaulter changes the object in place and never overwrites a value that is set.
Runs before validation.
"""
from .quantity import QuantityError, parse_quantity

__all__ = ["default_daemonset", "default_deployment", "default_namespace", "default_statefulset", "default_node", "default_pod", "default_pod_spec",
           "default_replicaset", "image_pull_policy", "qos_class"]


def _child(obj: dict, key: str, empty):
    """obj[key], first set to `empty` when missing or null (JSON often carries nulls)."""
    if obj.get(key) is None:
        obj[key] = empty
    return obj[key]


def image_pull_policy(image: str) -> str:
    """Always for `:latest` or an image without a tag, else IfNotPresent."""
    if "@" in image:                                   # pinned by digest
        return "IfNotPresent"
    last_part = image.rsplit("/", 1)[-1]               # "host:5000/app:1.0" -> "app:1.0"
    tag = last_part.split(":", 1)[1] if ":" in last_part else ""
    return "Always" if tag in ("", "latest") else "IfNotPresent"


def _default_probe(probe):
    if not probe:
        return
    for key, value in (("timeoutSeconds", 1), ("periodSeconds", 10),
                       ("successThreshold", 1), ("failureThreshold", 3)):
        probe.setdefault(key, value)
    if "httpGet" in probe:
        probe["httpGet"].setdefault("path", "/")
        probe["httpGet"].setdefault("scheme", "HTTP")


def _default_container(c: dict):
    if c.get("image"):
        c.setdefault("imagePullPolicy", image_pull_policy(c["image"]))
    c.setdefault("terminationMessagePath", "/dev/termination-log")
    c.setdefault("terminationMessagePolicy", "File")
    c.setdefault("resources", {})
    for port in c.get("ports") or []:
        port.setdefault("protocol", "TCP")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _default_probe(c.get(probe))


def default_pod_spec(spec: dict):
    """Defaults of every pod spec, also the one inside a Deployment's template."""
    spec.setdefault("restartPolicy", "Always")
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("schedulerName", "default-scheduler")
    spec.setdefault("terminationGracePeriodSeconds", 30)
    spec.setdefault("securityContext", {})
    for group in ("initContainers", "containers"):
        for c in spec.get(group) or []:
            _default_container(c)
    for volume in spec.get("volumes") or []:
        if set(volume) == {"name"}:                    # no source given: a scratch directory
            volume["emptyDir"] = {}
        for source in ("configMap", "secret"):
            if isinstance(volume.get(source), dict):
                volume[source].setdefault("defaultMode", 0o644)


def _requests_from_limits(spec: dict):
    """A container that sets only limits gets requests equal to them."""
    for group in ("initContainers", "containers"):
        for c in spec.get(group) or []:
            resources = c.get("resources") or {}
            limits = resources.get("limits") or {}
            if limits:
                requests = _child(resources, "requests", {})
                for name, value in limits.items():
                    requests.setdefault(name, value)
                c["resources"] = resources


# Taints the node lifecycle controller puts on unhealthy nodes. Every pod tolerates
# them for 5 minutes (the DefaultTolerationSeconds admission plugin), then is evicted.
_DEFAULT_TOLERATED_TAINTS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")


def _add_default_tolerations(spec: dict):
    tolerations = _child(spec, "tolerations", [])
    for taint in _DEFAULT_TOLERATED_TAINTS:
        already = any(t.get("key", "") in ("", taint) and t.get("effect", "") in ("", "NoExecute")
                      for t in tolerations)
        if not already:
            tolerations.append({"key": taint, "operator": "Exists", "effect": "NoExecute",
                                "tolerationSeconds": 300})


def qos_class(spec: dict) -> str:
    """Guaranteed, Burstable or BestEffort, from the containers' cpu and memory.

    BestEffort: no container asks for cpu or memory at all. Guaranteed: every
    container has cpu and memory limits, and requests equal to them. Else Burstable.
    """
    containers = (spec.get("initContainers") or []) + (spec.get("containers") or [])
    any_set, guaranteed = False, True
    for c in containers:
        resources = c.get("resources") or {}
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        for name in ("cpu", "memory"):
            try:
                req = parse_quantity(requests[name]) if name in requests else None
                lim = parse_quantity(limits[name]) if name in limits else None
            except QuantityError:
                req = lim = None                    # validation reports bad quantities
            if (req is not None and req != 0) or (lim is not None and lim != 0):
                any_set = True
            if lim is None or (req is not None and req != lim):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def default_pod(pod: dict):
    spec = _child(pod, "spec", {})
    _requests_from_limits(spec)
    default_pod_spec(spec)
    spec.setdefault("enableServiceLinks", True)
    spec.setdefault("priority", 0)
    _add_default_tolerations(spec)
    status = _child(pod, "status", {})
    status.setdefault("phase", "Pending")
    status.setdefault("qosClass", qos_class(spec))


def _default_template(obj: dict):
    template = _child(_child(obj, "spec", {}), "template", {})
    default_pod_spec(_child(template, "spec", {}))


def default_replicaset(rs: dict):
    _child(rs, "spec", {}).setdefault("replicas", 1)
    _default_template(rs)


def default_deployment(deploy: dict):
    spec = _child(deploy, "spec", {})
    spec.setdefault("replicas", 1)
    strategy = _child(spec, "strategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = _child(strategy, "rollingUpdate", {})
        rolling.setdefault("maxUnavailable", "25%")
        rolling.setdefault("maxSurge", "25%")
    spec.setdefault("revisionHistoryLimit", 10)
    spec.setdefault("progressDeadlineSeconds", 600)
    _default_template(deploy)


def default_daemonset(ds: dict):
    """SetDefaults_DaemonSet: RollingUpdate one node at a time, no surge, 10 old revisions."""
    spec = _child(ds, "spec", {})
    strategy = _child(spec, "updateStrategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        rolling = _child(strategy, "rollingUpdate", {})
        rolling.setdefault("maxUnavailable", 1)
        rolling.setdefault("maxSurge", 0)
    spec.setdefault("revisionHistoryLimit", 10)
    _default_template(ds)


def default_statefulset(sts: dict):
    """SetDefaults_StatefulSet: one replica, OrderedReady, RollingUpdate with partition 0,
    claims kept (Retain) when the set is deleted or scaled down, 10 old revisions."""
    spec = _child(sts, "spec", {})
    spec.setdefault("replicas", 1)
    spec.setdefault("podManagementPolicy", "OrderedReady")
    strategy = _child(spec, "updateStrategy", {})
    strategy.setdefault("type", "RollingUpdate")
    if strategy["type"] == "RollingUpdate":
        _child(strategy, "rollingUpdate", {}).setdefault("partition", 0)
    policy = _child(spec, "persistentVolumeClaimRetentionPolicy", {})
    policy.setdefault("whenDeleted", "Retain")
    policy.setdefault("whenScaled", "Retain")
    spec.setdefault("revisionHistoryLimit", 10)
    _default_template(sts)          # the claim templates get a claim's defaults (api/kinds/apps.py)


def default_namespace(ns: dict):
    name = (ns.get("metadata") or {}).get("name")
    if name:   # since Kubernetes 1.21 every namespace carries its name as a label
        _child(ns["metadata"], "labels", {})["kubernetes.io/metadata.name"] = name
    _child(ns, "spec", {}).setdefault("finalizers", ["kubernetes"])
    _child(ns, "status", {}).setdefault("phase", "Active")


def default_node(node: dict):
    status = node.get("status")
    if status and status.get("capacity") and not status.get("allocatable"):
        status["allocatable"] = dict(status["capacity"])
