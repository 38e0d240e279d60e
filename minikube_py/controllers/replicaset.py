"""The ReplicaSet controller: keep ``spec.replicas`` pods matching the selector.

One sync of a ReplicaSet (``sync(key)``), as in Kubernetes' replica_set.go:

1. Read the ReplicaSet and the active pods of its namespace from the informer caches.
2. **Claim** pods (RefManager): ours if our ownerReference is on them and the
   selector matches; adopt matching orphans; release pods relabelled out of the selector.
3. If the **expectations** of earlier syncs are met (every pod we created or deleted
   has shown up in the cache), **manage replicas**: create the missing pods in
   slow-start batches (1, 2, 4, ...), or delete the surplus, worst pods first.
4. Write **status**: replicas, fullyLabeledReplicas, readyReplicas, availableReplicas,
   observedGeneration and the ReplicaFailure condition.

Pods are created from ``spec.template`` with ``generateName: <rs-name>-``, so the
apiserver names them ``<rs-name>-<5 random characters>``, and carry an ownerReference
``{kind: ReplicaSet, controller: true, blockOwnerDeletion: true}``. Deleting the
ReplicaSet leaves its pods to the garbage collector.

Never more pods than asked: the cache lags the apiserver, so the controller does not
trust it while it still expects some of its own writes to appear (Expectations);
and after a write whose outcome is unknown (the apiserver went away mid-request) it
checks the cache against a fresh list from the apiserver before acting again.
"""
from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from typing import Optional

import requests

from ..api import meta
from ..api.selectors import LabelSelector, SelectorError
from ..client import errors
from ..client.informer import meta_key
from ..api.conditions import condition, get_condition, object_condition
from .base import Controller, SharedInformers, event_recorder
from .expectations import Expectations, is_ambiguous
from .mutationcache import MutationCache
from .podutil import (is_pod_active, is_pod_available, is_pod_ready, pod_from_template,
                      seconds_until_available)
from .ranking import pods_to_delete
from .refmanager import (CONTROLLER_INDEX, NAMESPACE_INDEX, RefManager, cached_controller, claim_candidates,
                         controller_uid, ensure_indexes, is_controlled_by)
from .slowstart import slow_start_batch

log = logging.getLogger(__name__)

COMPONENT = "replicaset-controller"
BURST_REPLICAS = 500          # at most this many creates or deletes per sync
CREATE_CONCURRENCY = 32       # threads sending creates; slow start decides how many at once
CONFIRM_WAIT_MAX = 5.0        # the longest wait between two looks at an informer catching up


