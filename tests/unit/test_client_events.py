"""The shared event recorder (client/events.py): never blocks its component, gives way to
the scheduler's bindings, drops when full, rate-limits, and filters spam per object."""
import threading
import time

from minikube_py.client.errors import NotFound
from minikube_py.client.events import EventRecorder


class RecordingClient:
    """Stands in for the REST client's create_event (this tests only the recorder)."""

    def __init__(self, fail_for=()):
        self.events = []
        self.fail_for = set(fail_for)
        self.lock = threading.Lock()

    def create_event(self, ref, reason, message, type="Normal", component="", host=None):
        if ref["name"] in self.fail_for:
            raise NotFound({"code": 404, "reason": "NotFound", "message": "namespace gone"})
        with self.lock:
            self.events.append((ref["name"], type, reason, message, component))
        return {"metadata": {"name": f"e{len(self.events)}", "namespace": ref.get("namespace")}}


def pod(name):
    return {"kind": "Pod", "metadata": {"name": name, "namespace": "ns", "uid": f"uid-{name}"}}


def test_events_wait_while_bindings_are_in_flight_then_all_arrive():
    client, idle = RecordingClient(), threading.Event()      # not idle: binds in flight
    rec = EventRecorder(client, "my-scheduler", busy=lambda: not idle.is_set(), max_defer=30)
    for i in range(3):
        rec.event(pod(f"p{i}"), "Normal", "Scheduled", f"Successfully assigned ns/p{i} to n")
    assert not rec.flush(timeout=0.2) and client.events == []
    idle.set()
    assert rec.flush(timeout=10)
    assert [e[0] for e in client.events] == ["p0", "p1", "p2"]
    assert client.events[0][1:] == ("Normal", "Scheduled", "Successfully assigned ns/p0 to n",
                                    "my-scheduler")
    rec.stop()


def test_a_full_queue_drops_instead_of_blocking():
    client, idle = RecordingClient(), threading.Event()
    rec = EventRecorder(client, "s", max_pending=2, busy=lambda: not idle.is_set(), max_defer=30)
    for i in range(10):
        rec.event(pod(f"p{i}"), "Warning", "FailedScheduling", "no")   # returns at once
    assert rec.dropped >= 7
    idle.set()
    assert rec.flush(timeout=10)
    assert len(client.events) + rec.dropped == 10
    rec.stop()


def test_api_errors_are_logged_not_raised():
    client = RecordingClient(fail_for={"gone"})
    rec = EventRecorder(client, "s")
    rec.event(pod("gone"), "Normal", "Scheduled", "x")
    rec.event(pod("ok"), "Normal", "Scheduled", "y")
    assert rec.flush(timeout=10)
    assert [e[0] for e in client.events] == ["ok"] and rec.written == 1
    rec.stop()


def test_an_event_is_held_at_most_max_defer():
    client = RecordingClient()
    rec = EventRecorder(client, "s", busy=lambda: True, max_defer=0.1)   # always busy
    rec.event(pod("p"), "Normal", "Scheduled", "x")
    assert rec.flush(timeout=10) and len(client.events) == 1
    rec.stop()


def test_events_are_rate_limited_after_a_burst_and_dropped_beyond_the_queue():
    """kube-scheduler's event client: a burst, then qps a second; client-go queues 1000."""
    client, sent_at = RecordingClient(), []
    original = client.create_event
    client.create_event = lambda *a, **kw: (original(*a, **kw), sent_at.append(time.monotonic()))
    rec = EventRecorder(client, "s", qps=5, burst=3, max_pending=4)
    for i in range(20):
        rec.event(pod(f"p{i}"), "Normal", "Scheduled", "x")      # never blocks
    assert rec.dropped >= 20 - 3 - 4 - 1     # the burst is sent, 4 wait, the rest dropped
    assert rec.flush(timeout=10)
    assert len(client.events) + rec.dropped == 20
    after_burst = sent_at[3:]
    assert after_burst, "some events waited for tokens"
    gaps = [b - a for a, b in zip(sent_at[2:], after_burst)]
    assert min(gaps) >= 0.15                 # 5 a second: one every 0.2 s
    rec.stop()


def test_the_spam_filter_lets_a_burst_per_object_through_then_one_per_refill():
    """kube-controller-manager's filter: 25 events per object, then one per 5 minutes."""
    client, now = RecordingClient(), [0.0]
    rec = EventRecorder(client, "rs-controller", spam_burst=3, spam_refill=300, clock=lambda: now[0])
    for i in range(5):
        rec.event(pod("a"), "Normal", "SuccessfulCreate", f"Created pod a-{i}")
    rec.event(pod("b"), "Normal", "SuccessfulCreate", "Created pod b-0")     # its own bucket
    now[0] += 300
    rec.event(pod("a"), "Normal", "SuccessfulCreate", "Created pod a-5")
    assert rec.flush(timeout=10)
    assert [e[3] for e in client.events] == ["Created pod a-0", "Created pod a-1", "Created pod a-2",
                                             "Created pod b-0", "Created pod a-5"]
    assert rec.dropped == 2
    rec.stop()
