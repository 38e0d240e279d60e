"""Every scheduler plugin as a pure function of (PodInfo, NodeInfo) built from dicts."""
import pytest

from minikube_py.scheduler import plugins
from minikube_py.scheduler.framework import NodeInfo, PodInfo, PodSpecError, normalize_scores
from minikube_py.scheduler.plugins import (balanced_allocation, least_allocated, node_affinity,
                                           node_ports, node_ready, node_resources_fit,
                                           node_unschedulable, selector_spread, taint_toleration)


def pod(name="p", requests=None, owner=None, ports=(), containers=None, **spec):
    md = {"name": name, "namespace": "ns"}
    if owner:
        md["ownerReferences"] = [{"kind": "ReplicaSet", "name": owner, "uid": owner, "controller": True}]
    c = {"name": "c", "image": "busybox", "resources": {"requests": requests or {}},
         "ports": [dict(p) for p in ports]}
    return PodInfo({"metadata": md, "spec": {"containers": containers or [c], **spec}})


def node(name="n", cpu="4", memory="8Gi", pods="110", labels=None, taints=None, ready="True",
         unschedulable=False, **extra):
    alloc = {"cpu": cpu, "memory": memory, "pods": pods, **extra}
    conds = [{"type": "Ready", "status": ready}] if ready is not None else []
    return NodeInfo({"metadata": {"name": name, "labels": labels or {}},
                     "spec": {"taints": taints or [], "unschedulable": unschedulable},
                     "status": {"allocatable": alloc, "conditions": conds}})


def place(n, *pods):
    for i, p in enumerate(pods):
        p.key = f"ns/placed-{len(n.pods)}-{i}"
        n.add_pod(p)
    return n


# ------------------------------------------------------------------ NodeResourcesFit
def test_fit_accepts_what_fits_and_names_each_shortage():
    n = node(cpu="1", memory="1Gi")
    assert node_resources_fit.filter(pod(requests={"cpu": "1", "memory": "1Gi"}), n) is None
    assert node_resources_fit.filter(pod(requests={"cpu": "1001m", "memory": "2Gi"}), n) == \
        ["Insufficient cpu", "Insufficient memory"]


def test_fit_counts_pods_already_there():
    n = place(node(cpu="1"), pod(requests={"cpu": "600m"}))
    assert node_resources_fit.filter(pod(requests={"cpu": "400m"}), n) is None
    assert node_resources_fit.filter(pod(requests={"cpu": "401m"}), n) == ["Insufficient cpu"]


def test_fit_too_many_pods_even_for_pods_without_requests():
    n = place(node(pods="1"), pod())
    assert node_resources_fit.filter(pod(), n) == ["Too many pods"]
    assert node_resources_fit.filter(pod(), node(pods="0")) == ["Too many pods"]


def test_fit_extended_resources_gpu():
    gpu_pod = pod(requests={"nvidia.com/gpu": "1"})
    assert node_resources_fit.filter(gpu_pod, node()) == ["Insufficient nvidia.com/gpu"]
    gpu_node = node(**{"nvidia.com/gpu": "1"})
    assert node_resources_fit.filter(gpu_pod, gpu_node) is None
    place(gpu_node, pod(requests={"nvidia.com/gpu": "1"}))
    assert node_resources_fit.filter(gpu_pod, gpu_node) == ["Insufficient nvidia.com/gpu"]


def test_fit_uses_init_container_peak():
    p = pod(containers=[{"name": "a", "resources": {"requests": {"cpu": "100m"}}}],
            initContainers=[{"name": "i", "resources": {"requests": {"cpu": "3"}}}])
    assert node_resources_fit.filter(p, node(cpu="2")) == ["Insufficient cpu"]


# ------------------------------------------------------------------ NodeAffinity
def test_node_selector_must_match_every_label():
    p = pod(nodeSelector={"disk": "ssd", "zone": "a"})
    assert node_affinity.pre_filter(p)
    assert node_affinity.filter(p, node(labels={"disk": "ssd", "zone": "a", "x": "y"})) is None
    assert node_affinity.filter(p, node(labels={"disk": "ssd"})) == node_affinity.REASON
    assert not node_affinity.pre_filter(pod())          # nothing to check: skipped


