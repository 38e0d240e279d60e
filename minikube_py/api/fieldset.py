"""The fields of an object as a set of paths: the algebra under server-side apply.

Server-side apply asks "who owns which field?", so it needs the fields of an object as
a *set*: union, difference and intersection then answer every question (what did this
manager give up, what did this write change, where do two managers collide).
Kubernetes does this in sigs.k8s.io/structured-merge-diff; this is the same idea,
small. A path is a tuple of path elements spelled as in metadata.managedFields
(`fieldsType: FieldsV1`):

    f:<name>     a field of a map               ("f:spec", "f:replicas")
    k:<json>     an element of a keyed list     ("f:containers", 'k:{"name":"nginx"}')
    v:<json>     a value of a set-like list     ("f:finalizers", 'v:"example.com/x"')

The set of an object holds its leaves (scalars, atomic lists, empty maps) and the
elements of keyed lists (`k:` paths, the element itself, plus its fields below it).
Maps are granular: each key is its own field. A list is keyed when api/patch.py's
MERGE_KEYS table (the one strategic merge patch uses) names its merge key --
containers and env by name, ports by containerPort (or port) plus protocol, as
upstream's `x-kubernetes-list-map-keys` say; metadata.finalizers is a set; every other
list is atomic, one leaf replaced as a whole.
"""
from __future__ import annotations

import copy
import json

from .patch import _is_set_list, _merge_key

MISSING = object()

# Key fields a list element may omit and that have a default (upstream defaults them
# before keying: a container port with no protocol is the TCP one).
_KEY_DEFAULTS = {"protocol": "TCP"}


# ---------------------------------------------------------------- lists: keyed, set or atomic

def list_keys(names: tuple, field: str, items: list):
    """How list `field` (under the map path `names`, plain field names) is merged:
    a tuple of key fields, "set", or None for an atomic list. The table knows lists by
    their field's name only, so a list whose elements do not all carry the key (a
    custom resource's own `ports`, say) is atomic rather than an error."""
    if _is_set_list(names, field):
        return "set"
    key = _merge_key(field, items)
    if key is None or not items or not all(isinstance(i, dict) and i.get(key) is not None for i in items):
        return None
    return (key, "protocol") if field == "ports" else (key,)


def element(item: dict, keys: tuple) -> str:
    """The `k:` path element of one keyed list element: `k:{"name":"nginx"}`."""
    ident = {k: item.get(k, _KEY_DEFAULTS.get(k)) for k in keys}
    return "k:" + json.dumps(ident, sort_keys=True, separators=(",", ":"))


def _value(v) -> str:
    return "v:" + json.dumps(v, sort_keys=True, separators=(",", ":"))


def _names(path: tuple) -> tuple:
    return tuple(p[2:] for p in path if p.startswith("f:"))


# ---------------------------------------------------------------- an object's set of fields

def field_set(obj: dict) -> set:
    """Every field path of `obj` (upstream's ToFieldSet)."""
    out: set = set()
    _walk(obj, (), out)
    return out


def _walk(value, path: tuple, out: set):
    if isinstance(value, dict) and value:
        for k, v in value.items():
            if v is not None:
                _walk_field(v, path, k, out)
    else:
        out.add(path)


def _walk_field(value, path: tuple, field: str, out: set):
    here = path + ("f:" + field,)
    kind = list_keys(_names(path), field, value) if isinstance(value, list) and value else None
    if kind == "set":
        out.update(here + (_value(v),) for v in value)
    elif kind:
        for item in value:
            elem = here + (element(item, kind),)
            out.add(elem)
            for k, v in item.items():
                if v is not None:
                    _walk_field(v, elem, k, out)
    else:
        _walk(value, here, out)


# ---------------------------------------------------------------- reading and removing one path

def _step(container, pe: str):
    """The index (list) or key (map) that path element `pe` names in `container`, or MISSING."""
    if pe.startswith("f:") and isinstance(container, dict):
        return pe[2:] if pe[2:] in container else MISSING
    if isinstance(container, list) and pe[:2] in ("k:", "v:"):
        want = json.loads(pe[2:])
        for i, item in enumerate(container):
            if pe.startswith("v:") and item == want:
                return i
            if pe.startswith("k:") and isinstance(item, dict) and \
                    all(item.get(k, _KEY_DEFAULTS.get(k)) == v for k, v in want.items()):
                return i
    return MISSING


def value_at(obj, path: tuple):
    """The value at `path` in `obj`, or MISSING."""
    for pe in path:
        at = _step(obj, pe)
        if at is MISSING:
            return MISSING
        obj = obj[at]
    return obj


