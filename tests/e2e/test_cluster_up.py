"""The whole system as a user meets it: `minikube-py up`, real kubectl, real Docker, `down`.

One cluster for the module (it takes ~15 s to start): 2 nodes with 2 simulated GPUs each,
the lab's nvidia runtime registered with dockerd, controller-manager and scheduler.
"""
from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid

import pytest
from polling import wait_for  # tests/polling.py
from dockerutil import list_containers  # noqa: E402  (tests/dockerutil.py)
from commands import run  # tests/commands.py

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
EXAMPLES = os.path.join(ROOT, "examples")


@pytest.fixture(scope="module")
def up_cluster(lab_images, tmp_path_factory):
    from minikube_py.storage.embedded import free_port
    state = str(tmp_path_factory.mktemp("up"))
    prefix = f"up{uuid.uuid4().hex[:4]}"
    port = free_port()
    cli = [sys.executable, "-m", "minikube_py.cli.minikube"]
    # Lab values for node failure: a node silent for 20 s is Unknown (kubelets renew every 10 s).
    out = run(*cli, "up", "--state-dir", state, "--port", str(port), "--nodes", "2", "--gpus-per-node", "2",
              "--node-prefix", prefix, "--controller-args",
              "--node-monitor-grace-period 20s --node-monitor-period 1s", timeout=180).stdout
    assert "Cluster is up" in out
    env = dict(os.environ, KUBECONFIG=os.path.join(state, "kubeconfig"), HOME=state)
    yield {"env": env, "nodes": [f"{prefix}-1", f"{prefix}-2"], "state": state}
    out = run(*cli, "down", "--state-dir", state, timeout=120).stdout
    assert "Cluster stopped" in out
    for node in (f"{prefix}-1", f"{prefix}-2"):
        left = list_containers(lab_images, all=True, filters={"label": f"io.minikube-py.node={node}"})
        assert left == [], f"containers of {node} left behind"


def kubectl(cluster, *args, **kw):
    return run("kubectl", *args, env=cluster["env"], **kw)


def pods(cluster, selector):
    return json.loads(kubectl(cluster, "get", "pods", "-l", selector, "-o", "json").stdout)["items"]


def container_ids(cluster, node):
    """{pod: containerID} of the Running GPU pods on a node."""
    return {p["metadata"]["name"]: p["status"]["containerStatuses"][0]["containerID"]
            for p in pods(cluster, "app=gpu-demo")
            if p["spec"].get("nodeName") == node and p["status"].get("phase") == "Running"}


def restart_kubelet(cluster, node, start_again=True):
    """SIGKILL the node's kubelet that `up` started and start it again with the same command line.

    With start_again=False it stays down, and the function that starts it is returned.
    """
    state_file = os.path.join(cluster["state"], "cluster.json")
    with open(state_file) as f:
        state = json.load(f)
    proc = next(p for p in state["processes"] if p["name"] == f"kubelet-{node}")
    with open(f"/proc/{proc['pid']}/cmdline", "rb") as f:
        argv = [a.decode() for a in f.read().split(b"\0") if a]
    os.kill(proc["pid"], signal.SIGKILL)
    wait_for(lambda: not os.path.exists(f"/proc/{proc['pid']}") or
             open(f"/proc/{proc['pid']}/stat").read().split(")")[-1].split()[0] == "Z", what="kubelet gone")

    def start():
        log = open(os.path.join(cluster["state"], "logs", f"kubelet-{node}.log"), "ab")
        new = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        proc["pid"] = new.pid                   # so that `down` stops the new one
        with open(state_file, "w") as f:
            json.dump(state, f)
    if not start_again:
        return start
    start()


def test_nodes_are_ready_with_gpus(up_cluster):
    out = kubectl(up_cluster, "get", "nodes").stdout
    for node in up_cluster["nodes"]:
        assert re.search(rf"^{node}\s+Ready", out, re.M), out
    node = json.loads(kubectl(up_cluster, "get", "node", up_cluster["nodes"][0], "-o", "json").stdout)
    assert node["status"]["capacity"]["nvidia.com/gpu"] == "2"
    assert node["status"]["allocatable"]["nvidia.com/gpu"] == "2"


