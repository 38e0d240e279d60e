"""`/api/v1/componentstatuses`: the control plane's health, computed on each request.

kube-apiserver probes etcd and the scheduler's and controller-manager's health ports.
Ours asks etcd for its members and each member for its status (storage/etcd.py
`members`), so a lab with a 3-member cluster sees which member leads and which is
down; the scheduler and controller-manager are judged by their leader-election Lease
in kube-system (held and renewed within its duration: Healthy), which is what the
standby copies of those components watch too.
"""
from __future__ import annotations

import datetime as _dt

from ..api.kinds.componentstatus import COMPONENT_STATUS
from ..api.kinds.coordination import LEASE
from . import errors

LEASES = (("scheduler", "kube-scheduler"), ("controller-manager", "kube-controller-manager"))


def _status(name: str, healthy, message: str, error: str = "") -> dict:
    word = "Unknown" if healthy is None else str(bool(healthy))
    return {"kind": COMPONENT_STATUS.kind, "apiVersion": COMPONENT_STATUS.api_version,
            "metadata": {"name": name},
            "conditions": [{"type": "Healthy", "status": word, "message": message, "error": error}]}


def _etcd(store) -> list[dict]:
    members = getattr(store, "members", None)
    if members is None:                       # a store that is not etcd (unit tests)
        return [_status("etcd-0", True, "ok")]
    try:
        found = members()
    except Exception as err:  # noqa: BLE001 - etcd unreachable: that is the answer
        return [_status("etcd-0", False, "", f"etcd unreachable: {err}")]
    out = []
    for i, m in enumerate(found):
        if m.get("healthy"):
            role = "leader" if m.get("leader") else "follower"
            message = (f'ok: member {m["name"]} ({role}, raft term {m["raftTerm"]}, '
                       f'db {_size(m["dbSize"])}, etcd {m["version"]})')
            out.append(_status(f"etcd-{i}", True, message))
        else:
            out.append(_status(f"etcd-{i}", False, "", f'member {m["name"]}: {m.get("error", "")}'))
    return out


def _size(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e6 else f"{n / 1e3:.0f} kB"


def _parse_time(value: str):
    try:
        return _dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except (AttributeError, ValueError):
        return None


def _lease(registry, name: str, lease_name: str, now: _dt.datetime) -> dict:
    try:
        lease = registry.get(LEASE, "kube-system", lease_name)
    except errors.APIError as err:
        if err.code != 404:
            return _status(name, None, "", f"cannot read Lease {lease_name}: {err}")
        return _status(name, None, f"no {lease_name} Lease in kube-system: it runs without leader "
                                   "election, or not at all")
    spec = lease.get("spec") or {}
    holder = spec.get("holderIdentity") or ""
    renewed = _parse_time(spec.get("renewTime") or "")
    duration = spec.get("leaseDurationSeconds") or 15
    if not holder or renewed is None:
        return _status(name, False, "", f"Lease {lease_name} is not held")
    age = (now - renewed).total_seconds()
    if age > duration:
        return _status(name, False, "", f"leader {holder} has not renewed Lease {lease_name} "
                                        f"for {age:.0f}s (duration {duration}s)")
    return _status(name, True, f"ok: leader {holder}")


def all_statuses(registry, store) -> list[dict]:
    now = _dt.datetime.now(_dt.timezone.utc)
    return [_lease(registry, n, ln, now) for n, ln in LEASES] + _etcd(store)


def serve_list(registry, store) -> dict:
    return {"kind": "ComponentStatusList", "apiVersion": "v1", "metadata": {"resourceVersion": ""},
            "items": all_statuses(registry, store)}


def serve_get(registry, store, name: str) -> dict:
    for obj in all_statuses(registry, store):
        if obj["metadata"]["name"] == name:
            return obj
    raise errors.not_found(COMPONENT_STATUS, name)
