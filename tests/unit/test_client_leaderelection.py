"""Leader election against an in-memory Lease store with resourceVersion checks."""

import copy
import re
import threading
import time

import pytest

from minikube_py.client.errors import AlreadyExists, Conflict, NotFound
from minikube_py.client.leaderelection import LeaderElector, micro_time


class FakeLeases:
    """get/create/update for leases with optimistic concurrency, like the apiserver."""

    def __init__(self):
        self.lock = threading.Lock()
        self.objs = {}
        self.rv = 0
        self.writes = []

    def _err(self, cls, code, reason):
        return cls({"kind": "Status", "code": code, "reason": reason, "message": reason})

    def get(self, resource, name, namespace=None):
        with self.lock:
            if (namespace, name) not in self.objs:
                raise self._err(NotFound, 404, "NotFound")
            return copy.deepcopy(self.objs[(namespace, name)])

    def create(self, resource, obj, namespace=None):
        with self.lock:
            key = (namespace, obj["metadata"]["name"])
            if key in self.objs:
                raise self._err(AlreadyExists, 409, "AlreadyExists")
            self.rv += 1
            obj = copy.deepcopy(obj)
            obj["metadata"]["resourceVersion"] = str(self.rv)
            self.objs[key] = obj
            self.writes.append(copy.deepcopy(obj))
            return copy.deepcopy(obj)

    def update(self, resource, obj):
        with self.lock:
            key = (obj["metadata"]["namespace"], obj["metadata"]["name"])
            if self.objs[key]["metadata"]["resourceVersion"] != obj["metadata"]["resourceVersion"]:
                raise self._err(Conflict, 409, "Conflict")
            self.rv += 1
            obj = copy.deepcopy(obj)
            obj["metadata"]["resourceVersion"] = str(self.rv)
            self.objs[key] = obj
            self.writes.append(copy.deepcopy(obj))
            return copy.deepcopy(obj)

    def spec(self):
        return self.objs[("kube-system", "cm")]["spec"]


def elector(client, ident, **kw):
    kw.setdefault("lease_duration", 1.0)
    kw.setdefault("renew_deadline", 0.6)
    kw.setdefault("retry_period", 0.1)
    return LeaderElector(client, "kube-system", "cm", ident, **kw)


def wait(pred, timeout=5):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if pred():
            return True
        time.sleep(0.02)
    return False


def test_micro_time_format():
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", micro_time())


def test_rejects_bad_timing():
    with pytest.raises(ValueError):
        LeaderElector(None, "ns", "n", "me", lease_duration=5, renew_deadline=10)


def test_first_candidate_creates_the_lease():
    leases = FakeLeases()
    a = elector(leases, "a")
    assert a.try_acquire_or_renew()
    spec = leases.spec()
    assert spec["holderIdentity"] == "a"
    assert spec["leaseDurationSeconds"] == 1
    assert spec["leaseTransitions"] == 0
    assert spec["acquireTime"] == spec["renewTime"]
    assert a.try_acquire_or_renew()  # renew keeps acquireTime
    assert leases.spec()["acquireTime"] == spec["acquireTime"]


def test_other_cannot_take_a_live_lease_but_can_take_an_expired_one():
    leases = FakeLeases()
    a, b = elector(leases, "a"), elector(leases, "b")
    assert a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()
    time.sleep(1.1)  # a stops renewing; b's own clock says the lease expired
    assert b.try_acquire_or_renew()
    assert leases.spec()["holderIdentity"] == "b"
    assert leases.spec()["leaseTransitions"] == 1
    assert not a.try_acquire_or_renew()  # a sees b's fresh record


def test_stale_resource_version_loses_the_race():
    leases = FakeLeases()
    a, b = elector(leases, "a"), elector(leases, "b")
    a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()  # b sees a's record and starts its expiry clock
    time.sleep(1.1)
    real_get, real_update, attempts = leases.get, leases.update, []

    def racing_get(*args, **kw):
        obj = real_get(*args, **kw)
        real_update("leases", real_get(*args, **kw))  # someone writes in between
        return obj

    def counting_update(resource, obj):
        attempts.append(obj["spec"]["holderIdentity"])
        return real_update(resource, obj)

    leases.get, leases.update = racing_get, counting_update
    assert not b.try_acquire_or_renew()
    assert attempts == ["b"]  # b did try, but its PUT carried a stale resourceVersion: 409
    assert leases.spec()["holderIdentity"] == "a"


def test_only_one_leads_and_the_other_takes_over_after_stop():
    leases = FakeLeases()
    started, stopped = [], []
    es = [elector(leases, name,
                  on_started_leading=lambda stop, n=name: started.append(n),
                  on_stopped_leading=lambda n=name: stopped.append(n))
          for name in ("a", "b")]
    threads = [e.start() for e in es]
    try:
        assert wait(lambda: any(e.is_leader() for e in es))
        time.sleep(0.5)
        leaders = [e for e in es if e.is_leader()]
        assert len(leaders) == 1
        first = leaders[0]
        other = es[1 - es.index(first)]
        assert wait(lambda: started == [first.identity]), started

        first.stop()
        assert wait(lambda: other.is_leader(), timeout=3)
        assert not first.is_leader()
        # the callbacks run on their own threads (as client-go's goroutines): wait for them
        assert wait(lambda: stopped == [first.identity], timeout=3), stopped
        assert wait(lambda: started == [first.identity, other.identity], timeout=3), started
        assert leases.spec()["holderIdentity"] == other.identity
        assert leases.spec()["leaseTransitions"] == 1
    finally:
        for e in es:
            e.stop()
        for t in threads:
            t.join(3)


def test_leader_steps_down_when_it_cannot_renew():
    leases = FakeLeases()
    lost = threading.Event()
    stop_seen = []
    a = elector(leases, "a", on_started_leading=lambda stop: stop_seen.append(stop),
                on_stopped_leading=lost.set)
    t = a.start()
    assert wait(a.is_leader)

    def broken(*args, **kw):
        raise ConnectionError("apiserver down")

    leases.get = broken
    assert lost.wait(3)
    assert not a.is_leader()
    assert stop_seen and stop_seen[0].is_set()  # the leader's work was told to stop
    t.join(3)
    assert not t.is_alive()


def test_zero_argument_callbacks_are_fine():
    leases = FakeLeases()
    called = threading.Event()
    a = elector(leases, "a", on_started_leading=called.set)
    t = a.start()
    assert called.wait(3)
    a.stop()
    t.join(3)
