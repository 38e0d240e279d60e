"""The three kinds of PATCH an apiserver accepts.

- JSON merge patch (RFC 7386, `application/merge-patch+json`): the patch is a partial
  object; maps merge, `null` deletes a key, and any list is replaced as a whole.
  kubectl label / scale send these.
- JSON patch (RFC 6902, `application/json-patch+json`): a list of operations
  (`add`, `remove`, `replace`, `move`, `copy`, `test`) on JSON pointers.
  `kubectl patch --type=json` sends these; the `jsonpatch` library applies them.
- Strategic merge patch (`application/strategic-merge-patch+json`), Kubernetes' own:
  like a merge patch, but some lists are merged element by element using a *merge
  key* (containers by `name`, volumeMounts by `mountPath`, ...), and `$`-directives
  say what to delete, replace or reorder. kubectl apply and the Python client send it.

Like upstream's strategicpatch package, this module both *applies* a patch (the
apiserver's side) and *creates* one (`three_way_patch`, kubectl apply's side), so the
two share one table of merge keys.

Every function returns a new object and leaves its inputs untouched.
"""
import copy

import jsonpatch
import jsonpointer

__all__ = ["PatchError", "merge_patch", "json_patch", "strategic_merge_patch", "three_way_patch"]


class PatchError(ValueError):
    """The patch cannot be applied to this object."""


# ---------------------------------------------------------------- merge patch

