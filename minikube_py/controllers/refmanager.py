"""Controller references: who owns what, and ``claim`` (adopt orphans, release the rest).

Kubernetes' pkg/controller/controller_ref_manager.go. A controller marks what it
creates with an ownerReference ``controller: true``; on every sync it *claims* its
candidates: keeps what it owns and still selects, adopts matching orphans, releases
what someone relabelled out of its selector. The informer indexes below find the
candidates without scanning a whole namespace.
"""
from __future__ import annotations

from typing import Iterable, Optional

from ..api import meta
from ..api.selectors import LabelSelector
from ..client import errors
from ..client.informer import ensure_index, index_by_namespace

NAMESPACE_INDEX = "namespace"               # informer index: namespace -> objects
CONTROLLER_INDEX = "controller-uid"         # informer index: controller's uid -> objects
ORPHAN_INDEX = "orphans-by-namespace"       # informer index: namespace -> objects without controller


def controller_uid(obj: dict) -> Optional[str]:
    ref = meta.owner_of(obj)
    return ref.get("uid") if ref else None


def cached_controller(informer, obj: dict, kind: str) -> Optional[dict]:
    """The `kind` object in `informer`'s cache that controls `obj`, or None.

    The controller reference must name an object of that kind, and the cached object
    must have the reference's uid: one of the same name made after the owner was
    deleted is not the owner.
    """
    ref = meta.owner_of(obj)
    if not ref or ref.get("kind") != kind:
        return None
    owner = informer.get(f"{obj['metadata'].get('namespace')}/{ref.get('name')}")
    return owner if owner is not None and owner["metadata"].get("uid") == ref.get("uid") else None


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
        ensure_index(informer, name, fn)


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
