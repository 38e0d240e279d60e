"""What the workload controllers (ReplicaSet, Deployment, later Job) share.

Kubernetes keeps these in pkg/api/v1/pod (readiness) and
pkg/controller/controller_utils.go + controller_ref_manager.go (the rest):

- **pod state**: is a pod active, ready, available (ready for minReadySeconds)?
- **controller references**: the ownerReference a controller puts on what it
  creates, and ``claim``: adopt matching orphans, release what stopped matching.
- **expectations**: what a controller has asked the apiserver for but not yet
  seen in its informer -- the guard against creating pods twice.
- **deletion ranking**: which pods a scale-down removes first.
- **slow start**: create in batches of 1, 2, 4, 8, ... so a broken template fails
  after one pod, not after five hundred.
- **event_recorder**: events sent by a background thread, with Kubernetes' spam
  filter, so a burst of creates does not double the requests a sync makes.
"""
from __future__ import annotations

import copy
import logging
import math
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Callable, Iterable, Optional

import requests

from ..api import meta
from ..api.selectors import LabelSelector
from ..client import errors
from ..client.events import EventRecorder
from ..client.informer import index_by_namespace, meta_key

log = logging.getLogger(__name__)

# ------------------------------------------------------------------ pod state


def is_pod_active(pod: dict) -> bool:
    """Counts toward a controller's replicas: not finished and not being deleted."""
    phase = (pod.get("status") or {}).get("phase")
    return phase not in ("Succeeded", "Failed") and not (pod.get("metadata") or {}).get(
        "deletionTimestamp")


def pod_condition(pod: dict, type_: str) -> Optional[dict]:
    for cond in (pod.get("status") or {}).get("conditions") or []:
        if cond.get("type") == type_:
            return cond
    return None


def is_pod_ready(pod: dict) -> bool:
    """The kubelet sets condition Ready=True when every container passes its readiness probe."""
    cond = pod_condition(pod, "Ready")
    return bool(cond) and cond.get("status") == "True"


def ready_since(pod: dict) -> Optional[datetime]:
    """When the pod last became Ready (the Ready condition's lastTransitionTime), or None."""
    cond = pod_condition(pod, "Ready")
    if not cond or cond.get("status") != "True" or not cond.get("lastTransitionTime"):
        return None
    try:
        return meta.parse_time(cond["lastTransitionTime"])
    except ValueError:
        return None


def is_pod_available(pod: dict, min_ready_seconds: int, now: Optional[datetime] = None) -> bool:
    """Ready, and has stayed ready for at least ``min_ready_seconds``.

    minReadySeconds guards a rollout against pods that pass their probe and crash a
    moment later: a pod counts as available only after it has been ready that long.
    """
    if not is_pod_ready(pod):
        return False
    if not min_ready_seconds:
        return True
    since = ready_since(pod)
    now = now or datetime.now(timezone.utc)
    return since is not None and (now - since).total_seconds() >= min_ready_seconds


def seconds_until_available(pod: dict, min_ready_seconds: int,
                            now: Optional[datetime] = None) -> Optional[float]:
    """For a ready but not yet available pod: how long until it is. Else None."""
    since = ready_since(pod)
    if not min_ready_seconds or since is None:
        return None
    now = now or datetime.now(timezone.utc)
    left = min_ready_seconds - (now - since).total_seconds()
    return left if left > 0 else None


# ------------------------------------------------------------------ controller references

NAMESPACE_INDEX = "namespace"               # informer index: namespace -> objects
CONTROLLER_INDEX = "controller-uid"         # informer index: controller's uid -> objects
ORPHAN_INDEX = "orphans-by-namespace"       # informer index: namespace -> objects without controller


def controller_uid(obj: dict) -> Optional[str]:
    ref = meta.owner_of(obj)
    return ref.get("uid") if ref else None


def orphan_namespace(obj: dict) -> Optional[str]:
    return None if meta.owner_of(obj) else (obj.get("metadata") or {}).get("namespace")


def claim_candidates(informer, owner: dict) -> list[dict]:
    """What a controller might own: what it owns now plus the orphans of its namespace.

    The same set the claim rules would keep from "every object in the namespace"
    (objects controlled by someone else are never ours), found through two index
    lookups instead of a scan, so one sync costs O(own pods), not O(namespace).
    """
    md = owner["metadata"]
    return (informer.by_index(CONTROLLER_INDEX, md["uid"])
            + informer.by_index(ORPHAN_INDEX, md["namespace"]))


