"""The Deployment controller: rollouts, by steering ReplicaSets.

A Deployment never touches pods. It owns ReplicaSets, one per version of its pod
template, and moves replicas between them (Kubernetes' pkg/controller/deployment):

- The **new ReplicaSet** runs the current template. Its name is
  ``<deployment>-<pod-template-hash>``: the hash of the template is added to its name,
  its selector and its pods' labels, so two versions never claim each other's pods.
- **Old ReplicaSets** run earlier templates. Each carries the annotation
  ``deployment.kubernetes.io/revision``; ``kubectl rollout history`` lists them and
  ``kubectl rollout undo`` copies an old one's template back into the Deployment
  (client-side), which makes that ReplicaSet the new one again, with a new revision.
- **RollingUpdate** scales the new ReplicaSet up and the old ones down in steps, so
  that at every moment at most ``replicas + maxSurge`` pods exist and at least
  ``replicas - maxUnavailable`` are available. **Recreate** scales the old ones to 0,
  waits until their pods are gone, then scales the new one up.
- ``revisionHistoryLimit`` old ReplicaSets with 0 replicas are kept for rollbacks;
  older ones are deleted.
- ``status`` and the conditions Progressing / Available are what ``kubectl rollout
  status`` reads; Progressing turns False (ProgressDeadlineExceeded) when a rollout
  makes no progress for ``progressDeadlineSeconds``.

One sync reads the Deployment and its ReplicaSets from the caches, makes one step and
writes status; the ReplicaSet status changes that follow bring the next sync.
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, timezone
from typing import Optional

import click

from ..api import meta
from ..api.selectors import LabelSelector, SelectorError
from ..client import errors
from ..client.informer import meta_key
from . import podutil
from .base import Controller, SharedInformers

log = logging.getLogger(__name__)

COMPONENT = "deployment-controller"

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


# ================================================================== pure helpers
# Small functions of objects, no I/O: the arithmetic of a rollout.

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


def _created(obj: dict) -> tuple:
    md = obj.get("metadata") or {}
    return (md.get("creationTimestamp") or "", md.get("name") or "")


def find_new_rs(d: dict, rss: list[dict]) -> Optional[dict]:
    """The oldest ReplicaSet whose template equals the Deployment's (hash aside)."""
    for rs in sorted(rss, key=_created):
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


# ---- conditions

def get_condition(status: dict, type_: str) -> Optional[dict]:
    for c in status.get("conditions") or []:
        if c.get("type") == type_:
            return c
    return None


def new_condition(type_: str, status: str, reason: str, message: str) -> dict:
    now = meta.now_rfc3339()
    return {"type": type_, "status": status, "lastUpdateTime": now, "lastTransitionTime": now,
            "reason": reason, "message": message}


def set_condition(status: dict, cond: dict) -> None:
    """Add or replace a condition; same status and reason -> leave the old one as it is."""
    current = get_condition(status, cond["type"])
    if current is not None and current.get("status") == cond["status"] \
            and current.get("reason") == cond["reason"]:
        return
    if current is not None and current.get("status") == cond["status"]:
        cond = dict(cond, lastTransitionTime=current.get("lastTransitionTime"))
    remove_condition(status, cond["type"])
    status.setdefault("conditions", []).append(cond)


def remove_condition(status: dict, type_: str) -> None:
    conds = [c for c in status.get("conditions") or [] if c.get("type") != type_]
    if conds:
        status["conditions"] = conds
    else:
        status.pop("conditions", None)


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


