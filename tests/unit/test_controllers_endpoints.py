"""The Endpoints controller's pure parts: which pods and ports a Service's Endpoints list."""
from datetime import datetime, timezone

from minikube_py.controllers.endpoints import (HEADLESS, TriggerTimeTracker, desired_subsets,
                                               endpoints_labels, find_port, format_trigger_time,
                                               truncate)


def service(name="web", ports=None, selector=None, **spec):
    return {"metadata": {"name": name, "namespace": "ns", "labels": {"app": "web"},
                         "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": {"selector": selector or {"app": "web"}, "clusterIP": "10.96.0.5",
                     "ports": ports if ports is not None else [{"port": 80, "targetPort": 8080,
                                                                 "protocol": "TCP"}], **spec}}


def pod(name, ip, ready=True, node="node-1", ports=None, deleting=False, phase="Running", **spec):
    md = {"name": name, "namespace": "ns", "uid": f"uid-{name}", "labels": {"app": "web"}}
    if deleting:
        md["deletionTimestamp"] = "2024-01-01T00:00:00Z"
    return {"metadata": md,
            "spec": {"nodeName": node, "containers": [{"name": "c", "ports": ports or []}], **spec},
            "status": {"phase": phase, "podIP": ip,
                       "conditions": [{"type": "Ready", "status": "True" if ready else "False",
                                       "lastTransitionTime": "2024-01-01T00:00:05Z"}]}}


def ref(name):
    return {"kind": "Pod", "namespace": "ns", "name": name, "uid": f"uid-{name}"}


def test_ready_and_not_ready_pods_with_their_ports():
    subsets = desired_subsets(service(), [pod("b", "10.1.0.3"), pod("a", "10.1.0.2"),
                                          pod("c", "10.1.0.4", ready=False)])
    assert subsets == [{
        "addresses": [{"ip": "10.1.0.2", "nodeName": "node-1", "targetRef": ref("a")},
                      {"ip": "10.1.0.3", "nodeName": "node-1", "targetRef": ref("b")}],
        "notReadyAddresses": [{"ip": "10.1.0.4", "nodeName": "node-1", "targetRef": ref("c")}],
        "ports": [{"port": 8080, "protocol": "TCP"}]}]


def test_publish_not_ready_addresses_counts_every_pod_ready_and_keeps_terminating_ones():
    svc = service(publishNotReadyAddresses=True)
    subsets = desired_subsets(svc, [pod("a", "10.1.0.2", ready=False), pod("b", "10.1.0.3", deleting=True)])
    assert [a["ip"] for a in subsets[0]["addresses"]] == ["10.1.0.2", "10.1.0.3"]
    assert "notReadyAddresses" not in subsets[0]


def test_pods_without_ip_finished_or_being_deleted_are_left_out():
    pods = [pod("a", ""), pod("b", "10.1.0.3", phase="Succeeded"), pod("c", "10.1.0.4", deleting=True)]
    assert desired_subsets(service(), pods) == []


def test_named_target_ports_resolve_per_pod_into_separate_subsets():
    svc = service(ports=[{"name": "http", "port": 80, "targetPort": "web", "protocol": "TCP"}])
    pods = [pod("a", "10.1.0.2", ports=[{"name": "web", "containerPort": 8080}]),
            pod("b", "10.1.0.3", ports=[{"name": "web", "containerPort": 9090}]),
            pod("c", "10.1.0.4", ports=[{"name": "other", "containerPort": 7070}])]   # no such port
    subsets = desired_subsets(svc, pods)
    assert sorted((s["addresses"][0]["ip"], s["ports"]) for s in subsets) == [
        ("10.1.0.2", [{"name": "http", "port": 8080, "protocol": "TCP"}]),
        ("10.1.0.3", [{"name": "http", "port": 9090, "protocol": "TCP"}])]


def test_ports_shared_by_the_same_pods_share_one_subset():
    svc = service(ports=[{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"},
                         {"name": "dns", "port": 53, "targetPort": "dns", "protocol": "UDP"}])
    pods = [pod(n, ip, ports=[{"name": "dns", "containerPort": 5353, "protocol": "UDP"}])
            for n, ip in (("a", "10.1.0.2"), ("b", "10.1.0.3"))]
    subsets = desired_subsets(svc, pods)
    assert len(subsets) == 1 and [p["name"] for p in subsets[0]["ports"]] == ["dns", "http"]
    assert subsets[0]["ports"][0] == {"name": "dns", "port": 5353, "protocol": "UDP"}


def test_a_named_port_must_match_the_protocol_too():
    assert find_port(pod("a", "1.2.3.4", ports=[{"name": "dns", "containerPort": 53, "protocol": "UDP"}]),
                     {"port": 53, "targetPort": "dns", "protocol": "TCP"}) is None


def test_hostname_only_when_the_subdomain_is_this_service():
    svc = service(name="tfjob-svc", clusterIP="None")
    pods = [pod("w0", "10.1.0.2", hostname="tf-worker-0", subdomain="tfjob-svc"),
            pod("w1", "10.1.0.3", hostname="tf-worker-1", subdomain="other")]
    addresses = desired_subsets(svc, pods)[0]["addresses"]
    assert addresses[0]["hostname"] == "tf-worker-0" and "hostname" not in addresses[1]


def test_a_headless_service_without_ports_gets_addresses_without_ports():
    svc = service(ports=[], clusterIP="None")
    assert desired_subsets(svc, [pod("a", "10.1.0.2")]) == [
        {"addresses": [{"ip": "10.1.0.2", "nodeName": "node-1", "targetRef": ref("a")}]}]
    assert desired_subsets(service(ports=[]), [pod("a", "10.1.0.2")]) == []   # not headless: nothing


def test_labels_are_the_services_plus_the_headless_label():
    assert endpoints_labels(service()) == {"app": "web"}
    assert endpoints_labels(service(clusterIP="None")) == {"app": "web", HEADLESS: ""}


def test_same_pods_in_any_order_give_the_same_subsets():
    pods = [pod(f"p{i}", f"10.1.0.{i}") for i in range(2, 12)]
    assert desired_subsets(service(), pods) == desired_subsets(service(), list(reversed(pods)))


def test_truncate_keeps_ready_addresses_first():
    subsets = desired_subsets(service(), [pod(f"p{i}", f"10.1.{i // 200}.{i % 200}", ready=i % 2 == 0)
                                          for i in range(6)])
    assert truncate(subsets, most=4)
    assert len(subsets[0]["addresses"]) == 3 and len(subsets[0]["notReadyAddresses"]) == 1
    assert not truncate(subsets, most=4)


def test_trigger_time_is_the_service_creation_first_then_the_earliest_changed_pod():
    tracker = TriggerTimeTracker()
    svc = service()
    a, b = pod("a", "10.1.0.2"), pod("b", "10.1.0.3")
    assert tracker.compute("ns/web", svc, [a]) == datetime(2024, 1, 1, tzinfo=timezone.utc)
    # the write failed: the retry reports the same time
    assert tracker.compute("ns/web", svc, [a]) == datetime(2024, 1, 1, tzinfo=timezone.utc)
    tracker.written("ns/web")
    assert tracker.compute("ns/web", svc, [a]) is None             # nothing moved
    tracker.written("ns/web")
    b["status"]["conditions"][0]["lastTransitionTime"] = "2024-01-01T00:01:00Z"
    assert tracker.compute("ns/web", svc, [a, b]) == datetime(2024, 1, 1, 0, 1, tzinfo=timezone.utc)
    tracker.written("ns/web")
    assert tracker.compute("ns/web", svc, [a, b]) is None
    assert format_trigger_time(datetime(2024, 1, 1, 0, 1, 0, 500000, tzinfo=timezone.utc)) == \
        "2024-01-01T00:01:00.5Z"
    assert format_trigger_time(datetime(2024, 1, 1, tzinfo=timezone.utc)) == "2024-01-01T00:00:00Z"
