"""Manifests: the objects ``-f`` names (files, directories, URLs, ``-`` for stdin),
and where each one goes (its resource, namespace and name), as kubectl checks them.
"""
from __future__ import annotations

import os
import sys
from typing import Iterator, Optional

import requests
import yaml

from ..api.kinds import Kind
from .cluster import Cluster
from .errors import CLIError


def read_manifests(paths: tuple, recursive: bool = False) -> Iterator[tuple[str, dict]]:
    """(source, object) for each document of each file (``-`` is stdin; a dir: its
    .yaml/.yml/.json files); ``kind: List`` documents are opened up."""
    if not paths:
        raise CLIError("must specify -f (a file, a directory or - for stdin)")
    for path in paths:
        if path == "-":
            sources = [("STDIN", sys.stdin.read())]
        elif path.startswith(("http://", "https://")):
            resp = requests.get(path, timeout=30)
            resp.raise_for_status()
            sources = [(path, resp.text)]
        elif os.path.isdir(path):
            files = []
            for root, dirs, names in os.walk(path):
                files += [os.path.join(root, n) for n in names if n.endswith((".yaml", ".yml", ".json"))]
                if not recursive:
                    break
            sources = [(f, open(f).read()) for f in sorted(files)]
        elif os.path.exists(path):
            sources = [(path, open(path).read())]
        else:
            raise CLIError(f'the path "{path}" does not exist')
        for source, text in sources:
            for doc in yaml.safe_load_all(text):
                if doc is None:
                    continue
                if not isinstance(doc, dict) or not doc.get("kind") or not doc.get("apiVersion"):
                    raise CLIError(f'error validating "{source}": an object needs apiVersion and kind')
                if doc["kind"].endswith("List") and isinstance(doc.get("items"), list):
                    for item in doc["items"]:
                        yield source, item
                else:
                    yield source, doc


def place(c: Cluster, source: str, obj: dict, verb: str = "apply") -> tuple[Kind, Optional[str], str]:
    """Find the resource, namespace and name of a manifest, as kubectl checks them."""
    res = c.for_kind(obj["apiVersion"], obj["kind"])
    meta = obj.setdefault("metadata", {})
    name = meta.get("name")
    if not name and not (verb == "create" and meta.get("generateName")):
        if meta.get("generateName"):
            raise CLIError(f"from {source}: cannot use generate name with {verb}")
        raise CLIError(f'error when processing "{source}": the object needs metadata.name')
    if not res.namespaced:
        return res, None, name
    given, wanted = meta.get("namespace"), c.explicit_namespace
    if given and wanted and given != wanted:
        raise CLIError(f'the namespace from the provided object "{given}" does not match the namespace '
                       f'"{wanted}". You must pass \'--namespace={given}\' to perform this operation.')
    meta["namespace"] = given or c.namespace
    return res, meta["namespace"], name
