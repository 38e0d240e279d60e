"""Server-side apply: metadata.managedFields, who owns which fields of an object.

`kubectl apply --server-side` sends its manifest as a PATCH with Content-Type
`application/apply-patch+yaml` and `fieldManager=kubectl`. The manifest is that
manager's whole intent: the fields it names are set and owned by it (operation
"Apply"); fields it owned before and names no more are removed, unless another manager
owns them too; setting a field another manager owns to a different value is a 409
Conflict, one cause per field, unless the request says `force=true`
(`--force-conflicts`), which takes the field over.

Any other write to an object is an "Update" by its writer (the `fieldManager`
parameter, else the first word of its User-Agent): the writer takes ownership of what
it changed, away from everyone else, so a later apply conflicts on it. The algebra
(fields as sets of paths, merge, compare, FieldsV1) is api/fieldset.py.

Deliberate deviation from Kubernetes: kube-apiserver records an Update entry on every
create and write of every object. Here Updates are recorded only on objects that
already carry managedFields -- once something has server-side-applied to them -- so
the hot paths (pod create, bind, status, controllers) do no extra work. An apply to an
object without managedFields first gives all its fields to `before-first-apply`, as
kube-apiserver does for objects that predate field tracking, so changing one of them
conflicts instead of passing silently. pods/binding (subresources.bind) writes
spec.nodeName with no bookkeeping at all.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import NamedTuple

from ..api import fieldset, meta
from . import errors
from .subresources import PATCH_RETRIES

APPLY, UPDATE = "Apply", "Update"
BEFORE_FIRST_APPLY = "before-first-apply"

# Fields nobody owns: the server sets them (stripMetaManager upstream).
_SERVER_FIELDS = {("f:apiVersion",), ("f:kind",), ("f:metadata",)} | {
    ("f:metadata", "f:" + f) for f in ("name", "namespace", "uid", "resourceVersion", "generation",
                                       "creationTimestamp", "selfLink", "managedFields")}


class Writer(NamedTuple):
    """Who writes: its field manager, and the subresource it writes through ("" for the object)."""
    manager: str
    subresource: str = ""

    @classmethod
    def of(cls, args, user_agent: str | None, subresource: str | None = None) -> "Writer":
        """From a request: `fieldManager`, else the User-Agent's first word (kubectl/v1.32.4 ...)."""
        manager = args.get("fieldManager") or (user_agent or "").split("/")[0][:128]
        return cls(manager, subresource or "")


@dataclass
class Entry:
    """One element of metadata.managedFields."""
    manager: str
    operation: str
    api_version: str
    time: str | None
    fields: set = field(default_factory=set)
    subresource: str = ""

    def ident(self) -> tuple:
        # An applier is one manager whatever apiVersion it applied with; an updater is
        # one per apiVersion (upstream's BuildManagerIdentifier).
        return (self.manager, self.operation, "" if self.operation == APPLY else self.api_version,
                self.subresource)

    def describe(self) -> str:
        """The manager as a conflict names it (upstream's printManager)."""
        out = f'"{self.manager}"'
        if self.subresource:
            out += f' with subresource "{self.subresource}"'
        if self.operation == UPDATE:
            out += f" using {self.api_version}"
        return out

    def to_json(self) -> dict:
        out = {"manager": self.manager, "operation": self.operation, "apiVersion": self.api_version}
        if self.time:
            out["time"] = self.time
        out["fieldsType"] = "FieldsV1"
        out["fieldsV1"] = fieldset.encode(self.fields)
        if self.subresource:
            out["subresource"] = self.subresource
        return out


def decode(raw) -> list[Entry]:
    """metadata.managedFields as Entries; ValueError when it is malformed."""
    if not isinstance(raw, list):
        raise ValueError("managedFields must be a list")
    entries = []
    for item in raw:
        if not isinstance(item, dict) or item.get("operation") not in (APPLY, UPDATE):
            raise ValueError(f"managedFields entry {item!r}: operation must be Apply or Update")
        if item.get("fieldsType", "FieldsV1") != "FieldsV1":
            raise ValueError(f"managedFields entry: unknown fieldsType {item.get('fieldsType')!r}")
        entries.append(Entry(str(item.get("manager", "")), item["operation"], str(item.get("apiVersion", "")),
                             item.get("time"), fieldset.decode(item.get("fieldsV1") or {}),
                             str(item.get("subresource") or "")))
    return entries


