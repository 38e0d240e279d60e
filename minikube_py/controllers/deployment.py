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

This module is the controller and its ``sync``; the steps that move replicas (scale,
RollingUpdate, Recreate) are in rollout.py, the arithmetic in deploymentutil.py.
"""
from __future__ import annotations

import copy
import logging
from typing import Optional

from ..api import meta
from ..api.conditions import get_condition, remove_condition, set_condition, timed_condition
from ..api.selectors import LabelSelector, SelectorError
from ..client import errors
from ..client.informer import meta_key
from .base import Controller, SharedInformers, event_recorder
from .deploymentutil import (FAILED_RS_CREATE, FOUND_NEW_RS, HASH_LABEL, NEW_RS_AVAILABLE,
                             NEW_RS_CREATED, PAUSED, PROGRESSING, REPLICA_FAILURE, RESUMED,
                             REVISION, RS_UPDATED, TIMED_OUT, all_replicasets, by_age,
                             calculate_status, deployment_complete, deployment_progressing,
                             deployment_timed_out, equal_ignore_hash, find_new_rs,
                             has_progress_deadline, is_rolling, max_surge, new_rs_replicas,
                             replicas, replicas_annotations_need_update, revision_of,
                             set_new_rs_annotations, set_replicas_annotations, since_update,
                             status_of, template_hash)
from .mutationcache import MutationCache
from .refmanager import (NAMESPACE_INDEX, RefManager, cached_controller, claim_candidates, controller_ref,
                         ensure_indexes, is_controlled_by)
from .rollout import RolloutSteps

log = logging.getLogger(__name__)

COMPONENT = "deployment-controller"


class DeploymentController(RolloutSteps, Controller):
    name = "deployment"
    workers = 5                # kube-controller-manager's --concurrent-deployment-syncs
    quiet_retries = True       # 409s and apiserver restarts are expected (base.sync_quietly)

    def __init__(self, client, informers: SharedInformers):
        super().__init__(client, informers)
        self.d_informer = informers.get("deployments")
        self.rs_informer = informers.get("replicasets")
        self.pod_informer = informers.get("pods")
        for inf in (self.d_informer, self.rs_informer, self.pod_informer):
            ensure_indexes(inf)
        self.recorder = event_recorder(client, COMPONENT)
        # Our own writes, until the informers show them (saves a 409 per quick re-sync).
        self.written = MutationCache()
        self.rs_written = MutationCache()
        self.d_informer.add_handler(on_add=self.enqueue, on_update=lambda old, new: self.enqueue(new),
                                    on_delete=self.enqueue)
        self.rs_informer.add_handler(on_add=self._rs_added, on_update=self._rs_updated,
                                     on_delete=self._rs_deleted)
        self.pod_informer.add_handler(on_delete=self._pod_deleted)

    # ------------------------------------------------------------ event handlers

    def _owner(self, rs: dict) -> Optional[dict]:
        return cached_controller(self.d_informer, rs, "Deployment")

    def _matching(self, rs: dict) -> list[dict]:
        labels = rs["metadata"].get("labels") or {}
        out = []
        for d in self.d_informer.by_index(NAMESPACE_INDEX, rs["metadata"].get("namespace")):
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

    def _refresh(self, obj: dict, updated: dict, cache: MutationCache) -> None:
        obj.clear()
        obj.update(updated)
        cache.remember(copy.deepcopy(updated))

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
        cached = self.written.newest(self.d_informer.get(key))
        if cached is None:
            self.written.forget(key)
            return                               # deleted: the garbage collector takes it from here
        d = copy.deepcopy(cached)                # cached objects are shared: work on a copy
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
            return self.sync_deployment_status(all_replicasets(old_rss, new_rs), new_rs, d)
        self.check_paused_conditions(d)
        if d["spec"].get("paused") or self.is_scaling_event(d, rs_list):
            return self.scale_and_cleanup(d, rs_list)
        if is_rolling(d):
            return self.rollout_rolling(d, rs_list)
        return self.rollout_recreate(d, rs_list)

    def claim_replicasets(self, d: dict, selector: LabelSelector) -> list[dict]:
        """Adopt matching orphan ReplicaSets, release ours that stopped matching."""
        candidates = [self.rs_written.newest(rs) for rs in
                      claim_candidates(self.rs_informer, d)]
        manager = RefManager(self.client, "replicasets", d, selector, "deployments")
        return [copy.deepcopy(rs) for rs in manager.claim(candidates)]

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
                set_condition(status, timed_condition(
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
        template = copy.deepcopy(d["spec"]["template"])
        pod_hash = template_hash(template, status.get("collisionCount"))
        tmeta = template.setdefault("metadata", {})
        tmeta["labels"] = dict(tmeta.get("labels") or {}, **{HASH_LABEL: pod_hash})
        selector = copy.deepcopy(d["spec"]["selector"])
        selector["matchLabels"] = dict(selector.get("matchLabels") or {}, **{HASH_LABEL: pod_hash})
        new_rs = {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": f"{md['name']}-{pod_hash}", "namespace": md["namespace"],
                         "labels": dict(tmeta["labels"]),
                         "ownerReferences": [controller_ref(d)]},
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
            if is_controlled_by(found, d) and equal_ignore_hash(
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
                set_condition(status, timed_condition(PROGRESSING, "False", FAILED_RS_CREATE,
                                                    f'Failed to create new replica set "{name}": '
                                                    f"{err.message}"))
                self.write_status(d)
            raise
        if not already_exists and replicas(created) > 0:
            self.recorder.normal(d, "ScalingReplicaSet", f"Scaled up replica set {name} to "
                                 f"{replicas(created)} from 0")
        self.set_deployment_revision(d, new_revision)
        if not already_exists and has_progress_deadline(d):
            set_condition(d.setdefault("status", {}), timed_condition(
                PROGRESSING, "True", NEW_RS_CREATED, f'Created new replica set "{name}"'))
            self.write_status(d)
        return created

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
        for rs in sorted(alive, key=lambda r: (revision_of(r), by_age(r)))[:excess]:
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
            set_condition(status, timed_condition(PROGRESSING, "Unknown", PAUSED, "Deployment is paused"))
        elif not d["spec"].get("paused") and paused_known:
            set_condition(status, timed_condition(PROGRESSING, "Unknown", RESUMED, "Deployment is resumed"))
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
                set_condition(status, timed_condition(
                    PROGRESSING, "True", NEW_RS_AVAILABLE,
                    f'ReplicaSet "{rs_name}" has successfully progressed.'))
            elif deployment_progressing(d, status):
                msg = (f'ReplicaSet "{rs_name}" is progressing.' if new_rs
                       else f'Deployment "{d["metadata"]["name"]}" is progressing.')
                cond = timed_condition(PROGRESSING, "True", RS_UPDATED, msg)
                if current is not None and current.get("status") == "True":
                    cond["lastTransitionTime"] = current.get("lastTransitionTime")
                remove_condition(status, PROGRESSING)      # always refresh lastUpdateTime
                set_condition(status, cond)
            elif deployment_timed_out(d, status):
                set_condition(status, timed_condition(
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
        after = d["spec"]["progressDeadlineSeconds"] - since_update(cond)
        self.queue.add_after(meta_key(d), max(after, 0.2))