def merge_patch(target, patch):
    """RFC 7386: merge `patch` into `target` (a copy of it)."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = copy.deepcopy(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


# ---------------------------------------------------------------- JSON patch

def json_patch(target: dict, ops: list) -> dict:
    """RFC 6902: apply a list of operations; any failure becomes a PatchError."""
    if not isinstance(ops, list):
        raise PatchError("a JSON patch must be a list of operations")
    try:
        return jsonpatch.JsonPatch(ops).apply(target, in_place=False)
    except (jsonpatch.JsonPatchException, jsonpointer.JsonPointerException,
            KeyError, IndexError, TypeError, ValueError, AttributeError) as err:
        raise PatchError(f"the JSON patch could not be applied: {err}") from err


# ---------------------------------------------------------------- strategic merge patch

# Lists merged element by element, keyed by this field of each element. Kubernetes
# declares these on its Go types (`patchStrategy:"merge" patchMergeKey:"name"`); we
# look them up by the list's field name, which is enough for the built-in kinds.
MERGE_KEYS = {
    "containers": "name", "initContainers": "name", "ephemeralContainers": "name",
    "env": "name", "volumes": "name", "imagePullSecrets": "name",
    "volumeMounts": "mountPath", "volumeDevices": "devicePath",
    "conditions": "type", "addresses": "type", "ownerReferences": "uid",
    "hostAliases": "ip", "topologySpreadConstraints": "topologyKey",
    "ports": None,        # decided per list: containerPort for containers, port for Services
}


def _merge_key(field: str, *lists) -> str | None:
    """The merge key of list `field`, or None when the list is replaced as a whole."""
    if field not in MERGE_KEYS:
        return None
    if MERGE_KEYS[field]:
        return MERGE_KEYS[field]
    items = [item for lst in lists for item in (lst or []) if isinstance(item, dict)]
    if any("containerPort" in item for item in items):
        return "containerPort"
    return "port"


def _is_set_list(path: tuple, field: str) -> bool:
    """Lists of scalars merged as a set (union); only metadata.finalizers here."""
    return field == "finalizers" and path[-1:] == ("metadata",)


def strategic_merge_patch(target: dict, patch: dict) -> dict:
    """Apply a Kubernetes strategic merge patch and return the new object."""
    if not isinstance(patch, dict):
        raise PatchError("a strategic merge patch must be a JSON object")
    result = _merge_map(copy.deepcopy(target) if isinstance(target, dict) else {},
                        copy.deepcopy(patch), ())
    return {} if result is None else result


def _merge_map(original: dict, patch: dict, path: tuple):
    """Merge map `patch` into map `original` (changed in place); None means "delete me"."""
    directive = patch.pop("$patch", "merge")
    if directive == "delete":
        return None
    if directive == "replace":
        return _merge_map({}, patch, path)            # the patch's content, cleaned
    if directive != "merge":
        raise PatchError(f"unknown patch directive {directive!r}")

    retain = patch.pop("$retainKeys", None)
    orders = {}           # field -> the order given by $setElementOrder/field
    removals = {}         # field -> scalars named by $deleteFromPrimitiveList/field
    for key in [k for k in patch if k.startswith("$")]:
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = patch.pop(key)
        elif key.startswith("$deleteFromPrimitiveList/"):
            removals[key.split("/", 1)[1]] = patch.pop(key)
        else:
            raise PatchError(f"unknown patch directive {key!r}")

    for field, values in removals.items():
        if isinstance(original.get(field), list):
            original[field] = [v for v in original[field] if v not in values]

    for key, value in patch.items():
        here = path + (key,)
        if value is None:
            original.pop(key, None)
        elif isinstance(value, dict):
            old = original.get(key)
            merged = _merge_map(old if isinstance(old, dict) else {}, value, here)
            if merged is None:
                original.pop(key, None)
            else:
                original[key] = merged
        elif isinstance(value, list):
            original[key] = _merge_list(original.get(key), value, path, key)
        else:
            original[key] = value

    for field, order in orders.items():
        if isinstance(original.get(field), list):
            original[field] = _apply_order(original[field], order, _merge_key(field, order))
    if retain is not None:
        for key in [k for k in original if k not in retain]:
            del original[key]
    return original


def _clean(value, path: tuple):
    """A value taken from the patch as is: nulls dropped and `$` directives removed."""
    if isinstance(value, dict):
        return _merge_map({}, value, path)
    if isinstance(value, list):
        cleaned = [_clean(item, path) for item in value]
        return [item for item in cleaned if item is not None]   # `$patch: delete` items go
    return value


def _merge_list(original, patch: list, path: tuple, field: str) -> list:
    """Merge list `patch` into the `original` list found at path + (field,)."""
    here = path + (field,)
    original = original if isinstance(original, list) else []
    if {"$patch": "replace"} in patch:           # the list is replaced by the rest of the patch
        return _clean([item for item in patch if item != {"$patch": "replace"}], here)

    if _is_set_list(path, field):
        return original + [v for v in patch if v not in original]

    key = _merge_key(field, original, patch)
    if key is None or not all(isinstance(item, dict) for item in patch):
        return _clean(patch, here)

    result = list(original)
    for item in patch:
        if key not in item:
            raise PatchError(f"{'.'.join(here)}: element {item} does not contain "
                             f"the merge key {key!r}")
        index = next((i for i, old in enumerate(result)
                      if isinstance(old, dict) and old.get(key) == item[key]), None)
        if item.get("$patch") == "delete":
            if index is not None:
                del result[index]
        elif index is None:
            result.append(_clean(item, here))
        else:
            result[index] = _merge_map(result[index], item, here)
    return [item for item in result if item is not None]


def _apply_order(items: list, order: list, key) -> list:
    """Reorder `items` as `$setElementOrder` says.

    Elements named in `order` take the places of named elements in that order;
    elements the order does not name (the server added them) keep their places.
    """
    def ident(item):
        return item.get(key) if key and isinstance(item, dict) else item

    wanted = [ident(o) for o in order]
    named = sorted((item for item in items if ident(item) in wanted),
                   key=lambda item: wanted.index(ident(item)))
    slots = iter(named)
    return [next(slots) if ident(item) in wanted else item for item in items]


# ---------------------------------------------------------------- creating a patch (kubectl apply)

_MISSING = object()


def three_way_patch(original: dict, modified: dict, current: dict, strategic: bool = True) -> dict:
    """The patch from ``current`` (live) to ``modified`` (the new manifest), the way
    ``kubectl apply`` computes it:

    * a field in the manifest that differs from the live object is set;
    * a field that was in the last-applied manifest (``original``) but is gone
      from the new one is deleted (``null``);
    * fields only the server or other tools set (defaults, status, other labels)
      are left alone -- they were never in either manifest.

    With ``strategic``, lists such as containers are patched element by element,
    by their merge key (``name``), with ``$patch: delete`` for removed elements
    and ``$setElementOrder`` to keep the manifest's order. Without it the result
    is a JSON merge patch (what kubectl sends for custom resources).
    """
    patch = {}
    for key, want in modified.items():
        have = current.get(key, _MISSING)
        was = original.get(key) if isinstance(original, dict) else None
        if isinstance(want, dict) and isinstance(have, dict):
            sub = three_way_patch(was if isinstance(was, dict) else {}, want, have, strategic)
            if sub:
                patch[key] = sub
        elif strategic and isinstance(want, list) and isinstance(have, list) \
                and _merge_key(key, want, have) \
                and all(isinstance(i, dict) and _merge_key(key, want, have) in i for i in want):
            patch.update(_list_patch(key, _merge_key(key, want, have), was if isinstance(was, list) else [],
                                     want, have))
        elif want != have:
            patch[key] = want
    for key in original or {}:
        if key not in modified and key in current:
            patch[key] = None
    return patch


def _list_patch(field: str, key: str, original: list, modified: list, current: list) -> dict:
    """Strategic patch of one keyed list (containers by name, ports by containerPort, ...)."""
    live = {i.get(key): i for i in current if isinstance(i, dict)}
    before = {i.get(key): i for i in original if isinstance(i, dict)}
    items = []
    for item in modified:
        k = item[key]
        if k not in live:
            items.append(item)
            continue
        sub = three_way_patch(before.get(k) or {}, item, live[k], True)
        if sub:
            items.append({key: k, **sub})
    wanted = [i[key] for i in modified]
    items += [{key: k, "$patch": "delete"} for k in before if k not in wanted and k in live]
    order_changed = [k for k in live if k in wanted] != [k for k in wanted if k in live]
    if not items and not order_changed:
        return {}
    return {f"$setElementOrder/{field}": [{key: k} for k in wanted], field: items}