def encode(entries: list[Entry]) -> list[dict]:
    """Entries as metadata.managedFields: appliers first, then by time and name (as upstream sorts)."""
    kept = [e for e in entries if e.fields]
    kept.sort(key=lambda e: (e.operation, e.time or "", e.manager, e.api_version, e.subresource))
    return [e.to_json() for e in kept]


def owned_fields(obj: dict, subresource: str = "") -> set:
    """The fields of `obj` a manager can own through `subresource`: status through
    /status, everything else (less what the server sets) through the object itself."""
    paths = fieldset.field_set(obj) - _SERVER_FIELDS
    if subresource == "status":
        return {p for p in paths if p[0] == "f:status"}
    return {p for p in paths if p[0] != "f:status"}


def _without_managed(obj: dict) -> dict:
    return {**obj, "metadata": {k: v for k, v in obj["metadata"].items() if k != "managedFields"}}


# ---------------------------------------------------------------- Apply

def serve_apply(registry, rt, namespace, name, body, manager: str, force=False, dry_run=False):
    """PATCH application/apply-patch+yaml: `body` is `manager`'s whole intent for the
    object; a missing object is created from it, as upstream does. The write goes
    through the registry like any other (defaults, admission, validation, one txn).
    Returns (object, created)."""
    config = registry.check_body(rt, namespace, body, name=name)
    asked_rv = config["metadata"].get("resourceVersion")
    if asked_rv is not None and not str(asked_rv).isdigit():
        raise errors.bad_request(f"invalid resourceVersion {asked_rv!r}")
    for attempt in range(PATCH_RETRIES):
        try:
            live = registry.get(rt, namespace, name)
        except errors.APIError as err:
            if err.code != 404 or asked_rv:
                raise
            try:
                return registry.create(rt, namespace, apply(rt, None, config, manager, force), dry_run), True
            except errors.APIError as err:
                if err.reason != "AlreadyExists":
                    raise
                continue              # created meanwhile: apply to it
        new = apply(rt, live, config, manager, force)
        rv = int(asked_rv or live["metadata"]["resourceVersion"])
        try:
            return registry.write(rt, live, new, rv, None, dry_run), False
        except errors.APIError as err:   # written meanwhile: apply again to the newer object
            if err.reason != "Conflict" or asked_rv or attempt == PATCH_RETRIES - 1:
                raise
    raise errors.conflict(rt, name)


def apply(rt, live: dict | None, config: dict, manager: str, force: bool) -> dict:
    """The object after `manager` applies `config` to `live` (None: it does not exist yet),
    with its managedFields; raises a 409 Conflict listing the fields other managers own."""
    if "managedFields" in config["metadata"]:
        raise errors.bad_request("metadata.managedFields must be nil")
    config = copy.deepcopy(config)
    config.pop("status", None)        # the main resource's apply owns no status
    for server_field in ("uid", "resourceVersion", "generation", "creationTimestamp", "selfLink"):
        config["metadata"].pop(server_field, None)
    live = live or {"metadata": {}}
    try:
        entries = decode(live["metadata"].get("managedFields") or [])
    except ValueError:
        entries = []                  # unreadable: as if nobody had applied yet
    mine = owned_fields(config)
    merged = fieldset.merge(_without_managed(live), config)
    if live["metadata"].get("uid") and not entries:
        entries = [Entry(BEFORE_FIRST_APPLY, UPDATE, rt.api_version, meta.now_rfc3339(), owned_fields(live))]
    me = next((e for e in entries if e.ident() == (manager, APPLY, "", "")), None)
    others = [e for e in entries if e is not me]

    # What this manager applied last time and not now goes, unless someone owns it
    # (or something below it) still.
    kept = fieldset.prefixes(mine.union(*(e.fields for e in others)))
    fieldset.remove(merged, [p for p in (me.fields if me else ()) if p not in kept])

    before, after = owned_fields(live), owned_fields(merged)
    added, removed, modified = fieldset.compare(live, merged, before, after)
    changed = added | modified
    conflicts = sorted(((e, p) for e in others for p in e.fields & changed),
                       key=lambda c: (c[0].manager, c[1]))
    if conflicts and not force:
        raise conflict_error(conflicts)
    for e in others:
        e.fields -= changed | removed
    new_entry = Entry(manager, APPLY, rt.api_version, meta.now_rfc3339(), mine)
    result = encode(others + [new_entry])
    if _without_managed(merged) == _without_managed(live) and \
            _timeless(result) == _timeless(live["metadata"].get("managedFields") or []):
        result = live["metadata"]["managedFields"]    # a no-op apply changes nothing, not even times
    merged["metadata"]["managedFields"] = result
    return merged


