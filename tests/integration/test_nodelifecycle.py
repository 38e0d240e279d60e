"""Node lifecycle controller against the real apiserver, with lab-sized timings.

No kubelet runs: tests/fakekubelet.py plays it (posts a Ready condition and renews the
node's Lease) and then stops, as a crashed kubelet would.
"""
import os
import time

import pytest

from minikube_py.api.meta import now_rfc3339
from minikube_py.client import errors
from minikube_py.controllers.config import ControllerConfig

from fakekubelet import FakeKubelet
from polling import wait_for

GRACE, EVICTION, PERIOD = 3.0, 2.0, 0.5
UNREACHABLE, NOT_READY = "node.kubernetes.io/unreachable", "node.kubernetes.io/not-ready"


def wait(pred, timeout=30):
    return wait_for(pred, timeout, interval=0.1)


@pytest.fixture(scope="module")
def controller(controller_manager):
    config = ControllerConfig(node_monitor_grace_period=GRACE, node_monitor_period=PERIOD,
                              pod_eviction_timeout=EVICTION)
    return controller_manager(["nodelifecycle"], config).started["nodelifecycle"]


@pytest.fixture
def kubelet(api_client):
    k = FakeKubelet(api_client, node=f"nlc-{os.urandom(3).hex()}").register().start()
    yield k
    k.delete()


def bound_pod(client, ns, name, node, tolerations=None, ready=True, grace=1):
    pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
           "spec": {"nodeName": node, "terminationGracePeriodSeconds": grace,
                    "containers": [{"name": "c", "image": "busybox"}],
                    "tolerations": tolerations or []}}
    created = client.create("pods", pod, namespace=ns)
    if ready:   # what a kubelet reports for a running pod
        created["status"].update(phase="Running", conditions=[
            {"type": "Ready", "status": "True", "lastTransitionTime": now_rfc3339()}])
        created = client.update_status("pods", created)
    return created


def taints(client, node):
    return {(t["key"], t["effect"]) for t in (client.get("nodes", node).get("spec") or {}).get("taints", [])}


def ready_condition(client, node):
    conds = (client.get("nodes", node).get("status") or {}).get("conditions", [])
    return next((c for c in conds if c["type"] == "Ready"), None)


def gone(client, ns, name):
    try:
        client.get("pods", name, namespace=ns)
        return False
    except errors.NotFound:
        return True


def events(client, ns, name):
    return [e["reason"] for e in client.list("events", namespace=ns,
                                             field_selector=f"involvedObject.name={name}")["items"]]


