"""The filter/score loop: sampling, rotation, messages, tie-breaks, plugin failures."""
import random
import types

import pytest

from minikube_py.scheduler.equivalence import CachedEvaluator
from minikube_py.scheduler.framework import NodeInfo, PodInfo
from minikube_py.scheduler.profile import (Evaluator, FitError, PluginError, Profile,
                                           fit_error_message, num_feasible_nodes_to_find)

# The loop's behaviour is the same whichever evaluator runs the plugins.
EVALUATORS = pytest.mark.parametrize("evaluator", [Evaluator, CachedEvaluator])


def node(name, cpu="4", labels=None, taints=None):
    return NodeInfo({"metadata": {"name": name, "labels": labels or {}},
                     "spec": {"taints": taints or []},
                     "status": {"allocatable": {"cpu": cpu, "memory": "8Gi", "pods": "10"},
                                "conditions": [{"type": "Ready", "status": "True"}]}})


def pod(cpu="100m", **spec):
    return PodInfo({"metadata": {"name": "p", "namespace": "ns"},
                    "spec": {"containers": [{"name": "c", "resources": {"requests": {"cpu": cpu}}}],
                             **spec}})


@pytest.mark.parametrize("percentage, nodes, want", [
    (0, 50, 50), (0, 99, 99), (0, 100, 100), (0, 1000, 420), (0, 5000, 500),
    (0, 6000, 300), (0, 10000, 500), (10, 500, 100), (30, 1000, 300), (100, 1000, 1000),
])
def test_num_feasible_nodes_to_find(percentage, nodes, want):
    assert num_feasible_nodes_to_find(percentage, nodes) == want


def test_fit_error_message_counts_and_sorts_reasons():
    msg = fit_error_message(3, {"a": ["Insufficient cpu"], "b": ["Insufficient cpu"],
                                "c": ["node(s) had untolerated taint {gpu: true}"]})
    assert msg == ("0/3 nodes are available: 1 node(s) had untolerated taint {gpu: true}, "
                   "2 Insufficient cpu.")
    assert fit_error_message(2, {"a": ["Insufficient cpu", "Insufficient memory"],
                                 "b": ["Too many pods"]}) == \
        "0/2 nodes are available: 1 Insufficient cpu, 1 Insufficient memory, 1 Too many pods."
    assert fit_error_message(0, {}) == "no nodes available to schedule pods"


def test_schedule_raises_fit_error_with_reasons():
    nodes = [node("a", cpu="1"), node("b", cpu="1"),
             node("c", taints=[{"key": "gpu", "value": "true", "effect": "NoSchedule"}])]
    with pytest.raises(FitError) as err:
        Profile().schedule(pod(cpu="2"), nodes)
    assert str(err.value) == ("0/3 nodes are available: 1 node(s) had untolerated taint "
                              "{gpu: true}, 2 Insufficient cpu.")
    with pytest.raises(FitError, match="no nodes available"):
        Profile().schedule(pod(), [])


def test_schedule_picks_the_best_scored_node():
    busy = node("busy")
    busy.add_pod(pod(cpu="3"))
    assert Profile().schedule(pod(), [busy, node("idle")]).name == "idle"


def test_ties_are_broken_at_random_but_all_get_chosen():
    profile = Profile(rng=random.Random(1))
    nodes = [node(f"n{i}") for i in range(4)]
    chosen = {profile.schedule(pod(), nodes).name for _ in range(60)}
    assert chosen == {"n0", "n1", "n2", "n3"}


@EVALUATORS
def test_large_clusters_sample_and_rotate_the_start(evaluator):
    nodes = [node(f"n{i:03}") for i in range(200)]
    calls = []
    counting = types.SimpleNamespace(NAME="Counting",
                                     filter=lambda p, n: calls.append(n.name) or None)
    profile = Profile(modules=[counting], percentage_of_nodes_to_score=0, evaluator=evaluator())
    profile.schedule(pod(), nodes)
    assert len(calls) == 100                                # 200 nodes -> look for 100 feasible
    assert calls[0] == "n000" and profile.next_start_index == 100
    calls.clear()
    profile.schedule(pod(), nodes)
    assert calls[0] == "n100" and profile.next_start_index == 0


@EVALUATORS
def test_infeasible_nodes_do_not_count_toward_the_sample(evaluator):
    nodes = [node(f"n{i:03}", cpu="1" if i % 2 else "8") for i in range(300)]
    looked = []
    spy = types.SimpleNamespace(NAME="Spy", filter=lambda p, n: looked.append(n.name) or None)
    from minikube_py.scheduler.plugins import node_resources_fit
    # 10% of 300 nodes is 30, but never fewer than 100 feasible ones are looked for;
    # only every other node fits, so 199 nodes are filtered to find 100.
    profile = Profile(modules=[spy, node_resources_fit], percentage_of_nodes_to_score=10,
                      evaluator=evaluator())
    profile.schedule(pod(cpu="2"), nodes)
    assert len(looked) == 199


def test_pre_filter_skips_plugins_with_nothing_to_check():
    boom = types.SimpleNamespace(NAME="Boom", pre_filter=lambda p: False,
                                 filter=lambda p, n: 1 / 0)
    assert Profile(modules=[boom]).schedule(pod(), [node("a")]).name == "a"


@EVALUATORS
def test_a_crashing_plugin_becomes_a_plugin_error(evaluator):
    boom = types.SimpleNamespace(NAME="Boom", filter=lambda p, n: 1 / 0)
    with pytest.raises(PluginError, match="ZeroDivisionError") as err:
        Profile(modules=[boom], evaluator=evaluator()).schedule(pod(), [node("a")])
    assert not err.value.bad_spec
    bad_score = types.SimpleNamespace(NAME="Bad", score=lambda p, n: 101)
    with pytest.raises(PluginError, match="outside 0..100"):
        Profile(modules=[bad_score], weights={"Bad": 1}, evaluator=evaluator()).schedule(
            pod(), [node("a"), node("b")])
    crash_score = types.SimpleNamespace(NAME="Crash", score=lambda p, n: 1 / 0)
    with pytest.raises(PluginError, match="running score plugins: ZeroDivisionError"):
        Profile(modules=[crash_score], weights={"Crash": 1}, evaluator=evaluator()).schedule(
            pod(), [node("a"), node("b")])


def test_bad_pod_spec_is_a_bad_spec_plugin_error():
    p = pod(affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "a", "operator": "Gt",
                                                     "values": ["x"]}]}]}}})
    with pytest.raises(PluginError) as err:
        Profile().schedule(p, [node("a")])
    assert err.value.bad_spec
    assert "nodeSelectorTerms[0]" in str(err.value) and "integer" in str(err.value)


def test_weights_change_the_winner_and_zero_disables():
    soft = node("soft", taints=[{"key": "spot", "value": "", "effect": "PreferNoSchedule"}])
    busy = node("busy")
    busy.add_pod(pod(cpu="3"))
    # TaintToleration (weight 3) outweighs the cpu difference: busy wins
    assert Profile().schedule(pod(), [soft, busy]).name == "busy"
    # without it, the emptier (tainted) node wins
    assert Profile(weights={"TaintToleration": 0}).schedule(pod(), [soft, busy]).name == "soft"


def test_percentage_is_validated():
    with pytest.raises(ValueError):
        Profile(percentage_of_nodes_to_score=101)
