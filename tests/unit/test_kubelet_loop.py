"""The kubelet's loops, on a thread each and on a LoopRunner's shared lanes: the same behaviour."""
import threading
import time

import pytest

from minikube_py.kubelet.loop import Loop, LoopRunner


def wait_for(cond, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


@pytest.mark.parametrize("shared", [False, True], ids=["own-thread", "runner"])
def test_a_loop_steps_every_period_wakes_early_and_stops(shared):
    runner = LoopRunner(threads=2) if shared else None
    steps, woken = [], []
    loop = None

    def step():
        steps.append(time.monotonic())
        woken.append(loop.woken)

    loop = Loop("t", step, 0.05, runner=runner)
    loop.start()
    wait_for(lambda: len(steps) >= 4)
    gaps = [b - a for a, b in zip(steps, steps[1:4])]
    assert all(g >= 0.04 for g in gaps), gaps            # it sleeps its period between steps

    loop.period = 60.0                                   # a long sleep now; wake() cuts it short
    wait_for(lambda: len(steps) >= 5)
    n = len(steps)
    time.sleep(0.1)
    assert len(steps) == n
    loop.wake()
    wait_for(lambda: len(steps) == n + 1)
    assert woken[-1] is True and woken[0] is False

    loop.stop()
    loop.wake()
    time.sleep(0.1)
    assert len(steps) == n + 1                           # stopped: no step after stop()


def test_many_loops_share_a_few_threads_and_one_slow_loop_does_not_stop_the_others():
    runner = LoopRunner(threads=2)
    counts = [0] * 50
    before = threading.active_count()

    def make(i):
        def step():
            counts[i] += 1
            if i == 0:
                raise RuntimeError("a bug in one loop")
        return step

    loops = [Loop(f"l{i}", make(i), 0.02, runner=runner).start() for i in range(50)]
    wait_for(lambda: min(counts) >= 3)
    assert threading.active_count() - before <= 2        # two lanes, not fifty threads
    for loop in loops:
        loop.stop()


def test_wait_first_sleeps_a_period_before_the_first_step():
    runner = LoopRunner(threads=1)
    steps = []
    t0 = time.monotonic()
    loop = Loop("w", lambda: steps.append(time.monotonic()), 0.2, wait_first=True, runner=runner).start()
    wait_for(lambda: steps)
    assert steps[0] - t0 >= 0.19
    loop.stop()
