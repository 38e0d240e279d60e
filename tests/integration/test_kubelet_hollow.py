"""The kubelet against the real apiserver + etcd, with the hollow runtime (no Docker).

Everything the control plane sees is real: Node registration, Lease, pod status,
events, graceful deletion, the /log proxy.  Only the containers are pretend.
"""
import os
import signal
import subprocess
import sys
import time
import uuid

import pytest
import requests

from minikube_py.client import errors
from minikube_py.client.rest import Client
from minikube_py.kubelet.config import KubeletConfig
from minikube_py.kubelet.kubelet import Kubelet
from minikube_py.kubelet.runtime.hollow import HollowRuntime
from minikube_py.kubelet.server import KubeletServer
from minikube_py.kubelet.statusmanager import StatusManager

RUN = uuid.uuid4().hex[:6]


def wait_for(fn, timeout=20.0, what="condition"):
    deadline = time.time() + timeout
    last = None
    while time.time() < deadline:
        try:
            last = fn()
            if last:
                return last
        except errors.NotFound:
            last = None
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what} (last: {last!r})")


@pytest.fixture
def hollow(cluster, tmp_path):
    """Start in-process hollow kubelets; stop them and delete their Nodes afterwards."""
    made = []

    def start(suffix="a", **overrides):
        name = f"hollow-{RUN}-{suffix}"
        client = Client(server=cluster.server)
        http = KubeletServer("127.0.0.1", 0).start()
        settings = dict(node_name=name, state_dir=str(tmp_path / name), port=http.port,
                        lease_seconds=1, status_update_seconds=0.3, status_report_seconds=30,
                        sync_frequency=5, housekeeping_seconds=0.5)
        settings.update(overrides)
        kubelet = Kubelet(KubeletConfig(**settings), client, HollowRuntime(name), http).start()
        made.append((kubelet, http, client))
        return kubelet

    yield start
    admin = Client(server=cluster.server)
    for kubelet, http, client in made:
        kubelet.stop()
        http.stop()
        client.close()
        for resource, ns in (("nodes", None), ("leases", "kube-node-lease")):
            try:
                admin.delete(resource, kubelet.node_name, ns)
            except errors.NotFound:
                pass
    admin.close()


def make_pod(name, node, containers=("app",), **spec):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"nodeName": node, "terminationGracePeriodSeconds": 5,
                     "containers": [{"name": c, "image": "busybox:1.35"} for c in containers],
                     **spec}}


def phase(api, ns, name):
    return (api.get("pods", name, ns).get("status") or {}).get("phase")


# ------------------------------------------------------------------ node, lease
def test_kubelet_registers_node_with_flags_and_renews_lease(hollow, api_client):
    k = hollow("reg", cpu="4", memory="8Gi", pods="20", labels={"lab": "one"},
               taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}])
    node = api_client.get("nodes", k.node_name)
    labels = node["metadata"]["labels"]
    assert labels["kubernetes.io/hostname"] == k.node_name and labels["lab"] == "one"
    assert labels["kubernetes.io/os"] == "linux" and labels["kubernetes.io/arch"]
    assert node["spec"]["taints"] == [{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}]
    status = node["status"]
    assert (status["capacity"]["cpu"], status["capacity"]["memory"], status["capacity"]["pods"]) \
        == ("4", "8Gi", "20")
    assert status["allocatable"]["cpu"] == "4"
    ready = {c["type"]: c for c in status["conditions"]}["Ready"]
    assert (ready["status"], ready["reason"]) == ("True", "KubeletReady")
    assert status["daemonEndpoints"]["kubeletEndpoint"]["Port"] == k.server.port
    assert status["nodeInfo"]["containerRuntimeVersion"].startswith("hollow://")

    lease = wait_for(lambda: api_client.get("leases", k.node_name, "kube-node-lease"),
                     what="lease")
    assert lease["spec"]["holderIdentity"] == k.node_name
    assert lease["spec"]["leaseDurationSeconds"] == 4          # 4 x the 1 s renew interval
    assert lease["metadata"]["ownerReferences"][0]["uid"] == node["metadata"]["uid"]
    first = lease["spec"]["renewTime"]
    assert first.endswith("Z") and len(first.split(".")[1]) == 7   # MicroTime
    wait_for(lambda: api_client.get("leases", k.node_name, "kube-node-lease")["spec"]["renewTime"]
             != first, what="a renewed lease")


def test_restarted_kubelet_takes_over_its_node(hollow, api_client):
    k = hollow("again")
    uid = api_client.get("nodes", k.node_name)["metadata"]["uid"]
    k.stop()
    k2 = hollow("again", labels={"second": "run"})
    node = api_client.get("nodes", k2.node_name)
    assert node["metadata"]["uid"] == uid                          # the same Node object
    assert node["metadata"]["labels"]["second"] == "run"
    assert node["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"] == k2.server.port


