"""`minikube-py dns` as its own process against the real apiserver, asked real DNS queries
(UDP and TCP, with dnslib's client); Endpoints come from the real Endpoints controller."""
from __future__ import annotations

import json
import socket
import subprocess
import sys

import pytest
from dnslib import QTYPE, RCODE, DNSRecord

from fakekubelet import FakeKubelet
from polling import wait_for


def free_udp_and_tcp_port():
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u, socket.socket() as t:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            try:
                t.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


@pytest.fixture(scope="module")
def dns_server(cluster, tmp_path_factory):
    port = free_udp_and_tcp_port()
    resolv = tmp_path_factory.mktemp("dns") / "resolv.conf"
    resolv.write_text("nameserver 127.0.0.1:9\n")      # an upstream that never answers
    log = open(tmp_path_factory.mktemp("dnslog") / "dns.log", "w+")
    proc = subprocess.Popen([sys.executable, "-m", "minikube_py.cli.minikube", "dns", "--server", cluster.server,
                             "--listen-address", "127.0.0.1", "--port", str(port), "--resolv-conf", str(resolv),
                             "--upstream-timeout", "0.5"], stdout=log, stderr=subprocess.STDOUT)
    try:
        # An answer with the record, not just rcode 0: query() gives an empty record (rcode 0
        # too) while the server is still starting and nothing answers.
        wait_for(lambda: records(query("kubernetes.default.svc.cluster.local", port=port)) == ["10.96.0.1"],
                 timeout=30, what="the DNS server to answer")
    except AssertionError:
        log.seek(0)
        raise AssertionError(log.read())
    yield port
    proc.terminate()
    proc.wait(10)


@pytest.fixture(scope="module")
def controllers(controller_manager):
    return controller_manager(["replicaset", "deployment", "endpoints"])


def query(name, qtype="A", port=53, tcp=False):
    try:
        raw = DNSRecord.question(name, qtype).send("127.0.0.1", port, tcp=tcp, timeout=2)
    except OSError:
        return DNSRecord()      # no answer yet (rcode 0 but no question: callers check rr)
    return DNSRecord.parse(raw)


def records(reply, rtype="A"):
    return sorted(str(rr.rdata) for rr in reply.rr if QTYPE[rr.rtype] == rtype)


def test_service_names_follow_services_and_their_ready_pods(dns_server, controllers, api_client, kubectl,
                                                            namespace):
    port = dns_server
    assert records(query("kubernetes.default.svc.cluster.local", port=port)) == ["10.96.0.1"]
    with FakeKubelet(api_client, namespace, node="node-a"):
        kubectl("create", "deployment", "nginx", "--image=nginx", "--replicas=2", "--port=80", "-n", namespace)
        kubectl("expose", "deploy", "nginx", "--port", "80", "--name", "nginx", "-n", namespace)
        ip = json.loads(kubectl("get", "svc", "nginx", "-n", namespace, "-o", "json").stdout)["spec"]["clusterIP"]
        name = f"nginx.{namespace}.svc.cluster.local"
        wait_for(lambda: records(query(name, port=port)) == [ip], what="the A record")
        assert records(query(name, port=port, tcp=True)) == [ip]                  # TCP too
        srv = query(f"_http._tcp.{name}", "SRV", port=port)
        assert srv.header.rcode == RCODE.NXDOMAIN                                # the port has no name

        # headless, with a named port and StatefulSet-style pods (hostname + subdomain)
        kubectl("create", "-n", namespace, "-f", "-", input=json.dumps({
            "apiVersion": "v1", "kind": "Service", "metadata": {"name": "tfjob-svc"},
            "spec": {"clusterIP": "None", "selector": {"app": "tf"},
                     "ports": [{"name": "grpc", "port": 2222}]}}))
        for i in range(2):
            kubectl("create", "-n", namespace, "-f", "-", input=json.dumps({
                "apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": f"tf-worker-{i}", "labels": {"app": "tf"}},
                "spec": {"hostname": f"tf-worker-{i}", "subdomain": "tfjob-svc",
                         "containers": [{"name": "tf", "image": "busybox"}]}}))
        headless = f"tfjob-svc.{namespace}.svc.cluster.local"
        pod_ips = wait_for(lambda: len(ips := records(query(headless, port=port))) == 2 and ips,
                           what="two pod IPs")
        worker0 = api_client.get("pods", "tf-worker-0", namespace=namespace)["status"]["podIP"]
        assert worker0 in pod_ips
        assert records(query(f"tf-worker-0.{headless}", port=port)) == [worker0]
        srv = query(f"_grpc._tcp.{headless}", "SRV", port=port)
        assert sorted(str(rr.rdata).split()[-1] for rr in srv.rr) == \
            [f"tf-worker-0.{headless}.", f"tf-worker-1.{headless}."]
        assert sorted(str(rr.rdata) for rr in srv.ar) == pod_ips
        ptr = query(".".join(reversed(ip.split("."))) + ".in-addr.arpa", "PTR", port=port)
        assert [str(rr.rdata) for rr in ptr.rr] == [name + "."]

        kubectl("scale", "deploy", "nginx", "--replicas=0", "-n", namespace)
        kubectl("delete", "pod", "tf-worker-0", "tf-worker-1", "-n", namespace)
        wait_for(lambda: query(headless, port=port).header.rcode == RCODE.NXDOMAIN, what="no ready pods")
    kubectl("delete", "svc", "nginx", "-n", namespace)
    wait_for(lambda: query(name, port=port).header.rcode == RCODE.NXDOMAIN, what="NXDOMAIN after delete")


def test_other_names_fail_fast(dns_server):
    """The upstream never answers: SERVFAIL (within the client's 2 s), not a hung query."""
    assert query("example.com", port=dns_server).header.rcode == RCODE.SERVFAIL
    assert query("nothing.svc.cluster.local", port=dns_server).header.rcode == RCODE.NXDOMAIN


def test_registering_kube_dns_again_keeps_the_service_and_points_the_endpoints(cluster, api_client):
    """`up` on a kept state dir registers kube-dns again: the create of a Service whose address
    is taken (by itself) is 422, not 409; that is no error and the Endpoints follow the new address."""
    from minikube_py.dns.addon import ensure_kube_dns
    ensure_kube_dns(api_client, "127.0.0.7", 5353)
    first = api_client.get("services", "kube-dns", namespace="kube-system")
    ensure_kube_dns(api_client, "127.0.0.8", 5354)
    again = api_client.get("services", "kube-dns", namespace="kube-system")
    assert again["metadata"]["uid"] == first["metadata"]["uid"]
    assert again["spec"]["clusterIP"] == first["spec"]["clusterIP"]
    ep = api_client.get("endpoints", "kube-dns", namespace="kube-system")
    assert ep["subsets"][0]["addresses"] == [{"ip": "127.0.0.8"}]
    assert {p["port"] for p in ep["subsets"][0]["ports"]} == {5354}
