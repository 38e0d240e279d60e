"""The ReplicaSet controller against a real apiserver and etcd (no kubelet: the tests
play it with mark_ready / FakeKubelet)."""
from __future__ import annotations

import re
import threading
import time

import pytest

from minikube_py.api import meta
from minikube_py.client import errors

from fakekubelet import mark_ready
from test_replicaset_support import PodCounter, pods_of, replicaset, wait_for

POD_NAME = re.compile(r"^web-[bcdfghjklmnpqrstvwxz2456789]{5}$")


@pytest.fixture(scope="module")
def controllers(controller_manager):
    """The ReplicaSet and Deployment controllers, running in this process."""
    return controller_manager(["replicaset", "deployment"])


def get_rs(client, ns, name="web"):
    return client.get("replicasets", name, namespace=ns)


def rs_status(client, ns, name="web"):
    rs = get_rs(client, ns, name)
    return rs.get("status") or {}, rs


def owned(pods, rs):
    return [p for p in pods if any(r.get("uid") == rs["metadata"]["uid"] and r.get("controller")
                                   for r in p["metadata"].get("ownerReferences") or [])]


def events(client, ns, reason):
    return [e for e in client.list("events", namespace=ns)["items"] if e.get("reason") == reason]


def test_creates_pods_owned_and_named_after_the_replicaset(controllers, api_client, namespace):
    c = api_client
    rs = c.create("replicasets", replicaset("web", 3, {"app": "web"}), namespace=namespace)
    pods = wait_for(lambda: len(p := pods_of(c, namespace, "app=web")) == 3 and p, what="3 pods")
    for pod in pods:
        assert POD_NAME.match(pod["metadata"]["name"]), pod["metadata"]["name"]
        assert pod["metadata"]["generateName"] == "web-"
        assert pod["metadata"]["ownerReferences"] == [{
            "apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "web",
            "uid": rs["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}]
        assert pod["spec"]["containers"][0]["image"] == "busybox:latest"
    status, _ = wait_for(lambda: (s := rs_status(c, namespace))[0].get("replicas") == 3 and s,
                         what="status.replicas 3")
    assert status["fullyLabeledReplicas"] == 3
    assert status["readyReplicas"] == 0 and status["availableReplicas"] == 0
    assert status["observedGeneration"] == 1
    created = wait_for(lambda: len(e := events(c, namespace, "SuccessfulCreate")) == 3 and e,
                       what="3 SuccessfulCreate events")
    assert {e["message"] for e in created} == {f"Created pod: {p['metadata']['name']}" for p in pods}
    assert created[0]["involvedObject"]["kind"] == "ReplicaSet"
    assert created[0]["source"]["component"] == "replicaset-controller"


def test_ready_and_available_follow_the_pods(controllers, api_client, namespace):
    c = api_client
    c.create("replicasets", replicaset("web", 2, {"app": "web"}, min_ready=3), namespace=namespace)
    pods = wait_for(lambda: len(p := pods_of(c, namespace)) == 2 and p, what="2 pods")
    for pod in pods:
        mark_ready(c, pod)
    # Ready at once; available only once they have been ready for minReadySeconds.
    wait_for(lambda: rs_status(c, namespace)[0].get("readyReplicas") == 2, what="2 ready")
    assert rs_status(c, namespace)[0]["availableReplicas"] == 0
    wait_for(lambda: rs_status(c, namespace)[0].get("availableReplicas") == 2, timeout=15,
             what="2 available after minReadySeconds")


def test_scale_up_and_down_deletes_unready_pods_first(controllers, api_client, namespace, kubectl):
    c = api_client
    c.create("replicasets", replicaset("web", 2, {"app": "web"}), namespace=namespace)
    first = wait_for(lambda: len(p := pods_of(c, namespace)) == 2 and p, what="2 pods")
    for pod in first:
        mark_ready(c, pod)
    kubectl("scale", "rs/web", "--replicas=5", "-n", namespace)
    wait_for(lambda: len(pods_of(c, namespace)) == 5, what="5 pods")
    wait_for(lambda: rs_status(c, namespace)[0].get("replicas") == 5, what="status 5")

    kubectl("scale", "rs/web", "--replicas=2", "-n", namespace)
    left = wait_for(lambda: len(p := pods_of(c, namespace)) == 2 and p, what="2 pods")
    # The three never-ready pods went; the two ready ones stayed.
    assert {p["metadata"]["name"] for p in left} == {p["metadata"]["name"] for p in first}
    wait_for(lambda: rs_status(c, namespace)[0].get("replicas") == 2, what="status 2")
    wait_for(lambda: len(events(c, namespace, "SuccessfulDelete")) == 3, what="3 delete events")
    time.sleep(0.5)                       # nothing more happens once it is settled
    assert len(pods_of(c, namespace)) == 2

    kubectl("scale", "rs/web", "--replicas=0", "-n", namespace)
    wait_for(lambda: not pods_of(c, namespace), what="no pods")


def orphan(name, labels):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": {"containers": [{"name": "app", "image": "busybox:latest"}]}}


def test_adopts_matching_orphans_but_not_terminating_or_owned_ones(controllers, api_client, namespace):
    c = api_client
    c.create("pods", orphan("lonely", {"app": "web"}), namespace=namespace)
    c.create("pods", orphan("other-app", {"app": "db"}), namespace=namespace)
    # A matching pod that is being deleted (bound pods go gracefully) is not adopted.
    c.create("pods", orphan("leaving", {"app": "web"}), namespace=namespace)
    c.bind(namespace, "leaving", "node-x")
    c.delete("pods", "leaving", namespace=namespace, grace_period_seconds=30)
    # A matching pod controlled by someone else stays theirs.
    foreign = orphan("foreign", {"app": "web"})
    foreign["metadata"]["ownerReferences"] = [{"apiVersion": "batch/v1", "kind": "Job", "name": "j",
                                               "uid": meta.new_uid(), "controller": True}]
    c.create("pods", foreign, namespace=namespace)

    rs = c.create("replicasets", replicaset("web", 2, {"app": "web"}), namespace=namespace)
    mine = wait_for(lambda: len(o := owned(pods_of(c, namespace, "app=web"), rs)) == 2 and o,
                    what="2 owned pods")
    names = {p["metadata"]["name"] for p in mine}
    assert "lonely" in names                          # adopted instead of creating a second pod
    assert len([n for n in names if n.startswith("web-")]) == 1
    lonely = c.get("pods", "lonely", namespace=namespace)
    assert lonely["metadata"]["ownerReferences"][0]["uid"] == rs["metadata"]["uid"]
    assert lonely["metadata"]["ownerReferences"][0]["blockOwnerDeletion"] is True
    assert not c.get("pods", "leaving", namespace=namespace)["metadata"].get("ownerReferences")
    assert c.get("pods", "foreign", namespace=namespace)["metadata"]["ownerReferences"][0]["kind"] == "Job"
    assert not c.get("pods", "other-app", namespace=namespace)["metadata"].get("ownerReferences")


def test_releases_a_relabelled_pod_and_replaces_it(controllers, api_client, namespace, kubectl):
    c = api_client
    rs = c.create("replicasets", replicaset("web", 2, {"app": "web"}), namespace=namespace)
    pods = wait_for(lambda: len(p := pods_of(c, namespace)) == 2 and p, what="2 pods")
    victim = pods[0]["metadata"]["name"]
    kubectl("label", "pod", victim, "app=debug", "--overwrite", "-n", namespace)
    released = wait_for(lambda: not (p := c.get("pods", victim, namespace=namespace))["metadata"].get(
        "ownerReferences") and p, what="ownerReference removed")
    assert released["metadata"]["labels"]["app"] == "debug"
    wait_for(lambda: len(owned(pods_of(c, namespace, "app=web"), rs)) == 2, what="a replacement")
    assert len(pods_of(c, namespace)) == 3            # the released pod lives on, ownerless

    # Labelled back, it matches again: adopted, and one surplus pod goes.
    kubectl("label", "pod", victim, "app=web", "--overwrite", "-n", namespace)
    wait_for(lambda: len(pods_of(c, namespace)) == 2, what="back to 2 pods")
    wait_for(lambda: len(owned(pods_of(c, namespace, "app=web"), rs)) == 2, what="2 owned")


def test_replaces_deleted_pods(controllers, api_client, namespace):
    c = api_client
    c.create("replicasets", replicaset("web", 3, {"app": "web"}), namespace=namespace)
    pods = wait_for(lambda: len(p := pods_of(c, namespace)) == 3 and p, what="3 pods")
    for pod in pods[:2]:
        c.delete("pods", pod["metadata"]["name"], namespace=namespace)
    wait_for(lambda: len(pods_of(c, namespace)) == 3 and pods[0]["metadata"]["name"] not in
             {p["metadata"]["name"] for p in pods_of(c, namespace)}, what="replacements")


def test_never_overshoots_across_an_apiserver_restart(cluster, controllers, api_client, namespace):
    """Stop the apiserver in the middle of a scale-up; the ReplicaSet must end with
    exactly its replicas, never more, however its creates and watch events fared."""
    c = api_client
    want = 60
    with PodCounter(c, namespace) as counter:
        c.create("replicasets", replicaset("web", want, {"app": "web"}), namespace=namespace)
        wait_for(lambda: len(pods_of(c, namespace)) >= 3, what="scale-up under way")
        cluster.stop_apiserver()
        time.sleep(0.5)
        cluster.start_apiserver()
        wait_for(lambda: len(pods_of(c, namespace)) == want, timeout=60, what=f"{want} pods")
        # Let every controller retry and the informers resume, then count again.
        wait_for(lambda: rs_status(c, namespace)[0].get("replicas") == want, timeout=30,
                 what="status caught up")
        time.sleep(1.0)
        assert len(pods_of(c, namespace)) == want
    assert counter.max <= want, f"{counter.max} pods existed at once (replicas {want})"
    key = f"{namespace}/web"
    wait_for(lambda: controllers.started["replicaset"].expectations.satisfied(key), what="expectations settled")


def test_scale_down_mid_scale_up_does_not_overshoot(controllers, api_client, namespace):
    c = api_client
    with PodCounter(c, namespace) as counter:
        c.create("replicasets", replicaset("web", 40, {"app": "web"}), namespace=namespace)
        wait_for(lambda: len(pods_of(c, namespace)) >= 1, what="first pod")
        c.patch("replicasets", "web", {"spec": {"replicas": 5}}, namespace=namespace)
        wait_for(lambda: len(pods_of(c, namespace)) == 5, timeout=30, what="5 pods")
        time.sleep(0.5)
        assert len(pods_of(c, namespace)) == 5
    assert counter.max <= 40


def test_deleted_replicaset_stops_managing(controllers, api_client, namespace):
    """Deleting a ReplicaSet with propagationPolicy=Orphan leaves its pods alone;
    a new ReplicaSet with the same selector adopts them instead of creating more."""
    c = api_client
    c.create("replicasets", replicaset("web", 2, {"app": "web"}), namespace=namespace)
    wait_for(lambda: len(pods_of(c, namespace)) == 2, what="2 pods")
    c.delete("replicasets", "web", namespace=namespace, propagation_policy="Orphan")
    # No garbage collector runs here: remove the orphan finalizer's work by hand.
    for pod in pods_of(c, namespace):
        c.patch("pods", pod["metadata"]["name"], {"metadata": {"ownerReferences": None}},
                namespace=namespace)
    rs = c.get("replicasets", "web", namespace=namespace)
    c.patch("replicasets", "web", {"metadata": {"finalizers": None}}, namespace=namespace)
    wait_for(lambda: _gone(c, namespace, rs), what="old replicaset gone")
    new = c.create("replicasets", replicaset("web2", 2, {"app": "web"}), namespace=namespace)
    wait_for(lambda: len(owned(pods_of(c, namespace), new)) == 2, what="orphans adopted")
    assert len(pods_of(c, namespace)) == 2


def _gone(c, ns, rs):
    try:
        return c.get("replicasets", rs["metadata"]["name"], namespace=ns)["metadata"]["uid"] != \
            rs["metadata"]["uid"]
    except errors.NotFound:
        return True


def test_overlapping_selectors_do_not_steal_pods(controllers, api_client, namespace):
    """Two ReplicaSets selecting the same labels: each keeps its own pods (the
    controller reference decides, not the selector), and neither fights the other."""
    c = api_client
    a = c.create("replicasets", replicaset("a", 2, {"app": "web"}), namespace=namespace)
    b = c.create("replicasets", replicaset("b", 3, {"app": "web"}), namespace=namespace)
    wait_for(lambda: len(owned(pods_of(c, namespace), a)) == 2 and
             len(owned(pods_of(c, namespace), b)) == 3, what="2 + 3 pods")
    names = {p["metadata"]["name"] for p in pods_of(c, namespace)}
    time.sleep(1.0)
    assert {p["metadata"]["name"] for p in pods_of(c, namespace)} == names   # no churn
    assert rs_status(c, namespace, "a")[0]["replicas"] == 2
    assert rs_status(c, namespace, "b")[0]["replicas"] == 3


def test_conflicting_writers_do_not_stop_the_controller(controllers, api_client, namespace):
    """Someone else keeps changing the ReplicaSet while it scales: every status write
    of the controller may meet a 409. It retries and gets there, never more pods."""
    c = api_client
    c.create("replicasets", replicaset("web", 30, {"app": "web"}), namespace=namespace)
    stop = threading.Event()

    def meddle():
        i = 0
        while not stop.is_set():
            i += 1
            try:
                c.patch("replicasets", "web", {"metadata": {"annotations": {"touched": str(i)}}},
                        namespace=namespace)
            except errors.ApiError:
                pass

    meddler = threading.Thread(target=meddle, daemon=True)
    with PodCounter(c, namespace) as counter:
        meddler.start()
        try:
            wait_for(lambda: len(pods_of(c, namespace)) == 30, timeout=30, what="30 pods")
            c.patch("replicasets", "web", {"spec": {"replicas": 10}}, namespace=namespace)
            wait_for(lambda: len(pods_of(c, namespace)) == 10, timeout=30, what="10 pods")
            wait_for(lambda: rs_status(c, namespace)[0].get("replicas") == 10 and
                     rs_status(c, namespace)[0].get("observedGeneration") == 2, what="status")
        finally:
            stop.set()
            meddler.join(5)
    assert counter.max <= 30