def ensure_indexes(informer) -> None:
    """Give an informer's cache the indexes the workload controllers look things up by."""
    for name, fn in ((NAMESPACE_INDEX, index_by_namespace), (CONTROLLER_INDEX, controller_uid),
                     (ORPHAN_INDEX, orphan_namespace)):
        try:
            informer.by_index(name, None)
        except KeyError:
            informer.add_index(name, fn)


def controller_ref(owner: dict) -> dict:
    """The ownerReference a controller puts on what it creates.

    ``controller: true`` says "this owner manages me" (only one owner may); with
    ``blockOwnerDeletion: true`` a foreground delete of the owner waits for this object.
    """
    md = owner["metadata"]
    return {"apiVersion": owner.get("apiVersion"), "kind": owner.get("kind"),
            "name": md["name"], "uid": md["uid"], "controller": True,
            "blockOwnerDeletion": True}


def is_controlled_by(obj: dict, owner: dict) -> bool:
    return controller_uid(obj) == (owner.get("metadata") or {}).get("uid")


class ClaimError(Exception):
    """Some adoptions or releases failed; the sync is retried."""


class RefManager:
    """Decides, object by object, which of the candidates a controller owns.

    Kubernetes' ControllerRefManager. For each candidate (a pod for a ReplicaSet,
    a ReplicaSet for a Deployment):

    - owned by someone else: not ours, leave it alone;
    - owned by us and the selector matches: ours;
    - owned by us but the selector no longer matches (someone relabelled it):
      **release** it -- remove our ownerReference;
    - owned by nobody, matching, not being deleted: **adopt** it -- add our
      ownerReference. Before the first adoption the owner is read from the apiserver
      (not the cache) to make sure it still exists and is not being deleted: a
      controller being deleted must not grab orphans on its way out.

    Both writes are strategic merge patches of ``metadata.ownerReferences`` that carry
    the object's resourceVersion, so a stale cache gets 409 Conflict, never a wrong
    write.
    """

    def __init__(self, client, resource: str, owner: dict, selector: LabelSelector,
                 owner_resource: str):
        self.client = client
        self.resource = resource
        self.owner = owner
        self.selector = selector
        self.owner_resource = owner_resource
        self._can_adopt: Optional[bool] = None

    def claim(self, candidates: Iterable[dict]) -> list[dict]:
        owner_md = self.owner["metadata"]
        deleting = bool(owner_md.get("deletionTimestamp"))
        claimed, failures = [], []
        for obj in candidates:
            md = obj["metadata"]
            matches = self.selector.matches(md.get("labels"))
            ref = meta.owner_of(obj)
            try:
                if ref is not None:
                    if ref.get("uid") != owner_md["uid"]:
                        continue                       # someone else's
                    if matches:
                        claimed.append(obj)
                    elif not deleting:
                        self._release(obj)
                    continue
                if deleting or not matches or md.get("deletionTimestamp"):
                    continue
                adopted = self._adopt(obj)
                if adopted is not None:
                    claimed.append(adopted)
            except errors.ApiError as err:           # a connection error ends the claim
                failures.append(f"{md.get('name')}: {err}")
        if failures:
            raise ClaimError("; ".join(failures[:5]))
        return claimed

    def _check_can_adopt(self) -> None:
        """Re-read the owner once from the apiserver: is it still there, and not deleting?"""
        if self._can_adopt is None:
            md = self.owner["metadata"]
            fresh = self.client.get(self.owner_resource, md["name"], namespace=md.get("namespace"))
            fmd = fresh["metadata"]
            if fmd.get("uid") != md["uid"]:
                raise ClaimError(f"{md['name']} is gone: got uid {fmd.get('uid')}, wanted {md['uid']}")
            if fmd.get("deletionTimestamp"):
                raise ClaimError(f"{md['name']} has just been deleted at {fmd['deletionTimestamp']}")
            self._can_adopt = True

    def _adopt(self, obj: dict) -> Optional[dict]:
        self._check_can_adopt()
        md = obj["metadata"]
        patch = {"metadata": {"ownerReferences": [controller_ref(self.owner)],
                              "uid": md["uid"], "resourceVersion": md["resourceVersion"]}}
        try:
            return self.client.patch(self.resource, md["name"], patch, namespace=md.get("namespace"),
                                     patch_type="strategic")
        except errors.NotFound:
            return None                                # gone meanwhile: nothing to adopt

    def _release(self, obj: dict) -> None:
        md = obj["metadata"]
        patch = {"metadata": {"ownerReferences": [{"$patch": "delete",
                                                   "uid": self.owner["metadata"]["uid"]}],
                              "uid": md["uid"], "resourceVersion": md["resourceVersion"]}}
        try:
            self.client.patch(self.resource, md["name"], patch, namespace=md.get("namespace"),
                              patch_type="strategic")
        except (errors.NotFound, errors.Invalid):
            pass                                       # gone, or no longer ours: released anyway


