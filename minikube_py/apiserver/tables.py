"""Server-side printing: the meta.k8s.io/v1 Table that `kubectl get` shows.

kubectl asks for `application/json;as=Table;v=v1;g=meta.k8s.io` and prints the
columns it gets back. Each kind declares its columns and how to fill a row
(api/kinds/); a kind that declares none gets NAME and AGE, as in Kubernetes.
"""
from __future__ import annotations

from ..api.kinds import Kind
from ..api.kinds.columns import DEFAULT_COLUMNS, default_row


def partial_metadata(obj: dict) -> dict:
    return {"kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj.get("metadata", {})}


def to_table(kind: Kind, objects: list[dict], resource_version: str | None = None,
             include_object: str = "Metadata") -> dict:
    """A Table of objects; include_object is None, Metadata (default) or Object, as kubectl asks."""
    columns, row = (list(kind.columns), kind.row) if kind.row else (list(DEFAULT_COLUMNS), default_row)
    rows = []
    for obj in objects:
        r = {"cells": row(obj)}
        if include_object == "Object":
            r["object"] = obj
        elif include_object != "None":
            r["object"] = partial_metadata(obj)
        rows.append(r)
    table = {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {}, "columnDefinitions": columns,
             "rows": rows}
    if resource_version:
        table["metadata"]["resourceVersion"] = resource_version
    return table
