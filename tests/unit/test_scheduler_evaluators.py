"""The fast path (CachedEvaluator) decides exactly as the textbook path (Evaluator).

Two identical clusters, one profile with each evaluator and the same random choices:
every decision -- the chosen node, or the FitError / PluginError message -- must be
the same, pod after pod, while the chosen pods are assumed on their nodes.
"""
import random
import types

import pytest

from minikube_py.scheduler import plugins as registry
from minikube_py.scheduler.cache import Cache
from minikube_py.scheduler.equivalence import CachedEvaluator
from minikube_py.scheduler.framework import NodeInfo, PodInfo
from minikube_py.scheduler.profile import Evaluator, FitError, PluginError, Profile

READY = [{"type": "Ready", "status": "True"}]
GPU_TAINT = {"key": "nvidia.com/gpu", "value": "present", "effect": "NoSchedule"}


def node(name, cpu="4", memory="8Gi", pods="20", labels=None, taints=None, gpus=0,
         unschedulable=False, ready="True"):
    allocatable = {"cpu": cpu, "memory": memory, "pods": pods}
    if gpus:
        allocatable["nvidia.com/gpu"] = str(gpus)
    return {"metadata": {"name": name, "labels": labels or {}},
            "spec": {"taints": taints or [], "unschedulable": unschedulable},
            "status": {"allocatable": allocatable,
                       "conditions": [{"type": "Ready", "status": ready}]}}


def pod(name, cpu="100m", memory="64Mi", gpus=0, owner=None, **spec):
    requests = {"cpu": cpu, "memory": memory}
    if gpus:
        requests["nvidia.com/gpu"] = str(gpus)
    md = {"name": name, "namespace": "ns", "labels": {"app": owner or name}}
    if owner:
        md["ownerReferences"] = [{"uid": owner, "controller": True, "kind": "ReplicaSet"}]
    return {"metadata": md,
            "spec": {"containers": [{"name": "c", "resources": {"requests": requests}}], **spec}}


# ------------------------------------------------------------------ node sets
def identical(n):                          # every node the same: ties everywhere
    return [node(f"same-{i:03}") for i in range(n)]


def mixed():
    return [node("small", cpu="1", memory="1Gi", labels={"disk": "hdd", "zone": "a"}),
            node("big", cpu="16", memory="64Gi", labels={"disk": "ssd", "zone": "b"}),
            node("gpu-1", cpu="8", memory="32Gi", gpus=2, taints=[GPU_TAINT],
                 labels={"disk": "ssd", "zone": "a"}),
            node("gpu-2", cpu="8", memory="32Gi", gpus=4, taints=[GPU_TAINT], labels={"zone": "b"}),
            node("spot", taints=[{"key": "spot", "value": "", "effect": "PreferNoSchedule"}],
                 labels={"zone": "c"}),
            node("cordoned", unschedulable=True),
            node("down", ready="False"),
            node("unknown", ready="Unknown", labels={"zone": "a"})]


def unschedulable_only():
    return [node("cordoned-1", unschedulable=True), node("cordoned-2", unschedulable=True),
            node("down", ready="False"),
            node("tainted", taints=[{"key": "dedicated", "value": "x", "effect": "NoSchedule"}])]


def large(n=250):                          # above 100 nodes: sampling and rotation
    rng = random.Random(n)
    out = []
    for i in range(n):
        taints = [GPU_TAINT] if i % 17 == 0 else []
        if rng.random() < .1:
            taints.append({"key": "spot", "value": "", "effect": "PreferNoSchedule"})
        out.append(node(f"n{i:03}", cpu=rng.choice(["1", "2", "4", "4"]),
                        memory=rng.choice(["2Gi", "8Gi"]), gpus=4 if i % 17 == 0 else 0,
                        taints=taints, unschedulable=rng.random() < .03,
                        ready="False" if rng.random() < .03 else "True",
                        labels={"zone": "abc"[i % 3]}))
    return out


NODE_SETS = {"identical": lambda: identical(6), "mixed": mixed, "unschedulable": unschedulable_only,
             "large": large, "none": lambda: []}