# ------------------------------------------------------------------ expectations

def is_ambiguous(err: BaseException) -> bool:
    """An error after which we cannot know whether the write happened.

    A connection reset or a timeout may come after the apiserver wrote to etcd; so may
    a 5xx. A 4xx answer is definite: nothing was written.
    """
    return isinstance(err, (requests.RequestException, errors.ServerError))


class _Record:
    __slots__ = ("adds", "deletes", "uncertain", "timestamp")

    def __init__(self, now: float):
        self.adds = 0                 # pods created, not yet seen in the informer
        self.deletes: set = set()     # keys of pods deleted, not yet seen gone
        self.uncertain = False        # a write failed ambiguously: check the server
        self.timestamp = now


class Expectations:
    """What a controller has asked for and is still waiting to see, per controller key.

    The informer cache lags the apiserver. Right after a ReplicaSet creates 10 pods,
    its cache may still show none of them; a sync that trusted the cache would create
    10 more. So before creating, the controller writes down "expect 10 creations";
    each pod ADD the informer delivers counts one down; until the count reaches zero,
    ``satisfied`` is False and sync only updates status. Deletions are tracked by pod
    key, so a pod seen first with a deletionTimestamp and later DELETED counts once.

    An expectation that never completes (a watch event lost for good) expires after
    ``ttl`` seconds, five minutes as in Kubernetes. A write that failed *ambiguously*
    (connection reset: did the pod get created?) marks the key ``uncertain``; the
    controller then compares its cache with a fresh list from the apiserver before it
    trusts the cache again (see ReplicaSetController.confirm_cache).
    """

    def __init__(self, ttl: float = 300.0, clock: Callable[[], float] = time.monotonic):
        self.ttl = ttl
        self.clock = clock
        self._records: dict[str, _Record] = {}
        self._lock = threading.Lock()

    def _record(self, key: str) -> _Record:
        rec = self._records.get(key)
        if rec is None:
            rec = self._records[key] = _Record(self.clock())
        return rec

    def expect_creations(self, key: str, count: int) -> None:
        with self._lock:
            rec = self._record(key)
            rec.adds, rec.timestamp = count, self.clock()

    def expect_deletions(self, key: str, pod_keys: Iterable[str]) -> None:
        with self._lock:
            rec = self._record(key)
            rec.deletes, rec.timestamp = set(pod_keys), self.clock()

    def creation_observed(self, key: str) -> None:
        with self._lock:
            rec = self._records.get(key)
            if rec is not None and rec.adds > 0:
                rec.adds -= 1

    def lower_creations(self, key: str, count: int) -> None:
        """``count`` creates failed for sure: stop waiting for them."""
        with self._lock:
            rec = self._records.get(key)
            if rec is not None:
                rec.adds = max(0, rec.adds - count)

    def deletion_observed(self, key: str, pod_key: str) -> None:
        with self._lock:
            rec = self._records.get(key)
            if rec is not None:
                rec.deletes.discard(pod_key)

    def mark_uncertain(self, key: str) -> None:
        with self._lock:
            rec = self._record(key)
            rec.uncertain, rec.timestamp = True, self.clock()

    def is_uncertain(self, key: str) -> bool:
        with self._lock:
            rec = self._records.get(key)
            return bool(rec and rec.uncertain)

    def pending(self, key: str) -> tuple[int, int]:
        """(creations, deletions) still expected, for logs and tests."""
        with self._lock:
            rec = self._records.get(key)
            return (rec.adds, len(rec.deletes)) if rec else (0, 0)

    def satisfied(self, key: str) -> bool:
        """True when the cache can be trusted for this key: nothing pending, or expired."""
        with self._lock:
            rec = self._records.get(key)
            if rec is None:
                return True
            if rec.adds <= 0 and not rec.deletes and not rec.uncertain:
                return True
            if self.clock() - rec.timestamp > self.ttl:
                log.info("expectations of %s expired (adds %d, deletes %d)", key, rec.adds,
                         len(rec.deletes))
                return True
            return False

    def reset(self, key: str) -> None:
        """The cache has been confirmed against the apiserver: nothing is pending."""
        with self._lock:
            self._records.pop(key, None)

    delete = reset