def required(*terms):
    return {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
                             {"nodeSelectorTerms": list(terms)}}}


def expr(key, op, *values):
    e = {"key": key, "operator": op}
    if values:
        e["values"] = list(values)
    return e


@pytest.mark.parametrize("e, labels, ok", [
    (expr("zone", "In", "a", "b"), {"zone": "b"}, True),
    (expr("zone", "In", "a"), {"zone": "c"}, False),
    (expr("zone", "NotIn", "a"), {"zone": "c"}, True),
    (expr("zone", "NotIn", "a"), {}, True),
    (expr("gpu", "Exists"), {"gpu": ""}, True),
    (expr("gpu", "Exists"), {}, False),
    (expr("gpu", "DoesNotExist"), {}, True),
    (expr("gpu", "DoesNotExist"), {"gpu": "1"}, False),
    (expr("cores", "Gt", "8"), {"cores": "16"}, True),
    (expr("cores", "Gt", "8"), {"cores": "8"}, False),
    (expr("cores", "Lt", "8"), {"cores": "4"}, True),
    (expr("cores", "Lt", "8"), {"cores": "many"}, False),
])
def test_required_node_affinity_operators(e, labels, ok):
    p = pod(affinity=required({"matchExpressions": [e]}))
    assert node_affinity.pre_filter(p)
    assert (node_affinity.filter(p, node(labels=labels)) is None) is ok


def test_required_terms_are_ored_expressions_anded():
    p = pod(affinity=required({"matchExpressions": [expr("a", "In", "1"), expr("b", "In", "1")]},
                              {"matchExpressions": [expr("c", "Exists")]}))
    assert node_affinity.filter(p, node(labels={"a": "1", "b": "1"})) is None
    assert node_affinity.filter(p, node(labels={"a": "1"})) == node_affinity.REASON
    assert node_affinity.filter(p, node(labels={"c": "x"})) is None


def test_match_fields_metadata_name_and_empty_terms():
    p = pod(affinity=required({"matchFields": [{"key": "metadata.name", "operator": "In",
                                                "values": ["n2"]}]}))
    assert node_affinity.filter(p, node("n2")) is None
    assert node_affinity.filter(p, node("n1")) == node_affinity.REASON
    empty = pod(affinity=required({}))
    assert node_affinity.filter(empty, node()) == node_affinity.REASON
    none = pod(affinity=required())
    assert node_affinity.filter(none, node()) == node_affinity.REASON


@pytest.mark.parametrize("affinity, selector", [
    (required({"matchExpressions": [expr("a", "Gt", "x")]}), None),
    (required({"matchExpressions": [expr("a", "Near", "1")]}), None),
    (required({"matchExpressions": [expr("a", "In")]}), None),
    (required({"matchFields": [{"key": "metadata.labels", "operator": "In", "values": ["x"]}]}), None),
    (None, {"gpu": True}),
])
def test_bad_affinity_is_a_pod_spec_error(affinity, selector):
    spec = {}
    if affinity:
        spec["affinity"] = affinity
    if selector:
        spec["nodeSelector"] = selector
    with pytest.raises(PodSpecError):
        node_affinity.pre_filter(pod(**spec))


def test_preferred_affinity_scores_matching_weights():
    pref = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
        {"weight": 10, "preference": {"matchExpressions": [expr("disk", "In", "ssd")]}},
        {"weight": 30, "preference": {"matchExpressions": [expr("zone", "In", "a")]}}]}}
    p = pod(affinity=pref)
    assert node_affinity.pre_score(p) and not node_affinity.pre_filter(p)
    raw = {"both": node_affinity.score(p, node(labels={"disk": "ssd", "zone": "a"})),
           "ssd": node_affinity.score(p, node(labels={"disk": "ssd"})),
           "none": node_affinity.score(p, node())}
    assert raw == {"both": 40, "ssd": 10, "none": 0}
    node_affinity.normalize(p, raw)
    assert raw == {"both": 100, "ssd": 25, "none": 0}


# ------------------------------------------------------------------ taints
def taint(key, value="", effect="NoSchedule"):
    return {"key": key, "value": value, "effect": effect}


