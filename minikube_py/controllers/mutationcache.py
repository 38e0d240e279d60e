"""A controller's own last writes, kept until its informer cache catches up.

client-go's MutationCache (tools/cache/mutation_cache.go).
"""
from __future__ import annotations

import threading
from typing import Optional

from ..client.informer import meta_key


class MutationCache:
    """Objects as our own last write returned them, until the informer catches up.

    A controller that writes an object and syncs it again a moment later would read
    the old version from its cache and get 409 Conflict on the next write. client-go's
    MutationCache fixes that: keep what the apiserver answered, and prefer it while
    its resourceVersion is newer than the cached one (resourceVersions here are etcd
    revisions, so they compare as integers).
    """

    def __init__(self):
        self._objs: dict[str, dict] = {}
        self._lock = threading.Lock()

    def remember(self, obj: dict) -> None:
        with self._lock:
            self._objs[meta_key(obj)] = obj

    def newest(self, cached: Optional[dict]) -> Optional[dict]:
        """The cached object, or our own write of it if that is newer."""
        if cached is None:
            return None
        key = meta_key(cached)
        with self._lock:
            mine = self._objs.get(key)
            if mine is None:
                return cached
            same = mine["metadata"].get("uid") == cached["metadata"].get("uid")
            if same and _rv(mine) > _rv(cached):
                return mine
            del self._objs[key]               # the cache has caught up (or it is another object)
            return cached

    def forget(self, key: str) -> None:
        with self._lock:
            self._objs.pop(key, None)


def _rv(obj: dict) -> int:
    try:
        return int(obj["metadata"].get("resourceVersion") or 0)
    except ValueError:
        return 0