# ------------------------------------------------------------------ deletion ranking

_PHASE_ORDER = {"Pending": 0, "Unknown": 1, "Running": 2}
DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"


def _log_bucket(when: Optional[datetime], now: datetime) -> int:
    """floor(log2(age in ns)): ages within a factor of two compare as equal.

    Kubernetes compares ages on a log scale when choosing victims
    (LogarithmicScaleDown), so a pod 10 min old and one 11 min old are "as old" and
    the choice between them is random (by uid) rather than always the same node's.
    """
    if when is None:
        return -2
    age_ns = (now - when).total_seconds() * 1e9
    return int(math.floor(math.log2(age_ns))) if age_ns > 0 else -1


def deletion_rank_key(pod: dict, now: datetime, colocated: int = 0) -> tuple:
    """Sort key for choosing which pods a scale-down deletes: smallest first.

    Kubernetes' ActivePodsWithRanks, in its order:
    1. not yet scheduled before scheduled;
    2. Pending before Unknown before Running;
    3. not ready before ready;
    4. lower pod-deletion-cost annotation first;
    5. more pods of the same owner on its node first (spreads what stays);
    6. ready for a shorter time first (log scale);
    7. more container restarts first;
    8. newer before older (log scale); last, the uid, so the order is total.
    """
    md, spec, status = pod.get("metadata") or {}, pod.get("spec") or {}, pod.get("status") or {}
    try:
        cost = int((md.get("annotations") or {}).get(DELETION_COST, 0))
    except ValueError:
        cost = 0
    ready = is_pod_ready(pod)
    restarts = max((c.get("restartCount", 0) for c in status.get("containerStatuses") or []),
                   default=0)
    created = md.get("creationTimestamp")
    try:
        created_at = meta.parse_time(created) if created else None
    except ValueError:
        created_at = None
    return (1 if spec.get("nodeName") else 0,
            _PHASE_ORDER.get(status.get("phase"), 0),
            1 if ready else 0,
            cost,
            -colocated,
            _log_bucket(ready_since(pod), now) if ready else 0,
            -restarts,
            _log_bucket(created_at, now),
            md.get("uid", ""))


def pods_to_delete(pods: list[dict], related: list[dict], count: int,
                   now: Optional[datetime] = None) -> list[dict]:
    """The ``count`` pods a scale-down should remove, best victims first.

    ``related`` are the pods of the controller and its siblings (the other
    ReplicaSets of the same Deployment): a pod sharing its node with many of them
    goes first, so what remains is spread over more nodes.
    """
    now = now or datetime.now(timezone.utc)
    per_node: dict[str, int] = {}
    for p in related:
        node = (p.get("spec") or {}).get("nodeName")
        if node and is_pod_active(p):
            per_node[node] = per_node.get(node, 0) + 1
    ranked = sorted(pods, key=lambda p: deletion_rank_key(
        p, now, per_node.get((p.get("spec") or {}).get("nodeName") or "", 0)))
    return ranked[:count]


# ------------------------------------------------------------------ slow start

