"""The EndpointSlice controller against the real apiserver (real etcd), read by the real kubectl.

kubectl 1.32's `describe svc` lists a Service's endpoints from its EndpointSlices. Pods are
made Running and Ready by tests/fakekubelet.py (each gets an IP), as a kubelet would report them.
"""
from __future__ import annotations

import json

import pytest

from fakekubelet import FakeKubelet
from polling import wait_for


@pytest.fixture(scope="module")
def controllers(controller_manager):
    return controller_manager(["replicaset", "deployment", "endpointslice", "garbagecollector"])


def slices(kubectl, namespace, service):
    out = kubectl("get", "endpointslices", "-n", namespace, "-l", f"kubernetes.io/service-name={service}",
                  "-o", "json")
    return json.loads(out.stdout)["items"]


def addresses(items, ready=True):
    return sorted(a for s in items for e in s.get("endpoints") or [] for a in e["addresses"]
                  if e["conditions"]["ready"] == ready)


def pod_ips(client, namespace):
    return sorted(p["status"].get("podIP") for p in
                  client.list("pods", namespace=namespace, label_selector="app=web")["items"]
                  if not p["metadata"].get("deletionTimestamp"))


def test_a_service_gets_slices_that_follow_its_pods(controllers, api_client, kubectl, namespace):
    with FakeKubelet(api_client, namespace, node="node-a"):
        kubectl("create", "deployment", "web", "--image=nginx", "--replicas=3", "--port=80", "-n", namespace)
        kubectl("expose", "deploy", "web", "--port", "80", "-n", namespace)
        items = wait_for(lambda: len(addresses(slices(kubectl, namespace, "web"))) == 3
                         and slices(kubectl, namespace, "web"), what="3 ready endpoints in slices")
        assert addresses(items) == pod_ips(api_client, namespace)
        es = items[0]
        assert es["addressType"] == "IPv4" and es["ports"] == [{"name": "", "port": 80, "protocol": "TCP"}]
        assert es["metadata"]["labels"]["endpointslice.kubernetes.io/managed-by"] == \
            "endpointslice-controller.k8s.io"
        assert es["metadata"]["ownerReferences"][0]["kind"] == "Service"
        ep = es["endpoints"][0]
        assert ep["nodeName"] == "node-a" and ep["targetRef"]["kind"] == "Pod"
        assert ep["conditions"] == {"ready": True, "serving": True, "terminating": False}

        described = kubectl("describe", "svc", "web", "-n", namespace).stdout
        line = next(row for row in described.splitlines() if row.startswith("Endpoints:"))
        assert sorted(line.split(None, 1)[1].split(",")) == [f"{ip}:80" for ip in pod_ips(api_client, namespace)]

        kubectl("scale", "deploy", "web", "--replicas=1", "-n", namespace)
        wait_for(lambda: addresses(slices(kubectl, namespace, "web")) == pod_ips(api_client, namespace)
                 and len(pod_ips(api_client, namespace)) == 1, what="1 endpoint after scaling down")

        # a slice deleted by hand comes back; the Service's deletion takes its slices along
        name = slices(kubectl, namespace, "web")[0]["metadata"]["name"]
        kubectl("delete", "endpointslice", name, "-n", namespace)
        wait_for(lambda: len(addresses(slices(kubectl, namespace, "web"))) == 1, what="the slice made again")
        kubectl("delete", "svc", "web", "-n", namespace)
        wait_for(lambda: slices(kubectl, namespace, "web") == [], what="no slices without the Service")
