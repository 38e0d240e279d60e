"""DefaultStorageClass admission: a claim that names no class gets the default one.

`kubectl apply` of a claim with no `storageClassName` should get storage the cluster
chose for it, so kube-apiserver's DefaultStorageClass plugin writes the name of the
class annotated `storageclass.kubernetes.io/is-default-class: "true"` into the claim
when it is created. A claim that says `storageClassName: ""` asked for no class (only
a volume without one may bind it) and is left alone; so is a claim created while no
class is the default. With several defaults the newest wins, as since Kubernetes 1.26.
"""
from __future__ import annotations

from ..api.kinds.storage import BETA_CLASS_ANNOTATION, STORAGE_CLASS, is_default_class


def default_class(classes: list[dict]) -> str | None:
    """The name of the default class: the newest of those annotated default (then by name)."""
    defaults = [sc for sc in classes if is_default_class(sc)]
    if not defaults:
        return None
    newest = max(sc["metadata"].get("creationTimestamp") or "" for sc in defaults)
    return min(sc["metadata"]["name"] for sc in defaults if (sc["metadata"].get("creationTimestamp") or "") == newest)


def admit_claim(registry, claim: dict) -> None:
    """Fill in spec.storageClassName of a new claim that has none (in place)."""
    spec = claim.setdefault("spec", {})
    annotations = (claim.get("metadata") or {}).get("annotations") or {}
    if spec.get("storageClassName") is not None or annotations.get(BETA_CLASS_ANNOTATION):
        return
    name = default_class(registry.list(STORAGE_CLASS)["items"])
    if name is not None:
        spec["storageClassName"] = name
