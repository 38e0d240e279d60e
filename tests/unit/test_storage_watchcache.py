"""The watch cache's dispatch: what each client watch gets while history is replayed."""
from minikube_py import codec
from minikube_py.storage.store import WatchEvent
from minikube_py.storage.watchcache import WatchCache


class ListSink:
    def __init__(self, key_prefix, trigger_value=None):
        self.key_prefix, self.trigger_value = key_prefix, trigger_value
        self.events = []

    def push(self, ev):
        self.events.append(ev)

    def idle(self):
        return True


def added(rev, name, node=""):
    obj = {"metadata": {"name": name, "resourceVersion": str(rev)}, "spec": {"nodeName": node}}
    return WatchEvent("ADDED", f"/registry/pods/ns/{name}", rev, obj, None)


def test_a_watch_registered_during_the_replay_gets_only_later_events():
    # The cache opened its etcd watch from an old revision; etcd still streams the replay
    # when a client asks for "everything after revision 5".
    cache = WatchCache(store=None, prefix="/registry/pods/")
    cache._on_etcd([added(3, "a"), added(4, "b")])       # replayed so far
    sink = ListSink("/registry/pods/")
    cache.watch(5, sink)
    cache._on_etcd([added(5, "c"), added(6, "d"), added(7, "e")])   # the rest of the replay
    assert [e.revision for e in sink.events] == [6, 7]


def test_indexed_watches_get_the_events_of_their_value_only():
    cache = WatchCache(store=None, prefix="/registry/pods/",
                       trigger=lambda obj: obj["spec"].get("nodeName", ""))
    on_a, on_b, all_pods = ListSink("/registry/pods/", "a"), ListSink("/registry/pods/", "b"), \
        ListSink("/registry/pods/")
    for sink in (on_a, on_b, all_pods):
        cache.watch(0, sink)
    cache._on_etcd([added(1, "p", "a"), added(2, "q", "b"), added(3, "r")])
    assert [e.revision for e in on_a.events] == [1]
    assert [e.revision for e in on_b.events] == [2]
    assert [e.revision for e in all_pods.events] == [1, 2, 3]


def test_a_broken_etcd_watch_ends_every_client_watch_indexed_or_not():
    from minikube_py.storage.store import StoreUnavailable
    cache = WatchCache(store=None, prefix="/registry/pods/",
                       trigger=lambda obj: obj["spec"].get("nodeName", ""))
    cache._stopped = True                      # no reopening in this test
    on_a, all_pods = ListSink("/registry/pods/", "a"), ListSink("/registry/pods/")
    cache.watch(0, on_a)
    cache.watch(0, all_pods)
    cache._on_etcd(StoreUnavailable("etcd went away"))
    assert on_a.events == [None] and all_pods.events == [None]
    cache._on_etcd([added(1, "p", "a")])       # nobody is registered any more
    assert on_a.events == [None] and all_pods.events == [None]


def test_stopping_the_cache_ends_every_client_watch_at_once():
    # The apiserver is going away: an idle stream must not sleep out its poll first.
    cache = WatchCache(store=None, prefix="/registry/pods/",
                       trigger=lambda obj: obj["spec"].get("nodeName", ""))
    on_a, all_pods = ListSink("/registry/pods/", "a"), ListSink("/registry/pods/")
    cache.watch(0, on_a)
    cache.watch(0, all_pods)
    cache.stop()
    assert on_a.events == [None] and all_pods.events == [None]


def test_after_a_compaction_the_replay_starts_at_the_oldest_revision_etcd_kept():
    class CompactedStore:                     # etcd compacted everything before revision 37
        def revision_available(self, rev):
            return rev >= 37

    cache = WatchCache(store=CompactedStore(), prefix="/registry/pods/")
    assert cache._oldest_available(1, 1000) == 37
    assert cache._oldest_available(1, 20) == 21      # nothing kept to replay: start after now


def modified(rev, name, prev, node="", phase="Running"):
    obj = {"metadata": {"name": name, "resourceVersion": str(rev)}, "spec": {"nodeName": node},
           "status": {"phase": phase}}
    return WatchEvent("MODIFIED", f"/registry/pods/ns/{name}", rev, obj, prev)


