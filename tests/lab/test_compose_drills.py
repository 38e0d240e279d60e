"""The docker-compose lab (docker-compose.yml, tutorial 11), for real: the images from
lab/build-lab-images.sh, `docker-compose up -d`, the real kubectl, the fault drills, and
`docker-compose down -v` leaving nothing behind (no container, pod, network, volume, iptables rule).

Every drill counts every object the API lists (all kinds but events) before and after,
by uid: nothing may be lost but what the drill expects to go (the pods of a dead node),
nothing may appear but what the drill made, and every ReplicaSet ends with exactly its
replicas (two controller-managers or schedulers acting at once would show up there).

    flock /tmp/e2e.lock python3 -m pytest -q tests/lab/test_compose_drills.py
    MINIKUBE_PY_LAB=full flock /tmp/e2e.lock python3 -m pytest -q tests/lab/   # every drill

CI runs the smaller variant: up, nodes, nginx and a GPU pod, TLS and authentication, the
dashboard, the etcd drill and down.
"""
from __future__ import annotations

import base64
import http.client
import json
import os
import re
import ssl
import subprocess
import time
import urllib.error
import urllib.request

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KUBECONFIG = os.path.join(ROOT, "lab", "compose", "kubeconfig")
COMPOSE = os.environ.get("COMPOSE", "docker-compose").split()
NODES = ["lab-node-1", "lab-node-2", "lab-node-3"]
NETWORK = "minikube-py-lab"
# the Compose project's name, fixed in .env (the kubelets label the pods' containers with it)
PROJECT = re.search(r"^COMPOSE_PROJECT_NAME=(.+)$", open(os.path.join(ROOT, ".env")).read(), re.M)[1]
ETCD = ["etcd-1", "etcd-2", "etcd-3"]
FULL = os.environ.get("MINIKUBE_PY_LAB") == "full"
# The first test also builds the images (a cold build with debootstrap takes minutes).
pytestmark = pytest.mark.timeout(1500)
full_only = pytest.mark.skipif(not FULL, reason="a full-lab drill: MINIKUBE_PY_LAB=full runs it "
                                                "(CI runs the smaller variant, see the README)")


