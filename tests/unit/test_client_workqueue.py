"""WorkQueue: dedup, one worker per key, back-off, delayed adds."""

import threading
import time

from minikube_py.client.workqueue import WorkQueue, process_next, run_workers


def test_key_queued_once_while_waiting():
    q = WorkQueue()
    for _ in range(5):
        q.add("default/a")
    q.add("default/b")
    assert len(q) == 2
    assert q.get(timeout=1) == "default/a"
    assert q.get(timeout=1) == "default/b"
    assert q.get(timeout=0.05) is None


def test_fifo_order():
    q = WorkQueue()
    for k in "abc":
        q.add(k)
    assert [q.get(0.1) for _ in range(3)] == ["a", "b", "c"]


def test_key_being_processed_is_not_handed_out_again():
    q = WorkQueue()
    q.add("k")
    assert q.get(timeout=1) == "k"
    q.add("k")  # re-added while a worker holds it
    q.add("k")
    assert len(q) == 0
    assert q.get(timeout=0.05) is None  # a second worker gets nothing
    q.done("k")
    assert q.get(timeout=1) == "k"  # ...and it comes back once, after done
    q.done("k")
    assert q.get(timeout=0.05) is None


def test_done_without_readd_does_not_requeue():
    q = WorkQueue()
    q.add("k")
    q.get(1)
    q.done("k")
    assert len(q) == 0


def test_never_two_workers_on_one_key():
    q = WorkQueue()
    active, overlaps, processed = set(), [], []
    lock = threading.Lock()
    stop = threading.Event()

    def sync(key):
        with lock:
            if key in active:
                overlaps.append(key)
            active.add(key)
        time.sleep(0.002)
        with lock:
            active.discard(key)
            processed.append(key)

    threads = run_workers(q, sync, n=8, stop_event=stop)
    for i in range(300):
        q.add(f"k{i % 3}")
        if i % 10 == 0:
            time.sleep(0.001)
    deadline = time.time() + 5
    while (len(q) or active) and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)
    stop.set()
    for t in threads:
        t.join(2)
    assert overlaps == []
    assert set(processed) == {"k0", "k1", "k2"}
    assert all(not t.is_alive() for t in threads)


def test_backoff_grows_exponentially_and_forget_resets():
    q = WorkQueue(base_delay=0.005, max_delay=1000)
    delays = [q.when("k") for _ in range(5)]
    assert delays == [0.005, 0.01, 0.02, 0.04, 0.08]
    assert q.num_requeues("k") == 5
    assert q.when("other") == 0.005  # per key
    q.forget("k")
    assert q.num_requeues("k") == 0
    assert q.when("k") == 0.005


def test_backoff_is_capped():
    q = WorkQueue(base_delay=1, max_delay=10)
    delays = [q.when("k") for _ in range(100)]
    assert delays[-1] == 10
    assert max(delays) == 10


def test_add_rate_limited_waits_for_the_backoff():
    q = WorkQueue(base_delay=0.1)
    start = time.monotonic()
    q.add_rate_limited("k")
    assert q.get(timeout=0.02) is None
    assert q.get(timeout=1) == "k"
    assert 0.09 <= time.monotonic() - start < 0.5


def test_add_after_delays_and_dedups():
    q = WorkQueue()
    q.add_after("k", 0.15)
    q.add_after("k", 0.3)  # later duplicate: the earlier time wins
    assert len(q) == 0
    start = time.monotonic()
    assert q.get(timeout=2) == "k"
    assert 0.1 <= time.monotonic() - start < 0.28
    q.done("k")
    assert q.get(timeout=0.3) is None  # the superseded entry does not fire


def test_add_after_earlier_time_wins():
    q = WorkQueue()
    q.add_after("k", 5)
    q.add_after("k", 0.05)
    assert q.get(timeout=1) == "k"


def test_add_after_zero_is_immediate():
    q = WorkQueue()
    q.add_after("k", 0)
    assert len(q) == 1


def test_blocked_get_wakes_on_add():
    q = WorkQueue()
    got = []
    t = threading.Thread(target=lambda: got.append(q.get(timeout=5)))
    t.start()
    time.sleep(0.05)
    q.add("x")
    t.join(2)
    assert got == ["x"]


def test_shutdown_wakes_getters_and_drains():
    q = WorkQueue()
    q.add("a")
    q.shutdown()
    q.add("b")  # ignored after shutdown
    assert q.get(timeout=1) == "a"
    assert q.get(timeout=1) is None
    assert q.shutting_down

    q2 = WorkQueue()
    got = []
    t = threading.Thread(target=lambda: got.append(q2.get()))
    t.start()
    time.sleep(0.05)
    q2.shutdown()
    t.join(2)
    assert got == [None]


def test_process_next_retries_failures_with_backoff():
    q = WorkQueue(base_delay=0.01)
    calls = []

    def sync(key):
        calls.append(key)
        if len(calls) < 3:
            raise RuntimeError("boom")

    q.add("k")
    for _ in range(3):
        assert process_next(q, sync, timeout=2)
    assert calls == ["k", "k", "k"]
    assert q.num_requeues("k") == 0  # forgotten after the success
    assert len(q) == 0


def test_run_workers_stop_event_ends_workers():
    q = WorkQueue()
    stop = threading.Event()
    seen = []
    threads = run_workers(q, seen.append, n=2, stop_event=stop)
    q.add("a")
    deadline = time.time() + 2
    while not seen and time.time() < deadline:
        time.sleep(0.01)
    stop.set()
    for t in threads:
        t.join(2)
    assert seen == ["a"]
    assert not any(t.is_alive() for t in threads)