def test_cached_events_are_kept_encoded_once_and_share_the_previous_state():
    cache = WatchCache(store=None, prefix="/registry/pods/")
    first = added(1, "p", "a")
    cache._on_etcd([first])
    prev = {"metadata": {"name": "p", "resourceVersion": "1"}, "spec": {"nodeName": "a"}}
    cache._on_etcd([modified(2, "p", prev, "a")])
    second = cache.events[1]
    # Nothing decoded is kept: the JSON only, and the previous state is the first event's bytes.
    assert first._object is None and second._object is None and second._prev is None
    assert second._prev_json is first.json()
    assert second.prev_object == prev
    assert second.object["status"]["phase"] == "Running"


def test_recent_gives_each_writer_its_own_copy():
    cache = WatchCache(store=None, prefix="/registry/pods/")
    cache._on_etcd([added(1, "p", "a")])
    mine = cache.recent("/registry/pods/ns/p")
    mine["spec"]["nodeName"] = "changed"
    assert cache.recent("/registry/pods/ns/p")["spec"]["nodeName"] == "a"


def test_a_replayed_selector_watch_still_sees_a_pod_leave_its_selector():
    from minikube_py.apiserver.registry import parse_selectors
    from minikube_py.apiserver.watch import visible_type
    cache = WatchCache(store=None, prefix="/registry/pods/")
    cache._on_etcd([added(1, "p", "a")])
    prev = {"metadata": {"name": "p", "resourceVersion": "1"}, "spec": {"nodeName": "a"}}
    cache._on_etcd([modified(2, "p", prev, "b")])     # moved off node a (as a test of selectors)
    _, fsel = parse_selectors(None, "spec.nodeName=a")
    sink = ListSink("/registry/pods/")
    cache.watch(0, sink)                               # registered after: replayed from the window
    assert [visible_type(ev, None, fsel) for ev in sink.events] == ["ADDED", "DELETED"]


def test_a_replay_to_an_indexed_watch_skips_other_values_without_decoding():
    cache = WatchCache(store=None, prefix="/registry/pods/",
                       trigger=lambda obj: obj["spec"].get("nodeName", ""))
    cache._on_etcd([added(1, "p", "a"), added(2, "q", "b")])
    cache.events[1]._json = b"not json: decoding it would fail"
    on_a = ListSink("/registry/pods/", "a")
    cache.watch(0, on_a)                       # replayed from the window
    assert [e.revision for e in on_a.events] == [1]


def test_an_indexed_replay_is_the_windows_events_of_its_value_even_after_evictions():
    # The window is also kept by trigger value (a pod under its old and its new node);
    # a replay to an indexed watch walks only that, and must give exactly what filtering
    # the whole window gives, in order, after the oldest events have been evicted.
    import random
    rnd = random.Random(7)
    cache = WatchCache(store=None, prefix="/registry/pods/", capacity=40,
                       trigger=lambda obj: obj["spec"].get("nodeName", ""))
    nodes = ["a", "b", "c", ""]
    where: dict[str, str] = {}
    for rev in range(1, 301):
        name = f"p{rnd.randrange(12)}"
        node = rnd.choice(nodes)
        if name in where:
            prev = {"metadata": {"name": name, "resourceVersion": str(rev - 1)},
                    "spec": {"nodeName": where[name]}}
            cache._on_etcd([modified(rev, name, prev, node)])
        else:
            cache._on_etcd([added(rev, name, node)])
        where[name] = node
    assert len(cache.events) == 40 and cache.window_start == 260
    in_window = {id(ev) for ev in cache.events}
    assert all(id(ev) in in_window for d in cache.by_trigger.values() for ev in d)   # evicted too
    for value in nodes:
        for since in (260, 270, 290, 299, 300):
            sink = ListSink("/registry/pods/", value)
            cache.watch(since, sink)
            expected = [ev.revision for ev in cache.events
                        if ev.revision > since and value in ev.triggers]
            assert [ev.revision for ev in sink.events] == expected
            cache.remove(sink)


def test_a_bookmark_waits_until_the_sink_has_everything_up_to_it():
    class SlowSink(ListSink):
        busy = True

        def idle(self):
            return not self.busy

    cache = WatchCache(store=None, prefix="/registry/pods/")
    sink = SlowSink("/registry/pods/")
    cache.watch(0, sink)
    cache._on_etcd([added(5, "p"), added(6, "q")])
    assert cache.bookmark_revision(sink) is None          # 5 and 6 not delivered yet
    sink.busy = False
    assert cache.bookmark_revision(sink) == 6