def run(*args, check=True, timeout=120, cwd=ROOT):
    proc = subprocess.run(list(args), cwd=cwd, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {proc.returncode}:\n{proc.stdout}{proc.stderr}")
    return proc


def kubectl(*args, check=True, timeout=60, context=None):
    ctx = ["--context", context] if context else []
    return run("kubectl", "--kubeconfig", KUBECONFIG, *ctx, *args, check=check, timeout=timeout)


def compose(*args, check=True, timeout=180):
    return run(*COMPOSE, *args, check=check, timeout=timeout)


def wait(pred, timeout, what):
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = pred()
        except AssertionError as e:    # a command that failed: not yet
            last = str(e)[-300:]
        else:
            if last:
                return last
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; last: {last!r}")


def get_json(*args, context=None):
    return json.loads(kubectl("get", *args, "-o", "json", context=context).stdout)


def ready_nodes():
    nodes = get_json("nodes")["items"]
    return sorted(n["metadata"]["name"] for n in nodes
                  if any(c["type"] == "Ready" and c["status"] == "True"
                         for c in (n.get("status") or {}).get("conditions", [])))


# ---------------------------------------------------------------- counting every object

# Not stored objects: computed on each request (no uid), or a record of what happened.
NOT_COUNTED = ("events", "componentstatuses")


def listable_resources():
    out = kubectl("api-resources", "--verbs=list", "-o", "name").stdout.split()
    return [r for r in out if r.split(".")[0] not in NOT_COUNTED and not r.endswith("metrics.k8s.io")]


def snapshot() -> dict:
    """uid -> (kind, namespace, name) of every stored object of every listable kind but events."""
    items = get_json(",".join(listable_resources()), "-A")["items"]
    return {i["metadata"]["uid"]: (i["kind"], i["metadata"].get("namespace", ""), i["metadata"]["name"])
            for i in items if i["metadata"].get("uid")}


def compare(before: dict, after: dict, may_go=lambda key: False, may_come=lambda key: False):
    """Nothing lost, nothing new, but what the drill expects; no (kind, ns, name) twice."""
    lost = sorted(k for u, k in before.items() if u not in after and not may_go(k))
    new = sorted(k for u, k in after.items() if u not in before and not may_come(k))
    keys = list(after.values())
    twice = sorted({k for k in keys if keys.count(k) > 1})
    assert not lost, f"objects lost: {lost}"
    assert not new, f"objects that should not exist: {new}"
    assert not twice, f"objects duplicated: {twice}"
    return len(before), len(after)


def web_pod(key) -> bool:
    """A pod of the web Deployment. The drills scale it 3 -> 4 -> 3 and the ReplicaSet
    controller picks which pod goes, so any of its pods may be replaced by a new one, as long
    as their number is the same (compare_web) and every ReplicaSet is exact (settled)."""
    return key[0] == "Pod" and key[2].startswith("web-")


def compare_web(before: dict, after: dict, may_come=lambda key: False):
    """compare(), where only web pods may be replaced, and as many as before remain."""
    counted = compare(before, after, may_go=web_pod, may_come=lambda k: web_pod(k) or may_come(k))
    assert sum(map(web_pod, after.values())) == sum(map(web_pod, before.values())), "web pods"
    return counted


def settled(selector=None):
    """Every ReplicaSet (of `selector`) has exactly its replicas, all Running, and every
    Deployment is available: no pod missing, none too many (as two leaders acting at once
    would make)."""
    only = ["-l", selector] if selector else []
    pods = get_json("pods", "-A")["items"]
    for rs in get_json("replicasets", "-A", *only)["items"]:
        owned = [p for p in pods if any(o["uid"] == rs["metadata"]["uid"]
                                        for o in p["metadata"].get("ownerReferences", []))]
        live = [p for p in owned if not p["metadata"].get("deletionTimestamp")]
        if len(owned) != rs["spec"]["replicas"] or \
                any(p["status"].get("phase") != "Running" for p in live):
            return False
    for d in get_json("deployments", "-A", *only)["items"]:
        if d["status"].get("availableReplicas", 0) != d["spec"]["replicas"]:
            return False
    return True


def write_configmaps(prefix, n):
    for i in range(n):
        kubectl("create", "configmap", f"{prefix}-{i}", f"--from-literal=i={i}")


def check_configmaps(prefix, n):
    cms = {c["metadata"]["name"]: c["data"]["i"] for c in get_json("configmaps")["items"]
           if c["metadata"]["name"].startswith(prefix + "-")}
    assert cms == {f"{prefix}-{i}": str(i) for i in range(n)}


# ---------------------------------------------------------------- the lab

def lab_leftovers():
    """What the lab could leave on the host: containers, the network, volumes, iptables rules."""
    left = []
    for node in NODES:
        left += run("docker", "ps", "-aq", "--filter", f"label=io.minikube-py.node={node}").stdout.split()
    left += run("docker", "ps", "-aq", "--filter", f"label=com.docker.compose.project={PROJECT}").stdout.split()
    left += [n for n in run("docker", "network", "ls", "--format", "{{.Name}}").stdout.split() if n == NETWORK]
    left += [v for v in run("docker", "volume", "ls", "--format", "{{.Name}}").stdout.split()
             if v.startswith("minikube-py-lab-")]
    for what in ("volume", "network"):
        left += run("docker", what, "ls", "-q", "--filter", f"label=com.docker.compose.project={PROJECT}").stdout.split()
    return left


@pytest.fixture(scope="module")
def lab():
    t = time.monotonic()
    build = run("bash", "lab/build-lab-images.sh", timeout=1200)
    print(f"\nlab/build-lab-images.sh: {time.monotonic() - t:.0f} s ({build.stdout.strip().splitlines()[-1]})")
    if NETWORK in run("docker", "network", "ls", "--format", "{{.Name}}").stdout.split():
        pytest.fail(f"a compose lab is already running (network {NETWORK}): bash lab/compose/down.sh")
    t = time.monotonic()
    try:
        compose("up", "-d", timeout=300)
        wait(lambda: ready_nodes() == NODES, 180, "3 Ready nodes")
        print(f"docker-compose up -d -> 3 nodes Ready in {time.monotonic() - t:.0f} s")
        yield
    finally:
        if NETWORK in run("docker", "network", "ls", "--format", "{{.Name}}").stdout.split():
            for svc in ("etcd-1", "apiserver-1", "controller-manager-1", "kubelet-1"):
                print(compose("logs", "--tail", "30", svc, check=False).stdout[-3000:])
            run("bash", "lab/compose/down.sh", check=False, timeout=300)


def test_nginx_and_a_gpu_pod_run(lab):
    kubectl("apply", "-f", "examples/nginx-deployment.yaml")
    kubectl("apply", "-f", "examples/lab/gpu-pod.yaml")
    kubectl("apply", "-f", "examples/lab/web.yaml")
    kubectl("rollout", "status", "deployment/nginx", "--timeout=120s", timeout=150)
    wait(lambda: get_json("pod", "gpu-pod")["status"].get("phase") == "Running", 120, "the GPU pod")
    assert get_json("pod", "gpu-pod")["spec"]["nodeName"] == "lab-node-3"
    assert "NVIDIA H200" in wait(lambda: kubectl("logs", "gpu-pod", check=False).stdout, 30, "nvidia-smi -L")
    wait(settled, 120, "the web Deployment")
    # the cluster DNS answers pods, through kube-proxy's rules for the kube-dns ClusterIP too
    pod = get_json("pods", "-l", "app=web")["items"][0]["metadata"]["name"]
    out = wait(lambda: kubectl("exec", pod, "--", "nslookup", "kubernetes.default.svc.cluster.local", check=False).stdout,
               30, "nslookup from a pod")
    assert "10.96.0.1" in out


# ---------------------------------------------------------------- TLS, authentication, RBAC

def https(port, path, token=None, method="GET", body=None, host="127.0.0.1"):
    """(status, body) of a request to an apiserver's published port (or a kubelet), verifying
    its certificate against the cluster CA (taken from the kubeconfig the `pki` service wrote)."""
    ca = get_ca()
    req = urllib.request.Request(f"https://{host}:{port}{path}", method=method,
                                 data=json.dumps(body).encode() if body else None,
                                 headers={"Content-Type": "application/json",
                                          **({"Authorization": f"Bearer {token}"} if token else {})})
    try:
        with urllib.request.urlopen(req, timeout=10, context=ssl.create_default_context(cadata=ca)) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def get_ca() -> str:
    data = kubectl("config", "view", "--raw", "-o", "jsonpath={.clusters[0].cluster.certificate-authority-data}").stdout
    return base64.b64decode(data).decode()


def test_tls_and_authentication(lab):
    """https only, with the lab's CA; no credential: 401 but for the health paths; a
    ServiceAccount token issued by apiserver-1 is believed by apiserver-2 (one signing key),
    and RBAC gives it nothing (403, as Kubernetes words it)."""
    assert run("kubectl", "config", "view", "--kubeconfig", KUBECONFIG, "-o",
               "jsonpath={.clusters[*].cluster.server}").stdout.split() == \
        ["https://127.0.0.1:16443", "https://127.0.0.1:16444"]
    assert https(16443, "/readyz") == (200, "ok")
    code, body = https(16443, "/api/v1/namespaces/default/pods")
    assert code == 401 and json.loads(body)["reason"] == "Unauthorized", body
    assert "kubernetes-admin" in kubectl("auth", "whoami").stdout
    token = kubectl("create", "token", "default").stdout.strip()          # apiserver-1 signs it
    code, body = https(16444, "/apis/authentication.k8s.io/v1/selfsubjectreviews", token, "POST",
                       {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"})
    assert code == 201 and json.loads(body)["status"]["userInfo"]["username"] == \
        "system:serviceaccount:default:default", body
    code, body = https(16444, "/api/v1/namespaces/default/pods", token)
    assert code == 403 and json.loads(body)["message"].startswith(
        'pods is forbidden: User "system:serviceaccount:default:default" cannot list resource "pods" '
        'in API group "" in the namespace "default"'), body
    # the kubelet API: https with the CA's certificate for the node's address; no credentials, 401
    code, body = https(10250, "/pods", host="10.245.200.11")
    assert code == 401, body


def test_dashboard_answers(lab):
    """The `dashboard` service, reading the API as its own user: the login `dashboard-login`
    made (kube-system/dashboard-viewer's token, as `up` makes it) opens the page (a cookie, a
    redirect to /) and its event stream (a snapshot of the three nodes); no token, 401."""
    token_file = os.path.join(ROOT, "lab", "compose", "dashboard-token")
    wait(lambda: os.path.exists(token_file), 60, "lab/compose/dashboard-token")
    token = open(token_file).read().strip()
    assert f"dashboard: http://127.0.0.1:18001/?token={token}" in compose("logs", "dashboard-login").stdout
    base = "http://127.0.0.1:18001"

    def get(path, **headers):
        conn = http.client.HTTPConnection("127.0.0.1", 18001, timeout=10)
        conn.request("GET", path, headers=headers)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read().decode(errors="replace")
    def log_in():
        try:
            answer = get(f"/?token={token}")
        except OSError:                           # not listening yet
            return None
        return answer if answer[0] != 503 else None
    code, headers, _ = wait(log_in, 60, "the dashboard to answer")
    assert code == 303 and headers["Location"] == "/" and "HttpOnly" in headers["Set-Cookie"]
    assert get("/")[0] == 401 and get("/api/stream")[0] == 401
    assert json.loads(get("/api/whoami", Authorization=f"Bearer {token}")[2])["username"] == \
        "system:serviceaccount:kube-system:dashboard-viewer"
    req = urllib.request.Request(f"{base}/api/stream", headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        seen = ""
        while "lab-node-3" not in seen and len(seen) < 1_000_000:
            seen += r.read1(65536).decode(errors="replace")
    assert '"op":"snapshot"' in seen and all(n in seen for n in NODES)


def etcd_status(via, endpoints):
    """{member name: is leader} as `etcdctl endpoint status` reports it, asked from `via`."""
    out = compose("exec", "-T", via, "etcdctl", "--endpoints=" + ",".join(f"http://{e}:2379" for e in endpoints),
                  "endpoint", "status", "-w", "json").stdout
    status = json.loads(out)
    return {s["Endpoint"].split("//")[1].split(":")[0]: s["Status"]["header"]["member_id"] == s["Status"]["leader"]
            for s in status}


def test_drill_stop_one_etcd_member(lab):
    wait(settled, 120, "a settled cluster")
    leader = next(m for m, lead in etcd_status("etcd-1", ETCD).items() if lead)
    before = snapshot()
    compose("stop", leader)
    rest = [m for m in ETCD if m != leader]
    new_leader = wait(lambda: next((m for m, lead in etcd_status(rest[0], rest).items() if lead), None),
                      30, "a new etcd leader")
    print(f"\netcd leader {leader} stopped; {new_leader} leads now")
    write_configmaps("while-etcd-down", 10)                 # writes go on with 2 of 3 members
    kubectl("scale", "deployment/web", "--replicas=4")
    wait(settled, 120, "the 4th web pod")
    compose("start", leader)
    wait(lambda: len(etcd_status(leader, ETCD)) == 3, 60, f"{leader} back in the cluster")
    kubectl("scale", "deployment/web", "--replicas=3")
    wait(settled, 120, "back to 3 web pods")
    after = snapshot()
    check_configmaps("while-etcd-down", 10)
    counted = compare_web(before, after,
                          may_come=lambda k: k[0] == "ConfigMap" and k[2].startswith("while-etcd-down-"))
    print(f"objects before/after: {counted}, none lost or duplicated")


def lease_holder(name):
    return get_json("lease", name, "-n", "kube-system")["spec"].get("holderIdentity", "")


@full_only
def test_drill_kill_the_controller_manager_leader(lab):
    wait(settled, 120, "a settled cluster")
    leader = lease_holder("kube-controller-manager").split("_")[0]     # hostname_uuid
    assert leader in ("controller-manager-1", "controller-manager-2")
    before = snapshot()
    killed = time.monotonic()
    compose("kill", leader)                                 # SIGKILL: no chance to give the lease back
    standby = {"controller-manager-1": "controller-manager-2"}.get(leader, "controller-manager-1")
    wait(lambda: lease_holder("kube-controller-manager").startswith(standby + "_"), 30, "the standby to lead")
    print(f"\n{standby} leads {time.monotonic() - killed:.1f} s after {leader} was killed (lease 4 s)")
    kubectl("scale", "deployment/web", "--replicas=4")       # only a leading controller-manager can do this
    wait(settled, 120, "the 4th web pod")
    kubectl("scale", "deployment/web", "--replicas=3")
    wait(settled, 120, "back to 3 web pods")
    compose("start", leader)                                # it comes back as the standby
    after = snapshot()
    print(f"objects before/after: {compare_web(before, after)}, none lost or duplicated")
    assert lease_holder("kube-controller-manager").startswith(standby + "_")


@full_only
def test_drill_restart_an_apiserver(lab):
    wait(settled, 120, "a settled cluster")
    before = snapshot()
    compose("restart", "apiserver-1")
    # while it restarts, apiserver-2 (127.0.0.1:16444) answers
    for i in range(5):
        kubectl("create", "configmap", f"apiserver-restart-{i}", f"--from-literal=i={i}",
                context="minikube-py-lab-2")
    wait(lambda: kubectl("get", "--raw", "/readyz").stdout.strip() == "ok", 60, "apiserver-1 ready again")
    kubectl("scale", "deployment/web", "--replicas=4")
    wait(settled, 120, "the 4th web pod")
    kubectl("scale", "deployment/web", "--replicas=3")
    wait(settled, 120, "back to 3 web pods")
    wait(lambda: ready_nodes() == NODES, 60, "every node Ready")
    check_configmaps("apiserver-restart", 5)
    counted = compare_web(before, snapshot(),
                          may_come=lambda k: k[0] == "ConfigMap" and k[2].startswith("apiserver-restart-"))
    print(f"\nobjects before/after: {counted}, none lost or duplicated")


def node_of_pods(selector):
    return {p["metadata"]["name"]: p["spec"].get("nodeName")
            for p in get_json("pods", "-l", selector)["items"] if not p["metadata"].get("deletionTimestamp")}


@full_only
def test_drill_kill_a_kubelet(lab):
    wait(settled, 120, "a settled cluster")
    placed = node_of_pods("app=web")
    victim_node = next((n for n in ("lab-node-1", "lab-node-2") if n in placed.values()), "lab-node-1")
    service = "kubelet-" + victim_node.rsplit("-", 1)[1]
    doomed = {p for p, n in placed.items() if n == victim_node}
    before = snapshot()
    killed = time.monotonic()
    compose("kill", service)
    wait(lambda: victim_node not in ready_nodes(), 60, f"{victim_node} NotReady")
    print(f"\n{victim_node} NotReady {time.monotonic() - killed:.0f} s after its kubelet was killed")
    # (nginx's pods tolerate a lost node for 300 s, web's for 5 s: only web's move now)
    wait(lambda: not (set(node_of_pods("app=web")) & doomed) and settled("app=web"), 120,
         "the web pods to move")
    moved = node_of_pods("app=web")
    assert victim_node not in moved.values() and len(moved) == 3
    print(f"its {len(doomed)} web pods moved in {time.monotonic() - killed:.0f} s: {sorted(moved.values())}")
    compose("start", service)
    wait(lambda: ready_nodes() == NODES, 90, f"{victim_node} Ready again")
    # the returning kubelet removes the containers of the pods that left it
    def old_containers():
        out = run("docker", "ps", "-a", "--filter", f"label=io.minikube-py.node={victim_node}",
                  "--format", '{{.Label "io.kubernetes.pod.name"}}').stdout.split()
        return sorted(set(out) & doomed)
    wait(lambda: not old_containers(), 90, "the old pods' containers gone")
    wait(settled, 120, "a settled cluster")
    after = snapshot()
    counted = compare(before, after, may_go=lambda k: k[0] == "Pod" and k[2] in doomed, may_come=web_pod)
    print(f"objects before/after: {counted}, none lost or duplicated")
    assert sum(map(web_pod, after.values())) == sum(map(web_pod, before.values())), "web pods"


def test_down_leaves_nothing_behind(lab):
    pods = run("docker", "ps", "-q", "--filter", "label=io.minikube-py.node=lab-node-1").stdout.split()
    assert pods, "the lab's pods run as containers of the host's Docker"
    t = time.monotonic()
    # plain Compose, 1.x or v2 (COMPOSE): the pods are labelled as the project's (service `pods`,
    # which removes them when it stops), kube-proxy's rules go when the proxy service stops
    # (docker-compose.yml)
    out = compose("down", "-v", timeout=300)
    print(f"\ndocker-compose down -v: {time.monotonic() - t:.0f} s")
    assert lab_leftovers() == [], out.stdout + out.stderr
    rules = run("iptables-save", check=False).stdout
    assert "KUBE-SERVICES" not in rules
