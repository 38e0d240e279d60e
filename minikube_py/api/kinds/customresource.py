"""The `Kind` a CustomResourceDefinition declares, one per served version.

A CRD is data; this turns it into the same declaration a built-in kind is (kind.py), so
the apiserver serves it with the same code: routes, storage, discovery, watch, Tables.
What comes from where:

    group, version, kind, plural      spec.group, spec.versions[].name, spec.names
    scope, short names, categories    spec.scope, spec.names.shortNames / categories
    subresources                      spec.versions[].subresources.status / .scale
    defaults, pruning, validation     spec.versions[].schema.openAPIV3Schema (structural.py)
    Table columns                     spec.versions[].additionalPrinterColumns (JSONPath);
                                      NAME and AGE when it has none
    etcd keys                         /registry/{group}/{plural}/{namespace}/{name}, as
                                      kube-apiserver keeps custom objects (group first:
                                      two groups may both have a `widgets`)
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Optional

from jsonpath_ng.exceptions import JsonPathLexerError, JsonPathParserError
from jsonpath_ng.ext import parse as parse_jsonpath

from ..meta import age
from . import structural
from .columns import DEFAULT_COLUMNS, NAME, default_row
from .kind import Kind


@dataclass(frozen=True)
class CustomResourceKind(Kind):
    crd: str = ""                       # the name of the CRD that declares it: <plural>.<group>
    singular_name: str = ""
    # the scale subresource: (specReplicasPath, statusReplicasPath, labelSelectorPath or "")
    scale_paths: Optional[tuple] = None

    @property
    def singular(self) -> str:
        return self.singular_name or self.kind.lower()

    def etcd_prefix(self, namespace: Optional[str] = None) -> str:
        base = f"/registry/{self.group}/{self.plural}/"
        return base + f"{namespace}/" if (self.namespaced and namespace) else base

    def etcd_key(self, namespace: Optional[str], name: str) -> str:
        return self.etcd_prefix(namespace) + name


def storage_version(crd: dict) -> Optional[str]:
    for v in (crd.get("spec") or {}).get("versions") or []:
        if isinstance(v, dict) and v.get("storage"):
            return v.get("name")
    return None


def kinds_of(crd: dict) -> list[CustomResourceKind]:
    """One declaration per served version of a (valid) CRD."""
    spec = crd["spec"]
    names = spec["names"]
    kinds = []
    for version in spec.get("versions") or []:
        if not version.get("served"):
            continue
        schema = ((version.get("schema") or {}).get("openAPIV3Schema")) or {"type": "object"}
        subresources = version.get("subresources") or {}
        scale = subresources.get("scale")
        columns, row = printer(version.get("additionalPrinterColumns") or [])
        kinds.append(CustomResourceKind(
            group=spec["group"], version=version["name"], kind=names["kind"], plural=names["plural"],
            namespaced=spec.get("scope") == "Namespaced",
            short_names=tuple(names.get("shortNames") or ()), categories=tuple(names.get("categories") or ()),
            subresources=tuple(s for s in ("status", "scale") if s in subresources),
            has_status="status" in subresources,
            default=lambda obj, s=schema: shape(obj, s),
            validate=lambda obj, s=schema, v=structural.validator_for(schema): shape(obj, s) or
            structural.validate(obj, s, validator=v),
            columns=columns, row=row, eager_watch_cache=False, schema=schema,
            crd=crd["metadata"]["name"], singular_name=names.get("singular") or "",
            scale_paths=(scale.get("specReplicasPath"), scale.get("statusReplicasPath"),
                         scale.get("labelSelectorPath") or "") if isinstance(scale, dict) else None))
    return kinds


def shape(obj: dict, schema: dict) -> list:
    """Prune, then default: what kube-apiserver's decoder does to every custom object written.

    It runs from `validate` as well as from `default`, because a /status write skips
    defaulting (registry.py) yet is decoded -- pruned and defaulted -- in Kubernetes too.
    Doing it twice changes nothing. Returns [] so `validate` can chain it.
    """
    structural.prune(obj, schema)
    structural.default(obj, schema)
    return []


# ---------------------------------------------------------------- printer columns
def printer(definitions: list) -> tuple:
    """(columns, row) of a Table from additionalPrinterColumns; NAME and AGE without any."""
    if not definitions:
        return DEFAULT_COLUMNS, default_row
    columns, paths = [NAME], []
    for d in definitions:
        try:
            paths.append(parse_jsonpath("$" + d["jsonPath"]))
        except (JsonPathLexerError, JsonPathParserError, Exception):   # noqa: BLE001 - any parse failure
            return DEFAULT_COLUMNS, default_row     # as Kubernetes falls back to its default columns
        columns.append({"name": d["name"], "type": d.get("type", "string"), "format": d.get("format", ""),
                        "priority": int(d.get("priority") or 0),
                        "description": d.get("description") or
                        f"Custom resource definition column (in JSONPath format): {d['jsonPath']}"})
    types = [c["type"] for c in columns[1:]]

    def row(obj: dict) -> list:
        cells = [obj["metadata"]["name"]]
        for path, type_ in zip(paths, types):
            found = [m.value for m in path.find(obj)]
            cells.append(cell(type_, found[0]) if found else None)
        return cells
    return tuple(columns), row


def cell(type_: str, value):
    """One cell, as Kubernetes' CRD table convertor makes it (dates become an age)."""
    if value is None:
        return None
    if type_ == "string":
        if isinstance(value, str):
            return value
        if isinstance(value, bool):
            return "true" if value else "false"
        return json.dumps(value) if isinstance(value, (dict, list)) else str(value)
    if type_ == "integer" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value)
    if type_ == "number" and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if type_ == "boolean" and isinstance(value, bool):
        return value
    if type_ == "date" and isinstance(value, str):
        try:
            return age(value)
        except ValueError:
            return "<invalid>"
    return None


# ---------------------------------------------------------------- scale paths
def get_path(obj: dict, path: str):
    """The value at a simple JSON path such as `.spec.replicas` (None when missing)."""
    for part in (path or "").strip(".").split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


def set_path(obj: dict, path: str, value) -> None:
    parts = path.strip(".").split(".")
    for part in parts[:-1]:
        obj = obj.setdefault(part, {})
    obj[parts[-1]] = value
