"""The scheduler against a real apiserver and etcd, with "hollow" Node objects.

No kubelet runs here: the tests create Node objects themselves (capacity,
allocatable, Ready=True), as kubemark's hollow nodes do, and the scheduler binds
pods to them. Most tests run the scheduler in-process (the real one, with short
back-offs); the restart test runs it as the `python -m ...command` process.

Nodes are cluster-wide and the failure messages count every node, so this module
runs on a cluster of its own (the `cluster` fixture below overrides the session
one): nodes left behind by other test modules cannot change what is counted.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from minikube_py.client import errors
from minikube_py.client.rest import Client
from minikube_py.scheduler.profile import Profile
from minikube_py.scheduler.scheduler import Scheduler


@pytest.fixture(scope="module")
def cluster():
    """An etcd + apiserver for this module only (see the module docstring)."""
    from clusters import Cluster   # tests/clusters.py
    c = Cluster().start()
    yield c
    c.stop()


def wait_for(pred, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = pred()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


@pytest.fixture
def nodes(api_client):
    """Create hollow nodes (deleted after the test): nodes(name, cpu=..., labels=..., ...)."""
    created = []

    def make(name, cpu="4", memory="8Gi", pods="110", labels=None, taints=None, ready="True",
             unschedulable=False, **extended):
        alloc = {"cpu": cpu, "memory": memory, "pods": pods,
                 **{k.replace("__", "/").replace("_", "."): v for k, v in extended.items()}}
        node = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
                "spec": {"taints": taints or [], "unschedulable": unschedulable},
                "status": {"capacity": alloc, "allocatable": alloc,
                           "conditions": [{"type": "Ready", "status": ready, "reason": "Hollow"}]}}
        created.append(name)
        return api_client.create("nodes", node)

    yield make
    for name in created:
        try:
            api_client.delete("nodes", name)
        except errors.NotFound:
            pass


@pytest.fixture
def scheduler(cluster):
    """Start an in-process scheduler with a unique name (so only our pods are its business)."""
    started = []

    def start(**kwargs):
        kwargs.setdefault("name", f"sched-{os.urandom(3).hex()}")
        kwargs.setdefault("initial_backoff", 0.05)
        kwargs.setdefault("max_backoff", 0.5)
        s = Scheduler(Client(server=cluster.server), **kwargs).start(sync_timeout=20)
        started.append(s)
        return s

    yield start
    for s in started:
        s.stop()


def pod(name, sched, cpu="100m", memory="64Mi", limits=None, **spec):
    resources = {"requests": {"cpu": cpu, "memory": memory}}
    if limits:
        resources["limits"] = limits      # extended resources are set as limits (requests = limits)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"schedulerName": sched.name,
                     "containers": [{"name": "c", "image": "busybox", "resources": resources}],
                     **spec}}


def node_of(api_client, ns, name):
    return api_client.get("pods", name, namespace=ns)["spec"].get("nodeName")


def wait_bound(api_client, ns, name, timeout=20.0):
    return wait_for(lambda: node_of(api_client, ns, name), timeout, f"pod {ns}/{name} to be bound")


def condition(api_client, ns, name):
    p = api_client.get("pods", name, namespace=ns)
    return next((c for c in p["status"].get("conditions") or [] if c["type"] == "PodScheduled"), None)


def wait_unschedulable(api_client, ns, name, timeout=20.0):
    """Wait for PodScheduled=False and return its message."""
    def check():
        c = condition(api_client, ns, name)
        return c and c["status"] == "False" and c["message"]
    return wait_for(check, timeout, f"pod {ns}/{name} to be marked unschedulable")


def events(api_client, ns, name, reason=None):
    items = api_client.list("events", namespace=ns,
                            field_selector=f"involvedObject.name={name}")["items"]
    return [e for e in items if reason is None or e["reason"] == reason]


# ---------------------------------------------------------------------------- tests
def test_pod_without_node_gets_bound(api_client, namespace, nodes, scheduler):
    nodes("bind-a")
    nodes("bind-b")
    s = scheduler()
    api_client.create("pods", pod("web", s), namespace=namespace)
    node = wait_bound(api_client, namespace, "web")
    assert node in ("bind-a", "bind-b")
    assert condition(api_client, namespace, "web")["status"] == "True"
    ev = wait_for(lambda: events(api_client, namespace, "web", "Scheduled"), what="Scheduled event")
    assert ev[0]["message"] == f"Successfully assigned {namespace}/web to {node}"
    assert ev[0]["type"] == "Normal" and ev[0]["source"]["component"] == s.name
    # pods of another scheduler and pods already bound are left alone
    other = pod("other", s)
    other["spec"]["schedulerName"] = "someone-else"
    api_client.create("pods", other, namespace=namespace)
    api_client.create("pods", dict(pod("pinned", s), spec={**pod("pinned", s)["spec"],
                                                           "nodeName": "bind-b"}),
                      namespace=namespace)
    api_client.create("pods", pod("after", s), namespace=namespace)
    wait_bound(api_client, namespace, "after")
    assert node_of(api_client, namespace, "other") is None
    assert node_of(api_client, namespace, "pinned") == "bind-b"
    assert s.cache.node("bind-b").pods.get(f"{namespace}/pinned") is not None


def test_node_selector_lands_on_the_labelled_node(api_client, namespace, nodes, scheduler):
    nodes("sel-plain-1")
    nodes("sel-ssd", labels={"disk": "ssd"})
    nodes("sel-plain-2")
    s = scheduler()
    for i in range(4):
        api_client.create("pods", pod(f"db-{i}", s, nodeSelector={"disk": "ssd"}), namespace=namespace)
    for i in range(4):
        assert wait_bound(api_client, namespace, f"db-{i}") == "sel-ssd"
    api_client.create("pods", pod("hdd", s, nodeSelector={"disk": "hdd"}), namespace=namespace)
    msg = wait_unschedulable(api_client, namespace, "hdd")
    assert msg == "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."


def test_required_node_affinity(api_client, namespace, nodes, scheduler):
    nodes("aff-small", labels={"cores": "4", "zone": "a"})
    nodes("aff-big", labels={"cores": "64", "zone": "b"})
    s = scheduler()
    affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [
            {"key": "cores", "operator": "Gt", "values": ["16"]},
            {"key": "zone", "operator": "NotIn", "values": ["a"]}]}]}}}
    api_client.create("pods", pod("big", s, affinity=affinity), namespace=namespace)
    assert wait_bound(api_client, namespace, "big") == "aff-big"


def test_fits_nowhere_failed_scheduling_then_a_new_node_helps(api_client, namespace, nodes,
                                                              scheduler, kubectl):
    nodes("small-1", cpu="2")
    nodes("small-2", cpu="2")
    s = scheduler()
    api_client.create("pods", pod("huge", s, cpu="100"), namespace=namespace)
    msg = wait_unschedulable(api_client, namespace, "huge")
    assert msg == "0/2 nodes are available: 2 Insufficient cpu."
    c = condition(api_client, namespace, "huge")
    assert c["reason"] == "Unschedulable"
    got = api_client.get("pods", "huge", namespace=namespace)
    assert got["status"]["phase"] == "Pending"              # the patch kept the rest of status
    ev = wait_for(lambda: events(api_client, namespace, "huge", "FailedScheduling"),
                  what="FailedScheduling event")
    assert ev[0]["type"] == "Warning" and ev[0]["message"] == msg

    out = kubectl("describe", "pod", "huge", "-n", namespace).stdout
    assert "PodScheduled" in out and "False" in out
    assert "FailedScheduling" in out and "2 Insufficient cpu." in out
    assert s.name in out                                      # the event's From column
    assert s.queue.where(f"{namespace}/huge") == "unschedulable"

    nodes("huge-node", cpu="128")                             # a NodeAdd moves it back in
    assert wait_bound(api_client, namespace, "huge") == "huge-node"
    assert condition(api_client, namespace, "huge")["status"] == "True"


def test_taints_keep_pods_off_unless_tolerated(api_client, namespace, nodes, scheduler):
    nodes("taint-dedicated", labels={"pool": "lab"})
    nodes("taint-free")
    s = scheduler()
    api_client.patch("nodes", "taint-dedicated",
                     {"spec": {"taints": [{"key": "dedicated", "value": "lab", "effect": "NoSchedule"}]}})
    wait_for(lambda: s.cache.node("taint-dedicated").taints, what="the taint in the cache")
    for i in range(4):
        api_client.create("pods", pod(f"plain-{i}", s), namespace=namespace)
    for i in range(4):
        assert wait_bound(api_client, namespace, f"plain-{i}") == "taint-free"

    api_client.create("pods", pod("wants-lab", s, nodeSelector={"pool": "lab"}), namespace=namespace)
    assert wait_unschedulable(api_client, namespace, "wants-lab") == (
        "0/2 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, "
        "1 node(s) had untolerated taint {dedicated: lab}.")
    toleration = [{"key": "dedicated", "operator": "Equal", "value": "lab", "effect": "NoSchedule"}]
    api_client.create("pods", pod("tolerant", s, nodeSelector={"pool": "lab"}, tolerations=toleration),
                      namespace=namespace)
    assert wait_bound(api_client, namespace, "tolerant") == "taint-dedicated"


def test_cordon_and_not_ready_nodes_then_recovery(api_client, namespace, nodes, scheduler, kubectl):
    nodes("cordoned")
    nodes("sick", ready="False")
    s = scheduler()
    kubectl("cordon", "cordoned")
    wait_for(lambda: s.cache.node("cordoned").unschedulable, what="cordon in the cache")
    api_client.create("pods", pod("waiting", s), namespace=namespace)
    assert wait_unschedulable(api_client, namespace, "waiting") == (
        "0/2 nodes are available: 1 node(s) had untolerated taint "
        "{node.kubernetes.io/not-ready: }, 1 node(s) were unschedulable.")
    # the kubelet recovers: Ready=True in the node's status -> the pod goes there
    sick = api_client.get("nodes", "sick")
    sick["status"]["conditions"] = [{"type": "Ready", "status": "True", "reason": "KubeletReady"}]
    api_client.update_status("nodes", sick)
    assert wait_bound(api_client, namespace, "waiting") == "sick"
    kubectl("uncordon", "cordoned")
    wait_for(lambda: not s.cache.node("cordoned").unschedulable, what="uncordon in the cache")
    # with 'sick' now busier, the uncordoned empty node is preferred
    api_client.create("pods", pod("next", s, cpu="1"), namespace=namespace)
    assert wait_bound(api_client, namespace, "next") == "cordoned"


def test_deleting_a_pod_lets_a_pending_one_in(api_client, namespace, nodes, scheduler):
    nodes("one-slot", pods="1")
    nodes("one-cpu", cpu="1", labels={"kind": "cpu"})
    s = scheduler()
    api_client.create("pods", pod("first", s, nodeSelector={"kubernetes.io/hostname": "one-slot"}),
                      namespace=namespace)
    wait_bound(api_client, namespace, "first")
    api_client.create("pods", pod("second", s, nodeSelector={"kubernetes.io/hostname": "one-slot"}),
                      namespace=namespace)
    assert "1 Too many pods" in wait_unschedulable(api_client, namespace, "second")
    api_client.delete("pods", "first", namespace=namespace, grace_period_seconds=0)
    assert wait_bound(api_client, namespace, "second") == "one-slot"

    api_client.create("pods", pod("cpu-hog", s, cpu="1", nodeSelector={"kind": "cpu"}),
                      namespace=namespace)
    wait_bound(api_client, namespace, "cpu-hog")
    api_client.create("pods", pod("cpu-wait", s, cpu="500m", nodeSelector={"kind": "cpu"}),
                      namespace=namespace)
    assert "1 Insufficient cpu" in wait_unschedulable(api_client, namespace, "cpu-wait")
    # graceful delete (as kubectl does): the pod stays, terminating, and still holds its cpu
    api_client.delete("pods", "cpu-hog", namespace=namespace)
    wait_for(lambda: api_client.get("pods", "cpu-hog", namespace=namespace)["metadata"]
             .get("deletionTimestamp"), what="deletionTimestamp")
    assert node_of(api_client, namespace, "cpu-wait") is None
    # the kubelet would now stop the containers and finish the delete
    api_client.delete("pods", "cpu-hog", namespace=namespace, grace_period_seconds=0)
    assert wait_bound(api_client, namespace, "cpu-wait") == "one-cpu"


def test_gpu_pods_go_only_to_gpu_nodes(api_client, namespace, nodes, scheduler):
    nodes("gpu-node", nvidia_com__gpu="2")
    nodes("cpu-node")
    s = scheduler()
    for i in range(2):
        api_client.create("pods", pod(f"train-{i}", s, limits={"nvidia.com/gpu": "1"}),
                          namespace=namespace)
    for i in range(2):
        assert wait_bound(api_client, namespace, f"train-{i}") == "gpu-node"
    api_client.create("pods", pod("train-2", s, limits={"nvidia.com/gpu": "1"}),
                      namespace=namespace)
    assert wait_unschedulable(api_client, namespace, "train-2") == \
        "0/2 nodes are available: 2 Insufficient nvidia.com/gpu."
    api_client.create("pods", pod("cpu-only", s), namespace=namespace)
    assert wait_bound(api_client, namespace, "cpu-only") in ("gpu-node", "cpu-node")
    api_client.delete("pods", "train-0", namespace=namespace, grace_period_seconds=0)
    assert wait_bound(api_client, namespace, "train-2") == "gpu-node"


def test_two_pods_never_take_the_last_slot(api_client, namespace, nodes, scheduler):
    nodes("slots", pods="3")
    s = scheduler()
    from concurrent.futures import ThreadPoolExecutor
    with ThreadPoolExecutor(5) as ex:
        list(ex.map(lambda i: api_client.create("pods", pod(f"race-{i}", s), namespace=namespace),
                    range(10)))
    wait_for(lambda: sum(s.queue.where(f"{namespace}/race-{i}") == "unschedulable"
                         for i in range(10)) == 7, what="7 unschedulable pods")
    bound = [p for p in api_client.list("pods", namespace=namespace)["items"] if p["spec"].get("nodeName")]
    assert len(bound) == 3
    assert s.cache.node("slots").requested["cpu"] == 300 and len(s.cache.node("slots").pods) == 3


def test_higher_priority_goes_first_when_a_slot_frees(api_client, namespace, nodes, scheduler):
    nodes("prio", pods="1")
    s = scheduler(initial_backoff=0.01, max_backoff=0.01)
    api_client.create("pods", pod("occupant", s), namespace=namespace)
    wait_bound(api_client, namespace, "occupant")
    api_client.create("pods", pod("low", s, priority=1), namespace=namespace)
    api_client.create("pods", pod("high", s, priority=1000), namespace=namespace)
    for name in ("low", "high"):
        wait_for(lambda: s.queue.where(f"{namespace}/{name}") == "unschedulable", what=name)
    time.sleep(0.05)      # let the 10 ms back-offs run out (a lower bound, not a timing assertion)
    api_client.delete("pods", "occupant", namespace=namespace, grace_period_seconds=0)
    assert wait_bound(api_client, namespace, "high") == "prio"
    wait_for(lambda: s.queue.where(f"{namespace}/low") == "unschedulable", what="low parked again")
    assert node_of(api_client, namespace, "low") is None


def test_spreads_a_controllers_pods(api_client, namespace, nodes, scheduler):
    for i in range(3):
        nodes(f"spread-{i}")
    # only SelectorSpread scores, so the spread is its doing alone
    s = scheduler(profile=Profile(weights={"NodeResourcesLeastAllocated": 0,
                                           "NodeResourcesBalancedAllocation": 0}))
    owner = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web-abc", "uid": "rs-uid-1",
              "controller": True}]
    for i in range(6):
        p = pod(f"web-{i}", s)
        p["metadata"]["ownerReferences"] = owner
        api_client.create("pods", p, namespace=namespace)
    placed = [wait_bound(api_client, namespace, f"web-{i}") for i in range(6)]
    assert sorted(placed.count(f"spread-{i}") for i in range(3)) == [2, 2, 2]


def test_bad_pod_specs_get_failed_scheduling_and_the_scheduler_goes_on(api_client, namespace,
                                                                      nodes, scheduler, cluster):
    nodes("robust")
    s = scheduler()
    bad_affinity = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
        "nodeSelectorTerms": [{"matchExpressions": [{"key": "cores", "operator": "Gt",
                                                     "values": ["many"]}]}]}}}
    api_client.create("pods", pod("bad-affinity", s, affinity=bad_affinity), namespace=namespace)
    msg = wait_unschedulable(api_client, namespace, "bad-affinity")
    assert "nodeSelectorTerms[0]" in msg and "integer" in msg

    # A pod with an unparsable quantity cannot get through the apiserver's validation;
    # write one straight into etcd, as an old or corrupted object would be.
    from minikube_py.storage.etcd import EtcdStore
    store = EtcdStore(cluster.etcd_url)
    try:
        parked = pod("bad-quantity", s)
        parked["spec"]["schedulerName"] = "nobody"         # not ours until it is broken
        good = api_client.create("pods", parked, namespace=namespace)
        key = f"/registry/pods/{namespace}/bad-quantity"
        raw = store.get(key)
        raw["spec"]["containers"][0]["resources"]["requests"]["cpu"] = "two cores"
        raw["spec"]["schedulerName"] = s.name
        store.update(key, raw, int(good["metadata"]["resourceVersion"]))
    finally:
        store.close()
    msg = wait_for(lambda: (events(api_client, namespace, "bad-quantity", "FailedScheduling") or
                            [{}])[0].get("message"), what="FailedScheduling for bad-quantity")
    assert "cpu" in msg and "two cores" in msg
    assert node_of(api_client, namespace, "bad-quantity") is None

    api_client.create("pods", pod("good", s), namespace=namespace)
    assert wait_bound(api_client, namespace, "good") == "robust"
    assert s._thread.is_alive()


def test_failed_binds_are_forgotten_and_retried_or_dropped(api_client, namespace, nodes, cluster):
    """Drive the binding cycle directly (scheduler not started) to hit each failure."""
    nodes("bind-target")
    s = Scheduler(Client(server=cluster.server), name=f"sched-{os.urandom(3).hex()}",
                  initial_backoff=0.05, max_backoff=0.05)
    try:
        s.cache.add_node(api_client.get("nodes", "bind-target"))

        def assumed(name):
            created = api_client.create("pods", pod(name, s), namespace=namespace)
            s.queue.add(created)
            qpi = s.queue.pop(5)
            from minikube_py.scheduler.framework import PodInfo
            info = PodInfo(created)
            s.cache.assume(info, "bind-target")
            return qpi, info

        # the pod was deleted before the bind: forget it and drop it
        qpi, info = assumed("gone")
        api_client.delete("pods", "gone", namespace=namespace)
        s._bind_one(qpi, info, "bind-target")
        assert not s.cache.is_assumed(info.key) and info.key not in s.queue
        assert s.cache.node("bind-target").requested.get("cpu", 0) == 0

        # someone else bound it first (409): forget ours, drop it; the informer brings the truth
        qpi, info = assumed("taken")
        api_client.bind(namespace, "taken", "elsewhere")
        s._bind_one(qpi, info, "bind-target")
        assert not s.cache.is_assumed(info.key) and info.key not in s.queue

        # the node went away: forget, FailedScheduling "Binding rejected", back off and retry
        qpi, info = assumed("orphan")
        # an update arriving while the pod is assumed must not drop it from the queue
        relabelled = api_client.patch("pods", "orphan", {"metadata": {"labels": {"x": "y"}}},
                                      namespace=namespace)
        s._pod_updated(qpi.pod, relabelled)
        s.cache.remove_node({"metadata": {"name": "bind-target"}})
        s._bind_one(qpi, info, "bind-target")
        assert not s.cache.is_assumed(info.key)
        assert s.queue.where(info.key) == "backoff"
        assert "Binding rejected" in wait_unschedulable(api_client, namespace, "orphan")
        assert s.stats["bind_failures"] == 3
    finally:
        s.stop()


def test_scheduler_restart_picks_up_pending_pods(api_client, namespace, nodes, cluster):
    nodes("restart-node", cpu="2")
    name = f"sched-{os.urandom(3).hex()}"
    cmd = [sys.executable, "-m", "minikube_py.scheduler.command", "--kubeconfig", cluster.kubeconfig,
           "--scheduler-name", name, "--pod-initial-backoff-seconds", "0.05",
           "--pod-max-backoff-seconds", "0.5"]
    log_path = os.path.join(cluster.dir, f"{name}.log")

    class S:
        pass
    s = S()
    s.name = name

    def start():
        return subprocess.Popen(cmd, stdout=open(log_path, "ab"), stderr=subprocess.STDOUT)

    proc = start()
    try:
        api_client.create("pods", pod("before", s), namespace=namespace)
        wait_bound(api_client, namespace, "before")
        api_client.create("pods", pod("too-big", s, cpu="8"), namespace=namespace)
        wait_unschedulable(api_client, namespace, "too-big")

        proc.send_signal(signal.SIGKILL)         # a crash: nothing is saved anywhere
        proc.wait(10)
        for i in range(3):
            api_client.create("pods", pod(f"while-down-{i}", s), namespace=namespace)
        time.sleep(0.2)
        assert all(node_of(api_client, namespace, f"while-down-{i}") is None for i in range(3))

        proc = start()
        for i in range(3):
            assert wait_bound(api_client, namespace, f"while-down-{i}", timeout=30) == "restart-node"
        # the pod that fitted nowhere before the crash is found again, and still says why
        nodes("restart-big", cpu="16")
        assert wait_bound(api_client, namespace, "too-big", timeout=30) == "restart-big"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
    assert proc.returncode == 0, open(log_path).read()[-2000:]   # SIGTERM: a clean stop


def test_command_rejects_bad_weights():
    proc = subprocess.run([sys.executable, "-m", "minikube_py.scheduler.command",
                           "--weights", "NoSuchPlugin=3"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "NoSuchPlugin" in proc.stderr


def test_examples_and_tutorial_with_kubectl(api_client, namespace, nodes, scheduler, kubectl):
    """examples/pod-nodeselector.yaml and pod-toleration.yaml, applied with the real kubectl,
    on the tutorial's three nodes (created with kubectl too, status included)."""
    examples = os.path.join(os.path.dirname(__file__), "..", "..", "examples")
    s = scheduler(name="default-scheduler")          # the examples use the default scheduler
    nodes_yaml = """
apiVersion: v1
kind: Node
metadata: {name: small, labels: {disk: hdd}}
status:
  allocatable: {cpu: "2", memory: 4Gi, pods: "10"}
  conditions: [{type: Ready, status: "True"}]
---
apiVersion: v1
kind: Node
metadata: {name: big, labels: {disk: ssd, pool: lab}}
status:
  allocatable: {cpu: "16", memory: 64Gi, pods: "110"}
  conditions: [{type: Ready, status: "True"}]
---
apiVersion: v1
kind: Node
metadata: {name: gpu, labels: {disk: ssd}}
spec:
  taints: [{key: gpu, value: "true", effect: NoSchedule}]
status:
  allocatable: {cpu: "8", memory: 32Gi, pods: "110", nvidia.com/gpu: "2"}
  conditions: [{type: Ready, status: "True"}]
"""
    try:
        kubectl("create", "-f", "-", input=nodes_yaml)
        wait_for(lambda: len(s.cache.nodes()) == 3, what="3 nodes in the cache")
        kubectl("apply", "-n", namespace, "-f", os.path.join(examples, "pod-nodeselector.yaml"))
        assert wait_bound(api_client, namespace, "on-ssd") == "big"

        kubectl("apply", "-n", namespace, "-f", "-", input="""
apiVersion: v1
kind: Pod
metadata: {name: hog}
spec:
  containers:
  - name: hog
    image: busybox
    resources: {requests: {cpu: "20"}}
""")
        assert wait_unschedulable(api_client, namespace, "hog") == (
            "0/3 nodes are available: 1 node(s) had untolerated taint {gpu: true}, "
            "2 Insufficient cpu.")

        kubectl("taint", "node", "big", "dedicated=lab:NoSchedule")
        wait_for(lambda: s.cache.node("big").taints, what="taint in the cache")
        kubectl("apply", "-n", namespace, "-f", os.path.join(examples, "pod-toleration.yaml"))
        assert wait_bound(api_client, namespace, "lab-job") == "big"
        assert wait_bound(api_client, namespace, "plain") == "small"
    finally:
        for name in ("small", "big", "gpu"):
            kubectl("delete", "node", name, "--ignore-not-found", check=False)