# ------------------------------------------------------------------ pods
def workload():
    """Replicas (cache hits), one-offs, GPU pods, selectors, affinity, ports, misfits."""
    tolerate_gpu = [{"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}]
    pods = []
    for i in range(12):
        pods.append(pod(f"web-{i}", owner="rs-web"))
    for i in range(5):
        pods.append(pod(f"train-{i}", cpu="2", gpus=1, owner="rs-train", tolerations=tolerate_gpu))
    pods += [
        pod("gpu-no-toleration", gpus=1),
        pod("gpu-too-many", gpus=8, tolerations=tolerate_gpu),
        pod("hog", cpu="64"),
        pod("fat", memory="100Gi"),
        pod("on-ssd", nodeSelector={"disk": "ssd"}),
        pod("nowhere", nodeSelector={"disk": "tape"}),
        pod("tolerates-all", tolerations=[{"operator": "Exists"}]),
        pod("prefers-b", affinity={"nodeAffinity": {
            "preferredDuringSchedulingIgnoredDuringExecution": [
                {"weight": 10, "preference": {"matchExpressions": [
                    {"key": "zone", "operator": "In", "values": ["b"]}]}}]}}),
        pod("needs-a", affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [
                {"key": "zone", "operator": "In", "values": ["a"]}]}]}}}),
        pod("bad-affinity", affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [
                {"key": "a", "operator": "Gt", "values": ["x"]}]}]}}}),
    ]
    for i in range(4):
        pods.append(pod(f"port-{i}", containers=[{"name": "c", "ports": [{"hostPort": 8080}],
                                                   "resources": {"requests": {"cpu": "100m"}}}]))
    for i in range(20):
        pods.append(pod(f"batch-{i}", cpu="900m", memory="1Gi", owner="rs-batch"))
    return pods


def decisions(evaluator, nodes, pods, percentage=0, seed=3, modules=None):
    cache = Cache()
    for n in nodes:
        cache.add_node(n)
    profile = Profile(modules=modules, percentage_of_nodes_to_score=percentage,
                      rng=random.Random(seed), evaluator=evaluator)
    out = []
    for p in pods:
        info = PodInfo(p)
        try:
            chosen = profile.schedule(info, cache.nodes())
        except (FitError, PluginError) as err:
            out.append(f"{type(err).__name__}: {err}")
            continue
        cache.assume(info, chosen.name)
        out.append(chosen.name)
    return out, profile


@pytest.mark.parametrize("percentage", [0, 10, 100])
@pytest.mark.parametrize("node_set", sorted(NODE_SETS))
def test_both_evaluators_decide_the_same(node_set, percentage):
    pods = workload()
    textbook, _ = decisions(Evaluator(), NODE_SETS[node_set](), pods, percentage)
    fast, profile = decisions(CachedEvaluator(), NODE_SETS[node_set](), pods, percentage)
    assert fast == textbook
    if node_set != "none":
        assert profile.evaluator.cache.hits > 0          # the fast path really ran
    if node_set == "unschedulable":
        placed = {p["metadata"]["name"] for p, d in zip(pods, fast)
                  if " nodes are available: " not in d and "PluginError" not in d}
        assert placed == {"tolerates-all"}               # it tolerates every taint


def test_the_cases_are_covered():
    """The comparison above sees successes, every kind of failure, and ties broken."""
    seen = " | ".join(decisions(Evaluator(), mixed(), workload())[0])
    for words in ("Insufficient nvidia.com/gpu", "Insufficient cpu", "Insufficient memory",
                  "untolerated taint {nvidia.com/gpu", "were unschedulable", "not-ready", "Too many pods",
                  "didn't match Pod's node affinity/selector", "free ports",
                  "PluginError", "gpu-1", "big"):
        assert words in seen, words
    ties = decisions(Evaluator(), identical(6), workload())[0]
    assert len({d for d in ties if d.startswith("same-")}) > 1       # equal nodes share the load
    assert decisions(Evaluator(), [], [pod("p")])[0] == [
        "FitError: no nodes available to schedule pods"]