def _timeless(entries: list[dict]) -> list[dict]:
    return [{k: v for k, v in e.items() if k != "time"} for e in entries]


def conflict_error(conflicts: list[tuple[Entry, tuple]]) -> errors.APIError:
    """409 Conflict as kube-apiserver words it, one cause per conflicting field."""
    causes = [{"reason": "FieldManagerConflict", "message": f"conflict with {e.describe()}",
               "field": fieldset.describe(p)} for e, p in conflicts]
    if len(conflicts) == 1:
        e, p = conflicts[0]
        message = f"Apply failed with 1 conflict: conflict with {e.describe()}: {fieldset.describe(p)}"
    else:
        lines, last = [], None
        for e, p in conflicts:
            if e.describe() != last:
                last = e.describe()
                lines.append(f"conflict with {last}:")
            lines.append(f"- {fieldset.describe(p)}")
        message = f"Apply failed with {len(conflicts)} conflicts: " + "\n".join(lines)
    return errors.APIError(409, "Conflict", message, {"causes": causes})


def patch_options_invalid(field: str, reason: str, message: str) -> errors.APIError:
    """422 for a PATCH's options (apply without fieldManager, force on another patch)."""
    return errors.APIError(422, "Invalid", f'PatchOptions.meta.k8s.io "" is invalid: {field}: {message}',
                           {"group": "meta.k8s.io", "kind": "PatchOptions",
                            "causes": [{"reason": reason, "message": message, "field": field}]})


# ---------------------------------------------------------------- Update

def track_update(rt, old: dict, new: dict, writer: Writer) -> None:
    """Record a non-apply write of `old` into `new` as an Update by `writer` (sets
    new's managedFields). Nothing to do, and no cost, for objects without managedFields."""
    md = new["metadata"]
    raw_new, raw_old = md.get("managedFields"), old["metadata"].get("managedFields")
    if not raw_new and not raw_old:
        return
    if isinstance(raw_new, list) and raw_new and all(e == {} for e in raw_new):
        md.pop("managedFields")       # `managedFields: [{}]` resets them, as upstream documents
        return
    try:
        # A writer may set managedFields itself (a GET-modify-PUT keeps them as they were);
        # what it sent wins when it reads, else the stored ones stay.
        entries = decode(raw_new) if raw_new and raw_new != raw_old else decode(raw_old or [])
    except ValueError:
        try:
            entries = decode(raw_old or [])
        except ValueError:
            entries = []
    sub = writer.subresource if writer.subresource == "status" else ""
    before, after = owned_fields(old, sub), owned_fields(new, sub)
    added, removed, modified = fieldset.compare(old, new, before, after)
    changed = added | modified
    ident = (writer.manager, UPDATE, rt.api_version, writer.subresource)
    me = next((e for e in entries if e.ident() == ident), None)
    if me is None:
        me = Entry(writer.manager, UPDATE, rt.api_version, None, set(), writer.subresource)
        entries.append(me)
    for e in entries:
        if e is not me:
            e.fields -= changed | removed
    me.fields = (me.fields - removed) | changed
    if changed:
        me.time = meta.now_rfc3339()
    result = encode(entries)
    if result:
        md["managedFields"] = result
    else:
        md.pop("managedFields", None)
