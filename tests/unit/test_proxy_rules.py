"""kube-proxy's pure rule builder: Services + Endpoints -> iptables-restore text (golden files).

The golden files in tests/unit/golden/ are what `iptables-restore --noflush` is fed; they
were checked by hand against kube-proxy's iptables mode (pkg/proxy/iptables). To update
them after a deliberate change: UPDATE_GOLDEN=1 pytest tests/unit/test_proxy_rules.py
"""
import os
import subprocess

import pytest

from minikube_py.proxy import rules
from minikube_py.proxy.userspace import NodePortRelay

GOLDEN = os.path.join(os.path.dirname(__file__), "golden")


def svc(name, ip, ports, ns="ns1", **spec):
    return {"metadata": {"namespace": ns, "name": name},
            "spec": {"type": "ClusterIP", "clusterIP": ip, "ports": ports, **spec}}


def eps(name, ips, ports, ns="ns1", not_ready=()):
    return {"metadata": {"namespace": ns, "name": name},
            "subsets": [{"addresses": [{"ip": ip} for ip in ips],
                         "notReadyAddresses": [{"ip": ip} for ip in not_ready], "ports": ports}]}


def golden(name, text):
    path = os.path.join(GOLDEN, name)
    if os.environ.get("UPDATE_GOLDEN"):
        with open(path, "w") as f:
            f.write(text)
    with open(path) as f:
        assert text == f.read(), f"{name} differs (UPDATE_GOLDEN=1 rewrites it)"


def cluster():
    services = [
        svc("svc1", "172.30.0.41", [{"name": "p80", "port": 80, "protocol": "TCP", "targetPort": 80}]),
        svc("web", "10.96.0.20", [{"port": 80, "protocol": "TCP", "targetPort": 8080, "nodePort": 30080}],
            type="NodePort", externalIPs=["192.0.2.10"]),
        svc("sticky", "10.96.0.30", [{"name": "dns", "port": 53, "protocol": "UDP"}],
            sessionAffinity="ClientIP", sessionAffinityConfig={"clientIP": {"timeoutSeconds": 600}}),
        svc("empty", "10.96.0.40", [{"port": 80, "protocol": "TCP", "nodePort": 30040}], type="NodePort"),
        svc("headless", "None", [{"port": 80}]),
        {"metadata": {"namespace": "ns1", "name": "ext"}, "spec": {"type": "ExternalName", "externalName": "x.org"}},
    ]
    endpoints = [
        eps("svc1", ["10.180.0.1"], [{"name": "p80", "port": 80, "protocol": "TCP"}]),
        eps("web", ["10.244.0.7", "10.244.0.5", "10.244.0.6"], [{"port": 8080, "protocol": "TCP"}],
            not_ready=["10.244.0.9"]),
        eps("sticky", ["10.244.1.2", "10.244.1.3"], [{"name": "dns", "port": 5353, "protocol": "UDP"}]),
        eps("empty", [], [{"port": 80, "protocol": "TCP"}]),
        eps("headless", ["10.244.0.8"], [{"port": 80, "protocol": "TCP"}]),
    ]
    return services, endpoints


def test_chain_names_are_kube_proxys():
    """The same hashes kube-proxy's own tests expect for ns1/svc1:p80 -> 10.180.0.1:80."""
    sp = next(sp for sp in rules.service_ports(*cluster()) if sp.name == "svc1")
    assert sp.key == "ns1/svc1:p80"
    assert sp.svc_chain() == "KUBE-SVC-XPGD46QRK7WJZT7O"
    assert sp.sep_chain("10.180.0.1", 80) == "KUBE-SEP-SXIVWICOYRO3J4NJ"


def test_service_ports_ready_endpoints_only_and_no_headless():
    ports = {sp.key: sp for sp in rules.service_ports(*cluster())}
    assert sorted(ports) == ["ns1/empty", "ns1/sticky:dns", "ns1/svc1:p80", "ns1/web"]
    assert ports["ns1/web"].endpoints == (("10.244.0.5", 8080), ("10.244.0.6", 8080), ("10.244.0.7", 8080))
    assert ports["ns1/sticky:dns"].affinity_seconds == 600
    assert ports["ns1/empty"].endpoints == ()


def test_build_golden():
    text = rules.build(rules.service_ports(*cluster()), cluster_cidr="10.244.0.0/16")
    golden("proxy-rules.txt", text)


