"""The quota evaluators, scopes and resource arithmetic (minikube_py/quota/), one function at a time."""
from __future__ import annotations

from fractions import Fraction

from minikube_py.apiserver.limitranger import max_problem, max_request_problem, min_problem, ratio_problem
from minikube_py.quota import resources, scopes
from minikube_py.quota.evaluators import (PodEvaluator, ServiceEvaluator, evaluator_for, is_terminal,
                                          resource_of, usage_of_all)


def pod(*containers, init=(), phase=None, **spec):
    p = {"metadata": {"name": "p", "namespace": "ns"},
         "spec": {"containers": [{"name": f"c{i}", "resources": r} for i, r in enumerate(containers)],
                  "initContainers": [{"name": f"i{i}", "resources": r} for i, r in enumerate(init)], **spec}}
    if phase:
        p["status"] = {"phase": phase}
    return p


def quota(hard, used=None, **spec):
    return {"metadata": {"name": "q", "namespace": "ns"}, "spec": {"hard": hard, **spec},
            "status": {"hard": hard, "used": used or {k: "0" for k in hard}}}


def test_pod_usage_counts_requests_limits_and_extended_resources_as_requests():
    p = pod({"requests": {"cpu": "250m", "memory": "64Mi"}, "limits": {"cpu": "500m", "nvidia.com/gpu": "2"}},
            {"requests": {"cpu": "250m", "nvidia.com/gpu": "2"}})
    usage = resources.to_strings(PodEvaluator().usage(p))
    assert usage == {"count/pods": "1", "pods": "1", "cpu": "500m", "requests.cpu": "500m", "limits.cpu": "500m",
                     "memory": "64Mi", "requests.memory": "64Mi", "requests.nvidia.com/gpu": "2"}
    assert "limits.nvidia.com/gpu" not in usage and "nvidia.com/gpu" not in usage


def test_init_containers_count_as_their_largest_and_overhead_adds():
    p = pod({"requests": {"cpu": "100m"}}, init=[{"requests": {"cpu": "1"}}], overhead={"cpu": "10m"})
    assert PodEvaluator().usage(p)["requests.cpu"] == Fraction(101, 100)


def test_terminal_pods_use_only_their_object_count():
    assert PodEvaluator().usage(pod({"requests": {"cpu": "1"}}, phase="Succeeded")) == {"count/pods": 1}
    assert is_terminal(pod(phase="Failed"))
    gone = pod()
    gone["metadata"].update(deletionTimestamp="2020-01-01T00:00:00Z", deletionGracePeriodSeconds=30)
    assert is_terminal(gone) and not is_terminal(pod())


def test_matching_resources_and_object_counts():
    pods = PodEvaluator()
    assert pods.matching({"pods", "requests.cpu", "limits.memory", "requests.nvidia.com/gpu", "services",
                          "count/pods", "requests.storage"}) == \
        {"pods", "requests.cpu", "limits.memory", "requests.nvidia.com/gpu", "count/pods"}
    deployments = evaluator_for("apps", "deployments")
    assert deployments.matching({"count/deployments.apps", "pods"}) == {"count/deployments.apps"}
    assert deployments.usage({}) == {"count/deployments.apps": 1}
    assert evaluator_for("", "configmaps").usage({}) == {"configmaps": 1, "count/configmaps": 1}
    assert resource_of("count/deployments.apps") == ("apps", "deployments")
    assert resource_of("secrets") == ("", "secrets") and resource_of("requests.cpu") is None


def test_services_use_node_ports_and_load_balancers():
    svc = {"spec": {"type": "NodePort", "ports": [{"port": 80}, {"port": 443}]}}
    usage = ServiceEvaluator().usage(svc)
    assert (usage["services"], usage["services.nodeports"], usage["services.loadbalancers"]) == (1, 2, 0)


def test_a_quota_applies_once_counted_and_only_in_its_scopes():
    pods = PodEvaluator()
    uncounted = quota({"pods": "1"})
    uncounted["status"] = {}
    assert not pods.matches(uncounted, pod())
    best_effort = quota({"pods": "1"}, scopes=["BestEffort"])
    assert pods.matches(best_effort, pod({}))
    assert not pods.matches(best_effort, pod({"requests": {"cpu": "1m"}}))
    not_best = quota({"pods": "1"}, scopes=["NotBestEffort"])
    assert pods.matches(not_best, pod({"limits": {"memory": "1Mi"}}))
    terminating = quota({"pods": "1"}, scopes=["Terminating"])
    assert pods.matches(terminating, pod({}, activeDeadlineSeconds=30))
    assert not pods.matches(terminating, pod({}))
    # scopes select pods only: a scoped quota counts no configmaps
    assert not evaluator_for("", "configmaps").matches(quota({"configmaps": "1"}, scopes=["BestEffort"]), {})
    assert evaluator_for("", "configmaps").matches(quota({"configmaps": "1"}), {})


