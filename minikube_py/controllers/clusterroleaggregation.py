"""The ClusterRole aggregation controller: `admin`, `edit`, `view` gather the rules of others.

A ClusterRole with an aggregationRule has the rules of every ClusterRole its
clusterRoleSelectors select (kube-controller-manager's "clusterrole-aggregation"
controller). So installing a CRD can extend `view` by adding one small ClusterRole
labelled `rbac.authorization.k8s.io/aggregate-to-view: "true"`, and nobody edits
`view` itself. The rules are gathered selector by selector, the selected roles by
name, each rule once; the aggregated role is written only when that changed.

    watches  clusterroles
    writes   clusterroles (the rules of aggregated ones)
"""
from __future__ import annotations

from ..api.selectors import LabelSelector, SelectorError
from ..client import errors
from .base import Controller


def aggregated_rules(role: dict, cluster_roles: list[dict]) -> list[dict]:
    """The rules `role` aggregates from `cluster_roles` (itself excluded)."""
    rules: list[dict] = []
    name = role["metadata"]["name"]
    for selector in (role.get("aggregationRule") or {}).get("clusterRoleSelectors") or ():
        try:
            matches = LabelSelector.from_dict(selector).matches
        except SelectorError:
            continue
        for other in sorted(cluster_roles, key=lambda r: r["metadata"]["name"]):
            if other["metadata"]["name"] == name or not matches(other["metadata"].get("labels") or {}):
                continue
            for rule in other.get("rules") or ():
                if rule not in rules:
                    rules.append(rule)
    return rules


class ClusterRoleAggregationController(Controller):
    name = "clusterrole-aggregation"
    workers = 1
    quiet_retries = True

    def __init__(self, client, informers):
        super().__init__(client, informers)
        self.roles = informers.get("clusterroles")
        # any role's labels or rules may change what an aggregated role gathers: look at them all
        self.roles.add_handler(on_add=self._changed, on_update=lambda old, new: self._changed(new),
                               on_delete=self._changed)

    def _changed(self, _role: dict):
        for role in self.roles.list():
            if role.get("aggregationRule"):
                self.queue.add(role["metadata"]["name"])

    def sync(self, name: str) -> None:
        role = self.roles.get(name)
        if role is None or not role.get("aggregationRule"):
            return
        rules = aggregated_rules(role, self.roles.list())
        if rules == (role.get("rules") or []):
            return
        try:
            self.client.update("clusterroles", dict(role, rules=rules))
            self.log.info("clusterrole %s: %d rules aggregated", name, len(rules))
        except errors.NotFound:
            pass
