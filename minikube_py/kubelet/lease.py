"""The node Lease: the kubelet's cheap, frequent heartbeat.

Posting the whole NodeStatus every few seconds from thousands of nodes is a lot
of etcd traffic, so since Kubernetes 1.17 each kubelet instead renews a tiny
``Lease`` object (coordination.k8s.io/v1) in the ``kube-node-lease`` namespace,
named after the node.  The node lifecycle controller reads ``spec.renewTime``:
a node whose lease has not been renewed for ``leaseDurationSeconds`` (40 s) is
NotReady/Unknown.  The lease is owned by the Node (ownerReferences), so the
garbage collector deletes it with the node.

Renewal is a PUT of the lease this kubelet last wrote, with its resourceVersion,
as the real kubelet's lease controller keeps `latestLease`: one request per
heartbeat.  Only when that fails (someone else wrote the lease, or deleted it)
is it read again with a GET; a 404 creates the lease.  ``renewTime`` is a MicroTime (``2026-01-02T03:04:05.123456Z``).
"""
from __future__ import annotations

import logging

from ..api.meta import now_micro
from ..client import errors
from .loop import Loop

log = logging.getLogger(__name__)

NAMESPACE = "kube-node-lease"


class NodeLease(Loop):
    def __init__(self, client, node_name: str, interval: float = 10.0,
                 duration_seconds: int | None = None, node_uid=lambda: None, runner=None):
        self.client = client
        self.node_name = node_name
        self.interval = interval
        # Kubernetes: renew interval = 1/4 of the lease duration (10 s of 40 s).
        self.duration_seconds = int(duration_seconds or max(1, round(4 * interval)))
        self.node_uid = node_uid
        self._retry = interval
        super().__init__(f"lease-{node_name}", self._renew_step, interval, runner=runner)
        self.renewals = 0
        self._latest: dict | None = None   # the lease as we last wrote it

    def _owner(self) -> list:
        uid = self.node_uid()
        if not uid:
            return []
        return [{"apiVersion": "v1", "kind": "Node", "name": self.node_name, "uid": uid}]

    def renew(self) -> dict:
        """Renew (or create) the lease once."""
        if self._latest is not None:
            try:
                return self._update(self._latest)
            except (errors.Conflict, errors.NotFound):
                self._latest = None     # read it again below
        try:
            lease = self.client.get("leases", self.node_name, NAMESPACE)
        except errors.NotFound:
            lease = None
        if lease is None:
            body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                    "metadata": {"name": self.node_name, "namespace": NAMESPACE},
                    "spec": {"holderIdentity": self.node_name,
                             "leaseDurationSeconds": self.duration_seconds,
                             "renewTime": now_micro()}}
            owners = self._owner()
            if owners:
                body["metadata"]["ownerReferences"] = owners
            try:
                out = self._latest = self.client.create("leases", body, namespace=NAMESPACE)
                self.renewals += 1
                return out
            except errors.AlreadyExists:
                lease = self.client.get("leases", self.node_name, NAMESPACE)
        return self._update(lease)

    def _update(self, lease: dict) -> dict:
        lease = {**lease, "metadata": dict(lease["metadata"]), "spec": dict(lease.get("spec") or {})}
        spec = lease["spec"]
        spec["holderIdentity"] = self.node_name
        spec["leaseDurationSeconds"] = self.duration_seconds
        spec["renewTime"] = now_micro()
        owners = self._owner()
        if owners and not lease["metadata"].get("ownerReferences"):
            lease["metadata"]["ownerReferences"] = owners
        out = self._latest = self.client.update("leases", lease)
        self.renewals += 1
        return out

    def _renew_step(self) -> float:
        try:
            self.renew()
            self._retry = self.interval
        except Exception as e:  # noqa: BLE001 - keep trying, faster at first (as client-go)
            log.warning("node %s: lease renewal failed: %s", self.node_name, e)
            self._retry = min(self.interval, 0.2 if self._retry >= self.interval else self._retry * 2)
        return self._retry