# ------------------------------------------------------------------ pods
def test_hollow_pods_run_report_status_and_delete_gracefully(hollow, api_client, namespace):
    k = hollow("pods")
    for i in range(3):
        api_client.create("pods", make_pod(f"p{i}", k.node_name, containers=("a", "b")), namespace)
    for i in range(3):
        wait_for(lambda: phase(api_client, namespace, f"p{i}") == "Running", what=f"p{i} Running")
    pod = api_client.get("pods", "p0", namespace)
    st = pod["status"]
    assert st["podIP"].startswith("10.") and st["hostIP"] == "127.0.0.1" and st["startTime"]
    assert [c["name"] for c in st["containerStatuses"]] == ["a", "b"]
    assert all(c["ready"] and c["state"]["running"] and c["containerID"].startswith("hollow://")
               for c in st["containerStatuses"])
    conds = {c["type"]: c["status"] for c in st["conditions"]}
    assert conds == {"PodReadyToStartContainers": "True", "Initialized": "True",
                     "Ready": "True", "ContainersReady": "True", "PodScheduled": "True"}

    # Statuses are written only when they change: a quiet pod costs nothing.
    writes = k.status_manager.writes
    rv = pod["metadata"]["resourceVersion"]
    for w in k.workers._workers.values():
        w.wake()
    time.sleep(1.0)
    assert k.status_manager.writes == writes
    assert api_client.get("pods", "p0", namespace)["metadata"]["resourceVersion"] == rv

    # Events: Created / Started, from the kubelet of this node.
    events = wait_for(lambda: [e for e in api_client.list("events", namespace)["items"]
                               if e["involvedObject"]["name"] == "p0"
                               and e["reason"] == "Started"], what="Started events")
    assert events[0]["source"] == {"component": "kubelet", "host": k.node_name}
    assert events[0]["involvedObject"]["fieldPath"] in ("spec.containers{a}", "spec.containers{b}")

    # Graceful deletion: the apiserver only marks the pod; the kubelet stops it and deletes it.
    uid1 = api_client.get("pods", "p1", namespace)["metadata"]["uid"]
    assert len(k.runtime.list_containers(uid1)) == 3               # sandbox + a + b
    api_client.delete("pods", "p1", namespace)
    wait_for(lambda: _gone(api_client, namespace, "p1"), what="p1 deleted by the kubelet")
    assert k.runtime.list_containers(uid1) == []
    assert phase(api_client, namespace, "p0") == "Running"          # the others go on


def test_hollow_init_containers_and_active_deadline(hollow, api_client, namespace):
    k = hollow("init")
    api_client.create("pods", make_pod("with-init", k.node_name, initContainers=[
        {"name": "i1", "image": "busybox:1.35"}, {"name": "i2", "image": "busybox:1.35"}]),
        namespace)
    wait_for(lambda: phase(api_client, namespace, "with-init") == "Running", what="Running")
    st = api_client.get("pods", "with-init", namespace)["status"]
    assert [(c["name"], c["state"]["terminated"]["reason"], c["ready"])
            for c in st["initContainerStatuses"]] == [("i1", "Completed", True),
                                                      ("i2", "Completed", True)]
    api_client.create("pods", make_pod("deadline", k.node_name, activeDeadlineSeconds=1),
                      namespace)
    wait_for(lambda: phase(api_client, namespace, "deadline") == "Failed", what="Failed")
    st = api_client.get("pods", "deadline", namespace)["status"]
    assert st["reason"] == "DeadlineExceeded"
    assert st["message"] == "Pod was active on the node longer than the specified deadline"
    uid = api_client.get("pods", "deadline", namespace)["metadata"]["uid"]
    assert not [c for c in k.runtime.list_containers(uid) if c.state == "running"]


def _gone(api, ns, name):
    try:
        api.get("pods", name, ns)
        return False
    except errors.NotFound:
        return True


def test_pod_recreated_under_same_name_never_gets_old_status(cluster, api_client, namespace):
    """The status manager writes with resourceVersion and checks the uid on conflict."""
    node = f"nobody-{RUN}"
    old = api_client.create("pods", make_pod("same", node), namespace)
    api_client.delete("pods", "same", namespace, grace_period_seconds=0)
    wait_for(lambda: _gone(api_client, namespace, "same"), what="old pod gone")
    new = api_client.create("pods", make_pod("same", node), namespace)
    sm = StatusManager(Client(server=cluster.server))
    assert sm.set_status(old, {"phase": "Running", "podIP": "1.2.3.4"}) is False
    assert (api_client.get("pods", "same", namespace).get("status") or {}).get("podIP") is None
    assert sm.set_status(new, {"phase": "Running", "podIP": "1.2.3.5"}) is True
    assert api_client.get("pods", "same", namespace)["status"]["podIP"] == "1.2.3.5"
    assert sm.set_status(new, {"phase": "Running", "podIP": "1.2.3.5"}) is False   # unchanged


