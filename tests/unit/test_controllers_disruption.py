"""The disruption controller's arithmetic, on plain dicts (pkg/controller/disruption's rules)."""
from datetime import datetime, timedelta, timezone

from minikube_py.api import meta
from minikube_py.controllers.disruption import (desired_healthy, live_disruptions, scaled_value,
                                                selected_pods)


def pod(name, labels=None, deleting=False):
    md = {"name": name, "labels": labels or {"app": "a"}}
    if deleting:
        md["deletionTimestamp"] = meta.now_rfc3339()
    return {"metadata": md}


def test_percentages_round_up_and_ints_stay():
    assert scaled_value(2, 10) == 2
    assert scaled_value("50%", 5) == 3
    assert scaled_value("10%", 1) == 1
    assert scaled_value("0%", 7) == 0


def test_desired_healthy_for_each_kind_of_spec():
    assert desired_healthy({"minAvailable": 2}, 5, None) == (5, 2)
    assert desired_healthy({"minAvailable": "50%"}, 2, 4) == (4, 2)
    assert desired_healthy({"maxUnavailable": 1}, 3, 3) == (3, 2)
    assert desired_healthy({"maxUnavailable": "34%"}, 3, 3) == (3, 1)    # 34% of 3 -> 2 may go
    assert desired_healthy({"maxUnavailable": 5}, 3, 3) == (3, 0)        # never below zero


def test_a_nil_selector_picks_nothing_and_an_empty_one_everything():
    pods = [pod("x"), pod("y", {"app": "b"})]
    assert selected_pods({"spec": {}}, pods) == []
    assert len(selected_pods({"spec": {"selector": {}}}, pods)) == 2
    assert [p["metadata"]["name"] for p in selected_pods({"spec": {"selector": {"matchLabels": {"app": "b"}}}}, pods)] == ["y"]


def test_disrupted_pods_leave_the_map_once_deleted_gone_or_expired():
    now = datetime.now(timezone.utc)
    recent = (now - timedelta(seconds=10)).strftime("%Y-%m-%dT%H:%M:%SZ")
    old = (now - timedelta(minutes=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    pods = [pod("waiting"), pod("going", deleting=True), pod("stale")]
    kept, recheck = live_disruptions({"waiting": recent, "going": recent, "stale": old, "gone": recent}, pods, now)
    assert kept == {"waiting": recent}
    assert 100 < recheck <= 111
