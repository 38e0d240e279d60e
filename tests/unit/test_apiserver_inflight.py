"""Which requests take an in-flight slot, and from which pool (apiserver/inflight.py)."""
from __future__ import annotations

from minikube_py.apiserver.auth.filters import USER
from minikube_py.apiserver.auth.user import UserInfo
from minikube_py.apiserver.inflight import MaxInFlight


def call(limiter, method, path, query="", user=None):
    environ = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query}
    if user is not None:
        environ[USER] = user
    codes = []
    body = limiter(environ, lambda status, headers: codes.append(int(status.split()[0])))
    return codes[0] if codes else 200, body


def holding(pool_of):
    """An app that, while it runs, asks the limiter for one more request of each given kind."""
    seen = {}

    def app(environ, start_response):
        if "inner" not in seen:           # the outer request: the inner ones pass straight on
            seen["inner"] = []
            seen["inner"] += [call(limiter, *req)[0] for req in pool_of]
        return [b"ok"]
    limiter = MaxInFlight(app, 1, 1)
    return limiter, seen


def test_one_slot_of_each_pool():
    limiter, seen = holding([("GET", "/api/v1/pods"), ("POST", "/api/v1/namespaces/a/pods"),
                             ("GET", "/healthz")])
    call(limiter, "POST", "/api/v1/namespaces/a/pods")
    # the POST holds the mutating slot: reads still go, a second write is refused
    assert seen["inner"] == [200, 429, 200]


def test_long_running_requests_take_no_slot():
    limiter, seen = holding([("GET", "/api/v1/pods", "watch=true"),
                             ("GET", "/api/v1/watch/namespaces/a/pods"),
                             ("GET", "/api/v1/namespaces/a/pods/p/log"),
                             ("POST", "/api/v1/namespaces/a/pods/p/exec"),
                             ("GET", "/api/v1/nodes/n/proxy/stats/summary"),
                             ("GET", "/api/v1/namespaces/a/pods")])
    call(limiter, "GET", "/api/v1/namespaces/a/configmaps")       # holds the read-only slot
    assert seen["inner"] == [200, 200, 200, 200, 200, 429]


def test_system_masters_are_never_refused_and_zero_is_no_limit():
    admin = UserInfo("admin", groups=("system:masters",))
    alice = UserInfo("alice", groups=("developers",))
    inner = []

    def app(environ, start_response):
        if environ[USER] is alice and not inner:
            inner.append(call(limiter, "POST", "/api/v1/namespaces/a/pods", user=admin)[0])
            inner.append(call(limiter, "POST", "/api/v1/namespaces/a/pods", user=alice)[0])
        return [b"ok"]
    limiter = MaxInFlight(app, 1, 1)
    call(limiter, "POST", "/api/v1/namespaces/a/pods", user=alice)
    assert inner == [200, 429]
    unlimited = MaxInFlight(lambda e, s: [b"ok"], 0, 0)
    assert unlimited.read_only is None and unlimited.mutating is None
    assert call(unlimited, "POST", "/api/v1/namespaces/a/pods") == (200, [b"ok"])


def test_slots_are_counted_without_a_lock():
    import threading
    from minikube_py.apiserver.inflight import Slots
    slots = Slots(3)
    assert [slots.acquire() for _ in range(4)] == [True, True, True, False]
    slots.release()
    assert slots.acquire() and not slots.acquire()
    for _ in range(3):
        slots.release()

    def churn():
        for _ in range(2000):
            if slots.acquire():
                slots.release()
    threads = [threading.Thread(target=churn) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert slots.free() == 3
