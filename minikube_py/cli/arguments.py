"""How mkctl commands name objects: ``TYPE[,TYPE] [NAME...]``, ``TYPE/NAME``, ``node/x``.

The TYPE is resolved through discovery (:meth:`.cluster.Cluster.resolve`), so any
name kubectl accepts -- plural, singular, kind, short name, ``plural.group`` --
works here.
"""
from __future__ import annotations

from typing import Optional

from ..api.kinds import Kind
from .cluster import Cluster
from .errors import CLIError


def parse_targets(c: Cluster, args: tuple) -> list[tuple[Kind, list[str]]]:
    """``TYPE[,TYPE] [NAME...]`` or ``TYPE/NAME...`` -> [(resource, names)], in order."""
    if not args:
        raise CLIError("you must specify the type of resource to get")
    targets: list[tuple[Kind, list[str]]] = []
    if "/" in args[0]:
        for arg in args:
            kind, sep, name = arg.partition("/")
            if not sep or not name:
                raise CLIError("there is no need to specify a resource type as a separate argument "
                               "when passing arguments in resource/name form (e.g. 'mkctl get "
                               "resource/<resource_name>' instead of 'mkctl get resource "
                               "resource/<resource_name>'")
            res = c.resolve_one(kind)
            for target in targets:
                if target[0] == res:
                    target[1].append(name)
                    break
            else:
                targets.append((res, [name]))
        return targets
    names = list(args[1:])
    for kind in args[0].split(","):
        for res in c.resolve(kind):
            if res not in [t[0] for t in targets]:
                targets.append((res, names))
    return targets


def one_object(c: Cluster, args: tuple) -> tuple[Kind, str]:
    """``TYPE NAME`` or ``TYPE/NAME`` -> (resource, name)."""
    if len(args) == 1 and "/" in args[0]:
        kind, _, name = args[0].partition("/")
    elif len(args) == 2:
        kind, name = args
    else:
        raise CLIError("expected TYPE NAME or TYPE/NAME")
    return c.resolve_one(kind), name


def bare_name(arg: str, *types: str) -> str:
    """``node/x``, ``nodes/x`` or ``x`` -> ``x`` (the TYPE/ prefixes kubectl accepts)."""
    kind, slash, name = arg.partition("/")
    return name if slash and kind in types else arg


def join_selectors(*parts: Optional[str]) -> Optional[str]:
    return ",".join(p for p in parts if p) or None