def _random_cluster(rng, n):
    cache = Cache()
    for i in range(n):
        taints = [{"key": "spot", "value": "", "effect": "PreferNoSchedule"}] if rng.random() < .2 else []
        if rng.random() < .1:
            taints.append({"key": "gpu", "value": "true", "effect": "NoSchedule"})
        cache.add_node({"metadata": {"name": f"n{i:03}", "labels": {"zone": rng.choice("abc")}},
                        "spec": {"taints": taints, "unschedulable": rng.random() < .05},
                        "status": {"allocatable": {"cpu": rng.choice(["1", "2", "4"]),
                                                   "memory": rng.choice(["4Gi", "16Gi"]),
                                                   "pods": "20"},
                                   "conditions": READY}})
    return cache


def _random_pod(rng, i):
    spec = {"containers": [{"name": "c", "resources": {"requests": {
        "cpu": rng.choice(["100m", "500m", "1"]), "memory": rng.choice(["64Mi", "1Gi"])}}}]}
    if rng.random() < .3:
        spec["nodeSelector"] = {"zone": rng.choice("abc")}
    if rng.random() < .2:
        spec["tolerations"] = [{"operator": "Exists"}]
    md = {"name": f"p{i}", "namespace": "ns"}
    if rng.random() < .5:
        md["ownerReferences"] = [{"uid": f"rs{rng.randrange(3)}", "controller": True}]
    return PodInfo({"metadata": md, "spec": spec})


def test_equivalence_cache_gives_exactly_the_uncached_answers():
    """Many random pods on a random cluster, filled until pods no longer fit."""
    rng = random.Random(42)
    pods = [_random_pod(rng, i) for i in range(600)]
    outcomes = []
    for evaluator in (CachedEvaluator(), Evaluator()):
        cache = _random_cluster(random.Random(7), 120)
        profile = Profile(rng=random.Random(3), evaluator=evaluator)
        out = []
        for p in pods:
            info = PodInfo(p.pod)
            try:
                node = profile.schedule(info, cache.nodes())
                cache.assume(info, node.name)
                out.append(node.name)
            except FitError as err:
                out.append(str(err))
        outcomes.append(out)
    assert outcomes[0] == outcomes[1]
    assert any(o.startswith("0/120") for o in outcomes[0])     # some did not fit at all
    assert sum(o.startswith("n") for o in outcomes[0]) > 300    # most did


def test_a_changed_node_is_asked_again():
    cache = Cache()
    cache.add_node({"metadata": {"name": "only"},
                    "status": {"allocatable": {"cpu": "1", "memory": "1Gi", "pods": "5"}, "conditions": READY}})
    profile = Profile()
    p = pod("p", cpu="600m")
    assert profile.schedule(PodInfo(p), cache.nodes()).name == "only"
    cache.assume(PodInfo(dict(p, metadata={"name": "first", "namespace": "ns"})), "only")
    with pytest.raises(FitError, match="Insufficient cpu"):
        profile.schedule(PodInfo(p), cache.nodes())
    cache.update_node({"metadata": {"name": "only"},
                       "status": {"allocatable": {"cpu": "2", "memory": "1Gi", "pods": "5"}, "conditions": READY}})
    assert profile.schedule(PodInfo(p), cache.nodes()).name == "only"


def _info(name, **kw):
    return NodeInfo(node(name, **kw))


def test_plugins_without_cacheable_are_always_asked():
    calls = []
    counting = types.SimpleNamespace(NAME="Counting", filter=lambda p, n: calls.append(n.name) or None)
    profile = Profile(modules=[counting])
    for _ in range(3):
        profile.schedule(PodInfo(pod("p")), [_info("a"), _info("b")])
    assert len(calls) == 6


def test_a_non_cacheable_filter_beside_cacheable_scorers():
    """One plugin without CACHEABLE turns filter caching off for the pod; scoring still works."""
    calls = []
    picky = types.SimpleNamespace(NAME="Picky",
                                  filter=lambda p, n: calls.append(n.name) or
                                  ("not b" if n.name == "b" else None))
    profile = Profile(modules=[picky, *registry.PLUGINS])
    busy = _info("busy")
    busy.add_pod(PodInfo(pod("resident", cpu="3")))
    for _ in range(3):
        assert profile.schedule(PodInfo(pod("p")), [busy, _info("b"), _info("idle")]).name == "idle"
    assert len(calls) == 9
