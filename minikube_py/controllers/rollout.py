"""How a Deployment moves replicas between its ReplicaSets: scale, RollingUpdate, Recreate.

Kubernetes' pkg/controller/deployment sync.go (scale), rolling.go and recreate.go,
which are methods of the DeploymentController; here they are a mixin of it. Each
step only decides sizes and calls the controller's ``scale_rs``; the controller
(deployment.py) reads the objects, writes status and cleans up history.

- **scale** (a resize, also while paused): spread the change in spec.replicas over
  the active ReplicaSets in proportion to their sizes.
- **RollingUpdate**: grow the new ReplicaSet as far as maxSurge allows, shrink the old
  ones as far as maxUnavailable allows; the status changes that follow bring the
  next step.
- **Recreate**: scale every old ReplicaSet to 0, wait until their pods are gone, then
  scale the new one up.
"""
from __future__ import annotations

from typing import Optional

from .deploymentutil import (DESIRED_REPLICAS, MAX_REPLICAS, active, all_replicasets, available_of,
                             by_age, deployment_complete, is_rolling, max_surge, max_unavailable,
                             new_rs_replicas, replicas, status_of)
from .refmanager import CONTROLLER_INDEX


class RolloutSteps:
    """Mixin of DeploymentController; uses its scale_rs, get_all_replicasets, cleanup,
    sync_deployment_status, sync_rollout_status and pod_informer."""

    # ---- scaling (also while paused)

    def is_scaling_event(self, d: dict, rs_list: list[dict]) -> bool:
        """Did only spec.replicas change? Active ReplicaSets remember the size they were
        made for (desired-replicas); a different size now means "scale", not "roll"."""
        new_rs, old_rss = self.get_all_replicasets(d, rs_list, create=False)
        for rs in active(all_replicasets(old_rss, new_rs)):
            desired = ((rs["metadata"].get("annotations")) or {}).get(DESIRED_REPLICAS)
            if desired is not None and desired.isdigit() and int(desired) != replicas(d):
                return True
        return False

    def scale_and_cleanup(self, d: dict, rs_list: list[dict]) -> None:
        new_rs, old_rss = self.get_all_replicasets(d, rs_list, create=False)
        self.scale(d, new_rs, old_rss)
        if d["spec"].get("paused"):
            self.cleanup(d, old_rss)
        self.sync_deployment_status(all_replicasets(old_rss, new_rs), new_rs, d)

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
        rss = active(all_replicasets(old_rss, new_rs))
        allowed = replicas(d) + max_surge(d) if replicas(d) > 0 else 0
        to_add = allowed - sum(replicas(rs) for rs in rss)
        if to_add == 0:
            return
        # Largest first; among equals the newest when growing, the oldest when shrinking.
        rss.sort(key=by_age, reverse=to_add > 0)
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
        olds = sorted(old_rss, key=by_age, reverse=True)
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
        all_rss = all_replicasets(old_rss, new_rs)
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
        scaled = self.scale_down_old_for_rolling(d, all_replicasets(old_rss, new_rs), old_rss)
        return cleaned + scaled > 0

    def cleanup_unhealthy(self, d: dict, old_rss: list[dict], limit: int) -> int:
        total = 0
        for rs in sorted(old_rss, key=by_age):
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
        for rs in sorted(old_rss, key=by_age):
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
        all_rss = all_replicasets(old_rss, new_rs)
        scaled_down = False
        for rs in active(old_rss):
            scaled_down = self.scale_rs(d, rs, 0) or scaled_down
        if scaled_down or self.old_pods_running(new_rs, old_rss):
            return self.sync_rollout_status(d, all_rss, new_rs)
        if new_rs is None:
            new_rs, old_rss = self.get_all_replicasets(d, rs_list, create=True)
            all_rss = all_replicasets(old_rss, new_rs)
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
            for pod in self.pod_informer.by_index(CONTROLLER_INDEX, rs["metadata"]["uid"]):
                if (pod.get("status") or {}).get("phase") not in ("Succeeded", "Failed"):
                    return True
        return False
