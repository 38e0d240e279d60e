"""The Endpoints controller against the real apiserver (real etcd), driven by the real kubectl.

Pods are made Running and Ready by tests/fakekubelet.py (each gets an IP), as a kubelet
would report them.
"""
from __future__ import annotations

import json

import pytest

from fakekubelet import FakeKubelet
from minikube_py.client import errors
from polling import wait_for


@pytest.fixture(scope="module")
def controllers(controller_manager):
    return controller_manager(["replicaset", "deployment", "endpoints"])


def endpoints(kubectl, namespace, name):
    out = kubectl("get", "ep", name, "-n", namespace, "-o", "json", check=False)
    return json.loads(out.stdout) if out.returncode == 0 else None


def ready_ips(ep):
    return sorted(a["ip"] for s in (ep or {}).get("subsets") or [] for a in s.get("addresses") or [])


def pod_ips(client, namespace, label="app=nginx"):
    return sorted(p["status"].get("podIP") for p in
                  client.list("pods", namespace=namespace, label_selector=label)["items"]
                  if not p["metadata"].get("deletionTimestamp"))


def test_expose_a_deployment_and_scale_it(controllers, api_client, kubectl, namespace):
    with FakeKubelet(api_client, namespace, node="node-a"):
        kubectl("create", "deployment", "nginx", "--image=nginx", "--replicas=2", "--port=80", "-n", namespace)
        kubectl("expose", "deploy", "nginx", "--port", "80", "-n", namespace)
        ep = wait_for(lambda: len(ready_ips(endpoints(kubectl, namespace, "nginx"))) == 2
                      and endpoints(kubectl, namespace, "nginx"), what="2 ready endpoints")
        assert ready_ips(ep) == pod_ips(api_client, namespace)
        subset = ep["subsets"][0]
        assert subset["ports"] == [{"port": 80, "protocol": "TCP"}]
        addr = subset["addresses"][0]
        assert addr["nodeName"] == "node-a" and addr["targetRef"]["kind"] == "Pod"
        assert addr["targetRef"]["name"].startswith("nginx-")
        assert ep["metadata"]["labels"] == {"app": "nginx"}
        assert "endpoints.kubernetes.io/last-change-trigger-time" in ep["metadata"]["annotations"]

        rows = kubectl("get", "ep", "-n", namespace).stdout.splitlines()
        assert rows[0].split() == ["NAME", "ENDPOINTS", "AGE"]
        shown = rows[1].split()[1].split(",")
        assert sorted(shown) == [f"{ip}:80" for ip in ready_ips(ep)]

        kubectl("scale", "deploy", "nginx", "--replicas=3", "-n", namespace)
        wait_for(lambda: len(ready_ips(endpoints(kubectl, namespace, "nginx"))) == 3, what="3 endpoints")
        assert ready_ips(endpoints(kubectl, namespace, "nginx")) == pod_ips(api_client, namespace)

        kubectl("scale", "deploy", "nginx", "--replicas=0", "-n", namespace)
        wait_for(lambda: ready_ips(endpoints(kubectl, namespace, "nginx")) == [], what="no endpoints")
        assert kubectl("get", "ep", "nginx", "-n", namespace).stdout.splitlines()[1].split()[1] == "<none>"

        kubectl("delete", "svc", "nginx", "-n", namespace)
        wait_for(lambda: endpoints(kubectl, namespace, "nginx") is None, what="endpoints deleted")


