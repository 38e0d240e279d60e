"""Fewer malloc arenas: a threaded Python process's memory that no object holds.

glibc's malloc gives threads their own arenas (up to 8 a core) so that they do not queue
on one lock. Python threads take turns under the GIL anyway, so the extra arenas buy
little here, and each keeps freed memory of its own: an apiserver with 5,000 hollow nodes
(600 threads, 10,000 connections) was at 399 MB RSS idle with glibc's default, 322 MB
with two arenas, at the same CPU (docs/performance.md). This is what the environment
variable ``MALLOC_ARENA_MAX`` does; set before the process starts any thread it applies
to them all, and a ``MALLOC_ARENA_MAX`` the user set wins.
"""
from __future__ import annotations

import ctypes
import ctypes.util
import os

M_ARENA_MAX = -8        # mallopt's parameter number, from glibc's malloc.h
ARENAS = 2


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Ask glibc for at most `arenas` malloc arenas; False where that cannot be done."""
    if os.environ.get("MALLOC_ARENA_MAX"):
        return False                    # the user's choice, already applied by glibc
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        return bool(libc.mallopt(M_ARENA_MAX, arenas))
    except (OSError, AttributeError):   # not glibc (musl, macOS): nothing to tune
        return False
