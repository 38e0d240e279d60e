"""Sets of completion indexes written as intervals: ``"1,3-5,7"``.

An Indexed Job reports the indexes that succeeded (``status.completedIndexes``) and
those that failed for good (``status.failedIndexes``) in this compressed form, and a
successPolicy rule names indexes the same way (``succeededIndexes``). Kubernetes
keeps the format in pkg/controller/job/indexed_job_utils.go (writing) and
pkg/apis/batch/validation (reading); the messages below are its messages.
"""
from __future__ import annotations

from typing import Iterable

__all__ = ["IndexSetError", "format_indexes", "parse_indexes", "count_indexes"]


class IndexSetError(ValueError):
    """Not an interval list Kubernetes accepts; str() says why, as the apiserver does."""


def format_indexes(indexes: Iterable[int]) -> str:
    """Sorted intervals: {1, 3, 4, 5, 7} -> "1,3-5,7"; two neighbours stay apart ("1,2")."""
    parts, run = [], []
    for i in sorted(set(indexes)):
        if run and i == run[-1] + 1:
            run.append(i)
            continue
        if run:
            parts.append(_interval(run))
        run = [i]
    if run:
        parts.append(_interval(run))
    return ",".join(parts)


def _interval(run: list) -> str:
    if len(run) == 1:
        return str(run[0])
    if len(run) == 2:
        return f"{run[0]},{run[1]}"
    return f"{run[0]}-{run[-1]}"


def parse_indexes(text: str, completions: int) -> set:
    """The indexes of a list such as "1,3-5" (each below ``completions``, in increasing order)."""
    indexes: set = set()
    if not text:
        return indexes
    last = None
    for fragment in text.split(","):
        limits = fragment.split("-")
        if len(limits) > 2:
            raise IndexSetError(f'the fragment "{fragment}" violates the requirement that an index '
                                "interval can have at most two parts separated by '-'")
        bounds = [_index(limit, completions) for limit in limits]
        for value in bounds:
            if last is not None and last >= value:
                raise IndexSetError(f"non-increasing order, previous: {last}, current: {value}")
            last = value
        indexes.update(range(bounds[0], bounds[-1] + 1))
    return indexes


def count_indexes(text: str, completions: int) -> int:
    return len(parse_indexes(text, completions))


def _index(text: str, completions: int) -> int:
    if not text.isdigit():
        raise IndexSetError(f'cannot convert string to integer for index: "{text}"')
    value = int(text)
    if value >= completions:
        raise IndexSetError(f'too large index: "{text}"')
    return value
