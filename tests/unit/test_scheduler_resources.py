"""Pod requests as Kubernetes computes them: max(sum of apps, each init) + overhead."""
import pytest

from minikube_py.scheduler.framework import NodeInfo, PodInfo, PodSpecError
from minikube_py.scheduler.resources import (DEFAULT_MEMORY_REQUEST, ResourceError, amount,
                                             pod_requests, resource_list)


def c(name, **requests):
    names = {"nvidia_com_gpu": "nvidia.com/gpu"}
    return {"name": name, "resources": {"requests": {names.get(k, k): v for k, v in requests.items()}}}


def test_amounts_are_integers_in_the_right_unit():
    assert amount("cpu", "250m") == 250
    assert amount("cpu", 2) == 2000
    assert amount("cpu", "0.1") == 100
    assert amount("memory", "1Gi") == 2 ** 30
    assert amount("memory", "1.5k") == 1500
    assert amount("nvidia.com/gpu", "2") == 2
    assert amount("cpu", "1u") == 1            # rounded up, never down to 0


def test_bad_amounts_raise_resource_error():
    for bad in ("abc", "-1", [1], "1Q"):
        with pytest.raises(ResourceError):
            amount("cpu", bad)
    with pytest.raises(ResourceError, match=r"requests\[memory\]"):
        resource_list({"memory": "lots"}, "requests")
    with pytest.raises(ResourceError):
        resource_list(["cpu"], "requests")


def test_sum_of_app_containers():
    spec = {"containers": [c("a", cpu="100m", memory="64Mi"), c("b", cpu="200m", nvidia_com_gpu="1")]}
    assert pod_requests(spec) == {"cpu": 300, "memory": 64 * 2 ** 20, "nvidia.com/gpu": 1}


def test_init_containers_count_by_the_largest_one():
    spec = {"initContainers": [c("i1", cpu="2"), c("i2", memory="1Gi")],
            "containers": [c("a", cpu="500m", memory="128Mi")]}
    assert pod_requests(spec) == {"cpu": 2000, "memory": 2 ** 30}


def test_sidecars_add_to_apps_and_to_later_init_containers():
    sidecar = dict(c("proxy", cpu="100m"), restartPolicy="Always")
    spec = {"initContainers": [sidecar, c("migrate", cpu="1")],
            "containers": [c("a", cpu="200m")]}
    # migrate runs beside the sidecar: 1100m; apps run beside it: 300m
    assert pod_requests(spec)["cpu"] == 1100
    spec["initContainers"][1] = c("migrate", cpu="100m")
    assert pod_requests(spec)["cpu"] == 300


def test_overhead_is_added():
    spec = {"containers": [c("a", cpu="100m")], "overhead": {"cpu": "50m"}}
    assert pod_requests(spec)["cpu"] == 150


def test_nonzero_defaults_fill_only_missing_requests():
    spec = {"containers": [c("a"), c("b", cpu="0"), {"name": "d"}]}
    nz = pod_requests(spec, {"cpu": 100, "memory": DEFAULT_MEMORY_REQUEST})
    assert nz["cpu"] == 200                      # b asked for 0 explicitly
    assert nz["memory"] == 3 * DEFAULT_MEMORY_REQUEST


def test_podinfo_strict_raises_and_lenient_counts_zero():
    pod = {"metadata": {"name": "p", "namespace": "ns"},
           "spec": {"containers": [c("a", cpu="lots")]}}
    with pytest.raises(PodSpecError, match="cpu"):
        PodInfo(pod)
    lenient = PodInfo(pod, strict=False)
    assert lenient.requests == {} and lenient.key == "ns/p"


def test_podinfo_reads_owner_ports_tolerations():
    pod = {"metadata": {"name": "p", "namespace": "ns",
                        "ownerReferences": [{"kind": "ReplicaSet", "uid": "rs1", "controller": True}]},
           "spec": {"containers": [{"name": "a", "ports": [{"containerPort": 80, "hostPort": 8080},
                                                            {"containerPort": 81}]}],
                    "tolerations": [{"key": "k", "operator": "Exists"}], "priority": 7}}
    info = PodInfo(pod)
    assert info.owner_uid == "rs1" and info.priority == 7
    assert info.host_ports == [("0.0.0.0", "TCP", 8080)]
    assert info.tolerations == [{"key": "k", "operator": "Exists"}]
    with pytest.raises(PodSpecError):
        PodInfo({"metadata": {"name": "x"}, "spec": {"tolerations": "all"}})


def test_nodeinfo_counts_pods_and_uncounts_them():
    node = NodeInfo({"metadata": {"name": "n", "labels": {"a": "b"}},
                     "spec": {"unschedulable": True},
                     "status": {"allocatable": {"cpu": "2", "memory": "1Gi", "pods": "3", "bad": "x"},
                                "conditions": [{"type": "Ready", "status": "False"}]}})
    assert node.allocatable == {"cpu": 2000, "memory": 2 ** 30, "pods": 3}   # "bad" skipped
    assert node.unschedulable and node.ready == "False" and node.labels == {"a": "b"}
    pod = PodInfo({"metadata": {"name": "p", "namespace": "ns",
                                "ownerReferences": [{"uid": "o", "controller": True}]},
                   "spec": {"containers": [{"name": "a", "resources": {"requests": {"cpu": "500m"}},
                                            "ports": [{"containerPort": 1, "hostPort": 99}]}]}})
    generation = node.generation
    node.add_pod(pod)
    assert node.generation != generation
    assert node.requested == {"cpu": 500, "memory": 0}
    assert node.nonzero_requested["memory"] == DEFAULT_MEMORY_REQUEST
    assert node.used_ports == {("TCP", 99): {"0.0.0.0": 1}} and node.owner_counts == {"o": 1}
    assert node.remove_pod("ns/p") is pod
    assert node.requested == {"cpu": 0, "memory": 0}
    assert node.used_ports == {} and node.owner_counts == {}
    assert node.remove_pod("ns/p") is None


def test_node_capacity_is_used_when_allocatable_is_missing():
    node = NodeInfo({"metadata": {"name": "n"}, "status": {"capacity": {"cpu": "1"}}})
    assert node.allocatable == {"cpu": 1000, "memory": 0, "pods": 0} and node.ready is None
