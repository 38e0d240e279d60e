"""The arithmetic of a Deployment rollout: small functions of objects, no I/O.

Kubernetes' pkg/controller/deployment/util: replicas and the maxSurge /
maxUnavailable fenceposts, the pod-template-hash, revisions and the annotations a
Deployment puts on its ReplicaSets, the status summed from them, and the progress
checks behind the Progressing condition. The controller (deployment.py) decides
with these and writes.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Optional

from ..api import meta
from ..api.conditions import get_condition, set_condition, timed_condition
from ..client.informer import meta_key

log = logging.getLogger(__name__)

HASH_LABEL = "pod-template-hash"
REVISION = "deployment.kubernetes.io/revision"
REVISION_HISTORY = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS = "deployment.kubernetes.io/max-replicas"
# Deployment annotations that are not copied onto its ReplicaSets.
SKIP_ANNOTATIONS = {"kubectl.kubernetes.io/last-applied-configuration", REVISION,
                    REVISION_HISTORY, DESIRED_REPLICAS, MAX_REPLICAS,
                    "deprecated.deployment.rollback.to"}
MAX_REVISION_HISTORY_CHARS = 2000

# Condition types and reasons, as kubectl and users know them.
PROGRESSING, AVAILABLE, REPLICA_FAILURE = "Progressing", "Available", "ReplicaFailure"
NEW_RS_CREATED = "NewReplicaSetCreated"
FOUND_NEW_RS = "FoundNewReplicaSet"
RS_UPDATED = "ReplicaSetUpdated"
NEW_RS_AVAILABLE = "NewReplicaSetAvailable"
TIMED_OUT = "ProgressDeadlineExceeded"
FAILED_RS_CREATE = "FailedRSCreate"
PAUSED, RESUMED = "DeploymentPaused", "DeploymentResumed"
MIN_AVAILABLE, MIN_UNAVAILABLE = "MinimumReplicasAvailable", "MinimumReplicasUnavailable"


def replicas(obj: Optional[dict]) -> int:
    """spec.replicas of a Deployment or ReplicaSet (0 for None)."""
    if obj is None:
        return 0
    value = (obj.get("spec") or {}).get("replicas")
    return 1 if value is None else int(value)


def status_of(rs: Optional[dict], field: str) -> int:
    return int(((rs or {}).get("status") or {}).get(field) or 0)


def available_of(rs: dict) -> int:
    """Available pods the ReplicaSet will keep: its status, capped by its spec.

    Right after a scale-down the status still counts pods about to be deleted;
    counting them would let a rollout take away more than maxUnavailable.
    """
    return min(status_of(rs, "availableReplicas"), replicas(rs))


def active(rss) -> list[dict]:
    """ReplicaSets that should have pods (spec.replicas > 0)."""
    return [rs for rs in rss if rs is not None and replicas(rs) > 0]


def scaled_value(value, total: int, round_up: bool) -> int:
    """An int-or-percent ("25%") resolved against ``total``: maxSurge rounds up,
    maxUnavailable rounds down, as in Kubernetes."""
    if value is None:
        return 0
    if isinstance(value, int):
        return value
    text = str(value).strip()
    if text.endswith("%"):
        percent = int(text[:-1])
        whole, rest = divmod(percent * total, 100)
        return whole + (1 if round_up and rest else 0)
    return int(text)


def resolve_fenceposts(max_surge, max_unavailable, desired: int) -> tuple[int, int]:
    """(surge, unavailable) in pods. Both 0 would never move; then unavailable is 1."""
    surge = scaled_value(max_surge, desired, True)
    unavailable = scaled_value(max_unavailable, desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def is_rolling(d: dict) -> bool:
    return ((d.get("spec") or {}).get("strategy") or {}).get("type", "RollingUpdate") != "Recreate"


def _rolling_params(d: dict):
    rolling = ((d["spec"].get("strategy") or {}).get("rollingUpdate")) or {}
    return rolling.get("maxSurge", "25%"), rolling.get("maxUnavailable", "25%")


def max_surge(d: dict) -> int:
    if not is_rolling(d):
        return 0
    return resolve_fenceposts(*_rolling_params(d), replicas(d))[0]


def max_unavailable(d: dict) -> int:
    if not is_rolling(d) or replicas(d) == 0:
        return 0
    return min(resolve_fenceposts(*_rolling_params(d), replicas(d))[1], replicas(d))


def _normalize(value):
    """Drop nulls, empty strings, maps and lists, recursively.

    kubectl sends templates back (``rollout undo``) after a round trip through Go
    structs, which adds ``creationTimestamp: null`` and the like; Kubernetes compares
    templates as typed structs where "missing" and "empty" are the same. So do we.
    """
    if isinstance(value, dict):
        out = {k: _normalize(v) for k, v in value.items()}
        return {k: v for k, v in out.items() if v not in (None, "", {}, [])}
    if isinstance(value, list):
        return [_normalize(v) for v in value]
    return value


def _without_hash(template: dict) -> dict:
    t = _normalize(template or {})
    labels = (t.get("metadata") or {}).get("labels")
    if labels and HASH_LABEL in labels:
        labels = {k: v for k, v in labels.items() if k != HASH_LABEL}
        t = dict(t, metadata=dict(t["metadata"], labels=labels))
        t = _normalize(t)
    return t


def equal_ignore_hash(t1: dict, t2: dict) -> bool:
    """Are two pod templates the same, apart from the pod-template-hash label?"""
    return _without_hash(t1) == _without_hash(t2)


def _fnv32a(data: bytes, h: int = 0x811C9DC5) -> int:
    for byte in data:
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


HASH_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"   # no vowels: a hash never spells a word


def template_hash(template: dict, collision_count: Optional[int] = None) -> str:
    """The pod-template-hash: FNV-1a of the template (and the collision count), with
    each decimal digit mapped into a safe alphabet, as Kubernetes does ("5d8f7b9c4")."""
    data = json.dumps(_without_hash(template), sort_keys=True, separators=(",", ":"))
    h = _fnv32a(data.encode())
    if collision_count:
        h = _fnv32a(int(collision_count).to_bytes(4, "little"), h)
    return "".join(HASH_ALPHABET[ord(c) % len(HASH_ALPHABET)] for c in str(h))


def revision_of(obj: dict) -> int:
    try:
        return int(((obj.get("metadata") or {}).get("annotations") or {}).get(REVISION, 0))
    except ValueError:
        return 0


def all_replicasets(old_rss: list[dict], new_rs: Optional[dict]) -> list[dict]:
    return old_rss + [new_rs] if new_rs is not None else list(old_rss)


def by_age(obj: dict) -> tuple:
    """Sort key: oldest first (creationTimestamp, then name)."""
    md = obj.get("metadata") or {}
    return (md.get("creationTimestamp") or "", md.get("name") or "")


def find_new_rs(d: dict, rss: list[dict]) -> Optional[dict]:
    """The oldest ReplicaSet whose template equals the Deployment's (hash aside)."""
    for rs in sorted(rss, key=by_age):
        if equal_ignore_hash((rs.get("spec") or {}).get("template"), d["spec"].get("template")):
            return rs
    return None


