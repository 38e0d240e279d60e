"""The Deployment controller (with the ReplicaSet controller) against a real apiserver,
driven with the real kubectl. FakeKubelet plays the kubelet: it reports pods Ready."""
from __future__ import annotations

import threading
import time

import pytest

from minikube_py.client import errors
from minikube_py.controllers.deploymentutil import template_hash

from fakekubelet import FakeKubelet
from test_replicaset_support import PodCounter, deployment, pods_of, wait_for

REVISION = "deployment.kubernetes.io/revision"


@pytest.fixture(scope="module")
def controllers(controller_manager):
    """The ReplicaSet and Deployment controllers, running in this process."""
    return controller_manager(["replicaset", "deployment"])


def get_d(c, ns, name="web"):
    return c.get("deployments", name, namespace=ns)


def rss_of(c, ns):
    return sorted(c.list("replicasets", namespace=ns)["items"],
                  key=lambda rs: int(rs["metadata"].get("annotations", {}).get(REVISION, 0)))


def condition(d, type_):
    return next((cd for cd in (d.get("status") or {}).get("conditions") or [] if cd["type"] == type_), None)


def complete(c, ns, name="web"):
    d = get_d(c, ns, name)
    s, want = d.get("status") or {}, d["spec"]["replicas"]
    return (s.get("observedGeneration", 0) >= d["metadata"]["generation"] and
            s.get("updatedReplicas") == want and s.get("replicas") == want and
            s.get("availableReplicas") == want)


def rollout_status(kubectl, namespace, name="web", timeout=60.0):
    """`kubectl rollout status`, until it succeeds or `timeout` passes.

    Each try is short and a stalled one is simply repeated: with a field selector
    (`metadata.name=web`, as rollout status lists and watches) the apiserver reads the
    object and the list's resourceVersion in two steps, so an update landing between
    them is never sent to the watch (reported to the lead; remove this loop once
    registry.list takes the revision first).
    """
    deadline = time.monotonic() + timeout
    while True:
        proc = kubectl("rollout", "status", f"deployment/{name}", "-n", namespace,
                       "--timeout=8s", check=False)
        if proc.returncode == 0 or time.monotonic() > deadline or \
                "timed out waiting" not in proc.stderr:
            return proc


def ok(proc):
    assert proc.returncode == 0, proc.stderr
    return proc


def image_of(pod):
    return pod["spec"]["containers"][0]["image"]


class RolloutWatch:
    """Follows the namespace's pods through a watch and records, after every event,
    how many exist (not terminating, unless ``track_terminating``) and how many of
    those are Ready."""

    def __init__(self, client, namespace, track_terminating=False):
        self.client, self.namespace = client, namespace
        self.track_terminating = track_terminating
        self.pods: dict = {}
        self.samples: list[tuple[int, int]] = []     # (existing, ready)
        self.images_seen: list[set] = []             # images of existing pods, per event
        self.stop = threading.Event()
        self.watch = None
        listed = client.list("pods", namespace=namespace)
        for p in listed["items"]:
            self._record(p)
        self.rv = listed["metadata"]["resourceVersion"]
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        if self.watch is not None:
            self.watch.close()          # wakes the reader at once
        self.thread.join(10)

    def _record(self, pod, deleted=False):
        name = pod["metadata"]["name"]
        if deleted or (pod["metadata"].get("deletionTimestamp") and not self.track_terminating):
            self.pods.pop(name, None)
        else:
            ready = any(cd["type"] == "Ready" and cd["status"] == "True"
                        for cd in (pod.get("status") or {}).get("conditions") or [])
            self.pods[name] = (ready, image_of(pod))

    def _run(self):
        with self.client.watch("pods", namespace=self.namespace, resource_version=self.rv,
                               timeout_seconds=60) as w:
            self.watch = w
            for etype, pod in w:
                self._record(pod, deleted=etype == "DELETED")
                self.samples.append((len(self.pods), sum(r for r, _ in self.pods.values())))
                self.images_seen.append({img for _, img in self.pods.values()})
                if self.stop.is_set():
                    return


