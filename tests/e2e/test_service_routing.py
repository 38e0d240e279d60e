"""Services that route: `minikube-py up` (2 nodes, one pod network, a kube-proxy per node),
the docs' nginx Deployment, real kubectl, real Docker, real iptables.

What a user sees: pods on both nodes get IPs on the pod network and reach each other;
`kubectl expose` gives a ClusterIP that a busybox pod on another node reaches, spread
over the replicas; a NodePort answers on the host; scaled to 0 the Service refuses;
when the proxy that programs the host stops, its standby takes over; `down` leaves no
rules and no network behind.
"""
from __future__ import annotations

import calendar
import ipaddress
import json
import os
import signal
import subprocess
import sys
import threading
import time
import uuid

import pytest
import requests
from polling import wait_for  # tests/polling.py
from commands import run  # tests/commands.py

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CLI = [sys.executable, "-m", "minikube_py.cli.minikube"]
POD_CIDR = ipaddress.ip_network("10.244.0.0/16")


def iptables_save() -> str:
    return run("iptables-save").stdout


# --------------------------------------------------------------------- TEST HELPER
class EndpointsWriter:
    """TEST HELPER, not part of minikube-py: writes a Service's Endpoints from its ready pods,
    as a user could by hand, for clusters without an endpoints controller.

    It only takes on a Service whose Endpoints no one has created 3 s after the Service
    appeared, so where the controller-manager runs an endpoints controller (which
    creates them at once) this helper stays out of its way.
    """

    def __init__(self, client, namespace="default"):
        self.client, self.namespace = client, namespace
        self.mine: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self):
        self._thread.start()
        return self

    def stop(self):
        self._stop.set()
        self._thread.join(5)

    def _loop(self):
        from minikube_py.client import errors
        while not self._stop.wait(0.3):
            try:
                for svc in self.client.list("services", self.namespace)["items"]:
                    self._sync(svc, errors)
            except Exception:  # noqa: BLE001 - the apiserver is going away at the end
                pass

    def _sync(self, svc, errors):
        name, selector = svc["metadata"]["name"], (svc.get("spec") or {}).get("selector")
        if not selector:
            return
        if name not in self.mine:
            try:
                self.client.get("endpoints", name, self.namespace)
                return                                  # someone else (a controller) owns it
            except errors.NotFound:
                created = calendar.timegm(time.strptime(svc["metadata"]["creationTimestamp"],
                                                        "%Y-%m-%dT%H:%M:%SZ"))
                if time.time() - created < 3:
                    return
        sel = ",".join(f"{k}={v}" for k, v in selector.items())
        ready = [p for p in self.client.list("pods", self.namespace, label_selector=sel)["items"]
                 if p["status"].get("podIP") and not p["metadata"].get("deletionTimestamp")
                 and any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions") or [])]
        addresses = sorted(({"ip": p["status"]["podIP"], "nodeName": p["spec"]["nodeName"],
                             "targetRef": {"kind": "Pod", "namespace": self.namespace, "name": p["metadata"]["name"],
                                           "uid": p["metadata"]["uid"]}} for p in ready), key=lambda a: a["ip"])
        ports = [{"name": p["name"], "port": p["targetPort"], "protocol": p.get("protocol", "TCP")} if p.get("name")
                 else {"port": p["targetPort"], "protocol": p.get("protocol", "TCP")} for p in svc["spec"]["ports"]]
        subsets = [{"addresses": addresses, "ports": ports}] if addresses else []
        body = {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": name, "namespace": self.namespace},
                "subsets": subsets}
        try:
            old = self.client.get("endpoints", name, self.namespace)
            if (old.get("subsets") or []) != subsets:
                body["metadata"]["resourceVersion"] = old["metadata"]["resourceVersion"]
                self.client.update("endpoints", body)
        except errors.NotFound:
            self.client.create("endpoints", body, self.namespace)
        self.mine.add(name)
# --------------------------------------------------------------------- end of TEST HELPER


@pytest.fixture(scope="module")
def net_cluster(lab_images, tmp_path_factory):
    from minikube_py.client.rest import Client
    from minikube_py.storage.embedded import free_port
    state = str(tmp_path_factory.mktemp("net"))
    prefix = f"net{uuid.uuid4().hex[:4]}"
    out = run(*CLI, "up", "--state-dir", state, "--port", str(free_port()), "--nodes", "2",
              "--node-prefix", prefix, timeout=180).stdout
    assert "Pod network minikube-py (10.244.0.0/16)" in out
    kubeconfig = os.path.join(state, "kubeconfig")
    env = dict(os.environ, KUBECONFIG=kubeconfig, HOME=state)
    client = Client(kubeconfig=kubeconfig)
    writer = EndpointsWriter(client).start()
    cluster = {"env": env, "nodes": [f"{prefix}-1", f"{prefix}-2"], "state": state, "client": client}
    try:
        yield cluster
    finally:
        writer.stop()
        client.close()
        down = run(*CLI, "down", "--state-dir", state, check=False, timeout=120)
        cluster["down"] = down.stdout + down.stderr


def kubectl(cluster, *args, **kw):
    return run("kubectl", *args, env=cluster["env"], **kw)


def get(cluster, *args):
    return json.loads(kubectl(cluster, "get", *args, "-o", "json").stdout)


def ready_nginx(cluster, n):
    pods = [p for p in get(cluster, "pods", "-l", "app=nginx")["items"]
            if not p["metadata"].get("deletionTimestamp")]
    ok = [p for p in pods if any(c["type"] == "Ready" and c["status"] == "True"
                                 for c in p["status"].get("conditions") or [])]
    return ok if len(ok) == n == len(pods) else None


def endpoint_ips(cluster, name="nginx"):
    try:
        ep = get(cluster, "endpoints", name)
    except AssertionError:
        return None
    return sorted(a["ip"] for s in ep.get("subsets") or [] for a in s.get("addresses") or [])


def client_pod(cluster, name, node, script):
    """A busybox pod pinned to `node` that runs `script` once; returns its log when it is done."""
    manifest = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
                "spec": {"nodeName": node, "restartPolicy": "Never",
                         "containers": [{"name": "client", "image": "busybox", "command": ["sh", "-c", script]}]}}
    subprocess.run(["kubectl", "apply", "-f", "-"], input=json.dumps(manifest), env=cluster["env"],
                   check=True, capture_output=True, text=True)
    wait_for(lambda: get(cluster, "pod", name)["status"].get("phase") in ("Succeeded", "Failed"),
             timeout=90, what=f"pod {name} to finish")
    return kubectl(cluster, "logs", name).stdout