def test_silent_node_becomes_unknown_tainted_and_its_pods_evicted(controller, api_client,
                                                                  namespace, kubelet):
    c, node = api_client, kubelet.name
    tol = lambda secs: [{"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute",
                         **({"tolerationSeconds": secs} if secs is not None else {})}]
    bound_pod(c, namespace, "short", node, tol(2))
    bound_pod(c, namespace, "forever", node, tol(None))
    time.sleep(GRACE + 1)   # renewing: nothing must happen
    assert ready_condition(c, node)["status"] == "True"
    assert not taints(c, node)

    kubelet.stop()   # the kubelet dies
    stopped = time.time()
    assert wait(lambda: ready_condition(c, node)["status"] == "Unknown")
    unknown_after = time.time() - stopped
    cond = ready_condition(c, node)
    assert cond["reason"] == "NodeStatusUnknown"
    assert cond["message"] == "Kubelet stopped posting node status."
    assert wait(lambda: taints(c, node) == {(UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")})
    added = next(t for t in c.get("nodes", node)["spec"]["taints"] if t["effect"] == "NoExecute")
    assert added["timeAdded"]

    # Pods are no longer Ready; the one tolerating 2 s is evicted, then (no kubelet to
    # finish it) force-deleted after its 1 s grace period.
    assert wait(lambda: all(
        next(x for x in c.get("pods", p, namespace=namespace)["status"]["conditions"]
             if x["type"] == "Ready")["status"] == "False" for p in ("forever",)))
    assert wait(lambda: gone(c, namespace, "short"))
    evicted_after = time.time() - stopped
    assert not gone(c, namespace, "forever")   # tolerates unreachable forever
    assert "NodeNotReady" in events(c, "default", node)
    assert {"TaintManagerEviction", "NodeNotReady"} <= set(events(c, namespace, "short"))
    print(f"\nReady=Unknown {unknown_after:.1f}s after the last renewal (grace {GRACE}s); "
          f"pod with tolerationSeconds=2 gone after {evicted_after:.1f}s")

    # The kubelet comes back: renews, posts Ready=True; the taints go.
    kubelet.start()
    kubelet.post_ready("True")
    assert wait(lambda: not taints(c, node))
    assert ready_condition(c, node)["status"] == "True"
    time.sleep(GRACE + 1)
    assert ready_condition(c, node)["status"] == "True"   # and it stays healthy
    assert not gone(c, namespace, "forever")


def test_not_ready_node_gets_not_ready_taint_and_evicts_gracefully(controller, api_client,
                                                                   namespace, kubelet):
    c, node = api_client, kubelet.name
    bound_pod(c, namespace, "p", node, [{"key": NOT_READY, "operator": "Exists",
                                         "effect": "NoExecute", "tolerationSeconds": 1}])
    kubelet.post_ready("False")   # alive (still renewing) but not ready
    assert wait(lambda: taints(c, node) == {(NOT_READY, "NoSchedule"), (NOT_READY, "NoExecute")})
    # Evicted: a graceful delete. The kubelet is alive, so it is left to finish it.
    assert wait(lambda: c.get("pods", "p", namespace=namespace)["metadata"].get("deletionTimestamp"))
    time.sleep(2)
    assert not gone(c, namespace, "p")
    kubelet.post_ready("True")
    assert wait(lambda: not taints(c, node))
    c.delete("pods", "p", namespace=namespace, grace_period_seconds=0)   # the kubelet's part


def test_taint_removed_before_toleration_ends_cancels_eviction(controller, api_client,
                                                               namespace, kubelet):
    c, node = api_client, kubelet.name
    bound_pod(c, namespace, "patient", node, [{"key": NOT_READY, "operator": "Exists",
                                               "effect": "NoExecute", "tolerationSeconds": 4}])
    kubelet.post_ready("False")
    assert wait(lambda: (NOT_READY, "NoExecute") in taints(c, node))
    kubelet.post_ready("True")
    assert wait(lambda: not taints(c, node))
    time.sleep(5)
    assert not c.get("pods", "patient", namespace=namespace)["metadata"].get("deletionTimestamp")


def test_other_taints_are_kept_and_untolerated_pods_go_at_once(controller, api_client,
                                                               namespace, kubelet):
    c, node = api_client, kubelet.name
    n = c.get("nodes", node)
    n.setdefault("spec", {})["taints"] = [{"key": "example.com/drain", "effect": "NoExecute",
                            "timeAdded": now_rfc3339()}]
    c.update("nodes", n)
    bound_pod(c, namespace, "intolerant", node)   # no toleration for example.com/drain
    assert wait(lambda: gone(c, namespace, "intolerant") or
                c.get("pods", "intolerant", namespace=namespace)["metadata"].get("deletionTimestamp"))
    kubelet.stop()   # unreachable now: lifecycle taints are added, the admin's stays
    assert wait(lambda: (UNREACHABLE, "NoExecute") in taints(c, node))
    assert ("example.com/drain", "NoExecute") in taints(c, node)
    kubelet.start()
    kubelet.post_ready("True")
    assert wait(lambda: taints(c, node) == {("example.com/drain", "NoExecute")})


def test_node_that_never_reported_is_marked_never_updated(controller, api_client):
    c = api_client
    name = f"nlc-{os.urandom(3).hex()}"
    c.create("nodes", {"apiVersion": "v1", "kind": "Node", "metadata": {"name": name}})
    try:
        assert wait(lambda: (ready_condition(c, name) or {}).get("status") == "Unknown")
        assert ready_condition(c, name)["reason"] == "NodeStatusNeverUpdated"
        assert wait(lambda: (UNREACHABLE, "NoExecute") in taints(c, name))
    finally:
        c.delete("nodes", name)


def test_pods_of_a_deleted_node_are_removed(controller, api_client, namespace, kubelet):
    c, node = api_client, kubelet.name
    bound_pod(c, namespace, "stranded", node, grace=30)
    kubelet.delete()
    assert wait(lambda: gone(c, namespace, "stranded"))
    assert "DeletingAllPods" in events(c, "default", node)


def test_apiserver_outage_longer_than_grace_does_not_fail_nodes(controller, cluster, api_client,
                                                                 kubelet):
    """Kubelets cannot renew while the apiserver is down; that is not their fault."""
    c, node = api_client, kubelet.name
    cluster.stop_apiserver()
    time.sleep(GRACE + 1.5)
    cluster.start_apiserver()
    time.sleep(GRACE + 2)   # the kubelet renews again; the node must stay Ready
    assert ready_condition(c, node)["status"] == "True"
    assert not taints(c, node)
    kubelet.stop()          # and a real failure after the outage is still noticed
    assert wait(lambda: ready_condition(c, node)["status"] == "Unknown")