def test_writes_are_in_the_audit_log(up_cluster):
    """`up` starts the apiserver with --audit-log-path <state>/logs/audit.log (every write)."""
    kubectl(up_cluster, "create", "configmap", "audit-me", "--from-literal=a=b")
    log = os.path.join(up_cluster["state"], "logs", "audit.log")

    def created():
        with open(log) as f:
            return [e for e in map(json.loads, f) if e["verb"] == "create"
                    and e.get("objectRef", {}).get("name") == "audit-me"]    # one whole line per Event
    [event] = wait_for(created, what="the create in the audit log")
    assert event["objectRef"]["resource"] == "configmaps" and event["responseStatus"]["code"] == 201
    assert event["user"]["username"] and event["userAgent"].startswith("kubectl/")
    kubectl(up_cluster, "delete", "configmap", "audit-me")


def test_deployment_from_the_docs_runs_spread_and_rolls(up_cluster):
    kubectl(up_cluster, "apply", "-f", os.path.join(EXAMPLES, "nginx-deployment.yaml"))
    kubectl(up_cluster, "rollout", "status", "deploy/nginx", "--timeout=120s", timeout=150)
    running = [p for p in pods(up_cluster, "app=nginx") if p["status"].get("phase") == "Running"]
    assert len(running) == 3
    assert len({p["spec"]["nodeName"] for p in running}) == 2          # spread over both nodes
    kubectl(up_cluster, "set", "image", "deploy/nginx", "nginx=nginx:1.16.1")
    kubectl(up_cluster, "rollout", "status", "deploy/nginx", "--timeout=120s", timeout=150)
    images = {p["spec"]["containers"][0]["image"] for p in pods(up_cluster, "app=nginx")
              if not p["metadata"].get("deletionTimestamp")}
    assert images == {"nginx:1.16.1"}
    kubectl(up_cluster, "delete", "deploy", "nginx", "--wait=false")
    wait_for(lambda: not kubectl(up_cluster, "get", "rs", "-o", "name").stdout.strip(), what="RS gone")


def test_gpu_pods_get_one_gpu_each_and_the_fifth_waits(up_cluster):
    kubectl(up_cluster, "apply", "-f", os.path.join(EXAMPLES, "gpu-pods.yaml"))

    def four_running_one_pending():
        ps = pods(up_cluster, "app=gpu-demo")
        running = [p for p in ps if p["status"].get("phase") == "Running"]
        pending = [p for p in ps if p["status"].get("phase") == "Pending"]
        return (running, pending) if len(running) == 4 and len(pending) == 1 else None
    running, pending = wait_for(four_running_one_pending, timeout=120, what="4 Running + 1 Pending")

    described = kubectl(up_cluster, "describe", "pod", pending[0]["metadata"]["name"]).stdout
    assert "Insufficient nvidia.com/gpu" in described

    by_node: dict[str, list[str]] = {}
    for p in running:
        name = p["metadata"]["name"]
        log = wait_for(lambda: kubectl(up_cluster, "logs", name, check=False).stdout.strip(), what=f"{name} log")
        gpus = [line for line in log.splitlines() if line.startswith("GPU ")]
        assert len(gpus) == 1, log                                   # exactly one GPU visible
        by_node.setdefault(p["spec"]["nodeName"], []).append(gpus[0].split("UUID: ")[1])
    for node, uuids in by_node.items():
        assert len(uuids) == len(set(uuids)), f"a GPU listed twice on {node}: {uuids}"

    # Kill one node's kubelet (-9) and start it again: its GPU pods keep their containers,
    # and their GPUs stay theirs (the device manager's checkpoint).
    node = running[1]["spec"]["nodeName"]
    before = container_ids(up_cluster, node)
    restart_kubelet(up_cluster, node)
    time.sleep(5)                               # a few PLEG relists and syncs of the new kubelet
    assert container_ids(up_cluster, node) == before

    kubectl(up_cluster, "delete", "pod", running[0]["metadata"]["name"], "--grace-period=1")
    waiting = pending[0]["metadata"]["name"]
    wait_for(lambda: json.loads(kubectl(up_cluster, "get", "pod", waiting, "-o", "json").stdout)["status"]
             .get("phase") == "Running", timeout=90, what="the fifth GPU pod running")
    # no GPU is given twice on a node, also after the restart
    for node_name in up_cluster["nodes"]:
        uuids = []
        for p in pods(up_cluster, "app=gpu-demo"):
            if p["spec"].get("nodeName") == node_name and p["status"].get("phase") == "Running" \
                    and not p["metadata"].get("deletionTimestamp"):
                name = p["metadata"]["name"]
                log = wait_for(lambda: kubectl(up_cluster, "logs", name, check=False).stdout.strip(),
                               what=f"{name} log")
                uuids += [line.split("UUID: ")[1] for line in log.splitlines() if line.startswith("GPU ")]
        assert len(uuids) == len(set(uuids)), f"a GPU given twice on {node_name}: {uuids}"
    kubectl(up_cluster, "delete", "-f", os.path.join(EXAMPLES, "gpu-pods.yaml"), "--grace-period=1", "--ignore-not-found",
            "--wait=false")


