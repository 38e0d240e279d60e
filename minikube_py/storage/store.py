"""The storage interface the apiserver writes through.

Kubernetes keeps every object in etcd under `/registry/{resource}/{namespace}/{name}`.
The apiserver only needs six operations from a store; keeping them behind one small
interface lets a student read the API logic without reading etcd's gRPC.

`resourceVersion` is the etcd revision at which an object was last written
(its mod_revision), and a list's resourceVersion is the store revision it was read at.
"""
from __future__ import annotations

from typing import Callable, Protocol

from .. import codec


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


class ValueTooLarge(StorageError):
    """etcd refused a write for its size (its --max-request-bytes, 1.5 MiB) (API: 413)."""


class StoreUnavailable(StorageError):
    """The backing store cannot be reached (API: 503)."""


class WatchEvent:
    """One change seen by a watch: PUT or DELETE of a key at a revision.

    While it is dispatched the event holds its objects decoded, for the selectors and
    triggers that look into them. The watch cache then keeps it encoded only
    (``compact``), as kube-apiserver's cacher keeps each object serialized once: its
    JSON -- the bytes every watch stream sends -- and, for the previous state, the
    previous event's bytes when the cache still has them (the same bytes object, not a
    copy). A pod decoded into Python dicts takes about four times its JSON, and each
    event held both states, so ~21 KiB a pod event; encoded, about its JSON's size
    (``codec.dumps_to_keep``).
    Once compacted, ``object`` and ``prev_object`` are decoded again on every read, so
    each reader gets its own copy.
    """
    __slots__ = ("type", "key", "revision", "_object", "_prev", "_json", "_prev_json", "triggers")

    def __init__(self, type: str, key: str, revision: int, object: dict,
                 prev_object: dict | None = None):
        self.type = type            # "ADDED", "MODIFIED" or "DELETED"
        self.key = key
        self.revision = revision
        self._object = object       # the new object (DELETED: the last state, rv = deletion revision)
        self._prev = prev_object
        self._json: bytes | None = None
        self._prev_json: bytes | None = None
        # The watch cache's trigger values of the object and its previous state, kept so a
        # replay to an indexed watch need not decode events of other values.
        self.triggers: tuple | None = None

    def __repr__(self):
        return f"WatchEvent({self.type}, {self.key!r}, {self.revision})"

    # Each attribute is read once into a local: compact() sets the JSON before it drops
    # the dicts, so a reader in another thread sees one form or the other, never neither.
    @property
    def object(self) -> dict:
        obj = self._object
        return obj if obj is not None else codec.loads(self._json)

    @property
    def prev_object(self) -> dict | None:
        prev = self._prev
        if prev is not None:
            return prev
        data = self._prev_json
        return None if data is None else codec.loads(data)

    def json(self) -> bytes:
        """The object's JSON, serialized once and shared by every watch stream."""
        data = self._json
        if data is None:
            obj = self._object
            data = self._json = codec.dumps_to_keep(obj) if obj is not None else self._json
        return data

    def compact(self, prev_json: bytes | None = None) -> None:
        """Keep only the encoded forms; `prev_json` is the previous state's JSON if known."""
        self.json()
        if self._prev is not None:
            self._prev_json = prev_json if prev_json is not None else codec.dumps_to_keep(self._prev)
        self._object = self._prev = None


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
