"""The `kubernetes` Service's Endpoints: where pods reach this apiserver.

Every pod learns the apiserver as https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT,
the ClusterIP of `default/kubernetes`; kube-proxy sends that on to the addresses in the
Endpoints of the same name. The Service has no selector, so no controller fills them:
each apiserver writes its own `--advertise-address` and port there, and puts them back
when someone removes them (kube-apiserver's master endpoint reconciler, in its simplest
form: an apiserver adds itself and leaves the others' addresses alone).
"""
from __future__ import annotations

import logging
import threading

from ..api.kinds.service import ENDPOINTS
from . import errors

log = logging.getLogger(__name__)

RECONCILE_SECONDS = 10.0        # upstream's --endpoint-reconciler interval


def desired(current: dict | None, ip: str, port: int) -> dict | None:
    """The Endpoints with this apiserver in them; None when `current` already has it."""
    ports = [{"name": "https", "port": port, "protocol": "TCP"}]
    if current is None:
        return {"metadata": {"name": "kubernetes", "namespace": "default"},
                "subsets": [{"addresses": [{"ip": ip}], "ports": ports}]}
    subsets = current.get("subsets") or []
    same_port = [s for s in subsets if s.get("ports") == ports]
    if any(a.get("ip") == ip for s in same_port for a in s.get("addresses") or []):
        return None
    others = [a for s in same_port for a in s.get("addresses") or [] if a.get("ip") != ip]
    return dict(current, subsets=[{"addresses": sorted(others + [{"ip": ip}], key=lambda a: a["ip"]),
                                   "ports": ports}])


def reconcile(registry, ip: str, port: int) -> None:
    try:
        current = registry.get(ENDPOINTS, "default", "kubernetes")
    except errors.APIError as err:
        if err.code != 404:
            raise
        current = None
    wanted = desired(current, ip, port)
    if wanted is None:
        return
    if current is None:
        registry.create(ENDPOINTS, "default", wanted)
    else:
        registry.update(ENDPOINTS, "default", "kubernetes", wanted)
    log.info("endpoints default/kubernetes: %s:%d added", ip, port)


def keep_reconciled(registry, ip: str, port: int, stopping: threading.Event) -> threading.Thread:
    def loop():
        while not stopping.is_set():
            try:
                reconcile(registry, ip, port)
            except Exception as err:        # noqa: BLE001 - etcd away, a racing writer: next round
                log.warning("endpoints default/kubernetes: %s", err)
            stopping.wait(RECONCILE_SECONDS)
    thread = threading.Thread(target=loop, daemon=True, name="kubernetes-endpoints")
    thread.start()
    return thread
