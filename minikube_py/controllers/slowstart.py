"""Slow start: create in batches of 1, 2, 4, 8, ...

Kubernetes' slowStartBatch (pkg/controller/replicaset): a broken template fails
after one pod, not after five hundred.
"""
from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Callable, Optional


def slow_start_batch(count: int, fn: Callable[[], None], pool: ThreadPoolExecutor,
                     initial: int = 1) -> tuple[int, Optional[BaseException]]:
    """Call ``fn`` ``count`` times, in concurrent batches of 1, 2, 4, 8, ...

    A batch runs in parallel; if any call of a batch fails, no further batch starts.
    So a template the apiserver rejects costs one failed request, not ``count`` of
    them, while a good one gets all its pods in about log2(count) round trips.
    Returns (successes, first error or None).
    """
    done, batch, first_error = 0, min(count, initial), None
    while batch > 0:
        futures = [pool.submit(fn) for _ in range(batch)]
        failed = 0
        for f in futures:
            err = f.exception()
            if err is not None:
                failed += 1
                first_error = first_error or err
        done += batch - failed
        if failed:
            break
        batch = min(2 * batch, count - done)
    return done, first_error
