"""The dashboard's records (what the page draws) and the hub's fan-out, without a cluster."""
from minikube_py.dashboard.hub import Hub, Subscriber
from minikube_py.dashboard.server import sse
from minikube_py.dashboard.views import deployment_view, node_view, pod_view, tfjob_view


def gpu_pod(name, gpus, phase="Running"):
    return {"metadata": {"name": name, "namespace": "ml", "uid": "u1",
                         "ownerReferences": [{"kind": "TFJob", "name": "mnist", "controller": True}]},
            "spec": {"nodeName": "node-3",
                     # as stored: the apiserver's defaulting copied the limit into requests
                     "containers": [{"name": "c", "resources": {"limits": {"nvidia.com/gpu": str(gpus)},
                                                                "requests": {"nvidia.com/gpu": str(gpus)}}}]},
            "status": {"phase": phase, "podIP": "10.0.0.7",
                       "containerStatuses": [{"name": "c", "ready": True, "restartCount": 2,
                                              "state": {"running": {}}}]}}


def test_a_pod_record_has_kubectls_status_its_gpus_and_its_controller():
    view = pod_view(gpu_pod("w-0", 2))
    assert view["status"] == "Running" and view["ready"] == "1/1" and view["restarts"] == 2
    assert view["gpus"] == 2 and view["node"] == "node-3"
    assert view["owner"] == {"kind": "TFJob", "name": "mnist"}

    waiting = gpu_pod("w-1", 0, phase="Pending")
    waiting["status"]["containerStatuses"][0].update(ready=False, state={"waiting": {"reason": "CrashLoopBackOff"}})
    waiting["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    view = pod_view(waiting)
    assert (view["status"], view["deleting"], view["gpus"]) == ("Terminating", True, 0)


def test_a_node_record_counts_its_gpu_slots_and_says_notready_as_kubectl():
    node = {"metadata": {"name": "node-3"},
            "spec": {"unschedulable": True, "taints": [{"key": "gpu", "value": "yes", "effect": "NoSchedule"}]},
            "status": {"capacity": {"cpu": "4", "memory": "8Gi", "nvidia.com/gpu": "2"},
                       "allocatable": {"cpu": "4", "memory": "8Gi", "nvidia.com/gpu": "1"},
                       "conditions": [{"type": "Ready", "status": "Unknown"}]}}
    view = node_view(node)
    assert view["status"] == "NotReady,SchedulingDisabled" and view["ready"] == "Unknown"
    assert (view["gpus"], view["gpuCapacity"]) == (1, 2)
    assert view["taints"] == ["gpu=yes:NoSchedule"]


def test_a_deployment_record_shows_its_revision_and_rollout():
    dep = {"metadata": {"name": "nginx", "namespace": "default",
                        "annotations": {"deployment.kubernetes.io/revision": "3"}},
           "spec": {"replicas": 3, "template": {"spec": {"containers": [{"image": "nginx:1.25"}]}}},
           "status": {"updatedReplicas": 1, "readyReplicas": 3, "availableReplicas": 3,
                      "conditions": [{"type": "Progressing", "status": "True",
                                      "reason": "ReplicaSetUpdated"}]}}
    view = deployment_view(dep)
    assert (view["revision"], view["updated"], view["replicas"], view["complete"]) == ("3", 1, 3, False)
    assert view["images"] == ["nginx:1.25"]


def test_a_tfjob_record_has_each_replica_types_counts():
    job = {"metadata": {"name": "mnist", "namespace": "ml"},
           "spec": {"tfReplicaSpecs": {"Worker": {"replicas": 2}, "PS": {}}},
           "status": {"replicaStatuses": {"Worker": {"active": 1, "succeeded": 1}},
                      "conditions": [{"type": "Created", "status": "True"},
                                     {"type": "Running", "status": "True"}]}}
    view = tfjob_view(job)
    assert view["state"] == "Running"
    assert view["replicas"] == {"Worker": {"want": 2, "active": 1, "succeeded": 1}, "PS": {"want": 1}}


def test_the_hub_sends_a_snapshot_then_only_changes_a_page_can_see():
    hub = Hub(client=None)
    hub._changed("pods", gpu_pod("w-0", 1))
    sub, snapshot = hub.subscribe()
    assert list(snapshot["records"]["pods"]) == ["ml/w-0"]

    hub._changed("pods", gpu_pod("w-0", 1))                 # the same record: nothing to send
    assert sub.take(0) == []
    hub._changed("pods", gpu_pod("w-0", 1, phase="Succeeded"))
    hub._deleted("pods", gpu_pod("w-0", 1))
    batch = sub.take(0)
    assert [(m["op"], m["key"]) for m in batch] == [("put", "ml/w-0"), ("delete", "ml/w-0")]
    assert batch[0]["record"]["phase"] == "Succeeded"


def test_a_page_that_falls_behind_is_dropped_to_start_again_from_a_snapshot():
    hub = Hub(client=None)
    sub, _ = hub.subscribe()
    Subscriber.MAX_PENDING, limit = 3, Subscriber.MAX_PENDING
    try:
        for i in range(5):
            hub._changed("pods", gpu_pod(f"w-{i}", 0))
    finally:
        Subscriber.MAX_PENDING = limit
    assert sub.dropped and sub not in hub._subscribers


def test_an_event_stream_message_spans_lines_as_sse_requires():
    assert sse("a\nb", event="end") == b"event: end\ndata: a\ndata: b\n\n"
    assert sse([{"op": "delete"}]) == b'data: [{"op":"delete"}]\n\n'