def test_create_makes_a_hashed_replicaset_and_pods(controllers, api_client, namespace):
    c = api_client
    d = c.create("deployments", deployment("web", 3, {"app": "web"}), namespace=namespace)
    rs = wait_for(lambda: (r := rss_of(c, namespace)) and r[0], what="a replicaset")
    h = rs["metadata"]["labels"]["pod-template-hash"]
    assert h == template_hash(d["spec"]["template"])
    assert rs["metadata"]["name"] == f"web-{h}"
    assert rs["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": h}
    assert rs["spec"]["template"]["metadata"]["labels"] == {"app": "web", "pod-template-hash": h}
    assert rs["spec"]["replicas"] == 3
    assert rs["metadata"]["annotations"] == {REVISION: "1",
                                             "deployment.kubernetes.io/desired-replicas": "3",
                                             "deployment.kubernetes.io/max-replicas": "4"}
    ref = rs["metadata"]["ownerReferences"][0]
    assert (ref["kind"], ref["name"], ref["uid"], ref["controller"], ref["blockOwnerDeletion"]) == \
        ("Deployment", "web", d["metadata"]["uid"], True, True)
    pods = wait_for(lambda: len(p := pods_of(c, namespace)) == 3 and p, what="3 pods")
    assert all(p["metadata"]["labels"]["pod-template-hash"] == h for p in pods)
    assert all(p["metadata"]["name"].startswith(f"web-{h}-") for p in pods)
    d = wait_for(lambda: (x := get_d(c, namespace))["metadata"].get("annotations", {}).get(REVISION) == "1"
                 and x, what="deployment revision 1")
    wait_for(lambda: condition(get_d(c, namespace), "Progressing"), what="Progressing")
    d = get_d(c, namespace)
    assert condition(d, "Progressing")["reason"] in ("NewReplicaSetCreated", "ReplicaSetUpdated")
    event = wait_for(lambda: [e for e in c.list("events", namespace=namespace)["items"]
                              if e["reason"] == "ScalingReplicaSet"], what="event")[0]
    assert event["message"] == f"Scaled up replica set web-{h} to 3 from 0"
    assert event["involvedObject"]["kind"] == "Deployment"

    with FakeKubelet(c, namespace):
        wait_for(lambda: complete(c, namespace), what="available")
    d = get_d(c, namespace)
    assert condition(d, "Available")["status"] == "True"
    assert condition(d, "Available")["reason"] == "MinimumReplicasAvailable"
    assert condition(d, "Progressing")["reason"] == "NewReplicaSetAvailable"
    assert d["status"]["readyReplicas"] == 3 and d["status"]["unavailableReplicas"] == 0


def test_scale_3_to_5_to_2(controllers, api_client, namespace, kubectl):
    c = api_client
    c.create("deployments", deployment("web", 3, {"app": "web"}), namespace=namespace)
    with FakeKubelet(c, namespace):
        wait_for(lambda: complete(c, namespace), what="3 available")
        for n in (5, 2):
            kubectl("scale", "deployment/web", f"--replicas={n}", "-n", namespace)
            wait_for(lambda: complete(c, namespace) and len(pods_of(c, namespace)) == n,
                     what=f"{n} available")
            rss = rss_of(c, namespace)
            assert len(rss) == 1                      # scaling is not a rollout
            assert rss[0]["spec"]["replicas"] == n
            assert rss[0]["metadata"]["annotations"]["deployment.kubernetes.io/desired-replicas"] == str(n)
        out = kubectl("get", "deployment", "web", "-n", namespace).stdout
        assert "2/2" in out


def test_rolling_update_respects_surge_and_unavailable(controllers, api_client, namespace, kubectl):
    """kubectl set image rolls out; at no moment are there more than replicas+maxSurge
    pods or fewer than replicas-maxUnavailable ready ones. Then history and undo."""
    c = api_client
    replicas, surge, unavailable = 4, 1, 1
    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable}}
    c.create("deployments", deployment("web", replicas, {"app": "web"}, strategy), namespace=namespace)
    with FakeKubelet(c, namespace, delay=0.1):
        ok(rollout_status(kubectl, namespace))
        wait_for(lambda: len(pods_of(c, namespace)) == replicas, what="old pods settled")
        with RolloutWatch(c, namespace) as watch:
            kubectl("set", "image", "deployment/web", "app=busybox:v2", "-n", namespace)
            out = ok(rollout_status(kubectl, namespace)).stdout
            assert 'deployment "web" successfully rolled out' in out
            wait_for(lambda: len(pods_of(c, namespace)) == replicas, what="old pods gone")
            time.sleep(0.3)
        assert watch.samples, "the watch saw no events"
        most = max(n for n, _ in watch.samples)
        fewest_ready = min(r for _, r in watch.samples)
        assert most <= replicas + surge, watch.samples
        assert fewest_ready >= replicas - unavailable, watch.samples
        assert {image_of(p) for p in pods_of(c, namespace)} == {"busybox:v2"}

        history = kubectl("rollout", "history", "deployment/web", "-n", namespace).stdout
        assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["1", "2"]
        rss = rss_of(c, namespace)
        assert [rs["spec"]["replicas"] for rs in rss] == [0, replicas]

        kubectl("rollout", "undo", "deployment/web", "-n", namespace)
        ok(rollout_status(kubectl, namespace))
        d = get_d(c, namespace)
        assert image_of(d["spec"]["template"]) == "busybox:latest"
        wait_for(lambda: {image_of(p) for p in pods_of(c, namespace)} == {"busybox:latest"},
                 what="old image back")
        # The first ReplicaSet is the new one again, with the next revision.
        rss = rss_of(c, namespace)
        assert len(rss) == 2
        assert rss[-1]["spec"]["template"]["spec"]["containers"][0]["image"] == "busybox:latest"
        assert rss[-1]["metadata"]["annotations"][REVISION] == "3"
        assert rss[-1]["metadata"]["annotations"]["deployment.kubernetes.io/revision-history"] == "1"
        assert d["metadata"]["annotations"][REVISION] == "3"
        history = kubectl("rollout", "history", "deployment/web", "-n", namespace).stdout
        assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == ["2", "3"]