def test_scheduler_survives_an_apiserver_restart(api_client, namespace, nodes, scheduler, cluster):
    nodes("survivor")
    s = scheduler()
    api_client.create("pods", pod("before-restart", s), namespace=namespace)
    wait_bound(api_client, namespace, "before-restart")
    cluster.stop_apiserver()
    cluster.start_apiserver()           # same port, same etcd: the informers resume
    api_client.create("pods", pod("after-restart", s), namespace=namespace)
    assert wait_bound(api_client, namespace, "after-restart", timeout=60) == "survivor"
    assert s._thread.is_alive()


def test_leader_election_one_schedules_a_standby_takes_over(api_client, namespace, nodes, cluster):
    """Two schedulers with --leader-elect: only the Lease holder binds; killing it (no chance
    to give the lease back) lets the standby take over once the lease expires."""
    nodes("elect-node", cpu="4")
    name = f"sched-{os.urandom(3).hex()}"

    class S:
        pass
    s = S()
    s.name = name
    procs = {}

    def start(identity):
        log_path = os.path.join(cluster.dir, f"{name}-{identity}.log")
        procs[identity] = (subprocess.Popen(
            [sys.executable, "-m", "minikube_py.scheduler.command", "--kubeconfig", cluster.kubeconfig,
             "--scheduler-name", name, "--leader-elect", "--leader-elect-lease-duration", "3s",
             "--leader-elect-resource-name", name, "--identity", identity],
            stdout=open(log_path, "ab"), stderr=subprocess.STDOUT), log_path)

    def holder():
        try:
            return api_client.get("leases", name, namespace="kube-system")["spec"].get("holderIdentity")
        except errors.NotFound:
            return None

    def log_of(identity):
        return open(procs[identity][1]).read()

    try:
        start("a")
        wait_for(lambda: holder() == "a", 30, "a to lead")
        start("b")
        wait_for(lambda: "campaigning" in log_of("b"), 30, "b to campaign")
        api_client.create("pods", pod("first", s), namespace=namespace)
        assert wait_bound(api_client, namespace, "first") == "elect-node"
        assert "caches synced" not in log_of("b")          # the standby never scheduled

        procs["a"][0].send_signal(signal.SIGKILL)
        procs["a"][0].wait(10)
        api_client.create("pods", pod("second", s), namespace=namespace)
        assert wait_bound(api_client, namespace, "second", timeout=30) == "elect-node"
        assert holder() == "b"
        assert api_client.get("leases", name, namespace="kube-system")["spec"]["leaseTransitions"] >= 1
        b = procs["b"][0]
        b.terminate()                                       # SIGTERM: steps down, gives the lease back
        assert b.wait(20) == 0, log_of("b")[-2000:]
        assert holder() in (None, "")
    finally:
        for proc, _ in procs.values():
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        try:
            api_client.delete("leases", name, namespace="kube-system")
        except errors.NotFound:
            pass