def test_golden_text_is_what_iptables_restore_accepts():
    """The real parser (``--test``: parse and check, commit nothing), where it can run."""
    from minikube_py.proxy import iptables
    why = iptables.check_usable()
    if why:
        pytest.skip(why)
    for name in ("proxy-rules.txt", "proxy-rules-masquerade-all.txt"):
        with open(os.path.join(GOLDEN, name)) as f:
            proc = subprocess.run(["iptables-restore", "-w", "--test", "--noflush"], input=f.read(),
                                  capture_output=True, text=True, timeout=30)
        assert proc.returncode == 0, proc.stderr


def test_build_masquerade_all_golden():
    services, endpoints = cluster()
    text = rules.build(rules.service_ports(services[:1], endpoints[:1]), masquerade_all=True)
    golden("proxy-rules-masquerade-all.txt", text)


def test_probabilities_give_each_endpoint_an_equal_share():
    services, endpoints = cluster()
    text = rules.build(rules.service_ports(services[1:2], endpoints[1:2]), cluster_cidr="10.244.0.0/16")
    lines = [ln for ln in text.splitlines() if "-> 10.244.0." in ln]
    assert ["0.3333333333" in lines[0], "0.5000000000" in lines[1], "statistic" not in lines[2]] == [True] * 3


def test_stale_chains_are_deleted_ours_kept():
    services, endpoints = cluster()
    ports = rules.service_ports(services[:1], endpoints[:1])
    text = rules.build(ports, existing_chains=("KUBE-SVC-GONEGONEGONEGONE", "KUBE-SVC-XPGD46QRK7WJZT7O",
                                               "DOCKER", "KUBE-SERVICES"))
    assert "-X KUBE-SVC-GONEGONEGONEGONE" in text.splitlines()
    assert ":KUBE-SVC-GONEGONEGONEGONE - [0:0]" in text.splitlines()    # flushed before deletion
    assert "-X KUBE-SVC-XPGD46QRK7WJZT7O" not in text and "DOCKER" not in text


def test_build_is_deterministic():
    services, endpoints = cluster()
    a = rules.build(rules.service_ports(services, endpoints), cluster_cidr="10.244.0.0/16")
    b = rules.build(rules.service_ports(services[::-1], endpoints[::-1]), cluster_cidr="10.244.0.0/16")
    assert a == b


def test_cleanup_text_deletes_only_our_chains():
    text = rules.cleanup_text({"nat": ["DOCKER", "KUBE-SERVICES", "KUBE-SEP-X", "KUBE-MARK-MASQ"],
                               "filter": ["DOCKER-USER", "KUBE-FORWARD"]})
    assert text == ("*nat\n:KUBE-SERVICES - [0:0]\n:KUBE-SEP-X - [0:0]\n:KUBE-MARK-MASQ - [0:0]\n"
                    "-X KUBE-SERVICES\n-X KUBE-SEP-X\n-X KUBE-MARK-MASQ\nCOMMIT\n"
                    "*filter\n:KUBE-FORWARD - [0:0]\n-X KUBE-FORWARD\nCOMMIT\n")
    assert rules.cleanup_text({"nat": ["DOCKER"], "filter": []}) == ""


def test_userspace_relay_forwards_to_an_endpoint_and_refuses_without():
    """The fallback: a node port relayed to an endpoint (a local echo server here)."""
    import socket
    import threading
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def echo():
        conn, _ = server.accept()
        conn.sendall(b"hello " + conn.recv(100))
        conn.close()
    threading.Thread(target=echo, daemon=True).start()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        node_port = s.getsockname()[1]
    relay = NodePortRelay("127.0.0.1")
    sp = rules.ServicePort("ns1", "web", "", "TCP", "10.96.0.20", 80, node_port=node_port,
                           endpoints=(("127.0.0.1", port),))
    try:
        relay.update([sp])
        assert relay.ports == [node_port]
        with socket.create_connection(("127.0.0.1", node_port), timeout=5) as c:
            c.sendall(b"world")
            c.shutdown(socket.SHUT_WR)
            assert c.recv(100) == b"hello world"
        relay.update([rules.ServicePort("ns1", "web", "", "TCP", "10.96.0.20", 80, node_port=node_port)])
        with socket.create_connection(("127.0.0.1", node_port), timeout=5) as c:
            assert c.recv(100) == b""            # no endpoints: closed at once
        relay.update([])
        assert relay.ports == []
        with pytest.raises(OSError):
            socket.create_connection(("127.0.0.1", node_port), timeout=2)
    finally:
        relay.close()
        server.close()
