"""The DaemonSet controller against a real apiserver and etcd, with the real scheduler.

Nodes are Node objects this module creates (allocatable, Ready=True), as kubemark's
hollow nodes; the real scheduler (in-process) binds the daemon pods, and a FakeKubelet
reports bound pods Running and Ready and finishes graceful deletions. Nodes are
cluster-wide and a DaemonSet counts every node, so the module runs on a cluster of its
own (the `cluster` fixture below overrides the session one).
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from fakekubelet import FakeKubelet
from polling import wait_for
from minikube_py.client import errors
from minikube_py.client.rest import Client
from minikube_py.scheduler.scheduler import Scheduler


ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


@pytest.fixture(scope="module")
def cluster():
    from clusters import Cluster   # tests/clusters.py
    c = Cluster().start()
    yield c
    c.stop()


def mkctl(cluster, *args):
    """``mkctl --kubeconfig <this module's cluster> ARGS`` (our kubectl-like CLI)."""
    proc = subprocess.run([sys.executable, "-m", "minikube_py.cli.mkctl", "--kubeconfig", cluster.kubeconfig, *args],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


def make_node(client, name, labels=None, taints=None, unschedulable=False):
    alloc = {"cpu": "4", "memory": "8Gi", "pods": "110"}
    return client.create("nodes", {
        "apiVersion": "v1", "kind": "Node",
        "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
        "spec": {"taints": taints or [], "unschedulable": unschedulable},
        "status": {"capacity": alloc, "allocatable": alloc,
                   "conditions": [{"type": "Ready", "status": "True", "reason": "Hollow"}]}})


@pytest.fixture(scope="module")
def workers(cluster, controller_manager):
    """Three nodes, the daemonset controller and a scheduler, for the whole module."""
    client = Client(server=cluster.server)
    for i in (1, 2, 3):
        make_node(client, f"node-{i}")
    controller_manager(["daemonset"])
    scheduler = Scheduler(Client(server=cluster.server), initial_backoff=0.05, max_backoff=0.5).start(sync_timeout=20)
    yield client
    scheduler.stop()
    client.close()


@pytest.fixture
def kubelet(api_client, namespace):
    """Bound pods of the test's namespace become Running and Ready."""
    with FakeKubelet(api_client, namespace, only=lambda p: p["spec"].get("nodeName")) as k:
        yield k


@pytest.fixture
def extra_nodes(workers):
    made = []

    def make(name, **kwargs):
        made.append(name)
        return make_node(workers, name, **kwargs)
    yield make
    for name in made:
        try:
            workers.delete("nodes", name)
        except errors.NotFound:
            pass


def daemonset(name="agent", image="busybox:1.0", strategy=None, **pod_spec):
    spec = {"selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}},
                         "spec": {"containers": [{"name": "agent", "image": image}], **pod_spec}}}
    if strategy:
        spec["updateStrategy"] = strategy
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name}, "spec": spec}


def create(kubectl, namespace, obj):
    kubectl("apply", "-n", namespace, "-f", "-", input=json.dumps(obj))


def pods_of(client, namespace, name="agent", live=True):
    label = "name" if name == "gpu-device-plugin" else "app"
    items = client.list("pods", namespace=namespace, label_selector=f"{label}={name}")["items"]
    return [p for p in items if not (live and p["metadata"].get("deletionTimestamp"))]


def by_node(pods):
    return {p["spec"].get("nodeName"): p for p in pods}


def ds_status(client, namespace, name="agent"):
    return client.get("daemonsets", name, namespace=namespace).get("status") or {}


def settled(client, namespace, want, name="agent"):
    """The status once `want` nodes each run one ready, up-to-date pod."""
    def check():
        st = ds_status(client, namespace, name)
        ds = client.get("daemonsets", name, namespace=namespace)
        return (st.get("observedGeneration") == ds["metadata"]["generation"]
                and st.get("desiredNumberScheduled") == want and st.get("numberAvailable") == want
                and st.get("updatedNumberScheduled") == want and st.get("currentNumberScheduled") == want
                and len(pods_of(client, namespace, name)) == want and st)
    return wait_for(check, what=f"{want} ready pods")