class ReplicaSetController(Controller):
    name = "replicaset"
    workers = 5               # kube-controller-manager's --concurrent-replicaset-syncs
    quiet_retries = True      # 409s and apiserver restarts are expected (base.sync_quietly)
    # The kind it runs. ReplicationManager (replicationcontroller.py) is this same
    # controller for core/v1 ReplicationControllers, as in Kubernetes.
    resource = "replicasets"
    kind = "ReplicaSet"
    component = COMPONENT

    def __init__(self, client, informers: SharedInformers, expectations_ttl: float = 300.0):
        super().__init__(client, informers)
        self.rs_informer = informers.get(self.resource)
        self.pod_informer = informers.get("pods")
        ensure_indexes(self.rs_informer)
        ensure_indexes(self.pod_informer)
        self.expectations = Expectations(ttl=expectations_ttl)
        self.written = MutationCache()     # our status writes, until the cache has them
        self.recorder = event_recorder(client, self.component)
        self.pool = ThreadPoolExecutor(CREATE_CONCURRENCY, thread_name_prefix=f"{self.name}-write")
        self._selectors: dict[str, tuple[str, LabelSelector]] = {}   # uid -> (rv, selector)
        self._selectors_lock = threading.Lock()
        # key -> seconds until the next confirm_cache of an informer still catching up
        self._confirm_waits: dict[str, float] = {}
        self.rs_informer.add_handler(on_add=self.enqueue, on_update=self._rs_updated,
                                     on_delete=self._rs_deleted)
        self.pod_informer.add_handler(on_add=self._pod_added, on_update=self._pod_updated,
                                      on_delete=self._pod_deleted)

    # ------------------------------------------------------------ event handlers
    # Handlers only find which ReplicaSet a change concerns and queue its key;
    # they also count pods seen toward the expectations.

    def _rs_updated(self, old: dict, new: dict):
        if old["metadata"].get("uid") != new["metadata"].get("uid"):
            self._rs_deleted(old)            # deleted and re-created under the same name
        self.enqueue(new)

    def _rs_deleted(self, rs: dict):
        self.expectations.delete(meta_key(rs))
        self.written.forget(meta_key(rs))
        with self._selectors_lock:
            self._selectors.pop(rs["metadata"].get("uid"), None)
        self.enqueue(rs)

    def _owner(self, pod: dict) -> Optional[dict]:
        """The ReplicaSet that controls this pod, if it is in the cache."""
        return cached_controller(self.rs_informer, pod, self.kind)

    def _matching(self, pod: dict) -> list[dict]:
        """ReplicaSets of the pod's namespace whose selector matches its labels (for orphans)."""
        labels = pod["metadata"].get("labels") or {}
        out = []
        for rs in self.rs_informer.by_index(NAMESPACE_INDEX, pod["metadata"].get("namespace")):
            sel = self.selector(rs)
            if sel is not None and not sel.empty and sel.matches(labels):
                out.append(rs)
        return out

    def _pod_added(self, pod: dict):
        rs = self._owner(pod)
        if rs is not None:
            self.expectations.creation_observed(meta_key(rs))
            if pod["metadata"].get("deletionTimestamp"):
                self.expectations.deletion_observed(meta_key(rs), meta_key(pod))
            self.enqueue(rs)
            return
        if meta.owner_of(pod) is None and not pod["metadata"].get("deletionTimestamp"):
            for rs in self._matching(pod):    # an orphan: whoever matches may adopt it
                self.enqueue(rs)

    @staticmethod
    def _what_we_look_at(pod: dict) -> tuple:
        """The parts of a pod that a ReplicaSet's sync depends on. A kubelet writes a
        pod's status several times while it starts (container states, IPs, start
        times); updates that change none of these need no sync."""
        md, status = pod["metadata"], pod.get("status") or {}
        ready = object_condition(pod, "Ready") or {}
        return (md.get("labels"), md.get("ownerReferences"), md.get("deletionTimestamp"),
                status.get("phase"), ready.get("status"), ready.get("lastTransitionTime"))

    def _pod_updated(self, old: dict, new: dict):
        if old["metadata"].get("resourceVersion") == new["metadata"].get("resourceVersion"):
            return                            # a periodic resync: nothing changed
        if self._what_we_look_at(old) == self._what_we_look_at(new):
            return
        labels_changed = old["metadata"].get("labels") != new["metadata"].get("labels")
        if new["metadata"].get("deletionTimestamp"):
            # Graceful deletion has begun: for us the pod is already gone.
            self._pod_deleted(new)
            if labels_changed:
                self._pod_deleted(old)
            return
        old_rs, new_rs = self._owner(old), self._owner(new)
        if old_rs is not None and (new_rs is None or
                                   old_rs["metadata"]["uid"] != new_rs["metadata"]["uid"]):
            self.enqueue(old_rs)              # the old owner lost a pod
        if new_rs is not None:
            self.enqueue(new_rs)
            min_ready = (new_rs.get("spec") or {}).get("minReadySeconds") or 0
            if min_ready and not is_pod_ready(old) and is_pod_ready(new):
                # It becomes available minReadySeconds from now: look again then.
                self.queue.add_after(meta_key(new_rs), min_ready + 1)
            return
        if meta.owner_of(new) is None and (labels_changed or meta.owner_of(old) is not None):
            for rs in self._matching(new):
                self.enqueue(rs)

    def _pod_deleted(self, pod: dict):
        rs = self._owner(pod)
        if rs is None:
            return
        self.expectations.deletion_observed(meta_key(rs), meta_key(pod))
        self.enqueue(rs)

    # ------------------------------------------------------------ helpers

    @staticmethod
    def selector_dict(rs: dict):
        """spec.selector as a LabelSelector object ({matchLabels, matchExpressions})."""
        return (rs.get("spec") or {}).get("selector")

    def selector(self, rs: dict) -> Optional[LabelSelector]:
        """The ReplicaSet's selector, parsed once per object version."""
        md = rs["metadata"]
        uid, rv = md.get("uid"), md.get("resourceVersion")
        with self._selectors_lock:
            hit = self._selectors.get(uid)
        if hit is not None and hit[0] == rv:
            return hit[1]
        try:
            sel = LabelSelector.from_dict(self.selector_dict(rs))
        except SelectorError as err:
            log.warning("%s: invalid selector: %s", meta_key(rs), err)
            return None
        with self._selectors_lock:
            self._selectors[uid] = (rv, sel)
        return sel

    def related_pods(self, rs: dict) -> list[dict]:
        """Pods of this ReplicaSet and of its siblings (same controller, e.g. one Deployment)."""
        owner = controller_uid(rs)
        siblings = self.rs_informer.by_index(CONTROLLER_INDEX, owner) if owner else [rs]
        pods = []
        for sibling in siblings:
            pods += self.pod_informer.by_index(CONTROLLER_INDEX, sibling["metadata"]["uid"])
        return pods

    # ------------------------------------------------------------ sync

    def sync(self, key: str) -> None:
        rs = self.written.newest(self.rs_informer.get(key))
        if rs is None:
            self.expectations.delete(key)
            self._confirm_waits.pop(key, None)
            return
        selector = self.selector(rs)
        if selector is None or selector.empty:
            return                              # validation forbids it; never select everything
        needs_sync = self.expectations.satisfied(key)
        if self.expectations.is_uncertain(key):
            needs_sync = self.confirm_cache(rs, selector)

        candidates = claim_candidates(self.pod_informer, rs)
        active = [p for p in candidates if is_pod_active(p)]
        manager = RefManager(self.client, "pods", rs, selector, self.resource)
        pods = manager.claim(active)

        manage_error = None
        if needs_sync and not rs["metadata"].get("deletionTimestamp"):
            manage_error = self.manage_replicas(rs, pods)

        status = self.calculate_status(rs, pods, manage_error)
        rs = self.update_status(rs, status)

        min_ready = (rs.get("spec") or {}).get("minReadySeconds") or 0
        if manage_error is None and min_ready:
            waits = [w for w in (seconds_until_available(p, min_ready) for p in pods) if w]
            if waits:                           # some ready pods become available later
                self.queue.add_after(key, min(waits) + 0.1)
        if manage_error is not None:
            raise manage_error

    def confirm_cache(self, rs: dict, selector: LabelSelector) -> bool:
        """After an ambiguous write: does the cache hold every pod the apiserver has?

        Lists this ReplicaSet's pods from the apiserver (a consistent read from etcd).
        If each one is already in the cache, the cache can be trusted again and the
        expectations are reset; if not, the informer is still catching up, so look
        again shortly and do nothing meanwhile: after 0.2 s, then twice as long each time
        up to CONFIRM_WAIT_MAX. (Every 0.2 s, a list of every pod of the namespace from
        etcd: at 5,000 nodes, with creates timing out on a saturated apiserver, these lists
        were 17% of its CPU, which made more creates time out.)
        """
        key = meta_key(rs)
        listed = self.client.list("pods", namespace=rs["metadata"]["namespace"],
                                  label_selector=selector.to_string())
        missing = [p["metadata"]["name"] for p in listed.get("items") or []
                   if is_pod_active(p) and meta_key(p) not in self.pod_informer.store
                   and (meta.owner_of(p) is None or is_controlled_by(p, rs))]
        if missing:
            log.info("%s: cache lacks %d pod(s) the apiserver has (%s...); waiting", key,
                     len(missing), missing[0])
            wait = self._confirm_waits[key] = min(self._confirm_waits.get(key, 0.1) * 2, CONFIRM_WAIT_MAX)
            self.queue.add_after(key, wait)
            return False
        self._confirm_waits.pop(key, None)
        self.expectations.reset(key)
        return True

    def manage_replicas(self, rs: dict, pods: list[dict]) -> Optional[Exception]:
        """Create or delete pods so that ``len(pods) == spec.replicas``; return an error, if any."""
        key = meta_key(rs)
        want = (rs.get("spec") or {}).get("replicas", 1)
        diff = len(pods) - want
        if diff < 0:
            count = min(-diff, BURST_REPLICAS)
            self.expectations.expect_creations(key, count)
            log.info("%s: too few replicas (%d of %d), creating %d", key, len(pods), want, count)
            created, err = slow_start_batch(count, lambda: self.create_pod(rs), self.pool)
            if err is not None:
                if is_ambiguous(err):
                    self.expectations.mark_uncertain(key)   # some may exist: check before acting
                else:
                    self.expectations.lower_creations(key, count - created)
            return err
        if diff > 0:
            count = min(diff, BURST_REPLICAS)
            victims = pods_to_delete(pods, self.related_pods(rs), count)
            self.expectations.expect_deletions(key, [meta_key(p) for p in victims])
            log.info("%s: too many replicas (%d of %d), deleting %d", key, len(pods), want, count)
            results = list(self.pool.map(lambda p: self.delete_pod(rs, p), victims))
            failures = [err for err in results if err is not None]
            return failures[0] if failures else None
        return None

    def create_pod(self, rs: dict) -> None:
        pod = pod_from_template(rs["spec"].get("template") or {}, rs,
                                        rs["metadata"]["name"] + "-")
        try:
            created = self.client.create("pods", pod, namespace=rs["metadata"]["namespace"])
        except errors.Forbidden as err:
            if "being terminated" in err.message:
                # The namespace is going away, and this ReplicaSet with it: not a failure.
                self.expectations.lower_creations(meta_key(rs), 1)
                return
            self.recorder.warning(rs, "FailedCreate", f"Error creating: {err.message}")
            raise
        except (errors.ApiError, requests.RequestException) as err:
            self.recorder.warning(rs, "FailedCreate", f"Error creating: {_message(err)}")
            raise
        self.recorder.normal(rs, "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")

    def delete_pod(self, rs: dict, pod: dict) -> Optional[Exception]:
        key, name = meta_key(rs), pod["metadata"]["name"]
        try:
            self.client.delete("pods", name, namespace=pod["metadata"]["namespace"],
                               preconditions={"uid": pod["metadata"]["uid"]})
        except errors.NotFound:
            self.expectations.deletion_observed(key, meta_key(pod))   # already gone
            return None
        except (errors.ApiError, requests.RequestException) as err:
            # The informer will not report a deletion that did not happen.
            self.expectations.deletion_observed(key, meta_key(pod))
            if is_ambiguous(err):
                self.expectations.mark_uncertain(key)
            self.recorder.warning(rs, "FailedDelete", f"Error deleting: {_message(err)}")
            return err
        self.recorder.normal(rs, "SuccessfulDelete", f"Deleted pod: {name}")
        return None

    # ------------------------------------------------------------ status

    def calculate_status(self, rs: dict, pods: list[dict], manage_error) -> dict:
        spec = rs.get("spec") or {}
        min_ready = spec.get("minReadySeconds") or 0
        template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        now = datetime.now(timezone.utc)
        fully_labeled = ready = available = 0
        for pod in pods:
            labels = pod["metadata"].get("labels") or {}
            if all(labels.get(k) == v for k, v in template_labels.items()):
                fully_labeled += 1
            if is_pod_ready(pod):
                ready += 1
                if is_pod_available(pod, min_ready, now):
                    available += 1
        old = rs.get("status") or {}
        conditions = [c for c in old.get("conditions") or [] if c.get("type") != "ReplicaFailure"]
        failure = get_condition(old, "ReplicaFailure")
        if manage_error is not None:
            if failure is None:
                want = spec.get("replicas", 1)
                failure = condition("ReplicaFailure", True,
                                    "FailedCreate" if len(pods) < want else "FailedDelete",
                                    _message(manage_error), lastTransitionTime=meta.now_rfc3339())
            conditions.append(failure)
        status = {"replicas": len(pods), "fullyLabeledReplicas": fully_labeled,
                  "readyReplicas": ready, "availableReplicas": available,
                  "observedGeneration": rs["metadata"].get("generation", 1)}
        if conditions:
            status["conditions"] = conditions
        return status

    def update_status(self, rs: dict, status: dict) -> dict:
        """Write status if it changed.

        Our own previous status write may not have reached the cache yet, so a 409
        is common and harmless: as Kubernetes does, read the ReplicaSet once from the
        apiserver and write again -- if its spec (generation) is still the one this
        status was computed for. Otherwise the Conflict goes up and the key is retried.
        """
        if (rs.get("status") or {}) == status:
            return rs
        try:
            updated = self.client.update_status(self.resource, dict(rs, status=status))
        except errors.Conflict:
            md = rs["metadata"]
            fresh = self.client.get(self.resource, md["name"], namespace=md["namespace"])
            if fresh["metadata"].get("uid") != md.get("uid") or \
                    fresh["metadata"].get("generation") != md.get("generation"):
                raise
            if (fresh.get("status") or {}) == status:
                return fresh
            updated = self.client.update_status(self.resource, dict(fresh, status=status))
        self.written.remember(updated)
        return updated


def _message(err: BaseException) -> str:
    return err.message if isinstance(err, errors.ApiError) else str(err)
