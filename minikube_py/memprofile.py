"""Where a component's memory goes: tracemalloc's biggest allocation sites, every 30 s.

RSS says how much; this says which lines of code hold it -- the watch cache's window, a
connection's buffers, an informer's copies. Turn it on for any component with
``MINIKUBE_PY_TRACEMALLOC=<file>``: the file is rewritten every 30 s (and at exit) with the
sites holding the most memory now, biggest first, as ``KiB blocks file:line`` lines.
tracemalloc slows every allocation (a busy apiserver runs at about half its speed), so
read the memory of such a run, not its rates (benchmarks/scale.py ``--memory-profile``).
"""
from __future__ import annotations

import atexit
import os
import threading
import tracemalloc

FRAMES = 4          # the allocating line and its callers: enough to tell who asked


def write_top(path: str, top: int = 60) -> None:
    """Write the `top` allocation sites (innermost frame of this project's code first)."""
    snapshot = tracemalloc.take_snapshot().filter_traces(
        (tracemalloc.Filter(False, tracemalloc.__file__),))
    stats = snapshot.statistics("traceback")
    total = sum(s.size for s in stats)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        f.write(f"# {total / 1024:.0f} KiB traced in {sum(s.count for s in stats)} blocks\n")
        for s in stats[:top]:
            frames = " <- ".join(f"{os.path.relpath(fr.filename)}:{fr.lineno}" for fr in reversed(s.traceback))
            f.write(f"{s.size / 1024:10.0f} {s.count:9d} {frames}\n")
    os.replace(tmp, path)


def from_environment(every: float = 30.0) -> bool:
    """Start tracing when ``MINIKUBE_PY_TRACEMALLOC`` asks for it."""
    path = os.environ.get("MINIKUBE_PY_TRACEMALLOC")
    if not path:
        return False
    tracemalloc.start(FRAMES)
    stop = threading.Event()

    def loop():
        while not stop.wait(every):
            write_top(path)

    threading.Thread(target=loop, daemon=True, name="memprofile").start()
    atexit.register(lambda: (stop.set(), write_top(path)))
    return True