SURVIVOR = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: survivor}
spec:
  replicas: 2
  selector: {matchLabels: {app: survivor}}
  template:
    metadata: {labels: {app: survivor}}
    spec:
      terminationGracePeriodSeconds: 1
      tolerations:            # leave an unreachable node after 3 s instead of the default 300 s
      - {key: node.kubernetes.io/unreachable, operator: Exists, effect: NoExecute, tolerationSeconds: 3}
      - {key: node.kubernetes.io/not-ready, operator: Exists, effect: NoExecute, tolerationSeconds: 3}
      containers:
      - {name: web, image: nginx:1.25}
"""


def node_ready(cluster, node):
    n = json.loads(kubectl(cluster, "get", "node", node, "-o", "json").stdout)
    return next((c["status"] for c in n["status"].get("conditions", []) if c["type"] == "Ready"), None)


def test_a_stopped_kubelet_node_goes_unknown_and_its_pods_move(up_cluster):
    kubectl(up_cluster, "apply", "-f", "-", input=SURVIVOR)
    kubectl(up_cluster, "rollout", "status", "deploy/survivor", "--timeout=90s", timeout=120)
    victim = pods(up_cluster, "app=survivor")[0]["spec"]["nodeName"]
    other = next(n for n in up_cluster["nodes"] if n != victim)

    restart = restart_kubelet(up_cluster, victim, start_again=False)   # the kubelet is gone
    wait_for(lambda: node_ready(up_cluster, victim) == "Unknown", timeout=60, what=f"{victim} Unknown")
    node = json.loads(kubectl(up_cluster, "get", "node", victim, "-o", "json").stdout)
    assert "node.kubernetes.io/unreachable" in {t["key"] for t in node["spec"].get("taints", [])}

    def both_running_on_other():
        ps = [p for p in pods(up_cluster, "app=survivor") if not p["metadata"].get("deletionTimestamp")]
        return len(ps) == 2 and all(p["spec"].get("nodeName") == other and p["status"].get("phase") == "Running"
                                    for p in ps)
    wait_for(both_running_on_other, timeout=90, what=f"both replicas Running on {other}")

    restart()                                                          # the node comes back
    wait_for(lambda: node_ready(up_cluster, victim) == "True", timeout=60, what=f"{victim} Ready again")
    kubectl(up_cluster, "delete", "deploy", "survivor", "--wait=false")


def test_up_serves_https_and_each_component_has_its_certificate(up_cluster):
    """The kubeconfig of `up` is the admin's client certificate on https; without any
    credential kubectl gets 401, and only the health and version paths are public."""
    import requests
    import yaml
    state = up_cluster["state"]
    with open(os.path.join(state, "kubeconfig")) as f:
        config = yaml.safe_load(f)
    server = config["clusters"][0]["cluster"]["server"]
    ca = os.path.join(state, "pki", "ca.crt")
    assert server.startswith("https://127.0.0.1:")
    subject = run("openssl", "x509", "-noout", "-subject", "-in",
                  config["users"][0]["user"]["client-certificate"]).stdout
    assert "O = system:masters, CN = kubernetes-admin" in subject
    kubelet = run("openssl", "x509", "-noout", "-subject", "-in",
                  os.path.join(state, "pki", f"kubelet-{up_cluster['nodes'][0]}.crt")).stdout
    assert f"O = system:nodes, CN = system:node:{up_cluster['nodes'][0]}" in kubelet
    bare = os.path.join(state, "no-credentials")
    with open(bare, "w") as f:
        yaml.safe_dump({**config, "users": [{"name": config["users"][0]["name"], "user": {}}]}, f)
    proc = run("kubectl", "--username", "nobody", "--password", "x", "get", "pods", check=False,
               env=dict(up_cluster["env"], KUBECONFIG=bare))
    assert proc.returncode == 1 and "You must be logged in to the server" in proc.stderr, proc.stderr
    assert requests.get(server + "/version", verify=ca, timeout=5).status_code == 200
    assert requests.get(server + "/api/v1/pods", verify=ca, timeout=5).status_code == 401


def test_a_kubelet_reads_only_its_own_pods_and_the_secrets_they_use(up_cluster):
    """Node,RBAC on an up cluster: node 1's own credentials (its kubeconfig from up) read
    its pod and the Secret that pod mounts, and get 403 for node 2's pod, a Secret no pod
    of node 1 uses, and a list of every pod."""
    n1, n2 = up_cluster["nodes"]
    ns = f"nodeauth-{uuid.uuid4().hex[:4]}"
    kubectl(up_cluster, "create", "namespace", ns)
    try:
        for secret in ("used", "unused"):
            kubectl(up_cluster, "-n", ns, "create", "secret", "generic", secret, "--from-literal=k=v")
        for pod, node, secret in (("on-1", n1, "used"), ("on-2", n2, "unused")):
            kubectl(up_cluster, "-n", ns, "apply", "-f", "-", input=json.dumps({
                "apiVersion": "v1", "kind": "Pod", "metadata": {"name": pod},
                "spec": {"nodeName": node, "containers": [{"name": "c", "image": "busybox",
                                                          "command": ["sleep", "3600"]}],
                         "volumes": [{"name": "s", "secret": {"secretName": secret}}]}}))
        as_node1 = ["--kubeconfig", os.path.join(up_cluster["state"], "kubeconfigs", f"kubelet-{n1}.conf"),
                    "-n", ns]
        assert kubectl(up_cluster, *as_node1, "get", "pod", "on-1", "-o", "name").stdout.strip() == "pod/on-1"
        assert kubectl(up_cluster, *as_node1, "get", "secret", "used", "-o", "name").stdout.strip() == "secret/used"
        for what in (("pod", "on-2"), ("secret", "unused"), ("pods", "-A")):
            proc = kubectl(up_cluster, *as_node1, "get", *what, check=False)
            assert proc.returncode != 0 and "Forbidden" in proc.stderr, proc.stderr
        proc = kubectl(up_cluster, *as_node1, "get", "pod", "on-2", check=False)
        assert (f'pods "on-2" is forbidden: User "system:node:{n1}" cannot get resource "pods" in API group "" '
                f"in the namespace \"{ns}\": no relationship found between node '{n1}' and this object") \
            in proc.stderr
    finally:
        kubectl(up_cluster, "delete", "namespace", ns, "--wait=false")


def test_the_kubelet_api_lets_in_only_whom_the_apiserver_vouches_for(up_cluster):
    """`up`'s kubelets serve https with a certificate of the cluster CA, authenticate by that
    CA or a token the apiserver reviews and ask it about each request (webhook), as kubeadm's
    do: logs, exec and top still work through the apiserver (kube-apiserver-kubelet-client);
    directly, no credential is 401, a `view` ServiceAccount's token is 403, the admin's
    certificate and a token of system:kubelet-api-admin get in."""
    import requests
    n1 = up_cluster["nodes"][0]
    ns = f"kubeletapi-{uuid.uuid4().hex[:4]}"
    ca = os.path.join(up_cluster["state"], "pki", "ca.crt")
    kubectl(up_cluster, "create", "namespace", ns)
    try:
        kubectl(up_cluster, "-n", ns, "apply", "-f", "-", input=json.dumps({
            "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "talker"},
            "spec": {"nodeName": n1, "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "c", "image": "busybox",
                                     "command": ["sh", "-c", "echo started; sleep 3600"]}]}}))
        wait_for(lambda: json.loads(kubectl(up_cluster, "-n", ns, "get", "pod", "talker", "-o", "json").stdout)
                 ["status"].get("phase") == "Running", timeout=90, what="talker Running")
        assert "started" in wait_for(lambda: kubectl(up_cluster, "-n", ns, "logs", "talker", check=False).stdout,
                                     what="talker's log")
        assert kubectl(up_cluster, "-n", ns, "exec", "talker", "--", "echo", "hello").stdout == "hello\n"
        top = wait_for(lambda: kubectl(up_cluster, "-n", ns, "top", "pod", "talker", check=False).stdout,
                       timeout=90, what="kubectl top pod")
        assert "talker" in top, top
        assert n1 in kubectl(up_cluster, "top", "node", n1).stdout

        node = json.loads(kubectl(up_cluster, "get", "node", n1, "-o", "json").stdout)
        ip = next(a["address"] for a in node["status"]["addresses"] if a["type"] == "InternalIP")
        port = node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
        url = f"https://{ip}:{port}"

        def get(path, token=None, cert=None):
            return requests.get(url + path, verify=ca, cert=cert, timeout=10,
                                headers={"Authorization": f"Bearer {token}"} if token else {})

        def token_of(account, *binding):
            kubectl(up_cluster, "-n", ns, "create", "serviceaccount", account)
            kubectl(up_cluster, "-n", ns, "create", *binding, f"--serviceaccount={ns}:{account}")
            return kubectl(up_cluster, "-n", ns, "create", "token", account).stdout.strip()

        assert (get("/pods").status_code, get("/pods").text) == (401, "Unauthorized")
        viewer = token_of("viewer", "rolebinding", "viewer-view", "--clusterrole=view")
        denied = get("/pods", viewer)
        assert (denied.status_code, denied.text) == (
            403, f"Forbidden (user=system:serviceaccount:{ns}:viewer, verb=get, resource=nodes, subresource=proxy)")
        admin = (os.path.join(up_cluster["state"], "pki", "admin.crt"),
                 os.path.join(up_cluster["state"], "pki", "admin.key"))
        pods = get("/pods", cert=admin)
        assert pods.status_code == 200 and "talker" in {p["metadata"]["name"] for p in pods.json()["items"]}
        ops = token_of("ops", "clusterrolebinding", f"{ns}-ops", "--clusterrole=system:kubelet-api-admin")
        assert get("/stats/summary", ops).json()["node"]["nodeName"] == n1
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(f"http://{ip}:{port}/pods", timeout=5)       # no plain http
    finally:
        kubectl(up_cluster, "delete", "clusterrolebinding", f"{ns}-ops", "--ignore-not-found", check=False)
        kubectl(up_cluster, "delete", "namespace", ns, "--wait=false")


def test_a_kubelet_may_not_modify_another_node(up_cluster):
    """`up` enables NodeRestriction: node 1's credentials may not write node 2 (a PATCH
    straight to the API; `kubectl patch` reads the node first, which the Node authorizer
    already refuses) nor give node 1 a node-role label."""
    import requests
    import yaml
    n1, n2 = up_cluster["nodes"]
    state = up_cluster["state"]
    with open(os.path.join(state, "kubeconfig")) as f:
        server = yaml.safe_load(f)["clusters"][0]["cluster"]["server"]
    r = requests.patch(f"{server}/api/v1/nodes/{n2}", data='{"metadata":{"labels":{"x":"y"}}}', timeout=10,
                       headers={"Content-Type": "application/merge-patch+json"},
                       cert=(os.path.join(state, "pki", f"kubelet-{n1}.crt"),
                             os.path.join(state, "pki", f"kubelet-{n1}.key")),
                       verify=os.path.join(state, "pki", "ca.crt"))
    assert (r.status_code, r.json()["message"]) == (
        403, f'nodes "{n2}" is forbidden: node "{n1}" is not allowed to modify node "{n2}"')
    as_node1 = ["--kubeconfig", os.path.join(state, "kubeconfigs", f"kubelet-{n1}.conf")]
    proc = kubectl(up_cluster, *as_node1, "patch", "node", n2, "-p", '{"metadata":{"labels":{"x":"y"}}}',
                   check=False)
    assert f"node '{n1}' cannot read '{n2}', only its own Node object" in proc.stderr, proc.stderr
    proc = kubectl(up_cluster, *as_node1, "label", "node", n1, "node-role.kubernetes.io/control-plane=", check=False)
    assert f'nodes "{n1}" is forbidden: is not allowed to modify labels: node-role.kubernetes.io/control-plane' \
        in proc.stderr, proc.stderr