# `wget -T` crashes the lab's static busybox 1.35; `timeout` bounds each request instead.
def wget_loop(url, n):
    return f"for i in $(seq {n}); do timeout 3 wget -qO- {url} || echo FAILED; done"


def test_pods_on_both_nodes_get_pod_network_ips(net_cluster):
    kubectl(net_cluster, "apply", "-f", os.path.join(ROOT, "examples", "nginx-deployment.yaml"))
    pods = wait_for(lambda: ready_nginx(net_cluster, 3), timeout=90, what="3 ready nginx pods")
    ips = [p["status"]["podIP"] for p in pods]
    assert all(ipaddress.ip_address(ip) in POD_CIDR for ip in ips), ips
    assert len(set(ips)) == 3
    assert {p["spec"]["nodeName"] for p in pods} == set(net_cluster["nodes"])   # spread over both
    # pod to pod, across nodes, with the real pod IP
    other = next(p for p in pods if p["spec"]["nodeName"] == net_cluster["nodes"][0])
    log = client_pod(net_cluster, "direct", net_cluster["nodes"][1],
                     f"timeout 3 wget -qO- http://{other['status']['podIP']}/hostname")
    assert log.strip() == other["metadata"]["name"]


def test_cluster_ip_answers_from_a_pod_on_another_node_spread_over_replicas(net_cluster):
    out = kubectl(net_cluster, "expose", "deploy", "nginx", "--port", "80").stdout
    assert "service/nginx exposed" in out
    svc = get(net_cluster, "svc", "nginx")
    ip = svc["spec"]["clusterIP"]
    assert ipaddress.ip_address(ip) in ipaddress.ip_network("10.96.0.0/12")
    pods = {p["metadata"]["name"]: p for p in ready_nginx(net_cluster, 3)}
    wait_for(lambda: endpoint_ips(net_cluster) == sorted(p["status"]["podIP"] for p in pods.values()),
             timeout=30, what="the Endpoints of nginx")
    wait_for(lambda: f"-d {ip}/32" in iptables_save(), timeout=30, what="the proxy's rules for nginx")
    log = client_pod(net_cluster, "client", net_cluster["nodes"][1], wget_loop(f"http://{ip}/hostname", 30))
    answers = log.split()
    assert len(answers) == 30 and set(answers) <= set(pods), log
    assert set(answers) == set(pods), f"not every replica answered: {answers}"   # random 1/3 each
    # What the rules look like: kube-proxy's chains, one KUBE-SEP per replica.
    rules = iptables_save()
    svc_rules = [ln for ln in rules.splitlines() if ln.startswith("-A KUBE-SVC-") and "default/nginx ->" in ln]
    assert len(svc_rules) == 3 and sum("--probability" in ln for ln in svc_rules) == 2, svc_rules


