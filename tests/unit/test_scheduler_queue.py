"""The scheduling queue: priority order, back-off, unschedulable pods and moves.

Time is a plain counter the test advances (the queue takes a `clock`), so no
test sleeps or depends on timing.
"""
import threading

from minikube_py.scheduler.queue import SchedulingQueue, spec_changed


class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def pod(name, priority=0, **spec):
    return {"metadata": {"name": name, "namespace": "ns", "resourceVersion": "1"},
            "spec": {"priority": priority, **spec}, "status": {"phase": "Pending"}}


def make(**kw):
    clock = Clock()
    return SchedulingQueue(clock=clock, **kw), clock


def test_higher_priority_first_then_oldest():
    q, clock = make()
    q.add(pod("low-old"))
    clock.now += 1
    q.add(pod("high", priority=100))
    clock.now += 1
    q.add(pod("low-new"))
    assert [q.pop(0).key for _ in range(3)] == ["ns/high", "ns/low-old", "ns/low-new"]
    assert q.pop(0) is None


def test_adding_twice_keeps_one_entry_with_the_newest_object():
    q, _ = make()
    q.add(pod("a"))
    newer = pod("a")
    newer["metadata"]["labels"] = {"v": "2"}
    q.add(newer)
    got = q.pop(0)
    assert got.pod is newer and q.pop(0) is None


def test_unschedulable_waits_for_a_move_then_backs_off():
    q, clock = make(initial_backoff=1, max_backoff=10)
    q.add(pod("a"))
    qpi = q.pop(0)
    assert q.requeue(qpi, unschedulable=True)
    assert q.where("ns/a") == "unschedulable" and q.pop(0) is None
    # a node is added: the pod is still within its 1 s back-off -> backoffQ
    assert q.move_all_to_active_or_backoff("NodeAdd") == 1
    assert q.where("ns/a") == "backoff" and q.pop(0) is None
    clock.now += 1.0
    assert q.pop(0).key == "ns/a"


def test_backoff_doubles_up_to_the_max():
    q, clock = make(initial_backoff=1, max_backoff=4)
    q.add(pod("a"))
    durations = []
    for _ in range(5):
        qpi = q.pop(0)
        durations.append(q.backoff_duration(qpi))
        q.requeue(qpi, unschedulable=False)          # an error: straight to backoffQ
        assert q.pop(0) is None
        clock.now += durations[-1]
    assert durations == [1, 2, 4, 4, 4]


def test_a_move_during_the_attempt_sends_the_pod_to_backoff_not_unschedulable():
    q, clock = make()
    q.add(pod("a"))
    qpi = q.pop(0)
    q.move_all_to_active_or_backoff("NodeAdd")      # happens while "a" is being scheduled
    q.requeue(qpi, unschedulable=True)
    assert q.where("ns/a") == "backoff"             # the event may have made it fit
    qpi2 = None
    clock.now += 1
    qpi2 = q.pop(0)
    q.requeue(qpi2, unschedulable=True)             # no move this time
    assert q.where("ns/a") == "unschedulable"


def test_unschedulable_pods_are_retried_after_max_wait():
    q, clock = make(max_unschedulable=60, flush_interval=5)
    q.add(pod("a"))
    q.requeue(q.pop(0), unschedulable=True)
    clock.now += 30
    assert q.pop(0) is None
    clock.now += 31
    assert q.pop(0).key == "ns/a"


def test_status_only_updates_leave_unschedulable_pods_alone():
    q, _ = make()
    old = pod("a")
    q.add(old)
    q.requeue(q.pop(0), unschedulable=True)
    status_only = pod("a")
    status_only["metadata"]["resourceVersion"] = "2"
    status_only["status"]["conditions"] = [{"type": "PodScheduled", "status": "False"}]
    assert not spec_changed(old, status_only)
    q.update(old, status_only)
    assert q.where("ns/a") == "unschedulable"
    fixed = pod("a", tolerations=[{"operator": "Exists"}])
    assert spec_changed(status_only, fixed)
    q.update(status_only, fixed)
    assert q.where("ns/a") in ("active", "backoff")


def test_deleted_pods_leave_the_queue_even_in_flight():
    q, _ = make()
    q.add(pod("a"))
    q.add(pod("b"))
    q.delete(pod("b"))
    qpi = q.pop(0)
    assert qpi.key == "ns/a" and q.pop(0) is None
    q.delete(pod("a"))                               # deleted (or bound) while in flight
    assert qpi.deleted
    assert not q.requeue(qpi, unschedulable=True)
    assert len(q) == 0


def test_done_forgets_and_update_of_unknown_pod_adds_it():
    q, _ = make()
    q.add(pod("a"))
    q.done(q.pop(0))
    assert "ns/a" not in q
    q.update(pod("b"), pod("b"))
    assert q.pop(0).key == "ns/b"


def test_counts_and_close_wakes_a_blocked_pop():
    q, _ = make()
    q.add(pod("a"))
    q.add(pod("b"))
    q.requeue(q.pop(0), unschedulable=True)
    assert q.counts() == {"active": 1, "backoff": 0, "unschedulable": 1, "in-flight": 0}
    q2 = SchedulingQueue()
    got = []
    t = threading.Thread(target=lambda: got.append(q2.pop()))
    t.start()
    q2.close()
    t.join(5)
    assert not t.is_alive() and got == [None]


def test_pop_blocks_until_a_pod_arrives():
    q = SchedulingQueue()
    got = []
    t = threading.Thread(target=lambda: got.append(q.pop(timeout=10)))
    t.start()
    q.add(pod("a"))
    t.join(10)
    assert got and got[0].key == "ns/a"


def test_which_node_updates_wake_unschedulable_pods():
    from minikube_py.scheduler.scheduler import node_change_helps
    base = {"metadata": {"name": "n", "labels": {"a": "1"}},
            "spec": {}, "status": {"allocatable": {"cpu": "1"},
                                   "conditions": [{"type": "Ready", "status": "True",
                                                   "lastHeartbeatTime": "t1"}]}}

    def changed(**parts):
        import copy
        new = copy.deepcopy(base)
        for path, value in parts.items():
            section, key = path.split("__")
            new[section][key] = value
        return new

    heartbeat = changed(status__conditions=[{"type": "Ready", "status": "True",
                                             "lastHeartbeatTime": "t2"}])
    assert not node_change_helps(base, heartbeat)          # heartbeats must not wake anyone
    assert node_change_helps(base, changed(metadata__labels={"a": "2"}))
    assert node_change_helps(base, changed(spec__unschedulable=True))
    assert node_change_helps(base, changed(spec__taints=[{"key": "k", "effect": "NoSchedule"}]))
    assert node_change_helps(base, changed(status__allocatable={"cpu": "2"}))
    assert node_change_helps(base, changed(status__conditions=[{"type": "Ready", "status": "False"}]))
