"""ControllerRevision: the history of a DaemonSet's or StatefulSet's pod template.

Kubernetes' pkg/controller/history, shared by the DaemonSet and StatefulSet controllers.
A Deployment keeps its history as old ReplicaSets; these two own their pods directly, so
each version of their pod template is written down as a ControllerRevision:

    name      {parent}-{hash}          the hash of the template (and of collisionCount)
    data      {"spec": {"template": {..., "$patch": "replace"}}}
              -- a strategic merge patch: `kubectl rollout undo` PATCHes it onto the parent
    revision  1, 2, 3, ...             the highest is the parent's current template
    labels    the template's labels + controller-revision-hash: {hash}
    owner     the parent (controller: true), so the garbage collector removes them with it

``sync_history`` is the step both controllers run first on every sync: find the
revision equal to the parent's template (re-numbering it to the top if it is an old
one the parent went back to: a rollback), or create it; then ``truncate`` deletes the
old revisions no pod still runs, beyond ``spec.revisionHistoryLimit``.

A hash can collide (two templates, one name): then the parent's
``status.collisionCount`` goes up by one, which changes the hash, and the sync retries.
"""
from __future__ import annotations

import copy
import logging
from typing import Iterable, Optional

from ..api import meta
from ..api.selectors import LabelSelector
from ..client import errors
from .deploymentutil import equal_ignore_hash, template_hash
from .refmanager import CONTROLLER_INDEX, RefManager, claim_candidates, controller_ref

log = logging.getLogger(__name__)

HASH_LABEL = "controller-revision-hash"
RESOURCE = "controllerrevisions"
MAX_NAME_PREFIX = 223          # a revision's name is at most 253 characters


def revision_data(parent: dict) -> dict:
    """The patch that gives the parent this template back (DaemonSet/StatefulSet getPatch)."""
    template = copy.deepcopy((parent.get("spec") or {}).get("template") or {})
    template["$patch"] = "replace"
    return {"spec": {"template": template}}


def template_of(revision: dict) -> dict:
    """The pod template a revision holds (its data without the patch directive)."""
    template = dict(((revision.get("data") or {}).get("spec") or {}).get("template") or {})
    template.pop("$patch", None)
    return template


def hash_of(parent: dict, collision_count: Optional[int]) -> str:
    return template_hash((parent.get("spec") or {}).get("template") or {}, collision_count)


def revision_name(parent: dict, hash_: str) -> str:
    return f"{parent['metadata']['name'][:MAX_NAME_PREFIX]}-{hash_}"


def matches(revision: dict, parent: dict) -> bool:
    """Does this revision hold the parent's current template?"""
    return equal_ignore_hash(template_of(revision), (parent.get("spec") or {}).get("template") or {})


def by_number(revisions: Iterable[dict]) -> list[dict]:
    """Oldest first: by revision number, then by age and name, as history.SortControllerRevisions."""
    return sorted(revisions, key=lambda r: (r.get("revision", 0), r["metadata"].get("creationTimestamp") or "",
                                            r["metadata"]["name"]))


def new_revision(parent: dict, number: int, collision_count: Optional[int]) -> dict:
    hash_ = hash_of(parent, collision_count)
    labels = dict((((parent.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("labels") or {})
    labels[HASH_LABEL] = hash_
    return {"apiVersion": "apps/v1", "kind": "ControllerRevision",
            "metadata": {"name": revision_name(parent, hash_), "namespace": parent["metadata"]["namespace"],
                         "labels": labels, "ownerReferences": [controller_ref(parent)]},
            "data": revision_data(parent), "revision": number}


class History:
    """One controller's view of the ControllerRevisions of its parents (DaemonSets or StatefulSets)."""

    def __init__(self, client, informer, parent_resource: str):
        self.client = client
        self.informer = informer          # controllerrevisions, with the refmanager indexes
        self.parent_resource = parent_resource

    def owned(self, parent: dict, selector: LabelSelector) -> list[dict]:
        """The parent's revisions: those it controls, plus matching orphans it adopts."""
        manager = RefManager(self.client, RESOURCE, parent, selector, self.parent_resource)
        return manager.claim(claim_candidates(self.informer, parent))

    def sync_history(self, parent: dict, revisions: list[dict]) -> tuple[dict, list[dict], int]:
        """(current revision, the others oldest first, collisionCount).

        The current revision is the one equal to the parent's template; if it is an older
        one (the parent was rolled back to it) it gets the next number, so the highest
        number is always what the parent runs now. Duplicates of it are deleted."""
        revisions = by_number(revisions)
        collision_count = ((parent.get("status") or {}).get("collisionCount")) or 0
        top = revisions[-1].get("revision", 0) if revisions else 0
        equal = [r for r in revisions if matches(r, parent)]
        if equal:
            current = equal[-1]
            for duplicate in equal[:-1]:
                self.delete(duplicate)
            if current.get("revision", 0) < top:
                current = self.client.update(RESOURCE, dict(current, revision=top + 1))
        else:
            current, collision_count = self._create(parent, top + 1, collision_count)
        name = current["metadata"]["name"]
        others = [r for r in revisions if r["metadata"]["name"] != name and r not in equal]
        return current, others, collision_count

    def _create(self, parent: dict, number: int, collision_count: int) -> tuple[dict, int]:
        """Create the revision; on a name that holds another template, bump collisionCount."""
        namespace = parent["metadata"]["namespace"]
        for _ in range(10):
            revision = new_revision(parent, number, collision_count)
            try:
                return self.client.create(RESOURCE, revision, namespace=namespace), collision_count
            except errors.AlreadyExists:
                existing = self.client.get(RESOURCE, revision["metadata"]["name"], namespace=namespace)
                owner = meta.owner_of(existing)
                if matches(existing, parent) and owner and owner.get("uid") == parent["metadata"]["uid"]:
                    return existing, collision_count      # ours, the cache had not seen it yet
                collision_count += 1
                log.info("%s/%s: revision name %s is taken; collisionCount %d", namespace,
                         parent["metadata"]["name"], revision["metadata"]["name"], collision_count)
        raise RuntimeError(f"no free revision name for {namespace}/{parent['metadata']['name']}")

    def truncate(self, parent: dict, old: list[dict], in_use: set[str]) -> None:
        """Delete the oldest revisions no live pod runs (``in_use``: their names), keeping
        ``spec.revisionHistoryLimit`` of them."""
        limit = (parent.get("spec") or {}).get("revisionHistoryLimit")
        limit = 10 if limit is None else limit
        unused = [r for r in by_number(old) if r["metadata"]["name"] not in in_use]
        for revision in unused[:max(0, len(unused) - limit)]:
            self.delete(revision)

    def delete(self, revision: dict) -> None:
        try:
            self.client.delete(RESOURCE, revision["metadata"]["name"], namespace=revision["metadata"]["namespace"])
        except errors.NotFound:
            pass


def revisions_of(informer, parent: dict) -> list[dict]:
    """The revisions the parent controls, from the cache (for describe-like readers)."""
    return by_number(informer.by_index(CONTROLLER_INDEX, parent["metadata"]["uid"]))
