"""The status manager: writes pod statuses to the apiserver, only when they change.

Pod workers compute a pod's status on every sync (many times a minute); almost
always it is the same as last time.  Writing it anyway would cost an etcd write
and wake every watcher of the pod, so the status manager remembers what it last
wrote per pod uid and skips identical statuses.

Writes go through ``PUT pods/{name}/status`` with the pod's resourceVersion
(optimistic concurrency, see the client).  On a Conflict it re-reads the pod
and retries -- but only if it is still *the same pod* (same uid): a pod
deleted and re-created under the same name must never get the old pod's status.
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
        self.writes = 0

    def last(self, uid: str) -> dict | None:
        with self._lock:
            return self._written.get(uid)

    def forget(self, uid: str) -> None:
        with self._lock:
            self._written.pop(uid, None)

    def set_status(self, pod: dict, status: dict) -> bool:
        """Make the API show ``status`` for ``pod``; True if a write was needed.

        A terminal phase (Succeeded/Failed) is never changed back: the kubelet
        only moves a pod forward.
        """
        meta = pod.get("metadata") or {}
        uid = meta.get("uid")
        current = pod.get("status") or {}
        if current.get("phase") in TERMINAL_PHASES and status.get("phase") != current["phase"]:
            status = dict(status, phase=current["phase"])
            for key in ("reason", "message"):
                if key in current:
                    status[key] = current[key]
        with self._lock:
            if self._written.get(uid) == status:
                return False
        if current == status:
            with self._lock:
                self._written[uid] = copy.deepcopy(status)
            return False
        body = {"apiVersion": "v1", "kind": "Pod",
                "metadata": {"name": meta["name"], "namespace": meta.get("namespace", "default"),
                             "uid": uid, "resourceVersion": meta.get("resourceVersion")},
                "status": status}
        for attempt in range(3):
            try:
                self.client.update_status("pods", body)
                self.writes += 1
                with self._lock:
                    self._written[uid] = copy.deepcopy(status)
                return True
            except errors.Conflict:
                try:
                    fresh = self.client.get("pods", meta["name"], meta.get("namespace", "default"))
                except errors.NotFound:
                    return False
                if fresh["metadata"].get("uid") != uid:
                    log.info("pod %s/%s was re-created; dropping the old pod's status",
                             meta.get("namespace"), meta["name"])
                    return False
                body["metadata"]["resourceVersion"] = fresh["metadata"]["resourceVersion"]
                fresh_phase = (fresh.get("status") or {}).get("phase")
                if fresh_phase in TERMINAL_PHASES and status.get("phase") != fresh_phase:
                    body["status"] = dict(status, phase=fresh_phase)
            except errors.NotFound:
                return False
        log.warning("could not write the status of pod %s/%s after 3 conflicts",
                    meta.get("namespace"), meta["name"])
        return False