def test_untolerated_taint_reason_in_kube_words():
    n = node(taints=[taint("gpu", "true")])
    assert taint_toleration.filter(pod(), n) == "node(s) had untolerated taint {gpu: true}"
    assert taint_toleration.filter(pod(), node(taints=[taint("dedicated", effect="NoExecute")])) == \
        "node(s) had untolerated taint {dedicated: }"


@pytest.mark.parametrize("toleration, ok", [
    ({"key": "gpu", "operator": "Equal", "value": "true", "effect": "NoSchedule"}, True),
    ({"key": "gpu", "value": "true"}, True),                       # Equal is the default, any effect
    ({"key": "gpu", "operator": "Exists"}, True),
    ({"operator": "Exists"}, True),                                # tolerates everything
    ({"key": "gpu", "value": "false"}, False),
    ({"key": "gpu", "operator": "Exists", "effect": "NoExecute"}, False),
    ({"key": "other", "operator": "Exists"}, False),
    ({"key": "gpu", "operator": "Weird", "value": "true"}, False),
])
def test_tolerations_match_like_kubernetes(toleration, ok):
    n = node(taints=[taint("gpu", "true")])
    assert (taint_toleration.filter(pod(tolerations=[toleration]), n) is None) is ok


def test_prefer_no_schedule_only_scores():
    soft = node(taints=[taint("spot", "yes", "PreferNoSchedule")])
    assert taint_toleration.filter(pod(), soft) is None
    raw = {"soft": taint_toleration.score(pod(), soft), "clean": taint_toleration.score(pod(), node())}
    assert raw == {"soft": 1, "clean": 0}
    taint_toleration.normalize(pod(), raw)
    assert raw == {"soft": 0, "clean": 100}
    tolerant = pod(tolerations=[{"key": "spot", "operator": "Exists", "effect": "PreferNoSchedule"}])
    assert taint_toleration.score(tolerant, soft) == 0
    # a NoSchedule-only toleration does not count for PreferNoSchedule taints
    hard_only = pod(tolerations=[{"key": "spot", "operator": "Exists", "effect": "NoSchedule"}])
    assert taint_toleration.score(hard_only, soft) == 1


# ------------------------------------------------------------------ unschedulable / not ready
def test_cordoned_node_unless_tolerated():
    n = node(unschedulable=True)
    assert node_unschedulable.filter(pod(), n) == "node(s) were unschedulable"
    ok = pod(tolerations=[{"key": "node.kubernetes.io/unschedulable", "operator": "Exists",
                           "effect": "NoSchedule"}])
    assert node_unschedulable.filter(ok, n) is None
    assert node_unschedulable.filter(pod(), node()) is None


def test_not_ready_and_unreachable_nodes():
    assert node_ready.filter(pod(), node()) is None
    assert node_ready.filter(pod(), node(ready="False")) == \
        "node(s) had untolerated taint {node.kubernetes.io/not-ready: }"
    assert node_ready.filter(pod(), node(ready="Unknown")) == \
        "node(s) had untolerated taint {node.kubernetes.io/unreachable: }"
    assert node_ready.filter(pod(), node(ready=None)) is not None
    # the default NoExecute toleration the apiserver adds does not cover NoSchedule
    default = pod(tolerations=[{"key": "node.kubernetes.io/not-ready", "operator": "Exists",
                                "effect": "NoExecute", "tolerationSeconds": 300}])
    assert node_ready.filter(default, node(ready="False")) is not None
    tolerant = pod(tolerations=[{"key": "node.kubernetes.io/not-ready", "operator": "Exists"}])
    assert node_ready.filter(tolerant, node(ready="False")) is None
    # a real taint is TaintToleration's business, not counted twice
    tainted = node(ready="False", taints=[taint("node.kubernetes.io/not-ready")])
    assert node_ready.filter(pod(), tainted) is None
    assert taint_toleration.filter(pod(), tainted) is not None