def slow_start_batch(count: int, fn: Callable[[], None], pool: ThreadPoolExecutor,
                     initial: int = 1) -> tuple[int, Optional[BaseException]]:
    """Call ``fn`` ``count`` times, in concurrent batches of 1, 2, 4, 8, ...

    A batch runs in parallel; if any call of a batch fails, no further batch starts.
    So a template the apiserver rejects costs one failed request, not ``count`` of
    them, while a good one gets all its pods in about log2(count) round trips.
    Returns (successes, first error or None).
    """
    done, batch, first_error = 0, min(count, initial), None
    while batch > 0:
        futures = [pool.submit(fn) for _ in range(batch)]
        failed = 0
        for f in futures:
            err = f.exception()
            if err is not None:
                failed += 1
                first_error = first_error or err
        done += batch - failed
        if failed:
            break
        batch = min(2 * batch, count - done)
    return done, first_error


# ------------------------------------------------------------------ events

# kube-controller-manager's spam filter (client-go's EventCorrelator defaults): per object
# 25 events, then one every 5 minutes. Scaling a ReplicaSet to 500 records 25 "Created
# pod" events, not 500 -- 475 requests the apiserver does not have to serve.
EVENT_SPAM_BURST, EVENT_SPAM_REFILL = 25, 300.0


def event_recorder(client, component: str) -> EventRecorder:
    """A controller's recorder (client/events.py) with the controller-manager's spam filter."""
    return EventRecorder(client, component, spam_burst=EVENT_SPAM_BURST, spam_refill=EVENT_SPAM_REFILL)


# ------------------------------------------------------------------ our own writes

class MutationCache:
    """Objects as our own last write returned them, until the informer catches up.

    A controller that writes an object and syncs it again a moment later would read
    the old version from its cache and get 409 Conflict on the next write. client-go's
    MutationCache fixes that: keep what the apiserver answered, and prefer it while
    its resourceVersion is newer than the cached one (resourceVersions here are etcd
    revisions, so they compare as integers).
    """

    def __init__(self):
        self._objs: dict[str, dict] = {}
        self._lock = threading.Lock()

    def remember(self, obj: dict) -> None:
        with self._lock:
            self._objs[meta_key(obj)] = obj

    def newest(self, cached: Optional[dict]) -> Optional[dict]:
        """The cached object, or our own write of it if that is newer."""
        if cached is None:
            return None
        key = meta_key(cached)
        with self._lock:
            mine = self._objs.get(key)
            if mine is None:
                return cached
            same = mine["metadata"].get("uid") == cached["metadata"].get("uid")
            if same and _rv(mine) > _rv(cached):
                return mine
            del self._objs[key]               # the cache has caught up (or it is another object)
            return cached

    def forget(self, key: str) -> None:
        with self._lock:
            self._objs.pop(key, None)


def _rv(obj: dict) -> int:
    try:
        return int(obj["metadata"].get("resourceVersion") or 0)
    except ValueError:
        return 0


# ------------------------------------------------------------------ retries

def sync_quietly(queue, key: str, fn: Callable[[str], None], logger: logging.Logger) -> None:
    """Run one sync; the two failures every controller expects are retried without a
    stack trace in the log:

    - 409 Conflict: the cache was behind the apiserver. The newer object is on its
      way (and will queue the key again); try again shortly anyway.
    - the apiserver cannot be reached (restarting): try again in a second; the
      informers reconnect on their own meanwhile.

    Anything else propagates, and the work queue retries it with growing back-off.
    """
    try:
        fn(key)
    except errors.Conflict as err:
        logger.info("%s: %s; retrying", key, err.message)
        queue.add_after(key, 0.05)
    except requests.ConnectionError as err:
        logger.warning("%s: apiserver unreachable (%s); retrying in 1s", key, type(err).__name__)
        queue.add_after(key, 1.0)


# ------------------------------------------------------------------ small helpers

def deep_copy(obj: dict) -> dict:
    """Cached objects are shared by every controller: copy before changing anything."""
    return copy.deepcopy(obj)


def pod_from_template(template: dict, owner: dict, generate_name: str) -> dict:
    """The pod a controller creates: the template's metadata and spec, owned by ``owner``."""
    tmeta = template.get("metadata") or {}
    md = {"generateName": generate_name, "namespace": owner["metadata"]["namespace"],
          "ownerReferences": [controller_ref(owner)]}
    for field in ("labels", "annotations", "finalizers"):
        if tmeta.get(field):
            md[field] = copy.deepcopy(tmeta[field])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": md,
            "spec": copy.deepcopy(template.get("spec") or {})}
