"""Resource registry: names -> REST paths."""

import pytest

from minikube_py.client.resources import ResourceInfo, lookup, register_resource
from minikube_py.client.rest import resource_path


@pytest.mark.parametrize("resource, ns, name, sub, path", [
    ("pods", "default", None, None, "/api/v1/namespaces/default/pods"),
    ("pods", None, None, None, "/api/v1/pods"),
    ("po", "kube-system", "web-1", None, "/api/v1/namespaces/kube-system/pods/web-1"),
    ("Pod", "d", "p", "status", "/api/v1/namespaces/d/pods/p/status"),
    ("pod", "d", "p", "binding", "/api/v1/namespaces/d/pods/p/binding"),
    ("pods", "d", "p", "log", "/api/v1/namespaces/d/pods/p/log"),
    ("nodes", "ignored", "node-1", None, "/api/v1/nodes/node-1"),
    ("no", None, None, None, "/api/v1/nodes"),
    ("Node", None, "n", "status", "/api/v1/nodes/n/status"),
    ("ns", None, "team", None, "/api/v1/namespaces/team"),
    ("namespaces", None, None, None, "/api/v1/namespaces"),
    ("ev", "d", None, None, "/api/v1/namespaces/d/events"),
    ("events", None, None, None, "/api/v1/events"),
    ("services", "d", "s", None, "/api/v1/namespaces/d/services/s"),
    ("configmaps", "d", None, None, "/api/v1/namespaces/d/configmaps"),
    ("resourcequotas", "d", "q", "status", "/api/v1/namespaces/d/resourcequotas/q/status"),
    ("leases", "kube-node-lease", "n1", None,
     "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/n1"),
    ("deploy", "d", "web", "scale", "/apis/apps/v1/namespaces/d/deployments/web/scale"),
    ("Deployment", None, None, None, "/apis/apps/v1/deployments"),
    ("deployments.apps", "d", None, None, "/apis/apps/v1/namespaces/d/deployments"),
    ("rs", "d", "web-abc", None, "/apis/apps/v1/namespaces/d/replicasets/web-abc"),
    ("replicasets", "d", None, None, "/apis/apps/v1/namespaces/d/replicasets"),
    ("jobs", "d", "j", "status", "/apis/batch/v1/namespaces/d/jobs/j/status"),
    ("tfjobs", "d", "mnist", None, "/apis/kubeflow.org/v1/namespaces/d/tfjobs/mnist"),
    ("TFJob", "d", None, None, "/apis/kubeflow.org/v1/namespaces/d/tfjobs"),
])
def test_resource_path(resource, ns, name, sub, path):
    assert resource_path(resource, ns, name, sub) == path


def test_names_are_quoted():
    assert resource_path("pods", "d", "a/b") == "/api/v1/namespaces/d/pods/a%2Fb"


def test_unknown_resource():
    with pytest.raises(KeyError, match="unknown resource"):
        resource_path("widgets")


def test_subresource_needs_a_name():
    with pytest.raises(ValueError):
        resource_path("pods", "d", None, "status")


def test_lookup_info():
    info = lookup("deploy")
    assert (info.kind, info.group, info.api_version, info.namespaced) == \
        ("Deployment", "apps", "apps/v1", True)
    assert lookup("leases").api_version == "coordination.k8s.io/v1"
    assert lookup("ns").namespaced is False


def test_register_resource():
    register_resource(ResourceInfo("widgets", "Widget", group="example.com",
                                   version="v1alpha1", short_names=("wd",)))
    assert resource_path("wd", "d", "w") == "/apis/example.com/v1alpha1/namespaces/d/widgets/w"