def test_one_pod_per_node_placed_by_the_scheduler_through_node_affinity(cluster, workers, api_client, kubectl,
                                                                       namespace, kubelet, extra_nodes):
    create(kubectl, namespace, daemonset())
    status = settled(api_client, namespace, 3)
    assert status["numberReady"] == 3 and status["numberUnavailable"] == 0 and status["numberMisscheduled"] == 0
    pods = by_node(pods_of(api_client, namespace))
    assert set(pods) == {"node-1", "node-2", "node-3"}
    pod = pods["node-2"]
    terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
    assert terms == [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-2"]}]}]
    tolerations = {(t["key"], t["effect"]) for t in pod["spec"]["tolerations"]}
    assert {("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/unreachable", "NoExecute"),
            ("node.kubernetes.io/disk-pressure", "NoSchedule"), ("node.kubernetes.io/memory-pressure", "NoSchedule"),
            ("node.kubernetes.io/pid-pressure", "NoSchedule"),
            ("node.kubernetes.io/unschedulable", "NoSchedule")} <= tolerations
    owner = pod["metadata"]["ownerReferences"][0]
    assert owner["kind"] == "DaemonSet" and owner["controller"] is True
    assert pod["metadata"]["labels"]["controller-revision-hash"] and pod["metadata"]["labels"]["pod-template-generation"] == "1"
    # kubectl get ds prints the DaemonSet columns
    header, row = kubectl("get", "ds", "-n", namespace).stdout.splitlines()[:2]
    assert header.split() == ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE", "SELECTOR", "AGE"]
    assert row.split()[:7] == ["agent", "3", "3", "3", "3", "3", "<none>"]
    text = mkctl(cluster, "describe", "daemonset", "agent", "-n", namespace)
    for line in ("Desired Number of Nodes Scheduled: 3", "Number of Nodes Scheduled with Up-to-date Pods: 3",
                 "Number of Nodes Misscheduled: 0", "Pods Status:", "3 Running / 0 Waiting"):
        assert line in text, text
    # a 4th node gets a pod; a node that goes loses it
    extra_nodes("node-4")
    settled(api_client, namespace, 4)
    assert "node-4" in by_node(pods_of(api_client, namespace))
    api_client.delete("nodes", "node-4")
    settled(api_client, namespace, 3)
    assert "node-4" not in by_node(pods_of(api_client, namespace))
    # a deleted pod comes back on its node
    api_client.delete("pods", pods["node-1"]["metadata"]["name"], namespace=namespace)
    wait_for(lambda: (p := by_node(pods_of(api_client, namespace)).get("node-1"))
             and p["metadata"]["uid"] != pods["node-1"]["metadata"]["uid"], what="a new pod on node-1")


def test_taints_tolerations_cordon_and_node_selector(workers, api_client, kubectl, namespace, kubelet, extra_nodes):
    extra_nodes("tainted", taints=[{"key": "dedicated", "value": "gpu", "effect": "NoSchedule"}],
                labels={"gpu": "true"})
    extra_nodes("cordoned", unschedulable=True)
    create(kubectl, namespace, daemonset("plain"))
    create(kubectl, namespace, daemonset("tolerant", tolerations=[{"key": "dedicated", "operator": "Exists"}]))
    create(kubectl, namespace, daemonset("gpu-only", nodeSelector={"gpu": "true"},
                                         tolerations=[{"key": "dedicated", "operator": "Exists"}]))
    create(kubectl, namespace, daemonset("by-affinity", tolerations=[{"key": "dedicated", "operator": "Exists"}],
                                         affinity={"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
                                             "nodeSelectorTerms": [{"matchExpressions": [
                                                 {"key": "gpu", "operator": "In", "values": ["true"]}]}]}}}))
    settled(api_client, namespace, 4, "plain")              # 3 + cordoned; not the tainted one
    assert set(by_node(pods_of(api_client, namespace, "plain"))) == {"node-1", "node-2", "node-3", "cordoned"}
    settled(api_client, namespace, 5, "tolerant")
    assert "tainted" in by_node(pods_of(api_client, namespace, "tolerant"))
    settled(api_client, namespace, 1, "gpu-only")
    assert set(by_node(pods_of(api_client, namespace, "gpu-only"))) == {"tainted"}
    settled(api_client, namespace, 1, "by-affinity")
    pod = pods_of(api_client, namespace, "by-affinity")[0]
    assert pod["spec"]["nodeName"] == "tainted"        # the required terms became matchFields on the node's name
    # a node that gets the label gets the pod, by nodeSelector and by node affinity alike
    api_client.patch("nodes", "node-3", {"metadata": {"labels": {"gpu": "true"}}})
    settled(api_client, namespace, 2, "gpu-only")
    settled(api_client, namespace, 2, "by-affinity")
    api_client.patch("nodes", "node-3", {"metadata": {"labels": {"gpu": None}}})
    settled(api_client, namespace, 1, "gpu-only")
    settled(api_client, namespace, 1, "by-affinity")
    # NoSchedule added under a running pod: it stays (desired drops, the pod is misscheduled);
    # NoExecute: it goes
    api_client.patch("nodes", "node-2", {"spec": {"taints": [{"key": "maint", "effect": "NoSchedule"}]}})
    st = wait_for(lambda: (s := ds_status(api_client, namespace, "plain")).get("desiredNumberScheduled") == 3 and s,
                  what="node-2 no longer desired")
    assert st["numberMisscheduled"] == 1 and "node-2" in by_node(pods_of(api_client, namespace, "plain"))
    api_client.patch("nodes", "node-2", {"spec": {"taints": [{"key": "maint", "effect": "NoExecute"}]}})
    wait_for(lambda: "node-2" not in by_node(pods_of(api_client, namespace, "plain")), what="evicted from node-2")
    api_client.patch("nodes", "node-2", {"spec": {"taints": []}})
    settled(api_client, namespace, 4, "plain")