def test_priority_class_scope_selector():
    def sel(op, *values):
        return {"scopeName": "PriorityClass", "operator": op, **({"values": list(values)} if values else {})}
    high, none = pod(priorityClassName="high"), pod()
    assert scopes.pod_matches(sel("In", "high", "low"), high) and not scopes.pod_matches(sel("In", "high"), none)
    assert scopes.pod_matches(sel("NotIn", "low"), high) and scopes.pod_matches(sel("NotIn", "low"), none)
    assert scopes.pod_matches(sel("Exists"), high) and not scopes.pod_matches(sel("Exists"), none)
    assert not scopes.pod_matches(sel("DoesNotExist"), none)     # as upstream: the key is always there


def test_constraints_name_each_missing_amount_and_its_containers():
    pods = PodEvaluator()
    p = pod({"requests": {"cpu": "1"}}, {})
    assert pods.constraints({"requests.cpu", "limits.memory", "pods"}, p) == \
        "must specify limits.memory for: c0,c1; requests.cpu for: c1"
    assert pods.constraints({"pods", "requests.nvidia.com/gpu"}, p) is None


def test_the_controller_recount_sums_what_is_in_scope():
    q = quota({"pods": "5", "requests.cpu": "2"})
    pods = [pod({"requests": {"cpu": "500m"}}), pod({"requests": {"cpu": "1"}}),
            pod({"requests": {"cpu": "1"}}, phase="Succeeded")]
    assert resources.to_strings(usage_of_all(PodEvaluator(), q, pods)) == {"pods": "2", "requests.cpu": "1500m"}


def test_amounts_are_written_as_kubernetes_quantities():
    f = resources.format_amount
    assert [f("requests.cpu", Fraction(1, 2)), f("requests.cpu", Fraction(2)), f("pods", Fraction(10)),
            f("count/pods", Fraction(1000)), f("limits.memory", Fraction(3 * 2**27)),
            f("requests.memory", Fraction(10**9)), f("requests.cpu", Fraction(3, 2))] == \
        ["500m", "2", "10", "1k", "384Mi", "1G", "1500m"]
    assert resources.pretty({"requests.cpu": Fraction(1, 4), "pods": Fraction(1)}) == "pods=1,requests.cpu=250m"
    assert resources.exceeded({"pods": Fraction(11), "cpu": Fraction(1)}, {"pods": Fraction(10)}) == ["pods"]


def test_limit_range_messages():
    assert max_problem("Container", "cpu", "1", {}, {"cpu": "2"}) == "maximum cpu usage per Container is 1, but limit is 2"
    assert max_problem("Pod", "memory", "1Gi", {}, {}) == "maximum memory usage per Pod is 1Gi.  No limit is specified"
    assert min_problem("Container", "cpu", "100m", {"cpu": "50m"}, {}) == \
        "minimum cpu usage per Container is 100m, but request is 50m"
    assert ratio_problem("Container", "cpu", "2", {"cpu": "100m"}, {"cpu": "500m"}) == \
        "cpu max limit to request ratio per Container is 2, but provided ratio is 5.000000"
    assert ratio_problem("Container", "cpu", "2", {"cpu": "100m"}, {"cpu": "200m"}) is None


def test_claims_use_storage_in_total_and_per_class():
    claim = {"metadata": {"annotations": {}}, "spec": {"storageClassName": "gold",
                                                       "resources": {"requests": {"storage": "1Gi"}}},
             "status": {"allocatedResources": {"storage": "2Gi"}}}
    ev = evaluator_for("", "persistentvolumeclaims")
    assert resources.to_strings(ev.usage(claim)) == {
        "persistentvolumeclaims": "1", "count/persistentvolumeclaims": "1", "requests.storage": "2Gi",
        "gold.storageclass.storage.k8s.io/persistentvolumeclaims": "1",
        "gold.storageclass.storage.k8s.io/requests.storage": "2Gi"}
    assert ev.matching({"requests.storage", "gold.storageclass.storage.k8s.io/requests.storage", "pods"}) == \
        {"requests.storage", "gold.storageclass.storage.k8s.io/requests.storage"}
    assert resource_of("silver.storageclass.storage.k8s.io/persistentvolumeclaims") == ("", "persistentvolumeclaims")
    assert max_request_problem("PersistentVolumeClaim", "storage", "2Gi", {"storage": "5Gi"}) == \
        "maximum storage usage per PersistentVolumeClaim is 2Gi, but request is 5Gi"


def test_a_recount_that_gives_back_is_told_apart():
    from minikube_py.controllers.resourcequota import went_up
    assert went_up({"pods": "9"}, {"pods": "10"}) and went_up({}, {"pods": "1"})
    assert not went_up({"pods": "10", "requests.cpu": "1"}, {"pods": "10", "requests.cpu": "500m"})