def _since_update(cond: dict, now: Optional[datetime] = None) -> float:
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
    return _since_update(cond, now) > d["spec"]["progressDeadlineSeconds"]


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
        set_condition(status, new_condition(AVAILABLE, "True", MIN_AVAILABLE,
                                            "Deployment has minimum availability."))
    else:
        set_condition(status, new_condition(AVAILABLE, "False", MIN_UNAVAILABLE,
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


# ================================================================== the controller

class DeploymentController(Controller):
    name = "deployment"
    workers = 5                # kube-controller-manager's --concurrent-deployment-syncs

    def __init__(self, client, informers: SharedInformers):
        super().__init__(client, informers)
        self.d_informer = informers.get("deployments")
        self.rs_informer = informers.get("replicasets")
        self.pod_informer = informers.get("pods")
        for inf in (self.d_informer, self.rs_informer, self.pod_informer):
            podutil.ensure_indexes(inf)
        self.recorder = podutil.event_recorder(client, COMPONENT)
        # Our own writes, until the informers show them (saves a 409 per quick re-sync).
        self.written = podutil.MutationCache()
        self.rs_written = podutil.MutationCache()
        self.d_informer.add_handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new),
                                    on_delete=self.enqueue)
        self.rs_informer.add_handler(on_add=self._rs_added, on_update=self._rs_updated,
                                     on_delete=self._rs_deleted)
        self.pod_informer.add_handler(on_delete=self._pod_deleted)

    # ------------------------------------------------------------ event handlers

    def _owner(self, rs: dict) -> Optional[dict]:
        ref = meta.owner_of(rs)
        if not ref or ref.get("kind") != "Deployment":
            return None
        d = self.d_informer.get(f"{rs['metadata'].get('namespace')}/{ref.get('name')}")
        return d if d is not None and d["metadata"].get("uid") == ref.get("uid") else None

    def _matching(self, rs: dict) -> list[dict]:
        labels = rs["metadata"].get("labels") or {}
        out = []
        for d in self.d_informer.by_index(podutil.NAMESPACE_INDEX, rs["metadata"].get("namespace")):
            try:
                sel = LabelSelector.from_dict(d["spec"].get("selector"))
            except SelectorError:
                continue
            if not sel.empty and sel.matches(labels):
                out.append(d)
        return out

    def _rs_added(self, rs: dict):
        d = self._owner(rs)
        if d is not None:
            self.enqueue(d)
        elif meta.owner_of(rs) is None:
            for d in self._matching(rs):       # an orphan: a matching Deployment may adopt it
                self.enqueue(d)

    def _rs_updated(self, old: dict, new: dict):
        if old["metadata"].get("resourceVersion") == new["metadata"].get("resourceVersion"):
            return
        old_d, new_d = self._owner(old), self._owner(new)
        if old_d is not None and (new_d is None or old_d["metadata"]["uid"] != new_d["metadata"]["uid"]):
            self.enqueue(old_d)
        if new_d is not None:
            self.enqueue(new_d)
        elif meta.owner_of(new) is None and (
                old["metadata"].get("labels") != new["metadata"].get("labels")
                or meta.owner_of(old) is not None):
            for d in self._matching(new):
                self.enqueue(d)

    def _rs_deleted(self, rs: dict):
        self.rs_written.forget(meta_key(rs))
        d = self._owner(rs)
        if d is not None:
            self.enqueue(d)

    def _pod_deleted(self, pod: dict):
        """Recreate waits until the old pods are gone: look again when one goes."""
        ref = meta.owner_of(pod)
        if not ref or ref.get("kind") != "ReplicaSet":
            return
        rs = self.rs_informer.get(f"{pod['metadata'].get('namespace')}/{ref.get('name')}")
        d = self._owner(rs) if rs is not None else None
        if d is not None and not is_rolling(d):
            self.enqueue(d)

    # ------------------------------------------------------------ writes
    # ``d`` and the ReplicaSets are this sync's private copies; every write refreshes
    # them in place with what the apiserver answered (its new resourceVersion).

    def _refresh(self, obj: dict, updated: dict, cache: podutil.MutationCache) -> None:
        obj.clear()
        obj.update(updated)
        cache.remember(podutil.deep_copy(updated))

    def write_status(self, d: dict) -> None:
        self._refresh(d, self.client.update_status("deployments", d), self.written)

    def set_deployment_revision(self, d: dict, revision) -> None:
        """The Deployment's own revision annotation (metadata, so not a status write)."""
        revision = str(revision)
        if (d["metadata"].get("annotations") or {}).get(REVISION) == revision:
            return
        status = d.get("status")
        updated = self.client.patch("deployments", d["metadata"]["name"],
                                    {"metadata": {"annotations": {REVISION: revision},
                                                  "resourceVersion": d["metadata"]["resourceVersion"]}},
                                    namespace=d["metadata"]["namespace"])
        self._refresh(d, updated, self.written)
        if status is not None:
            d["status"] = status               # keep what this sync computed but did not write

    def scale_rs(self, d: dict, rs: dict, new_scale: int) -> bool:
        """Set a ReplicaSet's replicas (and size annotations); True if its size changed."""
        old_scale = replicas(rs)
        size_changes = old_scale != new_scale
        want_max = replicas(d) + max_surge(d)
        if not size_changes and not replicas_annotations_need_update(rs, replicas(d), want_max):
            return False
        rs["spec"]["replicas"] = new_scale
        set_replicas_annotations(rs, replicas(d), want_max)
        self._refresh(rs, self.client.update("replicasets", rs), self.rs_written)
        if size_changes:
            direction = "up" if new_scale > old_scale else "down"
            log.info("%s: scaled %s replica set %s to %d from %d", meta_key(d), direction,
                     rs["metadata"]["name"], new_scale, old_scale)
            self.recorder.normal(d, "ScalingReplicaSet", f"Scaled {direction} replica set "
                                 f"{rs['metadata']['name']} to {new_scale} from {old_scale}")
        return size_changes

    # ------------------------------------------------------------ sync

    def sync(self, key: str) -> None:
        podutil.sync_quietly(self.queue, key, self.sync_deployment, log)

    def sync_deployment(self, key: str) -> None:
        cached = self.written.newest(self.d_informer.get(key))
        if cached is None:
            self.written.forget(key)
            return                               # deleted: the garbage collector takes it from here
        d = podutil.deep_copy(cached)
        try:
            selector = LabelSelector.from_dict(d["spec"].get("selector"))
        except SelectorError as err:
            selector = None
            log.warning("%s: invalid selector: %s", key, err)
        if selector is None or selector.empty:
            self.recorder.warning(d, "SelectingAll", "This deployment is selecting all pods. "
                                  "A non-empty selector is required.")
            if (d.get("status") or {}).get("observedGeneration", 0) < d["metadata"].get("generation", 1):
                d.setdefault("status", {})["observedGeneration"] = d["metadata"].get("generation", 1)
                self.write_status(d)
            return

        rs_list = self.claim_replicasets(d, selector)
        if d["metadata"].get("deletionTimestamp"):
            new_rs, old_rss = self.get_all_replicasets(d, rs_list, create=False)
            return self.sync_deployment_status(_all(old_rss, new_rs), new_rs, d)
        self.check_paused_conditions(d)
        if d["spec"].get("paused") or self.is_scaling_event(d, rs_list):
            return self.scale_and_cleanup(d, rs_list)
        if is_rolling(d):
            return self.rollout_rolling(d, rs_list)
        return self.rollout_recreate(d, rs_list)

    def claim_replicasets(self, d: dict, selector: LabelSelector) -> list[dict]:
        """Adopt matching orphan ReplicaSets, release ours that stopped matching."""
        candidates = [self.rs_written.newest(rs) for rs in
                      podutil.claim_candidates(self.rs_informer, d)]
        manager = podutil.RefManager(self.client, "replicasets", d, selector, "deployments")
        return [podutil.deep_copy(rs) for rs in manager.claim(candidates)]

    # ---- new and old ReplicaSets

    def get_all_replicasets(self, d: dict, rs_list: list[dict], create: bool):
        """(new ReplicaSet or None, old ReplicaSets); syncs revision annotations on the way."""
        new_rs = find_new_rs(d, rs_list)
        old_rss = [rs for rs in rs_list if rs is not new_rs]
        return self.get_new_rs(d, new_rs, old_rss, create), old_rss

    def get_new_rs(self, d: dict, existing: Optional[dict], old_rss: list[dict],
                   create: bool) -> Optional[dict]:
        new_revision = max((revision_of(rs) for rs in old_rss), default=0) + 1
        if existing is not None:
            annotations_changed = set_new_rs_annotations(d, existing, new_revision, exists=True)
            min_ready = d["spec"].get("minReadySeconds") or 0
            if annotations_changed or (existing["spec"].get("minReadySeconds") or 0) != min_ready:
                existing["spec"]["minReadySeconds"] = min_ready
                self._refresh(existing, self.client.update("replicasets", existing), self.rs_written)
                return existing
            self.set_deployment_revision(d, existing["metadata"]["annotations"].get(REVISION, ""))
            if has_progress_deadline(d) and get_condition(d.get("status") or {}, PROGRESSING) is None:
                status = d.setdefault("status", {})
                set_condition(status, new_condition(
                    PROGRESSING, "True", FOUND_NEW_RS,
                    f'Found new replica set "{existing["metadata"]["name"]}"'))
                self.write_status(d)
            return existing
        if not create:
            return None
        return self.create_new_rs(d, old_rss, new_revision)

    def create_new_rs(self, d: dict, old_rss: list[dict], new_revision: int) -> dict:
        md = d["metadata"]
        status = d.setdefault("status", {})
        template = podutil.deep_copy(d["spec"]["template"])
        pod_hash = template_hash(template, status.get("collisionCount"))
        tmeta = template.setdefault("metadata", {})
        tmeta["labels"] = dict(tmeta.get("labels") or {}, **{HASH_LABEL: pod_hash})
        selector = podutil.deep_copy(d["spec"]["selector"])
        selector["matchLabels"] = dict(selector.get("matchLabels") or {}, **{HASH_LABEL: pod_hash})
        new_rs = {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": f"{md['name']}-{pod_hash}", "namespace": md["namespace"],
                         "labels": dict(tmeta["labels"]),
                         "ownerReferences": [podutil.controller_ref(d)]},
            "spec": {"replicas": 0, "minReadySeconds": d["spec"].get("minReadySeconds") or 0,
                     "selector": selector, "template": template},
        }
        new_rs["spec"]["replicas"] = new_rs_replicas(d, old_rss + [new_rs], new_rs)
        set_new_rs_annotations(d, new_rs, new_revision, exists=False)
        name = new_rs["metadata"]["name"]
        already_exists = False
        try:
            created = self.client.create("replicasets", new_rs, namespace=md["namespace"])
        except errors.AlreadyExists:
            found = self.client.get("replicasets", name, namespace=md["namespace"])
            if podutil.is_controlled_by(found, d) and equal_ignore_hash(
                    found["spec"].get("template"), d["spec"]["template"]):
                created, already_exists = found, True    # ours; the cache had not shown it yet
            else:
                # Another object has this name: a hash collision. Count it; the hash
                # includes the count, so the next try gets another name.
                count = (status.get("collisionCount") or 0) + 1
                log.warning("%s: hash collision on %s, collisionCount -> %d", meta_key(d), name, count)
                status["collisionCount"] = count
                self.write_status(d)
                raise
        except errors.ApiError as err:
            if has_progress_deadline(d):
                set_condition(status, new_condition(PROGRESSING, "False", FAILED_RS_CREATE,
                                                    f'Failed to create new replica set "{name}": '
                                                    f"{err.message}"))
                self.write_status(d)
            raise
        if not already_exists and replicas(created) > 0:
            self.recorder.normal(d, "ScalingReplicaSet", f"Scaled up replica set {name} to "
                                 f"{replicas(created)} from 0")
        self.set_deployment_revision(d, new_revision)
        if not already_exists and has_progress_deadline(d):
            set_condition(d.setdefault("status", {}), new_condition(
                PROGRESSING, "True", NEW_RS_CREATED, f'Created new replica set "{name}"'))
            self.write_status(d)
        return created

    # ---- scaling (also while paused)

    def is_scaling_event(self, d: dict, rs_list: list[dict]) -> bool:
        """Did only spec.replicas change? Active ReplicaSets remember the size they were
        made for (desired-replicas); a different size now means "scale", not "roll"."""
        new_rs, old_rss = self.get_all_replicasets(d, rs_list, create=False)
        for rs in active(_all(old_rss, new_rs)):
            desired = ((rs["metadata"].get("annotations")) or {}).get(DESIRED_REPLICAS)
            if desired is not None and desired.isdigit() and int(desired) != replicas(d):
                return True
        return False

    def scale_and_cleanup(self, d: dict, rs_list: list[dict]) -> None:
        new_rs, old_rss = self.get_all_replicasets(d, rs_list, create=False)
        self.scale(d, new_rs, old_rss)
        if d["spec"].get("paused"):
            self.cleanup(d, old_rss)
        self.sync_deployment_status(_all(old_rss, new_rs), new_rs, d)

    def scale(self, d: dict, new_rs: Optional[dict], old_rss: list[dict]) -> None:
        """Resize to spec.replicas, spreading a change over the active ReplicaSets in
        proportion to their sizes (mid-rollout, both old and new grow or shrink)."""
        only = self._active_or_latest(new_rs, old_rss)
        if only is not None:
            if replicas(only) != replicas(d):
                self.scale_rs(d, only, replicas(d))
            return
        if self._is_saturated(d, new_rs):
            for rs in active(old_rss):
                self.scale_rs(d, rs, 0)
            return
        if not is_rolling(d):
            return
        rss = active(_all(old_rss, new_rs))
        allowed = replicas(d) + max_surge(d) if replicas(d) > 0 else 0
        to_add = allowed - sum(replicas(rs) for rs in rss)
        if to_add == 0:
            return
        # Largest first; among equals the newest when growing, the oldest when shrinking.
        rss.sort(key=_created, reverse=to_add > 0)
        rss.sort(key=replicas, reverse=True)
        sizes, added = [], 0
        for rs in rss:
            part = self._proportion(rs, d, to_add, added)
            sizes.append(replicas(rs) + part)
            added += part
        sizes[0] = max(sizes[0] + to_add - added, 0)   # leftovers go to the largest
        for rs, size in zip(rss, sizes):
            self.scale_rs(d, rs, size)

    @staticmethod
    def _active_or_latest(new_rs, old_rss):
        """The one ReplicaSet with replicas, or (none has any) the newest; None if several have."""
        olds = sorted(old_rss, key=_created, reverse=True)
        running = active(olds + [new_rs])
        if len(running) == 1:
            return running[0]
        if not running:
            return new_rs if new_rs is not None else (olds[0] if olds else None)
        return None

    @staticmethod
    def _is_saturated(d: dict, rs: Optional[dict]) -> bool:
        if rs is None:
            return False
        desired = ((rs["metadata"].get("annotations")) or {}).get(DESIRED_REPLICAS, "")
        return (replicas(rs) == replicas(d) and desired == str(replicas(d))
                and status_of(rs, "availableReplicas") == replicas(d))

    @staticmethod
    def _proportion(rs: dict, d: dict, to_add: int, added: int) -> int:
        if replicas(rs) == 0 or to_add == added:
            return 0
        if replicas(d) == 0:
            fraction = -replicas(rs)
        else:
            text = ((rs["metadata"].get("annotations")) or {}).get(MAX_REPLICAS, "")
            annotated = int(text) if text.isdigit() else status_of(d, "replicas")
            if annotated == 0:
                return 0
            size = replicas(rs) * (replicas(d) + max_surge(d)) / annotated
            fraction = int(size + 0.5) - replicas(rs)
        allowed = to_add - added
        return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)

    # ---- RollingUpdate

    def rollout_rolling(self, d: dict, rs_list: list[dict]) -> None:
        new_rs, old_rss = self.get_all_replicasets(d, rs_list, create=True)
        all_rss = _all(old_rss, new_rs)
        if self.reconcile_new_rs(d, all_rss, new_rs) or \
                self.reconcile_old_rss(d, all_rss, active(old_rss), new_rs):
            return self.sync_rollout_status(d, all_rss, new_rs)
        if deployment_complete(d, d.get("status") or {}):
            self.cleanup(d, old_rss)
        self.sync_rollout_status(d, all_rss, new_rs)

    def reconcile_new_rs(self, d: dict, all_rss: list[dict], new_rs: dict) -> bool:
        want = replicas(d)
        if replicas(new_rs) == want:
            return False
        if replicas(new_rs) > want:
            return self.scale_rs(d, new_rs, want)
        return self.scale_rs(d, new_rs, new_rs_replicas(d, all_rss, new_rs))

    def reconcile_old_rss(self, d: dict, all_rss: list[dict], old_rss: list[dict],
                          new_rs: dict) -> bool:
        """Scale old ReplicaSets down as far as maxUnavailable allows.

        First the pods that are not available anyway (a stuck old version gives way
        without costing availability), then available ones, oldest ReplicaSet first.
        """
        if sum(replicas(rs) for rs in old_rss) == 0:
            return False
        min_available = replicas(d) - max_unavailable(d)
        new_unavailable = replicas(new_rs) - available_of(new_rs)
        max_scaled_down = sum(replicas(rs) for rs in all_rss) - min_available - new_unavailable
        if max_scaled_down <= 0:
            return False
        cleaned = self.cleanup_unhealthy(d, old_rss, max_scaled_down)
        scaled = self.scale_down_old_for_rolling(d, _all(old_rss, new_rs), old_rss)
        return cleaned + scaled > 0

    def cleanup_unhealthy(self, d: dict, old_rss: list[dict], limit: int) -> int:
        total = 0
        for rs in sorted(old_rss, key=_created):
            if total >= limit:
                break
            unhealthy = replicas(rs) - available_of(rs)
            if replicas(rs) == 0 or unhealthy <= 0:
                continue
            down = min(limit - total, unhealthy)
            self.scale_rs(d, rs, replicas(rs) - down)
            total += down
        return total

    def scale_down_old_for_rolling(self, d: dict, all_rss: list[dict], old_rss: list[dict]) -> int:
        min_available = replicas(d) - max_unavailable(d)
        available = sum(available_of(rs) for rs in all_rss)
        if available <= min_available:
            return 0
        budget, total = available - min_available, 0
        for rs in sorted(old_rss, key=_created):
            if total >= budget:
                break
            if replicas(rs) == 0:
                continue
            down = min(replicas(rs), budget - total)
            self.scale_rs(d, rs, replicas(rs) - down)
            total += down
        return total

    # ---- Recreate

    def rollout_recreate(self, d: dict, rs_list: list[dict]) -> None:
        new_rs, old_rss = self.get_all_replicasets(d, rs_list, create=False)
        all_rss = _all(old_rss, new_rs)
        scaled_down = False
        for rs in active(old_rss):
            scaled_down = self.scale_rs(d, rs, 0) or scaled_down
        if scaled_down or self.old_pods_running(new_rs, old_rss):
            return self.sync_rollout_status(d, all_rss, new_rs)
        if new_rs is None:
            new_rs, old_rss = self.get_all_replicasets(d, rs_list, create=True)
            all_rss = _all(old_rss, new_rs)
        self.scale_rs(d, new_rs, replicas(d))
        if deployment_complete(d, d.get("status") or {}):
            self.cleanup(d, old_rss)
        self.sync_rollout_status(d, all_rss, new_rs)

    def old_pods_running(self, new_rs: Optional[dict], old_rss: list[dict]) -> bool:
        """Do old pods still exist (terminating ones too)? Recreate waits for none."""
        if sum(status_of(rs, "replicas") for rs in old_rss) > 0:
            return True
        for rs in old_rss:
            if new_rs is not None and rs["metadata"]["uid"] == new_rs["metadata"]["uid"]:
                continue
            for pod in self.pod_informer.by_index(podutil.CONTROLLER_INDEX, rs["metadata"]["uid"]):
                if (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                    return True
        return False

    # ---- history

    def cleanup(self, d: dict, old_rss: list[dict]) -> None:
        """Delete the oldest empty ReplicaSets beyond revisionHistoryLimit."""
        limit = d["spec"].get("revisionHistoryLimit")
        if limit is None:
            return
        alive = [rs for rs in old_rss if not rs["metadata"].get("deletionTimestamp")]
        excess = len(alive) - limit
        if excess <= 0:
            return
        for rs in sorted(alive, key=lambda r: (revision_of(r), _created(r)))[:excess]:
            if replicas(rs) != 0 or status_of(rs, "replicas") != 0 or \
                    rs["metadata"].get("generation", 1) > status_of(rs, "observedGeneration"):
                continue                          # still has (or may have) pods: keep it
            log.info("%s: deleting old replica set %s (revisionHistoryLimit %d)", meta_key(d),
                     rs["metadata"]["name"], limit)
            try:
                self.client.delete("replicasets", rs["metadata"]["name"],
                                   namespace=rs["metadata"]["namespace"],
                                   preconditions={"uid": rs["metadata"]["uid"]})
            except errors.NotFound:
                pass

    # ---- status

    def check_paused_conditions(self, d: dict) -> None:
        """Progressing=Unknown while paused (a paused rollout cannot time out)."""
        if not has_progress_deadline(d):
            return
        status = d.setdefault("status", {})
        cond = get_condition(status, PROGRESSING)
        if cond is not None and cond.get("reason") == TIMED_OUT:
            return
        paused_known = cond is not None and cond.get("reason") == PAUSED
        if d["spec"].get("paused") and not paused_known:
            set_condition(status, new_condition(PROGRESSING, "Unknown", PAUSED, "Deployment is paused"))
        elif not d["spec"].get("paused") and paused_known:
            set_condition(status, new_condition(PROGRESSING, "Unknown", RESUMED, "Deployment is resumed"))
        else:
            return
        self.write_status(d)

    def sync_deployment_status(self, all_rss, new_rs, d: dict) -> None:
        status = calculate_status(all_rss, new_rs, d)
        if status != (d.get("status") or {}):
            d["status"] = status
            self.write_status(d)

    def sync_rollout_status(self, d: dict, all_rss: list[dict], new_rs: Optional[dict]) -> None:
        """Status plus the Progressing condition: progressing, complete, or timed out."""
        status = calculate_status(all_rss, new_rs, d)
        if not has_progress_deadline(d):
            remove_condition(status, PROGRESSING)
        current = get_condition(status, PROGRESSING)
        complete = (status["replicas"] == status["updatedReplicas"] and current is not None
                    and current.get("reason") == NEW_RS_AVAILABLE)
        if has_progress_deadline(d) and not complete:
            rs_name = new_rs["metadata"]["name"] if new_rs else ""
            if deployment_complete(d, status):
                set_condition(status, new_condition(
                    PROGRESSING, "True", NEW_RS_AVAILABLE,
                    f'ReplicaSet "{rs_name}" has successfully progressed.'))
            elif deployment_progressing(d, status):
                msg = (f'ReplicaSet "{rs_name}" is progressing.' if new_rs
                       else f'Deployment "{d["metadata"]["name"]}" is progressing.')
                cond = new_condition(PROGRESSING, "True", RS_UPDATED, msg)
                if current is not None and current.get("status") == "True":
                    cond["lastTransitionTime"] = current.get("lastTransitionTime")
                remove_condition(status, PROGRESSING)      # always refresh lastUpdateTime
                set_condition(status, cond)
            elif deployment_timed_out(d, status):
                set_condition(status, new_condition(
                    PROGRESSING, "False", TIMED_OUT,
                    f'ReplicaSet "{rs_name}" has timed out progressing.'))
        failures = [c for rs in all_rss for c in (rs.get("status") or {}).get("conditions") or []
                    if c.get("type") == REPLICA_FAILURE]
        if failures:
            set_condition(status, dict(failures[0], lastUpdateTime=failures[0].get(
                "lastTransitionTime")))
        else:
            remove_condition(status, REPLICA_FAILURE)
        if status == (d.get("status") or {}):
            self.requeue_stuck(d, status)
            return
        d["status"] = status
        self.write_status(d)

    def requeue_stuck(self, d: dict, status: dict) -> None:
        """Nothing changes: make sure we look again when the progress deadline passes."""
        cond = get_condition(status, PROGRESSING)
        if not has_progress_deadline(d) or cond is None or \
                cond.get("reason") in (NEW_RS_AVAILABLE, TIMED_OUT) or deployment_complete(d, status):
            return
        after = d["spec"]["progressDeadlineSeconds"] - _since_update(cond)
        self.queue.add_after(meta_key(d), max(after, 0.2))


def _all(old_rss: list[dict], new_rs: Optional[dict]) -> list[dict]:
    return old_rss + [new_rs] if new_rs is not None else list(old_rss)


# ------------------------------------------------------------------ command line

@click.command("deployment-controller")
@click.option("--kubeconfig", default=None, help="Path to the kubeconfig file.")
@click.option("--server", default=None, help="The apiserver URL (overrides the kubeconfig).")
@click.option("--workers", default=DeploymentController.workers, show_default=True,
              help="Deployments synced at once.")
@click.option("--with-replicaset/--without-replicaset", default=True, show_default=True,
              help="Also run the ReplicaSet controller (a Deployment needs one to get pods).")
@click.option("-v", "--verbose", is_flag=True, help="Log every sync decision.")
def command(kubeconfig, server, workers, with_replicaset, verbose):
    """Run only the Deployment controller (the controller-manager runs it with the others)."""
    from ..client.rest import Client
    from .replicaset import ReplicaSetController, run_standalone
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        format="%(asctime)s %(name)s %(message)s")
    client = Client(server=server, kubeconfig=kubeconfig, user_agent=COMPONENT)
    classes = [DeploymentController] + ([ReplicaSetController] if with_replicaset else [])
    run_standalone(client, classes, workers)


if __name__ == "__main__":
    command()