def remove(obj: dict, paths) -> None:
    """Remove each path from `obj` (in place); maps the removal leaves empty go too.
    Shallow paths first: an element goes whole, never key field by key field."""
    for path in sorted(paths, key=len):
        trail, node = [], obj
        for pe in path:
            at = _step(node, pe)
            if at is MISSING:
                break
            trail.append((node, at))
            node = node[at]
        else:
            parent, at = trail.pop()
            del parent[at]
            while trail and isinstance(parent, dict) and not parent:
                parent, at = trail.pop()
                del parent[at]


# ---------------------------------------------------------------- merge and compare

def merge(live: dict, config: dict) -> dict:
    """`config` laid over `live` (a new object): config's values win, maps merge key by
    key, keyed lists element by element, set lists as a union, atomic lists are replaced."""
    return _merge(copy.deepcopy(live) if live else {}, config, ())


def _merge(live: dict, config: dict, path: tuple) -> dict:
    for k, want in config.items():
        if want is None:
            continue
        have = live.get(k)
        if isinstance(want, dict) and isinstance(have, dict):
            live[k] = _merge(have, want, path + (k,))
        elif isinstance(want, list) and isinstance(have, list):
            live[k] = _merge_list(have, want, path, k)
        else:
            live[k] = copy.deepcopy(want)
    return live


def _merge_list(have: list, want: list, path: tuple, field: str) -> list:
    kind = list_keys(path, field, have + want)
    if kind == "set":
        return have + [copy.deepcopy(v) for v in want if v not in have]
    if not kind:
        return copy.deepcopy(want)
    out = list(have)
    index = {element(i, kind): n for n, i in enumerate(have)}
    for item in want:
        n = index.get(element(item, kind))
        if n is None:
            out.append(_merge({}, item, path + (field,)))
        else:
            out[n] = _merge(out[n], item, path + (field,))
    return out


def compare(old: dict, new: dict, old_set: set, new_set: set):
    """(added, removed, modified): the paths `new` has and `old` lacks, the reverse, and
    the leaves both have with different values. A keyed element is never "modified"
    itself: its fields below it are."""
    modified = {p for p in old_set & new_set
                if not p[-1].startswith(("k:", "v:")) and value_at(old, p) != value_at(new, p)}
    return new_set - old_set, old_set - new_set, modified


def prefixes(paths) -> set:
    """Every path in `paths` and every path above one of them."""
    return {p[:n] for p in paths for n in range(1, len(p) + 1)}


# ---------------------------------------------------------------- FieldsV1, the wire form

def encode(paths) -> dict:
    """A set of paths as FieldsV1: a tree of path elements, `{}` at a leaf, and `".": {}`
    where a path that is in the set also has paths below it (a keyed element)."""
    tree: dict = {}
    for path in paths:
        node = tree
        for pe in path:
            node = node.setdefault(pe, {})
        node["."] = {}
    return _tidy(tree)


def _order(pe: str):
    return (0 if pe == "." else "fkvi".find(pe[0]) + 1, pe)


def _tidy(node: dict) -> dict:
    if set(node) == {"."}:
        return {}
    return {k: _tidy(node[k]) for k in sorted(node, key=_order)}


def decode(fields) -> set:
    """FieldsV1 back to a set of paths; ValueError when it is not one."""
    if not isinstance(fields, dict):
        raise ValueError("fieldsV1 must be an object")
    out: set = set()
    _decode(fields, (), out)
    return out


def _decode(node: dict, path: tuple, out: set):
    for pe, sub in node.items():
        if not isinstance(sub, dict):
            raise ValueError(f"fieldsV1: {pe} must map to an object")
        if pe == ".":
            out.add(path)
        elif pe[:2] not in ("f:", "k:", "v:", "i:"):
            raise ValueError(f"fieldsV1: unknown path element {pe!r}")
        elif not sub:
            out.add(path + (pe,))
        else:
            _decode(sub, path + (pe,), out)


def describe(path: tuple) -> str:
    """A path as Kubernetes prints it in conflicts: .spec.containers[name="nginx"].image"""
    out = []
    for pe in path:
        kind, rest = pe[:2], pe[2:]
        if kind == "f:":
            out.append("." + rest)
        elif kind == "k:":
            out.append("[" + ",".join(f"{k}={json.dumps(v)}" for k, v in json.loads(rest).items()) + "]")
        elif kind == "v:":
            out.append(f"[={json.dumps(json.loads(rest))}]")
        else:
            out.append(f"[{rest}]")
    return "".join(out)
