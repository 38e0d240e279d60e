"""DaemonSet and StatefulSet as a user meets them: `minikube-py up --nodes 3` (real Docker),
the real kubectl, real containers.

- A DaemonSet runs one pod on each of the 3 nodes, and `kubectl set image` replaces them
  one node at a time (maxUnavailable 1): at no point do two nodes lack a ready pod.
- The docs' StatefulSet `web` (2 replicas, headless Service `nginx`) comes up in order --
  web-1 is created only once web-0 is Running and Ready -- and a busybox pod resolves
  `web-0.nginx` to web-0's IP through the cluster DNS. Its claims www-web-0/1 are
  provisioned by the default StorageClass (local-path): a file written into web-0's volume
  is still there after web-0 is deleted and made again.
"""
from __future__ import annotations

import json
import os
import sys
import time
import uuid

import pytest
from polling import wait_for  # tests/polling.py
from dockerutil import list_containers  # noqa: E402  (tests/dockerutil.py)
from test_cluster_up import run  # noqa: E402  (tests/e2e/ is on sys.path)

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def up_cluster(lab_images, tmp_path_factory):
    from minikube_py.storage.embedded import free_port
    state = str(tmp_path_factory.mktemp("up-sets"))
    prefix = f"sets{uuid.uuid4().hex[:4]}"
    cli = [sys.executable, "-m", "minikube_py.cli.minikube"]
    out = run(*cli, "up", "--state-dir", state, "--port", str(free_port()), "--nodes", "3",
              "--node-prefix", prefix, timeout=240).stdout
    assert "Cluster is up" in out
    env = dict(os.environ, KUBECONFIG=os.path.join(state, "kubeconfig"), HOME=state)
    yield {"env": env, "state": state, "prefix": prefix}
    run(*cli, "down", "--state-dir", state, timeout=180)
    for i in (1, 2, 3):
        assert list_containers(lab_images, all=True, filters={"label": f"io.minikube-py.node={prefix}-{i}"}) == []


def kubectl(cluster, *args, **kw):
    return run("kubectl", *args, env=cluster["env"], **kw)


def get_json(cluster, *args):
    return json.loads(kubectl(cluster, "get", *args, "-o", "json").stdout)


def is_ready(pod) -> bool:
    return any(c["type"] == "Ready" and c["status"] == "True" for c in pod["status"].get("conditions") or [])


def test_a_daemonset_runs_on_every_node_and_a_new_image_rolls_node_by_node(up_cluster):
    kubectl(up_cluster, "apply", "-f", os.path.join(ROOT, "examples", "node-agent-daemonset.yaml"))
    kubectl(up_cluster, "rollout", "status", "ds/node-agent", "--timeout=180s", timeout=200)
    pods = get_json(up_cluster, "pods", "-l", "name=node-agent")["items"]
    nodes = sorted(p["spec"]["nodeName"] for p in pods)
    assert nodes == [f"{up_cluster['prefix']}-{i}" for i in (1, 2, 3)]          # one pod per node
    assert all(p["status"]["phase"] == "Running" for p in pods)
    row = kubectl(up_cluster, "get", "ds", "node-agent").stdout.splitlines()[1].split()
    assert row[:6] == ["node-agent", "3", "3", "3", "3", "3"]
    before = {p["metadata"]["uid"] for p in pods}

    kubectl(up_cluster, "set", "image", "ds/node-agent", "agent=busybox:1.35")
    replaced_order = []
    deadline = time.time() + 240
    while True:                  # at most one node without a ready pod, one node replaced at a time
        assert time.time() < deadline, "the rolling update did not finish"
        items = get_json(up_cluster, "pods", "-l", "name=node-agent")["items"]
        live = [p for p in items if not p["metadata"].get("deletionTimestamp")]
        ready_nodes = {p["spec"].get("nodeName") for p in live if is_ready(p)}
        assert len(ready_nodes) >= 2, [(p["metadata"]["name"], p["spec"].get("nodeName")) for p in items]
        for p in live:
            if p["spec"]["containers"][0]["image"] == "busybox:1.35" and p["spec"].get("nodeName") \
                    and p["spec"]["nodeName"] not in replaced_order:
                replaced_order.append(p["spec"]["nodeName"])
        status = get_json(up_cluster, "ds", "node-agent")["status"]
        if status.get("updatedNumberScheduled") == 3 and status.get("numberAvailable") == 3 and len(live) == 3:
            break
        time.sleep(0.5)
    out = kubectl(up_cluster, "rollout", "status", "ds/node-agent", "--timeout=60s", timeout=90).stdout
    assert 'daemon set "node-agent" successfully rolled out' in out
    pods = get_json(up_cluster, "pods", "-l", "name=node-agent")["items"]
    assert {p["spec"]["containers"][0]["image"] for p in pods} == {"busybox:1.35"}
    assert not before & {p["metadata"]["uid"] for p in pods} and len(set(replaced_order)) == 3
    events = kubectl(up_cluster, "get", "events", "--field-selector", "involvedObject.name=node-agent").stdout
    assert events.count("Deleted pod") >= 3
    history = kubectl(up_cluster, "rollout", "history", "ds/node-agent").stdout
    assert "REVISION" in history
    kubectl(up_cluster, "delete", "ds", "node-agent", "--timeout=120s", timeout=150)


