"""The storage interface the apiserver writes through.

Kubernetes keeps every object in etcd under `/registry/{resource}/{namespace}/{name}`.
The apiserver only needs six operations from a store; keeping them behind one small
interface lets a student read the API logic without reading etcd's gRPC.

`resourceVersion` is the etcd revision at which an object was last written
(its mod_revision), and a list's resourceVersion is the store revision it was read at.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Protocol


class StorageError(Exception):
    """Base class: something the store refused or could not do."""


class KeyExists(StorageError):
    """create() found the key already there (API: 409 AlreadyExists)."""


class KeyNotFound(StorageError):
    """get/update/delete found no key (API: 404 NotFound)."""


class RevisionConflict(StorageError):
    """update/delete with an expected revision that is no longer current (API: 409 Conflict)."""


class RevisionCompacted(StorageError):
    """A watch asked for history the store no longer keeps (API: 410 Expired)."""

    def __init__(self, compacted_revision: int):
        super().__init__(f"revision {compacted_revision} has been compacted")
        self.compacted_revision = compacted_revision


class StoreUnavailable(StorageError):
    """The backing store cannot be reached (API: 503)."""


@dataclass
class WatchEvent:
    """One change seen by a watch: PUT or DELETE of a key at a revision."""
    type: str                  # "ADDED", "MODIFIED" or "DELETED"
    key: str
    revision: int
    object: dict               # the new object (for DELETED: the last state, rv = deletion revision)
    prev_object: dict | None = None
    _encoded: dict = field(default_factory=dict, repr=False)  # cache of serialized forms


class Store(Protocol):
    def get(self, key: str) -> dict: ...
    def list(self, prefix: str) -> tuple[list[dict], int]: ...
    def list_page(self, prefix: str, start: str, limit: int,
                  revision: int = 0) -> tuple[list[tuple[str, dict]], int, bool, int]: ...
    def create(self, key: str, obj: dict) -> dict: ...
    def update(self, key: str, obj: dict, expected_rv: int | None) -> dict: ...
    def delete(self, key: str, expected_rv: int | None = None) -> dict: ...
    def watch(self, prefix: str, start_revision: int,
              callback: Callable[[list[WatchEvent] | Exception], None]) -> Callable[[], None]: ...
    def current_revision(self) -> int: ...
    def revision_available(self, revision: int) -> bool: ...