def new_rs_replicas(d: dict, all_rss: list[dict], new_rs: dict) -> int:
    """How far the new ReplicaSet may grow now.

    Recreate: straight to replicas. RollingUpdate: as far as the surge allows, counting
    for each ReplicaSet the larger of what it asks for and what it still has (an old
    ReplicaSet scaled down a moment ago may not have deleted its pods yet).
    """
    want = replicas(d)
    if not is_rolling(d):
        return want
    max_total = want + max_surge(d)
    current = sum(max(replicas(rs), status_of(rs, "replicas")) for rs in all_rss)
    if current >= max_total:
        return replicas(new_rs)
    grow = min(max_total - current, want - replicas(new_rs))
    return replicas(new_rs) + max(grow, 0)


# ---- progress and status

def has_progress_deadline(d: dict) -> bool:
    deadline = d["spec"].get("progressDeadlineSeconds")
    return deadline is not None and deadline != 2 ** 31 - 1


def deployment_complete(d: dict, status: dict) -> bool:
    """Every replica updated and available, and the latest spec observed."""
    want = replicas(d)
    return (status.get("updatedReplicas", 0) == want and status.get("replicas", 0) == want
            and status.get("availableReplicas", 0) == want
            and status.get("observedGeneration", 0) >= d["metadata"].get("generation", 1))


def deployment_progressing(d: dict, new: dict) -> bool:
    """Did anything move since the last status: more updated, fewer old, more ready/available?"""
    old = d.get("status") or {}
    old_old = old.get("replicas", 0) - old.get("updatedReplicas", 0)
    new_old = new.get("replicas", 0) - new.get("updatedReplicas", 0)
    return (new.get("updatedReplicas", 0) > old.get("updatedReplicas", 0) or new_old < old_old
            or new.get("readyReplicas", 0) > old.get("readyReplicas", 0)
            or new.get("availableReplicas", 0) > old.get("availableReplicas", 0))