def test_a_status_changed_by_someone_else_is_written_again(cluster, api_client, namespace):
    """The node lifecycle controller marks pods not Ready when heartbeats stop; when the
    kubelet is back, its next sync must put Ready=True back, not trust its memory."""
    pod = api_client.create("pods", make_pod("back", f"nobody-{RUN}"), namespace)
    sm = StatusManager(Client(server=cluster.server))
    ready = {"phase": "Running", "conditions": [{"type": "Ready", "status": "True"}]}
    assert sm.set_status(pod, ready) is True
    assert sm.set_status(pod, ready) is False              # the old copy: nothing to do
    api_client.patch("pods", "back", {"status": {"conditions": [
        {"type": "Ready", "status": "False", "reason": "NodeNotReady"}]}}, namespace=namespace,
        subresource="status")
    fresh = api_client.get("pods", "back", namespace)
    assert sm.set_status(fresh, ready) is True             # written again
    assert api_client.get("pods", "back", namespace)["status"]["conditions"][0]["status"] == "True"
    assert sm.set_status(api_client.get("pods", "back", namespace), ready) is False


# ------------------------------------------------------------------ /log proxy
def test_log_proxy_checks_pod_and_container(hollow, api_client, cluster, namespace):
    k = hollow("logs")
    api_client.create("pods", make_pod("duo", k.node_name, containers=("web", "side")), namespace)
    api_client.create("pods", make_pod("solo", k.node_name), namespace)
    api_client.create("pods", make_pod("unbound", None), namespace)
    wait_for(lambda: phase(api_client, namespace, "duo") == "Running", what="duo Running")
    wait_for(lambda: phase(api_client, namespace, "solo") == "Running", what="solo Running")
    base = f"{cluster.server}/api/v1/namespaces/{namespace}/pods"

    r = requests.get(f"{base}/nope/log")
    assert r.status_code == 404 and r.json()["reason"] == "NotFound"
    r = requests.get(f"{base}/duo/log")
    assert r.status_code == 400
    assert r.json()["message"] == "a container name must be specified for pod duo, " \
                                  "choose one of: [web side]"
    r = requests.get(f"{base}/duo/log", params={"container": "db"})
    assert (r.status_code, r.json()["message"]) == (400, "container db is not valid for pod duo")
    r = requests.get(f"{base}/unbound/log")
    assert r.json()["message"] == "pod unbound does not have a host assigned"
    r = requests.get(f"{base}/duo/log", params={"container": "web", "tailLines": "x"})
    assert r.status_code == 400
    r = requests.get(f"{base}/solo/log")                          # one container: no name needed
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    assert r.text == ""                                            # hollow containers are quiet
    r = requests.get(f"{base}/solo/log", params={"previous": "true"})
    assert r.status_code == 400 and "previous terminated container" in r.json()["message"]

    # The kubelet's own endpoint
    r = requests.get(f"http://127.0.0.1:{k.server.port}/healthz")
    assert r.text == "ok"
    pods = requests.get(f"http://127.0.0.1:{k.server.port}/pods").json()
    assert {"duo", "solo"} <= {p["metadata"]["name"] for p in pods["items"]}

    # A kubelet that does not answer: a clear error, not a hang.
    k.server.stop()
    r = requests.get(f"{base}/solo/log", timeout=15)
    assert r.status_code == 500 and "connection refused" in r.json()["message"]


# ------------------------------------------------------------------ the command
def test_hollow_nodes_command(cluster, api_client, namespace, tmp_path):
    prefix = f"hn-{RUN}"
    log = open(tmp_path / "kubelet.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "minikube_py.kubelet.command", "--node-name", prefix,
         "--runtime", "hollow", "--hollow-nodes", "3", "--kubeconfig", cluster.kubeconfig,
         "--state-dir", str(tmp_path / "state"), "--lease-seconds", "1",
         "--status-update-seconds", "1"], stdout=log, stderr=subprocess.STDOUT)
    names = [f"{prefix}-{i}" for i in range(3)]
    try:
        for n in names:
            wait_for(lambda: any(c["type"] == "Ready" and c["status"] == "True" for c in
                                 (api_client.get("nodes", n).get("status") or {})
                                 .get("conditions") or []),
                     what=f"node {n} Ready")
        for i, n in enumerate(names):
            api_client.create("pods", make_pod(f"h{i}", n), namespace)
        for i in range(3):
            wait_for(lambda: phase(api_client, namespace, f"h{i}") == "Running", what="Running")
        ports = {api_client.get("nodes", n)["status"]["daemonEndpoints"]["kubeletEndpoint"]["Port"]
                 for n in names}
        assert len(ports) == 1                                   # one server for all of them
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(15) == 0, open(tmp_path / "kubelet.log").read()[-2000:]
        for n in names:
            for resource, ns in (("nodes", None), ("leases", "kube-node-lease")):
                try:
                    api_client.delete(resource, n, ns)
                except errors.NotFound:
                    pass