def test_a_watch_that_leaves_gets_nothing_more_and_is_dropped_without_the_lock():
    # The apiserver's SocketSink on a real socket pair: leave() needs no cache lock (the
    # test holds it), nothing is written after it, and the next batch forgets the sink.
    import socket
    from minikube_py.apiserver.watch import SocketSink, event_line
    ours, theirs = socket.socketpair()
    try:
        cache = WatchCache(store=None, prefix="/registry/pods/",
                           trigger=lambda obj: obj["spec"].get("nodeName", ""))
        sink = SocketSink(ours, False, "/registry/pods/", None, None,
                          lambda t, obj, ev=None: event_line(t, obj, ev.json() if ev else None),
                          trigger_value="a")
        sink.live = True
        cache.watch(0, sink)
        cache._on_etcd([added(1, "p", "a"), added(1, "q", "a")])    # one txn: one revision
        theirs.settimeout(5)
        got = b""
        while got.count(b"\n") < 2:
            got += theirs.recv(65536)
        assert got.count(b'"type":"ADDED"') == 2
        with cache.lock:                      # a busy dispatcher: leave() must not wait for it
            cache.leave(sink)
        cache._on_etcd([added(2, "r", "a")])
        assert not cache.triggered and sink not in cache.after
        theirs.setblocking(False)
        try:
            more = theirs.recv(65536)
        except BlockingIOError:
            more = b""
        assert more == b""
    finally:
        ours.close()
        theirs.close()


def test_a_watch_waiting_to_register_is_registered_by_whoever_holds_the_lock_next():
    # watch() does not queue on the lock: it leaves its registration for the holder (the
    # dispatcher, before its next batch) -- and the batch then reaches it once, not twice.
    import threading
    cache = WatchCache(store=None, prefix="/registry/pods/")
    cache._on_etcd([added(1, "p")])
    sink = ListSink("/registry/pods/")
    with cache.lock:                          # the dispatcher is busy
        t = threading.Thread(target=cache.watch, args=(0, sink))
        t.start()
        t.join(0.1)
        assert t.is_alive() and len(cache.registering) == 1
    cache._on_etcd([added(2, "q"), added(3, "r")])
    t.join(5)
    assert not t.is_alive()
    assert [e.revision for e in sink.events] == [1, 2, 3]


def test_a_waiting_watch_from_before_the_window_still_gets_410():
    import pytest
    from minikube_py.storage.store import RevisionCompacted
    cache = WatchCache(store=None, prefix="/registry/pods/", capacity=2)
    cache._on_etcd([added(1, "p"), added(2, "q"), added(3, "r")])
    with pytest.raises(RevisionCompacted):
        cache.watch(0, ListSink("/registry/pods/"))
    assert not cache.registering


class PagedStore:
    """etcd as the cache's start() reads it: list_page at one revision, then a watch."""

    def __init__(self, objects, revision):
        self.objects, self.revision = dict(objects), revision
        self.pages = 0

    def current_revision(self):
        return self.revision

    def revision_available(self, rev):
        return True

    def list_page(self, prefix, start, limit, revision=0):
        self.pages += 1
        keys = sorted(k for k in self.objects if k.startswith(prefix) and k >= start)
        page = keys[:limit]
        return [(k, self.objects[k]) for k in page], revision or self.revision, len(keys) > limit, 0

    def watch(self, prefix, start, callback):
        self.watched_from = start
        return lambda: None


def pod(name, node, rev, labels=None):
    return {"metadata": {"name": name, "namespace": "ns", "resourceVersion": str(rev), "labels": labels or {}},
            "spec": {"nodeName": node}}


