"""The status manager: writes pod statuses to the apiserver, only when they change.

Pod workers compute a pod's status on every sync (many times a minute); almost
always it is the same as last time.  Writing it anyway would cost an etcd write
and wake every watcher of the pod, so the status manager remembers what it last
wrote per pod uid and skips identical statuses.

Writes are a JSON patch of ``pods/{name}/status``: *test* that ``metadata.uid`` is
this pod's, then *replace* ``status``.  The uid test is the kubelet's precondition,
as in the real kubelet's status patch: a pod deleted and re-created under the same
name must never get the old pod's status.  No resourceVersion is sent -- the
kubelet owns a pod's status, and a write based on a slightly old copy of the pod
need not fail and be retried (it did, for about a third of the writes, when these
were PUTs).  A status somebody else changed after our write (the node lifecycle
controller marks pods not Ready when heartbeats stop) is written again on the next
sync that sees the newer copy, so a node that comes back puts Ready=True back.
The apiserver refuses to move a finished pod (Succeeded/Failed) to
another phase; then the kubelet re-reads the pod and keeps the terminal phase.
"""
from __future__ import annotations

import copy
import logging
import threading

from ..client import errors
from .podstatus import TERMINAL_PHASES

log = logging.getLogger(__name__)


class StatusManager:
    def __init__(self, client):
        self.client = client
        self._lock = threading.Lock()
        self._written: dict[str, dict] = {}      # pod uid -> last status written (or seen)
        self._written_at: dict[str, int] = {}    # pod uid -> the resourceVersion that showed it
        self.writes = 0

    def last(self, uid: str) -> dict | None:
        with self._lock:
            return self._written.get(uid)

    def forget(self, uid: str) -> None:
        with self._lock:
            self._written.pop(uid, None)
            self._written_at.pop(uid, None)

    def set_status(self, pod: dict, status: dict) -> bool:
        """Make the API show ``status`` for ``pod``; True if a write was needed.

        A terminal phase (Succeeded/Failed) is never changed back: the kubelet
        only moves a pod forward.
        """
        meta = pod.get("metadata") or {}
        uid = meta.get("uid")
        current = pod.get("status") or {}
        status = _kept_finished(status, current)
        if current == status:
            with self._lock:
                self._written[uid] = copy.deepcopy(status)
                self._written_at[uid] = _rv(pod)
            return False
        with self._lock:
            if self._written.get(uid) == status and _rv(pod) <= self._written_at.get(uid, 0):
                return False      # this copy of the pod is older than our write: nothing to do
        name, namespace = meta["name"], meta.get("namespace", "default")
        for _ in range(2):
            patch = [{"op": "test", "path": "/metadata/uid", "value": uid},
                     {"op": "replace", "path": "/status", "value": status}]
            try:
                written = self.client.patch("pods", name, patch, namespace=namespace, patch_type="json",
                                            subresource="status")
            except errors.NotFound:
                return False
            except errors.Invalid:
                # Not this pod any more (the uid test failed), or it finished meanwhile.
                try:
                    fresh = self.client.get("pods", name, namespace)
                except errors.NotFound:
                    return False
                if fresh["metadata"].get("uid") != uid:
                    log.info("pod %s/%s was re-created; dropping the old pod's status", namespace, name)
                    return False
                kept = _kept_finished(status, fresh.get("status") or {})
                if kept != status:
                    status = kept
                    continue
                raise
            self.writes += 1
            with self._lock:
                self._written[uid] = copy.deepcopy(status)
                self._written_at[uid] = _rv(written)
            return True
        return False


def _kept_finished(status: dict, shown: dict) -> dict:
    """``status``, unless the pod is shown finished (Succeeded/Failed) and ``status`` says
    otherwise: then the finished phase, reason and message stay."""
    phase = shown.get("phase")
    if phase not in TERMINAL_PHASES or status.get("phase") == phase:
        return status
    return {**status, "phase": phase, **{k: shown[k] for k in ("reason", "message") if k in shown}}


def _rv(obj: dict) -> int:
    try:
        return int((obj.get("metadata") or {}).get("resourceVersion") or 0)
    except (TypeError, ValueError):
        return 0