def test_command_rejects_bad_flags_and_missing_docker(cluster, tmp_path):
    def run(*args):
        return subprocess.run([sys.executable, "-m", "minikube_py.kubelet.command",
                               "--kubeconfig", cluster.kubeconfig, "--state-dir",
                               str(tmp_path), *args], capture_output=True, text=True, timeout=60)
    r = run("--node-name", "x", "--register-with-taints", "k=v:Sometimes")
    assert r.returncode == 2 and "invalid taint" in r.stderr
    r = run("--node-name", "x", "--memory", "lots")
    assert r.returncode == 2 and "invalid --memory" in r.stderr
    r = run("--node-name", "x", "--hollow-nodes", "2")
    assert r.returncode == 2 and "--runtime hollow" in r.stderr
    sock = os.path.join(str(tmp_path), "no-docker.sock")
    r = run("--node-name", "x", "--docker-endpoint", f"unix://{sock}")
    assert r.returncode == 1
    assert "cannot reach the container runtime" in r.stderr and sock in r.stderr


def test_an_unchanged_node_status_is_not_written_again_until_the_report_period(hollow, api_client):
    """As the kubelet's nodeStatusReportFrequency (5 min by default): the status is
    recomputed every update period but written only when it changed; the Lease alone
    says the node is alive. 5,000 nodes would otherwise write their Node ~17 times a second."""
    assert KubeletConfig(node_name="x").status_report_seconds == 300
    kubelet = hollow("quiet", status_report_seconds=300)
    name = kubelet.config.node_name
    wait_for(lambda: kubelet.reporter.posts >= 1, what="the first status")
    rv = api_client.get("nodes", name)["metadata"]["resourceVersion"]
    lease_rv = wait_for(lambda: api_client.get("leases", name, "kube-node-lease"),
                        what="the lease")["metadata"]["resourceVersion"]
    time.sleep(2.5)                       # ~8 status updates (0.3 s), 2 lease renewals (1 s)
    assert api_client.get("nodes", name)["metadata"]["resourceVersion"] == rv
    assert api_client.get("leases", name, "kube-node-lease")["metadata"]["resourceVersion"] != lease_rv


def test_kubelet_repairs_a_ready_condition_someone_else_changed(hollow, api_client):
    """After a network cut the node lifecycle controller marks the node Ready=Unknown; the
    kubelet, back, must set Ready=True at its next status update, not a minute later."""
    kubelet = hollow("repair", status_report_seconds=3600)
    name = kubelet.config.node_name

    def ready():
        node = api_client.get("nodes", name)
        return [c for c in node["status"].get("conditions", []) if c["type"] == "Ready"][0]

    wait_for(lambda: ready()["status"] == "True", what="node Ready")
    node = api_client.get("nodes", name)
    conditions = [dict(c, status="Unknown", reason="NodeStatusUnknown",
                       message="Kubelet stopped posting node status.") if c["type"] == "Ready" else c
                  for c in node["status"]["conditions"]]
    api_client.patch("nodes", name, {"status": {"conditions": conditions}}, subresource="status")
    assert ready()["status"] == "Unknown"
    fixed = wait_for(lambda: ready()["status"] == "True" and ready(), timeout=10, what="Ready again")
    assert fixed["reason"] != "NodeStatusUnknown"


def test_status_updates_compare_against_the_node_informer_not_a_get(hollow, api_client, monkeypatch):
    """As the kubelet's first try reads its nodeLister: the Node it compares each status
    update against comes from a watch of its own Node (metadata.name=<node>), not from a
    GET every update period -- at 5,000 nodes those GETs were half the idle requests."""
    kubelet = hollow("lister", status_report_seconds=3600)
    name = kubelet.config.node_name
    wait_for(lambda: kubelet.reporter.posts >= 1 and kubelet.node.has_synced(), what="status and informer")
    gets = []
    real_get = kubelet.client.get
    monkeypatch.setattr(kubelet.client, "get",
                        lambda resource, *a, **kw: gets.append(resource) or real_get(resource, *a, **kw))
    time.sleep(1.5)                      # ~5 status updates (0.3 s)
    assert "nodes" not in gets
    # The informer follows changes made by others: a label set by an admin shows in its copy.
    api_client.patch("nodes", name, {"metadata": {"labels": {"course": "k8s-inside"}}})
    wait_for(lambda: (kubelet._own_node()["metadata"].get("labels") or {}).get("course") == "k8s-inside",
             what="the label in the kubelet's copy")
