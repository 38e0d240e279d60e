"""Storage hooks: what a kind's writes do besides storing the object.

kube-apiserver wraps some kinds' REST storage: a Service's create takes a ClusterIP
and node ports (serviceallocation.py), a CRD's write starts serving its kind and its
delete waits for its objects to go (customresources.py). The Registry calls each
method of a kind's hook at its point of a write; kinds without one get NO_HOOK.
"""
from __future__ import annotations


class StorageHook:
    """What a kind's writes do besides storing the object, as kube-apiserver wraps some
    kinds' REST storage (a Service's IP and port allocators, a CRD's serving). The
    Registry calls each method at its point of a write; this base does nothing."""

    def prepare_update(self, rt, old: dict, new: dict) -> None:
        """Before defaults and validation of an update."""

    def take(self, rt, obj: dict, old: dict | None = None):
        """Before the write: take what the object needs; returns what to give back if it fails."""
        return ()

    def release(self, taken) -> None:
        """The write failed: give back what take() took."""

    def after_write(self, rt, old: dict | None, written: dict) -> None:
        """The create or update landed (old is None for a create)."""

    def after_delete(self, rt, deleted: dict) -> None:
        """The object is gone from storage."""

    def deletion_finalizers(self, rt, obj: dict) -> list:
        """Finalizers a DELETE adds, so that the object goes only after some cleanup."""
        return []


NO_HOOK = StorageHook()