def test_rolling_update_with_percentages(controllers, api_client, namespace, kubectl):
    """25% of 6: maxSurge rounds up to 2, maxUnavailable rounds down to 1."""
    c = api_client
    c.create("deployments", deployment("web", 6, {"app": "web"}), namespace=namespace)
    with FakeKubelet(c, namespace, delay=0.1):
        ok(rollout_status(kubectl, namespace))
        wait_for(lambda: len(pods_of(c, namespace)) == 6, what="settled")
        rs = rss_of(c, namespace)[0]
        assert rs["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] == "8"
        with RolloutWatch(c, namespace) as watch:
            kubectl("set", "image", "deployment/web", "app=busybox:v2", "-n", namespace)
            ok(rollout_status(kubectl, namespace))
        assert max(n for n, _ in watch.samples) <= 8
        assert min(r for _, r in watch.samples) >= 5


def test_recreate_removes_old_pods_before_creating_new(controllers, api_client, namespace, kubectl):
    c = api_client
    c.create("deployments", deployment("web", 3, {"app": "web"}, {"type": "Recreate"}), namespace=namespace)
    # Pods are bound to a node here, so they terminate gracefully and linger until
    # the (fake) kubelet finishes them: Recreate must wait for that.
    with FakeKubelet(c, namespace, delay=0.1, node=f"node-{namespace}"):
        ok(rollout_status(kubectl, namespace))
        with RolloutWatch(c, namespace, track_terminating=True) as watch:
            kubectl("set", "image", "deployment/web", "app=busybox:v2", "-n", namespace)
            ok(rollout_status(kubectl, namespace))
        mixed = [imgs for imgs in watch.images_seen if len(imgs) > 1]
        assert not mixed, "old and new pods existed at the same time"
    assert {image_of(p) for p in pods_of(c, namespace)} == {"busybox:v2"}
    assert len(pods_of(c, namespace)) == 3


def test_paused_deployment_does_not_roll_out(controllers, api_client, namespace, kubectl):
    c = api_client
    c.create("deployments", deployment("web", 2, {"app": "web"}), namespace=namespace)
    with FakeKubelet(c, namespace):
        ok(rollout_status(kubectl, namespace))
        kubectl("rollout", "pause", "deployment/web", "-n", namespace)
        wait_for(lambda: (condition(get_d(c, namespace), "Progressing") or {}).get("reason")
                 == "DeploymentPaused", what="Progressing=Unknown DeploymentPaused")
        kubectl("set", "image", "deployment/web", "app=busybox:v2", "-n", namespace)
        # Scaling still works while paused.
        kubectl("scale", "deployment/web", "--replicas=3", "-n", namespace)
        wait_for(lambda: len(pods_of(c, namespace)) == 3, what="scaled while paused")
        wait_for(lambda: get_d(c, namespace)["status"]["observedGeneration"] ==
                 get_d(c, namespace)["metadata"]["generation"], what="observed")
        time.sleep(0.5)
        assert len(rss_of(c, namespace)) == 1
        assert {image_of(p) for p in pods_of(c, namespace)} == {"busybox:latest"}
        assert condition(get_d(c, namespace), "Progressing")["status"] == "Unknown"

        kubectl("rollout", "resume", "deployment/web", "-n", namespace)
        ok(rollout_status(kubectl, namespace))
        wait_for(lambda: {image_of(p) for p in pods_of(c, namespace)} == {"busybox:v2"},
                 what="rolled out after resume")
        assert len(pods_of(c, namespace)) == 3


def test_revision_history_limit_deletes_old_replicasets(controllers, api_client, namespace, kubectl):
    c = api_client
    c.create("deployments", deployment("web", 1, {"app": "web"}, revisionHistoryLimit=1),
             namespace=namespace)
    with FakeKubelet(c, namespace):
        for tag in ("v2", "v3", "v4"):
            kubectl("set", "image", "deployment/web", f"app=busybox:{tag}", "-n", namespace)
            ok(rollout_status(kubectl, namespace))
        wait_for(lambda: len(rss_of(c, namespace)) == 2, what="only 1 old replicaset kept")
    revisions = [rs["metadata"]["annotations"][REVISION] for rs in rss_of(c, namespace)]
    assert revisions == ["3", "4"]


def test_progress_deadline_exceeded(controllers, api_client, namespace, kubectl):
    """New pods never get ready: the rollout stalls, keeps the old pods serving, and
    reports ProgressDeadlineExceeded, which makes `kubectl rollout status` fail."""
    c = api_client
    c.create("deployments", deployment("web", 2, {"app": "web"}, progressDeadlineSeconds=2),
             namespace=namespace)
    with FakeKubelet(c, namespace, only=lambda p: image_of(p) == "busybox:latest"):
        ok(rollout_status(kubectl, namespace))
        kubectl("set", "image", "deployment/web", "app=busybox:broken", "-n", namespace)
        d = wait_for(lambda: (x := get_d(c, namespace)) and
                     (condition(x, "Progressing") or {}).get("reason") == "ProgressDeadlineExceeded" and x,
                     timeout=30, what="ProgressDeadlineExceeded")
        assert condition(d, "Progressing")["status"] == "False"
        proc = rollout_status(kubectl, namespace, timeout=20)
        assert proc.returncode != 0
        assert "exceeded its progress deadline" in proc.stderr
        # maxUnavailable 25% of 2 rounds down to 0: both old pods still serve.
        assert sum(1 for p in pods_of(c, namespace) if image_of(p) == "busybox:latest") == 2


def test_readopts_replicasets_of_an_orphaning_delete(controllers, api_client, namespace):
    """`kubectl delete deployment --cascade=orphan`, then create it again: the new
    Deployment adopts the old ReplicaSet (same template) instead of starting over."""
    c = api_client
    c.create("deployments", deployment("web", 2, {"app": "web"}), namespace=namespace)
    wait_for(lambda: len(pods_of(c, namespace)) == 2, what="2 pods")
    rs = rss_of(c, namespace)[0]
    pods = {p["metadata"]["name"] for p in pods_of(c, namespace)}
    c.delete("deployments", "web", namespace=namespace, propagation_policy="Orphan")
    # No garbage collector in this test: do its part of the orphaning by hand.
    c.patch("replicasets", rs["metadata"]["name"], {"metadata": {"ownerReferences": None}},
            namespace=namespace)
    c.patch("deployments", "web", {"metadata": {"finalizers": None}}, namespace=namespace)
    wait_for(lambda: _gone(c, namespace, "web"), what="deployment gone")

    d = c.create("deployments", deployment("web", 2, {"app": "web"}), namespace=namespace)
    wait_for(lambda: (rss_of(c, namespace)[0]["metadata"].get("ownerReferences") or [{}])[0].get("uid")
             == d["metadata"]["uid"], what="replicaset adopted")
    assert len(rss_of(c, namespace)) == 1
    time.sleep(0.3)
    assert {p["metadata"]["name"] for p in pods_of(c, namespace)} == pods


def _gone(c, ns, name):
    try:
        c.get("deployments", name, namespace=ns)
        return False
    except errors.NotFound:
        return True


def test_scale_across_an_apiserver_restart(cluster, controllers, api_client, namespace, kubectl):
    """The apiserver goes away in the middle of scaling a Deployment 2 -> 40; when it is
    back, the Deployment ends with 40 pods and never had more."""
    c = api_client
    c.create("deployments", deployment("web", 2, {"app": "web"}), namespace=namespace)
    wait_for(lambda: len(pods_of(c, namespace)) == 2, what="2 pods")
    with PodCounter(c, namespace) as counter:
        kubectl("scale", "deployment/web", "--replicas=40", "-n", namespace)
        wait_for(lambda: len(pods_of(c, namespace)) >= 4, what="scale-up under way")
        cluster.stop_apiserver()
        time.sleep(0.5)
        cluster.start_apiserver()
        wait_for(lambda: len(pods_of(c, namespace)) == 40, timeout=60, what="40 pods")
        wait_for(lambda: (get_d(c, namespace).get("status") or {}).get("replicas") == 40,
                 timeout=30, what="deployment status 40")
        time.sleep(1.0)
        assert len(pods_of(c, namespace)) == 40
    assert counter.max <= 40, f"{counter.max} pods existed at once"
    assert len(rss_of(c, namespace)) == 1
