"""A sampling profiler inside the process: for the apiserver with thousands of threads.

py-spy reads a process from outside; it refused the apiserver of a 5,000-node scale run
(a thread per watch, 5,000 of them: "Failed to find a python interpreter"). This one runs
in the process, as a thread: a few times a second it takes every thread's current frame
(``sys._current_frames()``), skips the threads that are waiting -- their innermost frame
is a blocking call such as ``Condition.wait`` or a socket read, which is what thousands of
idle watch threads show -- and counts the stacks of the others. Under the GIL only one of
them runs at a time, so this counts *who wants the CPU*, not who holds it: a coarser
answer than py-spy's ``--gil``, and good enough to see where a busy process's time goes.

A thread blocked on a ``threading.Lock`` cannot be told from a working one (the wait is
inside C): it shows the line of its ``with lock:``. Many counts on such a line are threads
queued for that lock -- contention, which is worth knowing too.

It writes py-spy's raw ("collapsed") format, ``frame;frame;frame count`` per line, that
``benchmarks/scale.py``'s ``print_profile`` and flame graph tools read. Turn it on for any
component with ``MINIKUBE_PY_SAMPLE=<file>[:<samples per second>]`` (default 5 a second);
the file is rewritten every 10 s and at exit, so a component stopped any way leaves its counts.
"""
from __future__ import annotations

import atexit
import collections
import os
import sys
import threading
import time

# Innermost frames (file name ending, function) of threads that wait in a blocking call.
WAITING = {("threading.py", "wait"), ("threading.py", "_wait_for_tstate_lock"),
           ("selectors.py", "select"), ("socket.py", "readinto"), ("socket.py", "accept"),
           ("queue.py", "get"), ("server.py", "communicate"), ("_channel.py", "channel_spin"),
           ("_channel.py", "_blocking"), ("_channel.py", "_next"), ("streaming.py", "_run"),
           ("workers/threadpool.py", "run"), ("time.py", "sleep"),
           ("_channel.py", "consume_request_iterator"),
           ("groupcommit.py", "wait")}      # a write waiting for its group's etcd answer
CONDITION_ENTER = {("threading.py", "__enter__")}


def _in(frame, places) -> bool:
    code = frame.f_code
    return any(code.co_filename.endswith(f) and code.co_name == fn for f, fn in places)


def _waiting(frame) -> bool:
    """In a blocking call, or taking a Condition's lock on the way into one (gRPC's
    ``_blocking`` does: at a 5,000-node scale run 40% of the stacks stood there)."""
    return _in(frame, WAITING) or (_in(frame, CONDITION_ENTER) and frame.f_back is not None
                                   and _in(frame.f_back, WAITING))


def _stack(frame) -> str:
    names = []
    while frame is not None:
        code = frame.f_code
        names.append(f"{code.co_name} ({code.co_filename}:{frame.f_lineno})")
        frame = frame.f_back
    return ";".join(reversed(names))


class StackSampler:
    """Count the stacks of the threads that are not waiting, ``rate`` times a second."""

    def __init__(self, path: str, rate: float = 5.0):
        self.path = path
        self.interval = 1.0 / rate
        self.counts: collections.Counter = collections.Counter()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True, name="stack-sampler")

    def start(self) -> "StackSampler":
        self._thread.start()
        return self

    def sample(self) -> None:
        me = threading.get_ident()
        for ident, frame in sys._current_frames().items():
            if ident != me and not _waiting(frame):
                self.counts[_stack(frame)] += 1

    def _run(self) -> None:
        written = time.monotonic()
        while not self._stop.wait(self.interval):
            self.sample()
            if time.monotonic() - written >= 10.0:
                self.write()
                written = time.monotonic()

    def write(self) -> None:
        """The counts so far, in py-spy's raw format."""
        with open(self.path + ".tmp", "w") as f:
            for stack, n in self.counts.copy().most_common():
                f.write(f"{stack} {n}\n")
        os.replace(self.path + ".tmp", self.path)

    def stop(self) -> None:
        self._stop.set()
        self.write()


def from_environment() -> StackSampler | None:
    """Start a sampler when ``MINIKUBE_PY_SAMPLE`` asks for one."""
    spec = os.environ.get("MINIKUBE_PY_SAMPLE")
    if not spec:
        return None
    path, _, rate = spec.partition(":")
    sampler = StackSampler(path, float(rate) if rate else 5.0).start()
    atexit.register(sampler.stop)
    return sampler
