"""Unit tests of the ReplicaSet / Deployment controllers' pure parts: the arithmetic
of a rollout, template hashing, deletion ranking, expectations, slow start, and the
event handlers fed through a real (unstarted) informer."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone

import pytest

from minikube_py.client.informer import meta_key
from minikube_py.api import conditions
from minikube_py.controllers import deployment as dep
from minikube_py.controllers import deploymentutil as du
from minikube_py.controllers import expectations, podutil, ranking, slowstart
from minikube_py.controllers.base import SharedInformers
from minikube_py.controllers.replicaset import ReplicaSetController

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)


def ts(seconds_ago: float) -> str:
    return (NOW - timedelta(seconds=seconds_ago)).strftime("%Y-%m-%dT%H:%M:%SZ")


def pod(name, node="", phase="Running", ready=True, ready_ago=100, created_ago=100, restarts=0,
        uid=None, owner=None, deleting=False, labels=None):
    conds = [{"type": "Ready", "status": "True" if ready else "False",
              "lastTransitionTime": ts(ready_ago)}]
    md = {"name": name, "namespace": "ns", "uid": uid or f"uid-{name}", "resourceVersion": "1",
          "creationTimestamp": ts(created_ago), "labels": labels or {"app": "web"}}
    if owner:
        md["ownerReferences"] = [{"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": owner["metadata"]["name"],
                                  "uid": owner["metadata"]["uid"], "controller": True}]
    if deleting:
        md["deletionTimestamp"] = ts(0)
    return {"metadata": md, "spec": {"nodeName": node},
            "status": {"phase": phase, "conditions": conds,
                       "containerStatuses": [{"name": "c", "restartCount": restarts}]}}


# ------------------------------------------------------------------ pod state

def test_available_needs_min_ready_seconds():
    p = pod("a", ready_ago=5)
    assert podutil.is_pod_available(p, 0, NOW)
    assert podutil.is_pod_available(p, 5, NOW)
    assert not podutil.is_pod_available(p, 6, NOW)
    assert podutil.seconds_until_available(p, 8, NOW) == pytest.approx(3)
    assert not podutil.is_pod_available(pod("b", ready=False), 0, NOW)


def test_active_excludes_finished_and_terminating():
    assert podutil.is_pod_active(pod("a"))
    assert not podutil.is_pod_active(pod("b", phase="Succeeded"))
    assert not podutil.is_pod_active(pod("c", phase="Failed"))
    assert not podutil.is_pod_active(pod("d", deleting=True))


# ------------------------------------------------------------------ deletion ranking

def test_scale_down_prefers_unscheduled_pending_unready_then_newer():
    pods = [
        pod("old-ready", node="n1", created_ago=10_000),
        pod("new-ready", node="n1", created_ago=10, ready_ago=5),
        pod("unready", node="n1", ready=False),
        pod("pending", node="n1", phase="Pending", ready=False),
        pod("unscheduled", node="", phase="Pending", ready=False),
    ]
    order = [p["metadata"]["name"] for p in ranking.pods_to_delete(pods, [], 5, NOW)]
    assert order == ["unscheduled", "pending", "unready", "new-ready", "old-ready"]
    assert [p["metadata"]["name"] for p in ranking.pods_to_delete(pods, [], 2, NOW)] == \
        ["unscheduled", "pending"]


def test_scale_down_ranks_restarts_cost_and_crowded_nodes():
    a = pod("restarty", node="n1", restarts=5)
    b = pod("calm", node="n2")
    assert ranking.pods_to_delete([b, a], [], 1, NOW)[0]["metadata"]["name"] == "restarty"
    cheap = pod("cheap", node="n1")
    cheap["metadata"]["annotations"] = {ranking.DELETION_COST: "-10"}
    assert ranking.pods_to_delete([a, cheap], [], 1, NOW)[0]["metadata"]["name"] == "cheap"
    # Two siblings share n1: the pod there goes before the one alone on n2.
    crowded = pod("crowded", node="n1")
    sibling = pod("sibling", node="n1")
    alone = pod("alone", node="n2")
    assert ranking.pods_to_delete([alone, crowded], [crowded, sibling, alone], 1, NOW)[0][
        "metadata"]["name"] == "crowded"


def test_ready_time_compares_on_a_log_scale():
    # 100 s and 110 s ready are "as long" (same power of two): the uid decides, not the time.
    x = pod("x", node="n", ready_ago=100, uid="b")
    y = pod("y", node="n", ready_ago=110, uid="a")
    assert ranking.pods_to_delete([x, y], [], 1, NOW)[0]["metadata"]["name"] == "y"
    # 10 s vs 1000 s: the newer-ready pod goes first.
    z = pod("z", node="n", ready_ago=10, uid="z")
    assert ranking.pods_to_delete([x, z], [], 1, NOW)[0]["metadata"]["name"] == "z"


# ------------------------------------------------------------------ expectations

class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def test_expectations_count_creations_and_deletions_by_key():
    clock = Clock()
    e = expectations.Expectations(ttl=300, clock=clock)
    assert e.satisfied("ns/rs")                        # nothing recorded yet
    e.expect_creations("ns/rs", 2)
    assert not e.satisfied("ns/rs")
    e.creation_observed("ns/rs")
    assert e.pending("ns/rs") == (1, 0)
    e.creation_observed("ns/rs")
    e.creation_observed("ns/rs")                       # one too many: stays at 0
    assert e.satisfied("ns/rs")
    e.expect_deletions("ns/rs", ["ns/a", "ns/b"])
    e.deletion_observed("ns/rs", "ns/a")
    e.deletion_observed("ns/rs", "ns/a")               # the same pod twice counts once
    assert not e.satisfied("ns/rs")
    e.deletion_observed("ns/rs", "ns/b")
    assert e.satisfied("ns/rs")


def test_expectations_expire_and_uncertainty_holds_until_reset():
    clock = Clock()
    e = expectations.Expectations(ttl=300, clock=clock)
    e.expect_creations("k", 3)
    clock.t = 299
    assert not e.satisfied("k")
    clock.t = 301
    assert e.satisfied("k")                            # a lost watch event cannot block forever
    e.mark_uncertain("k")
    assert e.is_uncertain("k") and not e.satisfied("k")
    e.reset("k")
    assert not e.is_uncertain("k") and e.satisfied("k")


def test_ambiguous_errors():
    import requests
    from minikube_py.client import errors
    assert expectations.is_ambiguous(requests.ConnectionError())
    assert expectations.is_ambiguous(requests.ReadTimeout())
    assert expectations.is_ambiguous(errors.ServerError({"code": 500}))
    assert not expectations.is_ambiguous(errors.Invalid({"code": 422}))
    assert not expectations.is_ambiguous(errors.Forbidden({"code": 403}))


# ------------------------------------------------------------------ slow start

def test_slow_start_batches_double_and_stop_at_the_first_failure():
    pool = ThreadPoolExecutor(8)
    calls, lock = [], threading.Lock()

    def ok():
        with lock:
            calls.append(1)

    assert slowstart.slow_start_batch(10, ok, pool) == (10, None)
    assert len(calls) == 10

    attempts = []

    def fail_from_4th():
        with lock:
            attempts.append(1)
            n = len(attempts)
        if n >= 4:
            raise RuntimeError("quota exceeded")

    done, err = slowstart.slow_start_batch(100, fail_from_4th, pool)
    # Batches 1, 2, 4: the third batch fails, so 1 + 2 + 0 succeeded and 7 were tried.
    assert str(err) == "quota exceeded"
    assert len(attempts) == 7 and done == 3
    pool.shutdown()


# ------------------------------------------------------------------ handlers, via a real informer

def rs_obj(name="web", uid="rs-uid", replicas=3):
    return {"apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": name, "namespace": "ns", "uid": uid, "resourceVersion": "5",
                         "generation": 1},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "c", "image": "busybox"}]}}}}


@pytest.fixture
def rsc():
    """A ReplicaSet controller whose informers are never started: events are fed by hand."""
    c = ReplicaSetController(client=None, informers=SharedInformers(client=None))
    yield c
    c.pool.shutdown()


def test_duplicate_and_replayed_pod_events_count_once(rsc):
    rs = rs_obj()
    rsc.rs_informer._handle_event("ADDED", rs)
    key = meta_key(rs)
    rsc.expectations.expect_creations(key, 2)
    p1 = pod("web-aaaaa", owner=rs)
    rsc.pod_informer._handle_event("ADDED", p1)
    rsc.pod_informer._handle_event("ADDED", p1)        # the same event delivered twice
    assert rsc.expectations.pending(key) == (1, 0)
    p1b = dict(p1, metadata=dict(p1["metadata"], resourceVersion="2"))
    rsc.pod_informer._handle_event("MODIFIED", p1b)    # an update is not a creation
    assert rsc.expectations.pending(key) == (1, 0)
    # A pod created and immediately deleted: its first event already has a
    # deletionTimestamp. It still counts as the creation we were waiting for.
    p2 = pod("web-bbbbb", owner=rs, deleting=True)
    rsc.pod_informer._handle_event("ADDED", p2)
    assert rsc.expectations.satisfied(key)


def test_deletions_observed_from_graceful_start_or_final_delete(rsc):
    rs = rs_obj()
    rsc.rs_informer._handle_event("ADDED", rs)
    key = meta_key(rs)
    a, b = pod("web-a", owner=rs), pod("web-b", owner=rs)
    for p in (a, b):
        rsc.pod_informer._handle_event("ADDED", p)
    rsc.expectations.expect_deletions(key, [meta_key(a), meta_key(b)])
    # The DELETED event arrives before (out of order with) any update: still counted.
    rsc.pod_informer._handle_event("DELETED", b)
    terminating = pod("web-a", owner=rs, deleting=True)
    terminating["metadata"]["resourceVersion"] = "9"
    rsc.pod_informer._handle_event("MODIFIED", terminating)   # graceful deletion began
    assert rsc.expectations.satisfied(key)
    rsc.pod_informer._handle_event("DELETED", terminating)     # and ends: no double count
    assert rsc.expectations.pending(key) == (0, 0)


def test_orphan_events_queue_every_matching_replicaset(rsc):
    rsc.rs_informer._handle_event("ADDED", rs_obj("a", "uid-a"))
    rsc.rs_informer._handle_event("ADDED", rs_obj("b", "uid-b"))
    other = rs_obj("c", "uid-c")
    other["spec"]["selector"] = {"matchLabels": {"app": "db"}}
    rsc.rs_informer._handle_event("ADDED", other)
    while len(rsc.queue):
        rsc.queue.done(rsc.queue.get())
    rsc.pod_informer._handle_event("ADDED", pod("lonely"))
    queued = set()
    while len(rsc.queue):
        queued.add(rsc.queue.get())
    assert queued == {"ns/a", "ns/b"}


def test_status_reports_replica_failure_and_clears_it(rsc):
    rs = rs_obj(replicas=3)
    pods = [pod("p1"), pod("p2", ready=False)]
    status = rsc.calculate_status(rs, pods, RuntimeError("pods \"x\" is forbidden: exceeded quota"))
    assert status["replicas"] == 2 and status["readyReplicas"] == 1 and status["availableReplicas"] == 1
    assert status["observedGeneration"] == 1
    failure = status["conditions"][0]
    assert (failure["type"], failure["status"], failure["reason"]) == ("ReplicaFailure", "True", "FailedCreate")
    rs["status"] = status
    assert "conditions" not in rsc.calculate_status(rs, pods, None)


def test_fully_labeled_counts_pods_with_all_template_labels(rsc):
    rs = rs_obj()
    rs["spec"]["template"]["metadata"]["labels"] = {"app": "web", "tier": "front"}
    pods = [pod("a", labels={"app": "web", "tier": "front"}), pod("b", labels={"app": "web"})]
    assert rsc.calculate_status(rs, pods, None)["fullyLabeledReplicas"] == 1


# ------------------------------------------------------------------ deployment arithmetic

@pytest.mark.parametrize("surge,unavailable,replicas,expected", [
    ("25%", "25%", 10, (3, 2)),      # surge rounds up, unavailable rounds down
    ("25%", "25%", 4, (1, 1)),
    ("25%", "25%", 1, (1, 0)),
    (0, 0, 5, (0, 1)),               # both 0 could never move: unavailable becomes 1
    ("0%", "0%", 5, (0, 1)),
    (2, 1, 5, (2, 1)),
    ("100%", "50%", 3, (3, 1)),
])
def test_fenceposts(surge, unavailable, replicas, expected):
    assert du.resolve_fenceposts(surge, unavailable, replicas) == expected


def deploy_obj(replicas=4, surge=1, unavailable=1, strategy="RollingUpdate", **spec):
    strat = {"type": strategy}
    if strategy == "RollingUpdate":
        strat["rollingUpdate"] = {"maxSurge": surge, "maxUnavailable": unavailable}
    return {"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "namespace": "ns", "uid": "d-uid", "generation": 1,
                         "resourceVersion": "1"},
            "spec": {"replicas": replicas, "strategy": strat, "selector": {"matchLabels": {"app": "web"}},
                     "template": {"metadata": {"labels": {"app": "web"}},
                                  "spec": {"containers": [{"name": "c", "image": "busybox"}]}}, **spec}}


def test_max_unavailable_is_capped_and_zero_for_recreate():
    assert du.max_unavailable(deploy_obj(replicas=2, unavailable="100%")) == 2
    assert du.max_unavailable(deploy_obj(strategy="Recreate")) == 0
    assert du.max_surge(deploy_obj(strategy="Recreate")) == 0
    assert du.max_unavailable(deploy_obj(replicas=0)) == 0


def rs_with(replicas, status_replicas=None, available=0, name="x", created="2026-01-01T00:00:00Z"):
    return {"metadata": {"name": name, "creationTimestamp": created, "annotations": {}},
            "spec": {"replicas": replicas},
            "status": {"replicas": replicas if status_replicas is None else status_replicas,
                       "availableReplicas": available}}


def test_new_rs_grows_only_within_surge():
    d = deploy_obj(replicas=4, surge=1)
    new, old = rs_with(0, name="new"), rs_with(4, available=4, name="old")
    assert du.new_rs_replicas(d, [old, new], new) == 1
    # An old ReplicaSet scaled down to 3 that still has 4 pods counts as 4.
    old2, new2 = rs_with(3, status_replicas=4, name="old"), rs_with(1, name="new")
    assert du.new_rs_replicas(d, [old2, new2], new2) == 1
    old2["status"]["replicas"] = 3
    assert du.new_rs_replicas(d, [old2, new2], new2) == 2
    assert du.new_rs_replicas(deploy_obj(strategy="Recreate", replicas=7), [old, new], new) == 7


def test_available_counts_at_most_spec():
    assert du.available_of(rs_with(2, available=4)) == 2


def test_template_hash_is_stable_and_ignores_noise():
    t = deploy_obj()["spec"]["template"]
    h = du.template_hash(t)
    assert h == du.template_hash(t)
    assert set(h) <= set("bcdfghjklmnpqrstvwxz2456789") and 1 <= len(h) <= 10
    # What a round trip through kubectl (Go structs) adds does not change it...
    noisy = {"metadata": {"creationTimestamp": None, "labels": {"app": "web", "pod-template-hash": "zzz"}},
             "spec": {"containers": [{"name": "c", "image": "busybox", "resources": {}}]}}
    assert du.template_hash(noisy) == h
    assert du.equal_ignore_hash(noisy, t)
    # ...a real change, or a collision count, does.
    changed = {**t, "spec": {"containers": [{"name": "c", "image": "busybox:v2"}]}}
    assert du.template_hash(changed) != h
    assert not du.equal_ignore_hash(changed, t)
    assert du.template_hash(t, 1) != h


def test_new_rs_annotations_on_create_and_on_rollback():
    d = deploy_obj(replicas=4, surge=1)
    d["metadata"]["annotations"] = {"kubernetes.io/change-cause": "v2",
                                    "kubectl.kubernetes.io/last-applied-configuration": "{}",
                                    du.REVISION: "7"}
    rs = {"metadata": {}}
    assert du.set_new_rs_annotations(d, rs, 3, exists=False)
    assert rs["metadata"]["annotations"] == {"kubernetes.io/change-cause": "v2", du.REVISION: "3",
                                             du.DESIRED_REPLICAS: "4", du.MAX_REPLICAS: "5"}
    assert not du.set_new_rs_annotations(d, rs, 3, exists=True)    # nothing to change
    # Rolled back to: it becomes revision 5 and remembers it was 3.
    assert du.set_new_rs_annotations(d, rs, 5, exists=True)
    assert rs["metadata"]["annotations"][du.REVISION] == "5"
    assert rs["metadata"]["annotations"][du.REVISION_HISTORY] == "3"


def test_status_and_conditions():
    d = deploy_obj(replicas=4, unavailable=1)
    new = rs_with(2, available=2, name="new")
    new["status"]["readyReplicas"] = 2
    old = rs_with(2, available=1, name="old")
    old["status"]["readyReplicas"] = 1
    s = du.calculate_status([old, new], new, d)
    assert (s["replicas"], s["updatedReplicas"], s["readyReplicas"], s["availableReplicas"],
            s["unavailableReplicas"]) == (4, 2, 3, 3, 1)
    available = conditions.get_condition(s, "Available")
    assert (available["status"], available["reason"]) == ("True", "MinimumReplicasAvailable")
    old["status"]["availableReplicas"] = 0
    s = du.calculate_status([old, new], new, d)
    assert conditions.get_condition(s, "Available")["reason"] == "MinimumReplicasUnavailable"
    assert not du.deployment_complete(d, s)


def test_set_condition_keeps_transition_time_when_status_is_unchanged():
    s = {}
    first = conditions.timed_condition("Progressing", "True", "NewReplicaSetCreated", "a")
    first["lastTransitionTime"] = "2020-01-01T00:00:00Z"
    conditions.set_condition(s, first)
    conditions.set_condition(s, conditions.timed_condition("Progressing", "True", "ReplicaSetUpdated", "b"))
    cond = conditions.get_condition(s, "Progressing")
    assert cond["reason"] == "ReplicaSetUpdated" and cond["lastTransitionTime"] == "2020-01-01T00:00:00Z"
    conditions.set_condition(s, conditions.timed_condition("Progressing", "False", "ProgressDeadlineExceeded", "c"))
    assert conditions.get_condition(s, "Progressing")["lastTransitionTime"] != "2020-01-01T00:00:00Z"


def test_timed_out_after_progress_deadline():
    d = deploy_obj(progressDeadlineSeconds=60)
    status = {"conditions": [{"type": "Progressing", "status": "True", "reason": "ReplicaSetUpdated",
                              "lastUpdateTime": ts(61)}]}
    assert du.deployment_timed_out(d, status, NOW)
    status["conditions"][0]["lastUpdateTime"] = ts(30)
    assert not du.deployment_timed_out(d, status, NOW)
    status["conditions"][0]["reason"] = "NewReplicaSetAvailable"
    status["conditions"][0]["lastUpdateTime"] = ts(600)
    assert not du.deployment_timed_out(d, status, NOW)   # a finished rollout never times out


def test_proportional_scaling_fraction():
    d = deploy_obj(replicas=20, surge=0, unavailable=1)     # was 10 (max-replicas 10), now 20
    rs = rs_with(6, name="a")
    rs["metadata"]["annotations"][du.MAX_REPLICAS] = "10"
    assert dep.DeploymentController._proportion(rs, d, 10, 0) == 6     # 6 -> 12
    assert dep.DeploymentController._proportion(rs, d, 10, 8) == 2     # capped by what is left
    d0 = deploy_obj(replicas=0)
    assert dep.DeploymentController._proportion(rs, d0, -6, 0) == -6  # to zero: all of it


def test_confirm_cache_looks_again_later_each_time_while_the_informer_lags(rsc):
    """After an ambiguous create, the controller lists the ReplicaSet's pods; while its
    informer lacks some of them it waits 0.2 s, then twice as long each time, up to 5 s
    (a list every 0.2 s per ReplicaSet loaded a saturated apiserver further)."""
    rs = rs_obj()
    key = meta_key(rs)
    listed = [pod("web-aaaaa", owner=rs)]

    class Lister:
        def list(self, resource, namespace=None, label_selector=None):
            return {"items": listed}
    rsc.client = Lister()
    waits = []
    rsc.queue.add_after = lambda k, delay: waits.append((k, delay))
    selector = rsc.selector(rs)
    for _ in range(7):
        assert not rsc.confirm_cache(rs, selector)
    assert [d for _, d in waits] == [0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0]
    rsc.pod_informer._handle_event("ADDED", listed[0])          # the informer caught up
    assert rsc.confirm_cache(rs, selector)
    waits.clear()
    rsc.pod_informer.store.delete(listed[0])
    assert not rsc.confirm_cache(rs, selector)
    assert [d for _, d in waits] == [0.2]                        # from the start again