def test_the_state_serves_lists_by_trigger_value_and_follows_later_events_only():
    store = PagedStore({f"/registry/pods/ns/p{i}": pod(f"p{i}", "a" if i % 2 else "b", 10 + i)
                        for i in range(5)}, revision=20)
    cache = WatchCache(store, "/registry/pods/", trigger=lambda obj: obj["spec"].get("nodeName", ""))
    cache.STATE_PAGE = 2                      # three pages, all at revision 20
    cache.start()
    assert store.pages == 3
    data, rev = cache.snapshot("/registry/pods/", "a")
    assert rev == 20 and [codec.loads(d)["metadata"]["name"] for d in data] == ["p1", "p3"]
    # A replayed event (revision <= 20) is history the list already has: the state keeps
    # p1 on node a. A new one (21) moves p3 to node b; p4 is deleted at 22.
    cache._on_etcd([WatchEvent("MODIFIED", "/registry/pods/ns/p1", 15, pod("p1", "b", 15), None)])
    cache._on_etcd([WatchEvent("MODIFIED", "/registry/pods/ns/p3", 21, pod("p3", "b", 21), None),
                    WatchEvent("DELETED", "/registry/pods/ns/p4", 22, pod("p4", "b", 14), None)])
    data, rev = cache.snapshot("/registry/pods/", "a")
    assert rev == 22 and [codec.loads(d)["metadata"]["name"] for d in data] == ["p1"]
    data, _ = cache.snapshot("/registry/pods/ns/", "b")
    assert [codec.loads(d)["metadata"]["name"] for d in data] == ["p0", "p2", "p3"]
    assert [codec.loads(d)["metadata"]["name"] for d in cache.snapshot("/registry/pods/")[0]] == \
        ["p0", "p1", "p2", "p3"]
    # Not as new as asked: the caller reads etcd instead.
    assert cache.snapshot("/registry/pods/", not_older_than=23) is None
    # The newest state of an object whose event left the window is still a base guess.
    assert cache.recent("/registry/pods/ns/p0")["metadata"]["resourceVersion"] == "10"


def test_a_cache_without_state_serves_no_list():
    cache = WatchCache(store=None, prefix="/registry/pods/")
    cache._on_etcd([added(1, "a")])
    assert cache.snapshot("/registry/pods/") is None


def test_after_a_compaction_the_state_is_read_again():
    from minikube_py.storage.store import RevisionCompacted
    store = PagedStore({"/registry/pods/ns/p0": pod("p0", "a", 5)}, revision=10)
    cache = WatchCache(store, "/registry/pods/", trigger=lambda obj: obj["spec"].get("nodeName", ""))
    cache.start()
    # While the etcd watch was away, p0 was deleted and p1 made, and etcd compacted that.
    store.objects = {"/registry/pods/ns/p1": pod("p1", "a", 30)}
    store.revision = 40
    cache._stopped = True                     # reopen by hand, below
    cache._on_etcd(RevisionCompacted(35))
    assert cache.snapshot("/registry/pods/") is None          # changes were lost: etcd serves
    cache._stopped = False
    cache._reopen()
    data, rev = cache.snapshot("/registry/pods/", "a")
    assert rev == 40 and [codec.loads(d)["metadata"]["name"] for d in data] == ["p1"]
    assert store.watched_from == 41


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def test_the_window_keeps_75_seconds_of_events_not_a_fixed_count():
    """As kube-apiserver's cacher: at least the last 75 s, at least 100 events, at most the
    capacity. A watch from before the window is 410 (RevisionCompacted): it re-lists."""
    import pytest
    from minikube_py.storage.store import RevisionCompacted
    clock = Clock()
    cache = WatchCache(store=None, prefix="/registry/pods/", clock=clock)
    assert (cache.fresh_seconds, cache.min_events, cache.capacity) == (75.0, 100, 20000)
    cache._on_etcd([added(rev, f"p{rev}") for rev in range(1, 301)])   # 300 events at once
    clock.now += 60
    cache._on_etcd([added(301, "late")])
    assert len(cache.events) == 301                  # all younger than 75 s: kept
    clock.now += 30                                  # the first 300 are now 90 s old
    cache._on_etcd([added(302, "later")])
    assert [e.revision for e in cache.events][:1] == [203] and len(cache.events) == 100
    with pytest.raises(RevisionCompacted):
        cache.watch(150, ListSink("/registry/pods/"))
    sink = ListSink("/registry/pods/")
    cache.watch(300, sink)                           # within the window: resumes
    assert [e.revision for e in sink.events] == [301, 302]


def test_the_window_never_holds_more_than_its_capacity():
    cache = WatchCache(store=None, prefix="/registry/pods/", capacity=50, clock=Clock())
    cache._on_etcd([added(rev, f"p{rev}") for rev in range(1, 81)])
    assert len(cache.events) == len(cache.arrived) == 50 and cache.events[0].revision == 31