def test_node_port_answers_on_the_host(net_cluster):
    kubectl(net_cluster, "patch", "svc", "nginx", "-p", '{"spec":{"type":"NodePort"}}')
    svc = get(net_cluster, "svc", "nginx")
    node_port = svc["spec"]["ports"][0]["nodePort"]
    assert 30000 <= node_port <= 32767
    table = kubectl(net_cluster, "get", "svc", "nginx").stdout
    assert f"80:{node_port}/TCP" in table and "NodePort" in table
    names = {p["metadata"]["name"] for p in ready_nginx(net_cluster, 3)}

    def answer():
        try:
            r = requests.get(f"http://127.0.0.1:{node_port}/hostname", timeout=3)
            return r.text.strip() if r.status_code == 200 else None
        except requests.RequestException:
            return None
    assert wait_for(answer, timeout=30, what="the NodePort to answer") in names
    assert "Welcome to nginx!" in requests.get(f"http://127.0.0.1:{node_port}/", timeout=3).text


def test_describe_service_and_endpoints(net_cluster):
    out = kubectl(net_cluster, "describe", "svc", "nginx").stdout
    svc = get(net_cluster, "svc", "nginx")
    for want in ("Name:", "nginx", "Selector:", "app=nginx", "Type:", "NodePort", "IP:",
                 svc["spec"]["clusterIP"], "TargetPort:", "80/TCP", "NodePort:",
                 str(svc["spec"]["ports"][0]["nodePort"]), "Endpoints:"):
        assert want in out, out
    # kubectl 1.32 reads a Service's endpoints from EndpointSlices (discovery.k8s.io/v1);
    # the Endpoints object itself it describes as Kubernetes does:
    out = kubectl(net_cluster, "describe", "ep", "nginx").stdout
    assert "Subsets:" in out and ",".join(endpoint_ips(net_cluster)) in out, out
    eps = kubectl(net_cluster, "get", "ep", "nginx").stdout
    assert all(f"{ip}:80" in eps or "more..." in eps for ip in endpoint_ips(net_cluster)[:2]), eps


def _proxy_pid(cluster, node):
    with open(os.path.join(cluster["state"], "cluster.json")) as f:
        return next(p["pid"] for p in json.load(f)["processes"] if p["name"] == f"proxy-{node}")


def test_a_standby_proxy_takes_over_and_scale_to_zero_refuses(net_cluster):
    """Two proxies share this host's netfilter: one programs it, the other stands by.
    Stop the programmer; the standby follows the next change (scaling nginx to 0)."""
    logs = os.path.join(net_cluster["state"], "logs")
    holder = next(n for n in net_cluster["nodes"]
                  if "standing by" not in open(os.path.join(logs, f"proxy-{n}.log")).read())
    standby = next(n for n in net_cluster["nodes"] if n != holder)
    os.kill(_proxy_pid(net_cluster, holder), signal.SIGTERM)
    wait_for(lambda: "took over" in open(os.path.join(logs, f"proxy-{standby}.log")).read(),
             timeout=30, what=f"the proxy of {standby} to take over")
    svc = get(net_cluster, "svc", "nginx")
    ip, node_port = svc["spec"]["clusterIP"], svc["spec"]["ports"][0]["nodePort"]
    kubectl(net_cluster, "scale", "deploy", "nginx", "--replicas", "0")
    wait_for(lambda: endpoint_ips(net_cluster) == [], timeout=60, what="nginx to have no endpoints")
    wait_for(lambda: "default/nginx has no endpoints" in iptables_save(), timeout=30,
             what="the REJECT rule for nginx")
    log = client_pod(net_cluster, "client-after", net_cluster["nodes"][0],
                     f"timeout 3 wget -qO- http://{ip}/hostname; echo exit=$?")
    assert "Connection refused" in log and "exit=1" in log, log
    with pytest.raises(requests.ConnectionError):
        requests.get(f"http://127.0.0.1:{node_port}/hostname", timeout=3)


def test_down_removes_rules_and_network(net_cluster, lab_images):
    """Last: stop the cluster the fixture started, and look for what it left behind."""
    out = run(*CLI, "down", "--state-dir", net_cluster["state"], timeout=120).stdout
    assert "Removed the kube-proxy rules" in out, out
    assert "Removed the pod network minikube-py" in out, out
    saved = iptables_save()
    assert ":KUBE-SERVICES" not in saved and "KUBE-SVC-" not in saved and "KUBE-SEP-" not in saved
    assert [n for n in lab_images.networks.list(names=["minikube-py"]) if n.name == "minikube-py"] == []
    assert "no kube-proxy rules to remove" in run(*CLI, "proxy", "--cleanup").stdout
