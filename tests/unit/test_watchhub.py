"""The watch hub's loop: wakes, timers, socket events, and one broken stream among others."""
import select
import socket
import threading
import time

from minikube_py.apiserver.watchhub import WatchHub


class Stream:
    def __init__(self, hub, turn_in=None, fail=False):
        self.hub = hub
        self.sock, self.peer = socket.socketpair()
        self.fd = self.sock.fileno()
        self.calls = []
        self.turn_at = time.monotonic() + turn_in if turn_in is not None else None
        self.fail = fail
        self.abandoned = threading.Event()
        self.changed = threading.Event()

    def events(self):
        return select.EPOLLIN

    def next_turn(self):
        return self.turn_at

    def _called(self, what):
        self.calls.append(what)
        self.changed.set()
        if self.fail:
            raise RuntimeError("broken")

    def on_wake(self):
        self._called("wake")

    def on_turn(self):
        self.turn_at = None
        self._called("turn")

    def on_events(self, mask):
        self.peer_data = self.sock.recv(100)
        self._called(("events", mask & select.EPOLLIN != 0))

    def abandon(self):
        self.abandoned.set()


def _until(pred, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not pred() and time.monotonic() < deadline:
        time.sleep(0.01)
    return pred()


def test_a_stream_gets_its_wakes_its_timer_and_its_socket_events():
    hub = WatchHub()
    s = Stream(hub, turn_in=0.2)
    hub.add(s)
    assert _until(lambda: s.calls == ["wake"])
    hub.wake(s)
    assert _until(lambda: s.calls == ["wake", "wake"])
    assert _until(lambda: "turn" in s.calls)          # its next_turn came
    s.peer.sendall(b"x")
    assert _until(lambda: ("events", True) in s.calls)
    assert len(hub) == 1


def test_a_removed_stream_gets_nothing_more():
    hub = WatchHub()
    s = Stream(hub, turn_in=0.3)
    hub.add(s)
    assert _until(lambda: s.calls == ["wake"])
    # remove from the hub's own thread, as streams do (from a callback)
    s.on_wake = lambda: hub.remove(s)
    hub.wake(s)
    assert _until(lambda: len(hub) == 0)
    s.peer.sendall(b"x")
    time.sleep(0.5)                                   # past its timer too
    assert s.calls == ["wake"]


def test_a_stream_that_raises_is_abandoned_and_the_others_go_on():
    hub = WatchHub()
    bad, good = Stream(hub, fail=True), Stream(hub)
    hub.add(bad)
    hub.add(good)
    assert bad.abandoned.wait(5)
    assert _until(lambda: len(hub) == 1)
    good.peer.sendall(b"y")
    assert _until(lambda: ("events", True) in good.calls)
