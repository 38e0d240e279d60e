"""Service and Endpoints objects: ClusterIPs and NodePorts handed out by the apiserver and given
back on delete, driven by the real kubectl and the official Python client (real etcd)."""
from __future__ import annotations

import ipaddress
import json
import os

import pytest


def svc(kubectl, namespace, name):
    return json.loads(kubectl("get", "svc", name, "-n", namespace, "-o", "json").stdout)


def test_the_kubernetes_service_holds_the_first_address(kubectl):
    s = svc(kubectl, "default", "kubernetes")
    assert s["spec"]["clusterIP"] == "10.96.0.1" and s["spec"]["ports"][0]["port"] == 443


def test_kubectl_create_service_generators_get_ips_and_node_ports(kubectl, namespace):
    out = kubectl("create", "service", "clusterip", "my-svc", "--tcp=5678:8080", "-n", namespace, "-v=8")
    assert "Content-Type: application/vnd.kubernetes.protobuf" in out.stderr
    kubectl("create", "service", "nodeport", "web", "--tcp=80:80", "-n", namespace)
    kubectl("create", "service", "clusterip", "headless", "--clusterip=None", "-n", namespace)
    kubectl("create", "service", "externalname", "ext", "--external-name=example.com", "-n", namespace)

    my = svc(kubectl, namespace, "my-svc")
    ip = ipaddress.ip_address(my["spec"]["clusterIP"])
    assert ip in ipaddress.ip_network("10.96.0.0/12") and my["spec"]["clusterIPs"] == [str(ip)]
    assert my["spec"]["ports"] == [{"name": "5678-8080", "port": 5678, "protocol": "TCP", "targetPort": 8080}]
    assert my["spec"]["type"] == "ClusterIP" and my["spec"]["sessionAffinity"] == "None"
    web = svc(kubectl, namespace, "web")
    node_port = web["spec"]["ports"][0]["nodePort"]
    assert 30000 <= node_port <= 32767 and web["spec"]["externalTrafficPolicy"] == "Cluster"
    assert svc(kubectl, namespace, "headless")["spec"]["clusterIP"] == "None"
    assert "clusterIP" not in svc(kubectl, namespace, "ext")["spec"]

    rows = {line.split()[0]: line.split() for line in
            kubectl("get", "svc", "-n", namespace).stdout.splitlines()}
    assert rows["NAME"] == ["NAME", "TYPE", "CLUSTER-IP", "EXTERNAL-IP", "PORT(S)", "AGE"]
    assert rows["my-svc"][1:5] == ["ClusterIP", str(ip), "<none>", "5678/TCP"]
    assert rows["web"][4] == f"80:{node_port}/TCP"
    assert rows["ext"][1:4] == ["ExternalName", "<none>", "example.com"]


def test_a_taken_node_port_is_refused_until_its_service_is_deleted(kubectl, namespace):
    port = 30000 + int.from_bytes(os.urandom(2), "big") % 2700
    kubectl("create", "service", "nodeport", "first", "--tcp=80:80", f"--node-port={port}", "-n", namespace)
    taken = kubectl("create", "service", "nodeport", "second", "--tcp=80:80", f"--node-port={port}",
                    "-n", namespace, check=False)
    assert taken.returncode != 0
    assert f'Service "second" is invalid: spec.ports[0].nodePort: Invalid value: {port}: provided port is ' \
           "already allocated" in taken.stderr
    out_of_range = kubectl("create", "service", "nodeport", "third", "--tcp=80:80", "--node-port=40000",
                           "-n", namespace, check=False)
    assert "provided port is not in the valid range. The range of valid ports is 30000-32767" \
        in out_of_range.stderr
    assert kubectl("get", "svc", "-n", namespace, "-o", "name").stdout.split() == ["service/first"]
    kubectl("delete", "svc", "first", "-n", namespace)
    kubectl("create", "service", "nodeport", "second", "--tcp=80:80", f"--node-port={port}", "-n", namespace)


