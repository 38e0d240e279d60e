"""Unit tests of the node lifecycle controller's pure helpers: taints and tolerations
(nodelifecycle.py) and when a pod is evicted (tainteviction.py)."""
from datetime import datetime, timedelta, timezone

import pytest

from minikube_py.api.taints import tolerates
from minikube_py.controllers.nodelifecycle import desired_taints, lifecycle_taints_for
from minikube_py.controllers.tainteviction import NOT_READY, UNREACHABLE, eviction_time

NOW = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
T0 = "2026-01-01T12:00:00Z"


@pytest.mark.parametrize("toleration,taint,ok", [
    ({"key": "k", "operator": "Equal", "value": "v", "effect": "NoExecute"},
     {"key": "k", "value": "v", "effect": "NoExecute"}, True),
    ({"key": "k", "value": "v"}, {"key": "k", "value": "v", "effect": "NoSchedule"}, True),  # any effect
    ({"key": "k", "value": "w"}, {"key": "k", "value": "v", "effect": "NoExecute"}, False),
    ({"key": "k", "operator": "Exists"}, {"key": "k", "value": "v", "effect": "NoExecute"}, True),
    ({"key": "k", "operator": "Exists", "effect": "NoSchedule"},
     {"key": "k", "effect": "NoExecute"}, False),
    ({"operator": "Exists"}, {"key": "anything", "effect": "NoExecute"}, True),  # tolerate all
    ({"operator": "Equal"}, {"key": "anything", "effect": "NoExecute"}, False),
    ({"key": "other", "operator": "Exists"}, {"key": "k", "effect": "NoExecute"}, False),
])
def test_tolerates(toleration, taint, ok):
    assert tolerates(toleration, taint) is ok


def test_lifecycle_taints_follow_ready():
    assert lifecycle_taints_for("True") == []
    assert lifecycle_taints_for(None) == []
    assert {t["key"] for t in lifecycle_taints_for("False")} == {NOT_READY}
    assert {(t["key"], t["effect"]) for t in lifecycle_taints_for("Unknown")} == {
        (UNREACHABLE, "NoSchedule"), (UNREACHABLE, "NoExecute")}


def test_desired_taints_keeps_others_and_time_added():
    admin = {"key": "example.com/gpu", "effect": "NoSchedule"}
    old = {"key": UNREACHABLE, "effect": "NoExecute", "timeAdded": "2026-01-01T00:00:00Z"}
    got = desired_taints([admin, old], "Unknown", T0)
    assert admin in got and old in got          # timeAdded not reset
    assert {"key": UNREACHABLE, "effect": "NoSchedule"} in got
    # Unknown -> False swaps unreachable for not-ready; True removes them; admin's stays.
    swapped = desired_taints(got, "False", T0)
    assert {t["key"] for t in swapped} == {"example.com/gpu", NOT_READY}
    assert next(t for t in swapped if t["effect"] == "NoExecute")["timeAdded"] == T0
    assert desired_taints(swapped, "True", T0) == [admin]
    assert desired_taints([admin], "True", T0) == [admin]


def pod(*tolerations):
    return {"spec": {"tolerations": list(tolerations)}}


def taint(key=UNREACHABLE, added=T0, effect="NoExecute"):
    return {"key": key, "effect": effect, "timeAdded": added}


def test_eviction_time_uses_the_toleration_seconds_from_time_added():
    p = pod({"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 2})
    assert eviction_time(p, [taint()], 300, NOW) == NOW + timedelta(seconds=2)


def test_eviction_time_forever_and_at_once():
    forever = pod({"key": UNREACHABLE, "operator": "Exists", "effect": "NoExecute"})
    assert eviction_time(forever, [taint()], 300, NOW) is None
    # An untolerated admin taint: out at once.
    assert eviction_time(forever, [taint("example.com/drain")], 300, NOW) == NOW
    # NoSchedule taints never evict.
    assert eviction_time(pod(), [taint("example.com/x", effect="NoSchedule")], 300, NOW) is None


def test_eviction_time_default_for_lifecycle_taints_without_toleration():
    assert eviction_time(pod(), [taint(NOT_READY)], 300, NOW) == NOW + timedelta(seconds=300)
    assert eviction_time(pod(), [taint(UNREACHABLE)], 0, NOW) == NOW


def test_eviction_time_earliest_of_several_taints_and_smallest_seconds():
    p = pod({"key": UNREACHABLE, "operator": "Exists", "tolerationSeconds": 10},
            {"key": UNREACHABLE, "operator": "Exists", "tolerationSeconds": 5},
            {"key": "example.com/slow", "operator": "Exists", "tolerationSeconds": 60})
    later = "2026-01-01T12:00:30Z"
    assert eviction_time(p, [taint(), taint("example.com/slow", later)], 300, NOW) == \
        NOW + timedelta(seconds=5)


def test_eviction_time_bad_time_added_counts_from_now():
    p = pod({"operator": "Exists", "tolerationSeconds": 3})
    assert eviction_time(p, [taint(added="garbage")], 300, NOW) == NOW + timedelta(seconds=3)
    assert eviction_time(p, [{"key": UNREACHABLE, "effect": "NoExecute"}], 300, NOW) == \
        NOW + timedelta(seconds=3)
    negative = pod({"operator": "Exists", "tolerationSeconds": -5})
    assert eviction_time(negative, [taint()], 300, NOW) == NOW
