"""The components' Prometheus metrics (metrics/prometheus.py): kube-apiserver's request labels,
the scheduler's and the work queues' figures read when scraped."""
from werkzeug.datastructures import MultiDict

from minikube_py.client.workqueue import WorkQueue
from minikube_py.metrics.prometheus import (
    RequestMetrics, SchedulerCollector, WorkQueueCollector, registry_with, render, resource_labels,
)
from minikube_py.scheduler.queue import SchedulingQueue


def labels(path, method="GET", query=None, ctype=""):
    parts = [p for p in path.split("/") if p]
    group, version, rest = ("", parts[1], parts[2:]) if parts[0] == "api" else (parts[1], parts[2], parts[3:])
    return resource_labels(group, version, rest, method, MultiDict(query or {}), ctype)


def test_request_labels_as_kube_apiserver_names_them():
    assert labels("/api/v1/namespaces/default/pods") == \
        ("LIST", "", "v1", "pods", "", "namespace", "apiserver")
    assert labels("/api/v1/pods", query={"watch": "true"})[:6] == ("WATCH", "", "v1", "pods", "", "cluster")
    assert labels("/api/v1/namespaces/default/pods/web/status", "PUT")[:6] == \
        ("PUT", "", "v1", "pods", "status", "namespace")
    assert labels("/api/v1/nodes/n1")[0:6] == ("GET", "", "v1", "nodes", "", "resource")
    assert labels("/apis/apps/v1/namespaces/d/deployments", "DELETE")[0] == "DELETECOLLECTION"
    assert labels("/apis/apps/v1/namespaces/d/deployments/x", "PATCH",
                  ctype="application/apply-patch+yaml")[0] == "APPLY"
    assert labels("/api/v1/namespaces/kube-system")[:6] == ("GET", "", "v1", "namespaces", "", "resource")


def test_request_metrics_text():
    registry = registry_with()
    m = RequestMetrics(registry)
    m.observe(labels("/api/v1/namespaces/default/pods", "POST"), 201, 0.003)
    m.observe(labels("/api/v1/namespaces/default/pods", "POST"), 201, 0.004)
    m.observe(labels("/api/v1/pods", query={"watch": "1"}), 200, None)
    text = render(registry).decode()
    assert ('apiserver_request_total{code="201",component="apiserver",group="",resource="pods",'
            'scope="namespace",subresource="",verb="POST",version="v1"} 2.0') in text
    assert 'verb="WATCH"' in text and 'code="200"' in text
    assert ('apiserver_request_duration_seconds_count{component="apiserver",group="",resource="pods",'
            'scope="namespace",subresource="",verb="POST",version="v1"} 2.0') in text
    assert 'apiserver_request_duration_seconds_count{component="apiserver",group="",resource="pods",' \
           'scope="cluster",subresource="",verb="WATCH"' not in text      # a watch is not timed


class FakeScheduler:
    name = "default-scheduler"

    def __init__(self):
        self.stats = {"scheduled": 7, "unschedulable": 2, "errors": 1, "bind_failures": 0}
        self.queue = SchedulingQueue()


def test_scheduler_metrics_are_read_from_its_counts_and_queue():
    s = FakeScheduler()
    s.queue.add({"metadata": {"name": "p", "namespace": "d", "uid": "u"}, "spec": {}})
    text = render(registry_with(SchedulerCollector(s))).decode()
    assert 'scheduler_schedule_attempts_total{profile="default-scheduler",result="scheduled"} 7.0' in text
    assert 'scheduler_schedule_attempts_total{profile="default-scheduler",result="error"} 1.0' in text
    assert 'scheduler_pending_pods{queue="active"} 1.0' in text
    assert 'scheduler_pending_pods{queue="unschedulable"} 0.0' in text


def test_workqueue_metrics_count_adds_not_duplicates_and_retries():
    q = WorkQueue("replicaset")
    q.add("a")
    q.add("a")                      # already waiting: not an add
    q.add("b")
    q.add_rate_limited("c")
    text = render(registry_with(WorkQueueCollector(lambda: [q]))).decode()
    assert 'workqueue_depth{name="replicaset"} 2.0' in text
    assert 'workqueue_adds_total{name="replicaset"} 2.0' in text
    assert 'workqueue_retries_total{name="replicaset"} 1.0' in text
