"""RequestInfo: what authorization reads from a URL, as Kubernetes' RequestInfoFactory."""
import pytest

from minikube_py.apiserver.auth.requestinfo import parse

R = True       # a resource request
N = False      # a non-resource request

CASES = [
    # method, path, query → resource?, verb, group, version, namespace, resource, subresource, name
    ("GET", "/api/v1/namespaces/ns/pods", "", R, "list", "", "v1", "ns", "pods", "", ""),
    ("GET", "/api/v1/namespaces/ns/pods", "watch=1", R, "watch", "", "v1", "ns", "pods", "", ""),
    ("GET", "/api/v1/namespaces/ns/pods", "watch=true&resourceVersion=5", R, "watch", "", "v1", "ns", "pods", "", ""),
    ("GET", "/api/v1/watch/namespaces/ns/pods", "", R, "watch", "", "v1", "ns", "pods", "", ""),
    ("GET", "/api/v1/watch/namespaces/ns/pods/p1", "", R, "watch", "", "v1", "ns", "pods", "", "p1"),
    ("GET", "/api/v1/namespaces/ns/pods", "fieldSelector=metadata.name%3Dp1&watch=1",
     R, "watch", "", "v1", "ns", "pods", "", "p1"),
    ("GET", "/api/v1/pods", "", R, "list", "", "v1", "", "pods", "", ""),
    ("GET", "/api/v1/namespaces/ns/pods/p1", "", R, "get", "", "v1", "ns", "pods", "", "p1"),
    ("HEAD", "/api/v1/namespaces/ns/pods/p1", "", R, "get", "", "v1", "ns", "pods", "", "p1"),
    ("POST", "/api/v1/namespaces/ns/pods", "", R, "create", "", "v1", "ns", "pods", "", ""),
    ("PUT", "/api/v1/namespaces/ns/pods/p1/status", "", R, "update", "", "v1", "ns", "pods", "status", "p1"),
    ("PATCH", "/apis/apps/v1/namespaces/ns/deployments/d/scale", "", R, "patch", "apps", "v1", "ns",
     "deployments", "scale", "d"),
    ("DELETE", "/api/v1/namespaces/ns/pods/p1", "", R, "delete", "", "v1", "ns", "pods", "", "p1"),
    ("DELETE", "/api/v1/namespaces/ns/pods", "labelSelector=a%3Db", R, "deletecollection", "", "v1", "ns",
     "pods", "", ""),
    ("GET", "/api/v1/namespaces/ns/pods/p1/log", "follow=true", R, "get", "", "v1", "ns", "pods", "log", "p1"),
    ("POST", "/api/v1/namespaces/ns/pods/p1/exec", "command=ls", R, "create", "", "v1", "ns", "pods", "exec", "p1"),
    ("GET", "/api/v1/nodes/n1/proxy/stats/summary", "", R, "get", "", "v1", "", "nodes", "proxy", "n1"),
    ("GET", "/api/v1/proxy/nodes/n1/stats", "", R, "proxy", "", "v1", "", "nodes", "", "n1"),
    ("GET", "/api/v1/nodes", "", R, "list", "", "v1", "", "nodes", "", ""),
    # a namespace is itself a resource; its status and finalize are its subresources
    ("GET", "/api/v1/namespaces", "", R, "list", "", "v1", "", "namespaces", "", ""),
    ("GET", "/api/v1/namespaces/ns", "", R, "get", "", "v1", "ns", "namespaces", "", "ns"),
    ("PUT", "/api/v1/namespaces/ns/finalize", "", R, "update", "", "v1", "ns", "namespaces", "finalize", "ns"),
    ("GET", "/api/v1/namespaces/ns/status", "", R, "get", "", "v1", "ns", "namespaces", "status", "ns"),
    ("POST", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", "", R, "create",
     "authorization.k8s.io", "v1", "", "selfsubjectaccessreviews", "", ""),
    ("GET", "/apis/rbac.authorization.k8s.io/v1/clusterroles/view", "", R, "get",
     "rbac.authorization.k8s.io", "v1", "", "clusterroles", "", "view"),
    # discovery and everything outside /api, /apis are non-resource paths
    ("GET", "/api", "", N, "get", "", "", "", "", "", ""),
    ("GET", "/api/v1", "", N, "get", "", "", "", "", "", ""),
    ("GET", "/apis/apps", "", N, "get", "", "", "", "", "", ""),
    ("GET", "/apis/apps/v1", "", N, "get", "", "", "", "", "", ""),
    ("GET", "/healthz", "", N, "get", "", "", "", "", "", ""),
    ("GET", "/version", "", N, "get", "", "", "", "", "", ""),
    ("POST", "/openapi/v2", "", N, "post", "", "", "", "", "", ""),
    ("GET", "/", "", N, "get", "", "", "", "", "", ""),
]


@pytest.mark.parametrize("method,path,query,resource_request,verb,group,version,namespace,resource,sub,name",
                         CASES)
def test_request_info(method, path, query, resource_request, verb, group, version, namespace, resource,
                      sub, name):
    info = parse(path, method, query)
    assert info.path == path
    assert (info.is_resource_request, info.verb) == (resource_request, verb)
    if resource_request:
        assert (info.api_prefix, info.api_group, info.api_version) == (path.split("/")[1], group, version)
    assert (info.namespace, info.resource, info.subresource, info.name) == (namespace, resource, sub, name)


def test_a_watch_value_the_apiserver_does_not_serve_as_a_watch_is_a_list():
    assert parse("/api/v1/pods", "GET", "watch=0").verb == "list"
    assert parse("/api/v1/pods", "GET", "watch=false").verb == "list"


def test_a_name_field_selector_that_is_not_an_equality_names_nothing():
    assert parse("/api/v1/pods", "GET", "fieldSelector=metadata.name%21%3Dp1").name == ""