def test_a_pod_that_stops_being_ready_moves_to_not_ready_addresses(controllers, api_client, kubectl,
                                                                   namespace):
    with FakeKubelet(api_client, namespace, node="node-a"):
        kubectl("create", "deployment", "web", "--image=nginx", "--replicas=2", "-n", namespace)
        kubectl("create", "service", "clusterip", "web", "--tcp=80:8080", "-n", namespace)
        wait_for(lambda: len(ready_ips(endpoints(kubectl, namespace, "web"))) == 2, what="2 endpoints")
        pod = api_client.list("pods", namespace=namespace, label_selector="app=web")["items"][0]
    # the (fake) kubelet is gone; we report the readiness probe failing, as a kubelet would
    for cond in pod["status"]["conditions"]:
        if cond["type"] in ("Ready", "ContainersReady"):
            cond["status"] = "False"
    api_client.update_status("pods", pod)
    ep = wait_for(lambda: (e := endpoints(kubectl, namespace, "web")) and
                  any(s.get("notReadyAddresses") for s in e["subsets"]) and e, what="a not-ready address")
    not_ready = [a for s in ep["subsets"] for a in s.get("notReadyAddresses") or []]
    assert [a["ip"] for a in not_ready] == [pod["status"]["podIP"]]
    assert len(ready_ips(ep)) == 1 and pod["status"]["podIP"] not in ready_ips(ep)
    assert ep["subsets"][0]["ports"] == [{"name": "80-8080", "port": 8080, "protocol": "TCP"}]

    kubectl("patch", "svc", "web", "-n", namespace, "-p", '{"spec":{"publishNotReadyAddresses":true}}')
    wait_for(lambda: len(ready_ips(endpoints(kubectl, namespace, "web"))) == 2, what="both published")


def test_named_target_ports_hostnames_and_a_hand_made_endpoints(controllers, api_client, kubectl, namespace):
    def stateful_pod(name, port):
        return {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": name, "labels": {"app": "tf"}},
                "spec": {"hostname": name, "subdomain": "tfjob-svc",
                         "containers": [{"name": "c", "image": "busybox",
                                         "ports": [{"name": "grpc", "containerPort": port}]}]}}
    with FakeKubelet(api_client, namespace, node="node-b"):
        for name, port in (("tf-worker-0", 2222), ("tf-worker-1", 3333)):
            kubectl("create", "-n", namespace, "-f", "-", input=json.dumps(stateful_pod(name, port)))
        kubectl("create", "-n", namespace, "-f", "-", input=json.dumps({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "tfjob-svc"},
            "spec": {"clusterIP": "None", "selector": {"app": "tf"},
                     "ports": [{"name": "grpc", "port": 2222, "targetPort": "grpc"}]}}))
        ep = wait_for(lambda: len(ready_ips(endpoints(kubectl, namespace, "tfjob-svc"))) == 2
                      and endpoints(kubectl, namespace, "tfjob-svc"), what="2 endpoints")
    by_host = {s["addresses"][0]["hostname"]: s["ports"][0]["port"] for s in ep["subsets"]}
    assert by_host == {"tf-worker-0": 2222, "tf-worker-1": 3333}      # one subset per port number
    assert ep["metadata"]["labels"] == {"service.kubernetes.io/headless": ""}

    # A Service without a selector: its Endpoints are the user's, and stay as written.
    kubectl("create", "-n", namespace, "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "external"},
        "spec": {"ports": [{"port": 80}]}}))
    kubectl("create", "-n", namespace, "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "external"},
        "subsets": [{"addresses": [{"ip": "192.0.2.10"}], "ports": [{"port": 80}]}]}))
    kubectl("annotate", "svc", "external", "-n", namespace, "touched=yes")   # wakes the controller
    rv = endpoints(kubectl, namespace, "external")["metadata"]["resourceVersion"]
    kubectl("delete", "svc", "tfjob-svc", "-n", namespace)
    wait_for(lambda: endpoints(kubectl, namespace, "tfjob-svc") is None, what="endpoints deleted")
    ep = endpoints(kubectl, namespace, "external")
    assert ep["metadata"]["resourceVersion"] == rv and ready_ips(ep) == ["192.0.2.10"]


def test_deleted_endpoints_come_back(controllers, api_client, kubectl, namespace):
    with FakeKubelet(api_client, namespace):
        kubectl("run", "solo", "--image=nginx", "--labels=app=solo", "-n", namespace)
        kubectl("create", "service", "clusterip", "solo", "--tcp=80:80", "-n", namespace)
        first = wait_for(lambda: ready_ips(endpoints(kubectl, namespace, "solo")) and
                         endpoints(kubectl, namespace, "solo"), what="an endpoint")
        try:
            api_client.delete("endpoints", "solo", namespace=namespace)
        except errors.NotFound:
            pass
        again = wait_for(lambda: (e := endpoints(kubectl, namespace, "solo")) and
                         e["metadata"]["uid"] != first["metadata"]["uid"] and e, what="endpoints again")
        assert ready_ips(again) == ready_ips(first)