def since_update(cond: dict, now: Optional[datetime] = None) -> float:
    now = now or datetime.now(timezone.utc)
    try:
        return (now - meta.parse_time(cond.get("lastUpdateTime") or "")).total_seconds()
    except ValueError:
        return 0.0


def deployment_timed_out(d: dict, status: dict, now: Optional[datetime] = None) -> bool:
    """No progress for progressDeadlineSeconds since the Progressing condition last moved."""
    if not has_progress_deadline(d):
        return False
    cond = get_condition(status, PROGRESSING)
    if cond is None or cond.get("reason") == NEW_RS_AVAILABLE:
        return False
    if cond.get("reason") == TIMED_OUT:
        return True
    return since_update(cond, now) > d["spec"]["progressDeadlineSeconds"]


def calculate_status(all_rss: list[dict], new_rs: Optional[dict], d: dict) -> dict:
    """The Deployment's status, summed from its ReplicaSets' statuses."""
    available = sum(status_of(rs, "availableReplicas") for rs in all_rss)
    total = sum(replicas(rs) for rs in all_rss)
    old = d.get("status") or {}
    status = {
        "observedGeneration": d["metadata"].get("generation", 1),
        "replicas": sum(status_of(rs, "replicas") for rs in all_rss),
        "updatedReplicas": status_of(new_rs, "replicas"),
        "readyReplicas": sum(status_of(rs, "readyReplicas") for rs in all_rss),
        "availableReplicas": available,
        "unavailableReplicas": max(total - available, 0),
    }
    if old.get("conditions"):
        status["conditions"] = [dict(c) for c in old["conditions"]]
    if old.get("collisionCount") is not None:
        status["collisionCount"] = old["collisionCount"]
    if available >= replicas(d) - max_unavailable(d):
        set_condition(status, timed_condition(AVAILABLE, "True", MIN_AVAILABLE,
                                            "Deployment has minimum availability."))
    else:
        set_condition(status, timed_condition(AVAILABLE, "False", MIN_UNAVAILABLE,
                                            "Deployment does not have minimum availability."))
    return status


# ---- annotations

def _annotations(obj: dict) -> dict:
    md = obj.setdefault("metadata", {})
    if md.get("annotations") is None:
        md["annotations"] = {}
    return md["annotations"]


def set_replicas_annotations(rs: dict, desired: int, max_replicas: int) -> bool:
    """desired-replicas / max-replicas: the Deployment size this ReplicaSet was sized for
    (proportional scaling reads them back)."""
    ann, changed = _annotations(rs), False
    for key, value in ((DESIRED_REPLICAS, str(desired)), (MAX_REPLICAS, str(max_replicas))):
        if ann.get(key) != value:
            ann[key] = value
            changed = True
    return changed


def replicas_annotations_need_update(rs: dict, desired: int, max_replicas: int) -> bool:
    ann = ((rs.get("metadata") or {}).get("annotations")) or {}
    return ann.get(DESIRED_REPLICAS) != str(desired) or ann.get(MAX_REPLICAS) != str(max_replicas)


def set_new_rs_annotations(d: dict, rs: dict, new_revision: int, exists: bool) -> bool:
    """Copy the Deployment's annotations; raise the revision (keeping the old one in
    revision-history, which happens on a rollback); on a new ReplicaSet, size annotations."""
    ann, changed = _annotations(rs), False
    for key, value in ((d["metadata"].get("annotations")) or {}).items():
        if key not in SKIP_ANNOTATIONS and ann.get(key) != value:
            ann[key] = value
            changed = True
    old_text = ann.get(REVISION, "")
    try:
        old_revision = int(old_text) if old_text else 0
    except ValueError:
        log.warning("%s: bad revision annotation %r", meta_key(rs), old_text)
        return changed
    if old_revision < new_revision:
        ann[REVISION] = str(new_revision)
        changed = True
        if old_text:
            history = [h for h in ann.get(REVISION_HISTORY, "").split(",") if h] + [old_text]
            while len(",".join(history)) > MAX_REVISION_HISTORY_CHARS and len(history) > 1:
                history.pop(0)
            ann[REVISION_HISTORY] = ",".join(history)
    if not exists and set_replicas_annotations(rs, replicas(d), replicas(d) + max_surge(d)):
        changed = True
    return changed