def until(done, timeout=90.0, what="the rollout"):
    """Poll `done` until it is true; the caller checks its invariants inside it."""
    deadline = time.time() + timeout
    while not done():
        assert time.time() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def ready_nodes(client, namespace, name="agent"):
    return {p["spec"].get("nodeName") for p in pods_of(client, namespace, name)
            if any(c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions") or [])}


def test_rolling_update_replaces_one_node_at_a_time_then_history_and_undo(workers, api_client, kubectl,
                                                                          namespace, kubelet):
    create(kubectl, namespace, daemonset())
    settled(api_client, namespace, 3)
    first = {p["metadata"]["uid"] for p in pods_of(api_client, namespace)}
    kubectl("set", "image", "ds/agent", "agent=busybox:2.0", "-n", namespace)
    lowest = [3]

    def done():                                # at most maxUnavailable=1 node without a ready pod
        lowest[0] = min(lowest[0], len(ready_nodes(api_client, namespace)))
        st = ds_status(api_client, namespace)
        return st.get("updatedNumberScheduled") == 3 and st.get("numberAvailable") == 3 \
            and st.get("observedGeneration") == 2
    until(done)
    assert lowest[0] >= 2
    pods = pods_of(api_client, namespace)
    assert len(pods) == 3 and not first & {p["metadata"]["uid"] for p in pods}
    assert {p["spec"]["containers"][0]["image"] for p in pods} == {"busybox:2.0"}
    out = kubectl("rollout", "status", "ds/agent", "-n", namespace, "--timeout=30s").stdout
    assert 'daemon set "agent" successfully rolled out' in out
    revisions = api_client.list("controllerrevisions", namespace=namespace)["items"]
    assert sorted(r["revision"] for r in revisions) == [1, 2]
    header = kubectl("get", "controllerrevisions", "-n", namespace).stdout.splitlines()[0]
    assert header.split() == ["NAME", "CONTROLLER", "REVISION", "AGE"]
    assert "daemonset.apps/agent" in kubectl("get", "controllerrevisions", "-n", namespace).stdout
    history = kubectl("rollout", "history", "ds/agent", "-n", namespace).stdout
    assert "REVISION" in history and "1 " in history and "2 " in history
    assert "busybox:1.0" in kubectl("rollout", "history", "ds/agent", "-n", namespace, "--revision=1").stdout
    kubectl("rollout", "undo", "ds/agent", "-n", namespace)
    wait_for(lambda: {p["spec"]["containers"][0]["image"] for p in pods_of(api_client, namespace)} == {"busybox:1.0"}
             and ds_status(api_client, namespace).get("numberAvailable") == 3
             and ds_status(api_client, namespace).get("updatedNumberScheduled") == 3, what="rolled back")
    revisions = api_client.list("controllerrevisions", namespace=namespace)["items"]
    assert sorted(r["revision"] for r in revisions) == [2, 3]        # revision 1 came back as 3
    kubectl("rollout", "restart", "ds/agent", "-n", namespace)
    kubectl("rollout", "status", "ds/agent", "-n", namespace, "--timeout=60s")
    assert all("kubectl.kubernetes.io/restartedAt" in p["metadata"].get("annotations", {})
               for p in pods_of(api_client, namespace))


def test_max_surge_starts_the_new_pod_before_the_old_one_goes(workers, api_client, kubectl, namespace, kubelet):
    create(kubectl, namespace, daemonset(strategy={"type": "RollingUpdate",
                                                   "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}))
    settled(api_client, namespace, 3)
    kubectl("set", "image", "ds/agent", "agent=busybox:2.0", "-n", namespace)
    most = [3]

    def done():                                # never a node without a ready pod; 4 pods at most
        most[0] = max(most[0], len(pods_of(api_client, namespace)))
        assert len(ready_nodes(api_client, namespace)) == 3
        st = ds_status(api_client, namespace)
        return st.get("updatedNumberScheduled") == 3 and st.get("numberAvailable") == 3 \
            and st.get("observedGeneration") == 2 and len(pods_of(api_client, namespace)) == 3
    until(done)
    assert most[0] == 4


def test_on_delete_replaces_only_deleted_pods_and_history_is_limited(workers, api_client, kubectl, namespace, kubelet):
    ds = daemonset(strategy={"type": "OnDelete"})
    ds["spec"]["revisionHistoryLimit"] = 1
    create(kubectl, namespace, ds)
    settled(api_client, namespace, 3)
    kubectl("set", "image", "ds/agent", "agent=busybox:2.0", "-n", namespace)
    st = wait_for(lambda: (s := ds_status(api_client, namespace)).get("observedGeneration") == 2 and s, what="seen")
    assert st["updatedNumberScheduled"] == 0
    victim = by_node(pods_of(api_client, namespace))["node-1"]
    api_client.delete("pods", victim["metadata"]["name"], namespace=namespace)
    wait_for(lambda: ds_status(api_client, namespace).get("updatedNumberScheduled") == 1
             and ds_status(api_client, namespace).get("numberAvailable") == 3, what="one updated pod")
    assert by_node(pods_of(api_client, namespace))["node-1"]["spec"]["containers"][0]["image"] == "busybox:2.0"
    # two more versions: the revisions in use by pods stay, the unused beyond the limit go
    kubectl("set", "image", "ds/agent", "agent=busybox:3.0", "-n", namespace)
    kubectl("set", "image", "ds/agent", "agent=busybox:4.0", "-n", namespace)
    revs = wait_for(lambda: (r := api_client.list("controllerrevisions", namespace=namespace)["items"])
                    and ds_status(api_client, namespace).get("observedGeneration") == 4 and len(r) == 4 and r,
                    what="revisions 1, 2 (in use), 3 (within the limit), 4")
    assert sorted(r["revision"] for r in revs) == [1, 2, 3, 4]
    kubectl("set", "image", "ds/agent", "agent=busybox:5.0", "-n", namespace)
    revs = wait_for(lambda: (r := api_client.list("controllerrevisions", namespace=namespace)["items"])
                    and max(x["revision"] for x in r) == 5 and len(r) == 4 and r, what="revision 3 dropped")
    assert sorted(r["revision"] for r in revs) == [1, 2, 4, 5]


def test_invalid_daemonsets_are_refused(workers, api_client, namespace):
    bad = daemonset(strategy={"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 0, "maxUnavailable": 0}})
    with pytest.raises(errors.Invalid) as err:
        api_client.create("daemonsets", bad, namespace=namespace)
    assert err.value.details["causes"][0]["field"] == "spec.updateStrategy.rollingUpdate.maxUnavailable"
    bad = daemonset()
    bad["spec"]["template"]["metadata"]["labels"] = {"app": "other"}
    with pytest.raises(errors.Invalid) as err:
        api_client.create("daemonsets", bad, namespace=namespace)
    assert "selector" in err.value.message
    bad = daemonset(strategy={"type": "Sometimes"})
    with pytest.raises(errors.Invalid):
        api_client.create("daemonsets", bad, namespace=namespace)
    created = api_client.create("daemonsets", daemonset(), namespace=namespace)
    assert created["spec"]["updateStrategy"] == {"type": "RollingUpdate",
                                                 "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 0}}
    assert created["spec"]["revisionHistoryLimit"] == 10
    created["spec"]["selector"] = {"matchLabels": {"app": "agent", "x": "y"}}
    created["spec"]["template"]["metadata"]["labels"]["x"] = "y"
    with pytest.raises(errors.Invalid):
        api_client.update("daemonsets", created)


def test_the_gpu_device_plugin_example_runs_one_plugin_pod_per_node(workers, api_client, kubectl):
    example = os.path.join(ROOT, "examples", "gpu-device-plugin-daemonset.yaml")
    kubectl("apply", "-n", "kube-system", "-f", example)
    try:
        pods = wait_for(lambda: (p := pods_of(api_client, "kube-system", "gpu-device-plugin"))
                        and ds_status(api_client, "kube-system", "gpu-device-plugin").get("currentNumberScheduled") == 3
                        and len({x["spec"].get("nodeName") for x in p}) == 3 and p, what="a plugin pod per node")
        pod = pods[0]
        assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in pod["spec"]["tolerations"]
        assert pod["spec"]["volumes"][0]["hostPath"]["path"] == "/var/lib/kubelet/device-plugins"
        assert pod["spec"]["containers"][0]["command"][:3] == ["minikube-py", "device-plugin", "simulated"]
    finally:
        kubectl("delete", "-n", "kube-system", "-f", example)
