"""The in-process stack sampler counts threads that work, not threads that wait."""
import threading
import time

from minikube_py.sampler import StackSampler


def busy_work(stop):
    while not stop.is_set():
        sum(i * i for i in range(1000))


def idle_waiter(stop):
    stop.wait()


def test_it_counts_the_busy_thread_and_skips_the_waiting_ones(tmp_path):
    stop = threading.Event()
    busy = threading.Thread(target=busy_work, args=(stop,))
    waiters = [threading.Thread(target=idle_waiter, args=(stop,)) for _ in range(20)]
    for t in [busy, *waiters]:
        t.start()
    sampler = StackSampler(str(tmp_path / "out.collapsed"))
    try:
        for _ in range(20):
            sampler.sample()
    finally:
        stop.set()
        for t in [busy, *waiters]:
            t.join()
    sampler.stop()
    lines = (tmp_path / "out.collapsed").read_text().splitlines()
    assert lines and all(line.rsplit(" ", 1)[1].isdigit() for line in lines)
    stacks = [line.rsplit(" ", 1)[0] for line in lines]
    assert sum(int(line.rsplit(" ", 1)[1]) for line in lines if "busy_work" in line) >= 15
    assert not any("idle_waiter" in s for s in stacks)     # 20 waiting threads, never counted


def test_a_thread_queued_for_a_condition_inside_a_known_wait_is_waiting(tmp_path):
    # gRPC's unary call waits in _channel.py's _blocking, which first takes its Condition's
    # lock: a thread held there is waiting for etcd, not working
    grpc_like = {}
    exec(compile("def _blocking(cond):\n    with cond:\n        pass\n", "fake/_channel.py", "exec"), grpc_like)
    cond = threading.Condition()
    sampler = StackSampler(str(tmp_path / "out.collapsed"))
    with cond:                      # held: the thread queues in Condition.__enter__
        t = threading.Thread(target=grpc_like["_blocking"], args=(cond,))
        t.start()
        time.sleep(0.2)             # there by now
        for _ in range(10):
            sampler.sample()
    t.join()
    sampler.stop()
    assert "_blocking" not in (tmp_path / "out.collapsed").read_text()
