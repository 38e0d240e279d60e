"""The token bucket behind client-side rate limits (events)."""
import threading

import pytest

from minikube_py.client.flowcontrol import TokenBucket


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.now += seconds


def test_a_burst_then_qps_tokens_a_second():
    clock = FakeClock()
    bucket = TokenBucket(qps=2, burst=3, clock=clock, sleep=clock.sleep)
    assert [bucket.try_accept() for _ in range(4)] == [True, True, True, False]
    clock.now += 0.5                          # one new token after 1/qps seconds
    assert bucket.try_accept() and not bucket.try_accept()
    clock.now += 100                          # never more than the burst
    assert sum(bucket.try_accept() for _ in range(10)) == 3


def test_wait_sleeps_until_the_next_token():
    clock = FakeClock()
    bucket = TokenBucket(qps=4, burst=1, clock=clock, sleep=clock.sleep)
    assert bucket.wait()
    assert bucket.wait()
    assert clock.now == pytest.approx(0.25)


def test_wait_gives_up_when_stopped():
    bucket = TokenBucket(qps=0.01, burst=1)
    bucket.wait()
    stop = threading.Event()
    stop.set()
    assert bucket.wait(stop) is False


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        TokenBucket(qps=0, burst=1)