def test_the_docs_statefulset_comes_up_in_order_and_web_0_nginx_resolves(up_cluster):
    kubectl(up_cluster, "apply", "-f", os.path.join(ROOT, "examples", "web-statefulset.yaml"))
    deadline = time.time() + 240
    while True:                  # web-1 only once web-0 is Running and Ready
        assert time.time() < deadline, "web did not come up"
        items = {p["metadata"]["name"]: p for p in get_json(up_cluster, "pods", "-l", "app=nginx")["items"]}
        if "web-1" in items:
            web0 = items["web-0"]
            assert web0["status"]["phase"] == "Running" and is_ready(web0), "web-1 came before web-0 was Ready"
            ready_at = next(c["lastTransitionTime"] for c in web0["status"]["conditions"] if c["type"] == "Ready")
            assert ready_at <= items["web-1"]["metadata"]["creationTimestamp"]
        if len(items) == 2 and all(is_ready(p) for p in items.values()):
            break
        time.sleep(0.3)
    out = kubectl(up_cluster, "rollout", "status", "sts/web", "--timeout=60s", timeout=90).stdout
    assert "roll out complete" in out
    row = kubectl(up_cluster, "get", "sts", "web").stdout.splitlines()[1].split()
    assert row[:2] == ["web", "2/2"]
    pvcs = kubectl(up_cluster, "get", "pvc").stdout
    assert "www-web-0" in pvcs and "www-web-1" in pvcs
    web0_ip = get_json(up_cluster, "pod", "web-0")["status"]["podIP"]
    assert get_json(up_cluster, "pod", "web-0")["spec"]["hostname"] == "web-0"
    wait_for(lambda: web0_ip in kubectl(up_cluster, "get", "ep", "nginx").stdout, what="web-0's endpoint")
    kubectl(up_cluster, "create", "-f", "-", input=json.dumps({
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "dns-probe"},
        "spec": {"restartPolicy": "Never", "containers": [{
            "name": "probe", "image": "busybox", "command": ["sh", "-c", "nslookup web-0.nginx.default.svc.cluster.local; "
                                             "echo web-0.nginx says: $(timeout 10 wget -qO- http://web-0.nginx/hostname); "
                                             "ping -c1 -W2 web-0.nginx"]}]}}))
    wait_for(lambda: get_json(up_cluster, "pod", "dns-probe")["status"].get("phase") in ("Succeeded", "Failed"),
             timeout=120, what="the probe to finish")
    out = kubectl(up_cluster, "logs", "dns-probe").stdout
    print(out)
    assert "Name:\tweb-0.nginx.default.svc.cluster.local" in out and f"Address: {web0_ip}" in out
    # the short name through the pod's search path (busybox's nslookup tries it only for names
    # without a dot; its wget and ping use the resolver, as any program would)
    assert "web-0.nginx says: web-0" in out and f"PING web-0.nginx ({web0_ip})" in out
    # each pod knows its own stable name
    assert kubectl(up_cluster, "exec", "web-1", "--", "hostname").stdout.strip() == "web-1"
    # the claim outlives the pod: web-0 comes back with the same volume
    kubectl(up_cluster, "exec", "web-0", "--", "sh", "-c", "echo kept > /usr/share/nginx/html/index.html")
    uid = get_json(up_cluster, "pod", "web-0")["metadata"]["uid"]
    kubectl(up_cluster, "delete", "pod", "web-0", "--timeout=60s", timeout=90)
    wait_for(lambda: (p := get_json(up_cluster, "pods", "-l", "app=nginx")["items"])
             and any(x["metadata"]["name"] == "web-0" and x["metadata"]["uid"] != uid and is_ready(x) for x in p),
             timeout=120, what="web-0 made again")
    assert kubectl(up_cluster, "exec", "web-0", "--", "cat", "/usr/share/nginx/html/index.html").stdout == "kept\n"
    assert "Bound" in kubectl(up_cluster, "get", "pvc", "www-web-0").stdout