def test_a_cluster_ip_stays_for_the_services_life_and_is_given_back_after(kubectl, namespace):
    kubectl("create", "service", "clusterip", "a", "--tcp=80:80", "-n", namespace)
    s = svc(kubectl, namespace, "a")
    ip = s["spec"]["clusterIP"]
    del s["spec"]["clusterIP"], s["spec"]["clusterIPs"]
    kubectl("replace", "-f", "-", input=json.dumps(s))                  # a PUT that leaves it out keeps it
    assert svc(kubectl, namespace, "a")["spec"]["clusterIP"] == ip
    changed = kubectl("patch", "svc", "a", "-n", namespace, "-p", '{"spec":{"clusterIP":"10.96.0.50"}}',
                      check=False)
    assert changed.returncode != 0 and "may not change once set" in changed.stderr
    taken = kubectl("create", "-n", namespace, "-f", "-", check=False, input=json.dumps({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "b"},
        "spec": {"clusterIP": ip, "ports": [{"port": 80}]}}))
    assert taken.returncode != 0 and "provided IP is already allocated" in taken.stderr
    kubectl("delete", "svc", "a", "-n", namespace)
    kubectl("create", "-n", namespace, "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "b"},
        "spec": {"clusterIP": ip, "ports": [{"port": 80}]}}))
    assert svc(kubectl, namespace, "b")["spec"]["clusterIP"] == ip


def test_changing_type_gives_node_ports_back(kubectl, namespace):
    kubectl("create", "service", "nodeport", "np", "--tcp=80:80", "-n", namespace)
    port = svc(kubectl, namespace, "np")["spec"]["ports"][0]["nodePort"]
    kubectl("patch", "svc", "np", "-n", namespace, "--type=json", "-p",
            '[{"op":"replace","path":"/spec/type","value":"ClusterIP"},'
            '{"op":"remove","path":"/spec/ports/0/nodePort"},'
            '{"op":"remove","path":"/spec/externalTrafficPolicy"}]')
    kubectl("create", "service", "nodeport", "again", "--tcp=80:80", f"--node-port={port}", "-n", namespace)


@pytest.mark.parametrize("spec, message", [
    ({"ports": [{"port": 70000}]}, "spec.ports[0].port: Invalid value: 70000: must be between 1 and 65535"),
    ({"ports": [{"port": 80, "protocol": "ICMP"}]}, 'spec.ports[0].protocol: Unsupported value: "ICMP"'),
    ({"type": "Magic", "ports": [{"port": 80}]}, 'spec.type: Unsupported value: "Magic"'),
    ({"ports": [{"port": 80}, {"port": 81}]}, "spec.ports[0].name: Required value"),
    ({"ports": [{"port": 80, "nodePort": 30001}]}, "may not be used when `type` is 'ClusterIP'"),
])
def test_bad_services_are_refused_whole(kubectl, namespace, spec, message):
    out = kubectl("create", "-n", namespace, "-f", "-", check=False, input=json.dumps({
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "bad"}, "spec": spec}))
    assert out.returncode != 0 and message in out.stderr, out.stderr
    assert kubectl("get", "svc", "-n", namespace, "-o", "name").stdout.split() == []


def test_official_python_client_services_and_endpoints(cluster, namespace):
    from kubernetes import client, config
    config.load_kube_config(cluster.kubeconfig)
    v1 = client.CoreV1Api()
    created = v1.create_namespaced_service(namespace, client.V1Service(
        metadata=client.V1ObjectMeta(name="db"),
        spec=client.V1ServiceSpec(selector={"app": "db"}, ports=[client.V1ServicePort(port=5432)])))
    assert created.spec.cluster_ip and created.spec.ports[0].target_port == 5432
    ep = v1.create_namespaced_endpoints(namespace, client.V1Endpoints(
        metadata=client.V1ObjectMeta(name="db"),
        subsets=[client.V1EndpointSubset(addresses=[client.V1EndpointAddress(ip="10.244.1.5")],
                                         ports=[client.CoreV1EndpointPort(port=5432)])]))
    assert ep.subsets[0].addresses[0].ip == "10.244.1.5"
    patched = v1.patch_namespaced_service("db", namespace, {"metadata": {"labels": {"tier": "data"}}})
    assert patched.spec.cluster_ip == created.spec.cluster_ip
    assert [s.metadata.name for s in v1.list_namespaced_service(namespace).items] == ["db"]
    v1.delete_namespaced_endpoints("db", namespace)
    v1.delete_namespaced_service("db", namespace)
    with pytest.raises(client.ApiException) as err:
        v1.read_namespaced_service("db", namespace)
    assert err.value.status == 404