# ------------------------------------------------------------------ NodePorts
def test_host_ports_conflict_by_protocol_port_and_ip():
    n = place(node(), pod(ports=[{"containerPort": 80, "hostPort": 8080}]))
    same = pod(ports=[{"containerPort": 80, "hostPort": 8080}])
    assert node_ports.pre_filter(same) and not node_ports.pre_filter(pod())
    assert node_ports.filter(same, n) == node_ports.REASON
    assert node_ports.filter(pod(ports=[{"containerPort": 80, "hostPort": 8080, "protocol": "UDP"}]),
                             n) is None
    assert node_ports.filter(pod(ports=[{"containerPort": 80, "hostPort": 8081}]), n) is None
    specific = place(node(), pod(ports=[{"containerPort": 1, "hostPort": 53, "hostIP": "10.0.0.1"}]))
    assert node_ports.filter(pod(ports=[{"containerPort": 1, "hostPort": 53, "hostIP": "10.0.0.2"}]),
                             specific) is None
    assert node_ports.filter(pod(ports=[{"containerPort": 1, "hostPort": 53}]), specific) == \
        node_ports.REASON


# ------------------------------------------------------------------ scores
def test_least_allocated_prefers_emptier_nodes():
    p = pod(requests={"cpu": "1", "memory": "1Gi"})
    empty = node(cpu="4", memory="4Gi")
    busy = place(node(cpu="4", memory="4Gi"), pod(requests={"cpu": "2", "memory": "2Gi"}))
    assert least_allocated.score(p, empty) == 75            # (3/4 + 3/4) / 2
    assert least_allocated.score(p, busy) == 25
    assert least_allocated.score(pod(requests={"cpu": "8"}), empty) == (0 + 95) // 2
    # a pod without requests still counts 100m / 200Mi
    assert least_allocated.score(pod(), node(cpu="1", memory="400Mi")) == (90 + 50) // 2
    assert least_allocated.score(p, node(cpu="0", memory="0")) == 0


def test_balanced_allocation_prefers_even_use():
    p = pod(requests={"cpu": "1", "memory": "1Gi"})
    even = node(cpu="4", memory="4Gi")
    skewed = place(node(cpu="4", memory="4Gi"), pod(requests={"cpu": "3"}))
    assert balanced_allocation.score(p, even) == 100
    assert balanced_allocation.score(p, skewed) == int((1 - abs(1.0 - 0.25) / 2) * 100)
    assert balanced_allocation.score(p, node(cpu="0", memory="4Gi")) == 100


def test_selector_spread_prefers_nodes_with_fewer_siblings():
    p = pod(owner="rs1")
    assert selector_spread.pre_score(p) and not selector_spread.pre_score(pod())
    crowded = place(node("a"), pod(owner="rs1"), pod(owner="rs1"), pod(owner="other"))
    one = place(node("b"), pod(owner="rs1"))
    raw = {"a": selector_spread.score(p, crowded), "b": selector_spread.score(p, one),
           "c": selector_spread.score(p, node("c"))}
    assert raw == {"a": 2, "b": 1, "c": 0}
    selector_spread.normalize(p, raw)
    assert raw == {"a": 0, "b": 50, "c": 100}


def test_normalize_scores():
    s = {"a": 0, "b": 0}
    normalize_scores(s, reverse=True)
    assert s == {"a": 100, "b": 100}
    s = {"a": 0, "b": 0}
    normalize_scores(s)
    assert s == {"a": 0, "b": 0}
    s = {"a": 3, "b": 6}
    normalize_scores(s)
    assert s == {"a": 50, "b": 100}


# ------------------------------------------------------------------ registry
def test_registry_names_and_weights():
    assert plugins.by_name("taint_toleration") is taint_toleration
    assert plugins.by_name("TaintToleration") is taint_toleration
    assert plugins.parse_weights("TaintToleration=5, least_allocated=0") == \
        {"TaintToleration": 5, "NodeResourcesLeastAllocated": 0}
    for bad in ("Nope=1", "TaintToleration", "TaintToleration=x", "NodePorts=1",
                "TaintToleration=-1"):
        with pytest.raises((KeyError, ValueError)):
            plugins.parse_weights(bad)
    for p in plugins.PLUGINS:
        assert p.NAME and (hasattr(p, "filter") or hasattr(p, "score"))
