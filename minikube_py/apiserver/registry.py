"""Generic REST storage: what happens to an object on create, update, patch and delete.

This is the part of kube-apiserver that lives in `pkg/registry/generic`: one code path
for every kind, driven by the kind's declaration (api/kinds/), with a few kind-specific
rules (graceful pod deletion, namespace finalization, binding, scale) spelled out.

The order on every write is the Kubernetes one:
  decode → check kind/namespace/name → defaults → admission → validation → etcd txn.
Nothing is written unless every step passed.
"""
from __future__ import annotations

import datetime as dt

from .. import codec
from ..api import meta, patch as patching, validation
from ..api.kinds import Kind, apply_defaults, validate, validate_update
from ..api.selectors import FieldSelector, LabelSelector, SelectorError
from ..storage.store import KeyExists, KeyNotFound, RevisionConflict
from . import errors, fieldmanager, pagination
from .admission import Admission
from .resourcequota import NO_CHARGE
from .storagehook import NO_HOOK, StorageHook
from .subresources import PATCH_RETRIES, scale_of, update_scale



class _StaleGuess(Exception):
    """A write based on the watch cache's copy cannot be decided without reading etcd."""


def _spec_of(obj: dict) -> dict:
    """What counts as "spec" for metadata.generation: everything but metadata and status."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status", "apiVersion", "kind")}


class Registry:
    def __init__(self, store, admission: Admission | None = None, recent=None, hooks=None):
        self.store = store
        self.admission = admission or Admission(self)
        # (group, plural) -> the StorageHook of kinds whose writes do more than store
        self.hooks = dict(hooks or {})
        # recent(rt, key) -> the watch cache's newest copy of an object, or None (see base()),
        # decoded for the caller: its own copy, to change at will.
        self.recent = recent

    def hook(self, rt: Kind) -> StorageHook:
        return self.hooks.get((rt.group, rt.plural), NO_HOOK)

    # ---------------------------------------------------------------- reads
    def get(self, rt: Kind, namespace, name, any_version: bool = False) -> dict:
        """One object from etcd; `any_version` (GET ?resourceVersion=0): the watch cache's
        copy when it has one, as kube-apiserver serves it from its cache -- the kubelet
        reads its Node so every 10 s, which is then no etcd read at all."""
        if any_version and self.recent is not None:
            cached = self.recent(rt, rt.etcd_key(namespace, name))
            if cached is not None:
                return self._typed(rt, cached)
        try:
            return self._typed(rt, self.store.get(rt.etcd_key(namespace, name)))
        except KeyNotFound:
            raise errors.not_found(rt, name) from None

    def list(self, rt: Kind, namespace=None, label_selector=None, field_selector=None,
             limit: int = 0, continue_token: str | None = None):
        """A List of the kind, filtered by selectors; with `limit`, one page of it (pagination.py)."""
        lsel, fsel = parse_selectors(label_selector, field_selector)
        name = fsel.value_for("metadata.name") if fsel else None
        extras: dict = {}                 # a page's continue / remainingItemCount
        if name and (namespace or not rt.namespaced):
            # The revision first: a write landing between the two reads then shows up in
            # a watch from this list's resourceVersion instead of falling in the gap.
            rev = self.store.current_revision()
            try:
                items = [self.store.get(rt.etcd_key(namespace, name))]
            except KeyNotFound:
                items = []
            items = [o for o in items if matches(o, lsel, fsel)]
        elif limit or continue_token:     # one page, filtered as it is read
            keep = (lambda o: matches(o, lsel, fsel)) if (lsel or fsel) else None
            items, rev, extras = pagination.paginate(self.store, rt.etcd_prefix(namespace), limit,
                                                     continue_token, keep)
        else:
            items, rev = self.store.list(rt.etcd_prefix(namespace))
            items = [o for o in items if matches(o, lsel, fsel)]
        return self._list_of(rt, items, rev, extras)

    def list_from_cache(self, rt: Kind, cache, namespace=None, label_selector=None, field_selector=None,
                        not_older_than: int = 0):
        """A List served from the watch cache's state (storage/watchcache.py), as
        kube-apiserver serves ``resourceVersion=0`` and ``=N`` lists from its cacher; None
        when the cache cannot serve it (then list() reads etcd).

        A selector on the cache's trigger field (a kubelet's ``spec.nodeName=``) is looked
        up in its index; only the objects found are decoded and matched."""
        lsel, fsel = parse_selectors(label_selector, field_selector)
        value = fsel.value_for(rt.watch_trigger) if (fsel and rt.watch_trigger) else None
        found = cache.snapshot(rt.etcd_prefix(namespace), value, not_older_than)
        if found is None:
            return None
        encoded, rev = found
        items = [codec.loads(data) for data in encoded]
        if lsel or fsel:
            items = [o for o in items if matches(o, lsel, fsel)]
        return self._list_of(rt, items, rev)

    def _list_of(self, rt: Kind, items: list, rev: int, extras: dict | None = None) -> dict:
        """The kind's List of these objects, as of revision `rev` (with a page's continue)."""
        return {"kind": rt.kind + "List", "apiVersion": rt.api_version,
                "metadata": {"resourceVersion": str(rev), **(extras or {})},
                "items": [self._typed(rt, o) for o in items]}

    def base(self, rt: Kind, namespace, name, guess: bool, at_rv=None) -> tuple[dict, bool]:
        """The object a write starts from, and whether it was read from etcd just now.

        With `guess`, the watch cache's copy is used when it has one (at exactly `at_rv`,
        when given), as kube-apiserver's GuaranteedUpdate starts from its cached object:
        it saves an etcd read on most writes. The write's resourceVersion check makes a
        stale guess harmless: it conflicts, and the caller tries again from etcd.
        """
        if guess and self.recent is not None:
            cached = self.recent(rt, rt.etcd_key(namespace, name))
            if cached is not None and (at_rv is None or cached["metadata"].get("resourceVersion") == at_rv):
                return self._typed(rt, cached), False      # recent() decoded our own copy
        return self.get(rt, namespace, name), True

    @staticmethod
    def _typed(rt, obj):
        obj.setdefault("apiVersion", rt.api_version)
        obj.setdefault("kind", rt.kind)
        return obj

    # ---------------------------------------------------------------- create
    def create(self, rt: Kind, namespace, body: dict, dry_run=False, writer=None) -> dict:
        obj = self.check_body(rt, namespace, body)
        md = obj["metadata"]
        if not md.get("name"):
            if md.get("generateName"):
                md["name"] = meta.generate_name(md["generateName"])
            else:
                raise errors.invalid(rt, "", [{"type": "FieldValueRequired", "field": "metadata.name",
                                                "message": "Required value: name or generateName is required"}])
        for server_field in ("resourceVersion", "deletionTimestamp", "deletionGracePeriodSeconds"):
            md.pop(server_field, None)
        md["uid"] = meta.new_uid()
        md["creationTimestamp"] = meta.now_rfc3339()
        if rt.counts_generation:
            md["generation"] = 1
        if rt.has_status and not rt.status_on_create:
            obj.pop("status", None)
        apply_defaults(rt, obj)
        self.admission.admit_create(rt, obj)
        if writer is not None:      # server-side apply: a body with managedFields (fieldmanager.py)
            fieldmanager.track_update(rt, {"metadata": {}}, obj, writer)
        self.validate(rt, obj)
        charge = self.admission.validate_create(rt, obj, dry_run)
        if dry_run:
            return obj
        hook = self.hook(rt)
        try:
            taken = hook.take(rt, obj)
        except BaseException:
            charge.release()
            raise
        try:
            created = self.store.create(rt.etcd_key(namespace, md["name"]), obj)
        except BaseException as err:
            hook.release(taken)
            charge.release()
            if isinstance(err, KeyExists):
                raise errors.already_exists(rt, md["name"]) from None
            raise
        hook.after_write(rt, None, created)
        return self._typed(rt, created)

    def check_body(self, rt: Kind, namespace, body, name=None) -> dict:
        """Kind, apiVersion and namespace of the body must agree with the URL."""
        if not isinstance(body, dict):
            raise errors.bad_request("the body of the request must be a JSON object")
        # The body was just decoded for this request: it is ours to change, no deep copy needed.
        obj = dict(body)
        kind, api_version = obj.get("kind"), obj.get("apiVersion")
        if kind and kind != rt.kind:
            raise errors.bad_request(f"the kind in the data ({kind}) does not match the expected kind "
                                     f"({rt.kind}) of the URL")
        if api_version and api_version != rt.api_version:
            raise errors.bad_request(f"the API version in the data ({api_version}) does not match the "
                                     f"expected API version ({rt.api_version})")
        obj["kind"], obj["apiVersion"] = rt.kind, rt.api_version
        md = obj.get("metadata")
        if md is None:
            md = {}
        if not isinstance(md, dict):
            raise errors.bad_request("metadata must be an object")
        md = obj["metadata"] = dict(md)
        problem = meta_type_problem(md)
        if problem:
            raise errors.bad_request(f'{rt.kind} in version "{rt.version}" cannot be handled as a '
                                     f'{rt.kind}: {problem}')
        if rt.namespaced:
            if md.get("namespace") and md["namespace"] != namespace:
                raise errors.bad_request("the namespace of the provided object does not match the "
                                         "namespace sent on the request")
            md["namespace"] = namespace
        else:
            md.pop("namespace", None)
        if name is not None and md.get("name") and md["name"] != name:
            raise errors.bad_request(f"the name of the object ({md['name']}) does not match the name "
                                     f"on the URL ({name})")
        if name is not None:
            md["name"] = name
        return obj

    def validate(self, rt, obj, old=None):
        if rt.decode_check is not None:
            problem = rt.decode_check(obj)
            if problem:
                raise errors.bad_request(f'{rt.kind} in version "{rt.version}" cannot be handled as a '
                                         f'{rt.kind}: {problem}')
        causes = []
        name = obj["metadata"].get("name", "")
        causes += validation.validate_name(name, rt.name_rule)
        causes += validation.validate_labels(obj["metadata"].get("labels"), "metadata.labels")
        causes += validate(rt, obj)
        if old is not None:
            causes += validate_update(rt, old, obj)
        seen, unique = set(), []
        for c in causes:
            k = (c.get("field"), c.get("message"))
            if k not in seen:
                seen.add(k)
                unique.append(c)
        if unique:
            raise errors.invalid(rt, name, unique)

    # ---------------------------------------------------------------- update
    def update(self, rt, namespace, name, body, subresource=None, dry_run=False, writer=None) -> dict:
        new = self.check_body(rt, namespace, body, name=name)
        rv = new["metadata"].get("resourceVersion")
        if rv is not None and not str(rv).isdigit():
            raise errors.bad_request(f"invalid resourceVersion {rv!r}")
        if rv is not None:
            # The cached object at exactly the client's resourceVersion is that object.
            old, fresh = self.base(rt, namespace, name, guess=True, at_rv=str(rv))
            if fresh:
                return self.write(rt, old, new, int(rv), subresource, dry_run, writer=writer)
            try:
                return self.write(rt, old, codec.clone(new), int(rv), subresource, dry_run, fresh, writer)
            except (_StaleGuess, errors.APIError):
                pass    # judged on a cached copy: judge it again on etcd's (a stale version is a 409)
        old = self.get(rt, namespace, name)
        return self.write(rt, old, new, int(rv) if rv else None, subresource, dry_run, writer=writer)

    def patch(self, rt, namespace, name, patch_body, patch_type, subresource=None, dry_run=False,
              writer=None):
        """Apply a merge / strategic-merge / JSON patch to the current object, retrying on conflict.

        The first try may start from the watch cache's copy (see base()); anything that
        copy cannot decide -- a conflict, a failed JSON-patch test, a resourceVersion the
        patch names -- is decided again on etcd's copy.
        """
        for attempt in range(PATCH_RETRIES):
            old, fresh = self.base(rt, namespace, name, guess=attempt == 0 and subresource != "scale")
            asked_rv = None
            try:
                current = codec.clone(old)
                if subresource == "scale":
                    current = scale_of(old)
                new = apply_patch(current, patch_body, patch_type)
                if subresource == "scale":
                    return update_scale(self, rt, namespace, name, new, base=old, writer=writer)
                new = self.check_body(rt, namespace, new, name=name)
                asked_rv = new["metadata"].get("resourceVersion")
                if not fresh and asked_rv and asked_rv != old["metadata"]["resourceVersion"]:
                    continue    # the patch names a resourceVersion: decide it against etcd
                rv = int(asked_rv) if asked_rv and asked_rv != old["metadata"]["resourceVersion"] else \
                    int(old["metadata"]["resourceVersion"])
                return self.write(rt, old, new, rv, subresource, dry_run, fresh, writer)
            except _StaleGuess:
                continue        # the cached copy was behind: try again from etcd
            except errors.APIError as err:
                if not fresh:
                    continue    # judged on a cached copy: judge it again on etcd's
                if err.reason != "Conflict" or (asked_rv and asked_rv != old["metadata"]["resourceVersion"]):
                    raise
                if attempt == PATCH_RETRIES - 1:
                    raise

    def write(self, rt, old, new, expected_rv, subresource, dry_run=False, fresh=True, writer=None):
        """The common end of update and patch: keep what the client may not change, validate, txn.

        `fresh` says `old` was read from etcd; a cached `old` (see base()) cannot prove a
        write is a no-op, so that case raises _StaleGuess and the caller reads etcd.
        `writer` (fieldmanager.Writer) is who writes, for managedFields; None records
        nothing (a server-side apply has set them already).
        """
        md_old, md = old["metadata"], new["metadata"]
        if expected_rv is not None and expected_rv != int(md_old["resourceVersion"]):
            if not fresh:
                raise _StaleGuess()
            # The txn would fail: say so before validating, as Kubernetes checks the version first.
            raise errors.conflict(rt, md_old["name"])
        for immutable in ("uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds",
                          "generation", "namespace", "name"):
            if immutable in md_old:
                md[immutable] = md_old[immutable]
            else:
                md.pop(immutable, None)
        if md.get("generateName") is None and md_old.get("generateName"):
            md["generateName"] = md_old["generateName"]
        if subresource in ("status",):
            # /status writes only status (and nothing of spec).
            kept = {k: v for k, v in old.items() if k not in ("status",)}
            kept["metadata"] = {**md_old}   # metadata too stays as it was
            new = {**kept, "status": new.get("status") or {}}
        elif subresource == "finalize":
            kept = codec.clone(old)
            kept["spec"] = {**old.get("spec", {}), "finalizers": (new.get("spec") or {}).get("finalizers", [])}
            new = kept
        elif rt.has_status:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)
        if rt.counts_generation and _spec_of(new) != _spec_of(old) and subresource is None:
            new["metadata"]["generation"] = int(md_old.get("generation", 1)) + 1
        hook = self.hook(rt)
        if subresource is None:
            hook.prepare_update(rt, old, new)
            apply_defaults(rt, new)
        self.admission.admit_update(rt, old, new, subresource)
        if writer is not None:      # server-side apply: an Update on an object with managedFields
            fieldmanager.track_update(rt, old, new, writer)
        self.validate(rt, new, old)
        if _same(old, new):
            if not fresh:
                raise _StaleGuess()
            if not dry_run:
                return old   # a no-op write changes nothing, not even resourceVersion
        charge = self.admission.validate_update(rt, old, new, dry_run) if subresource is None else NO_CHARGE
        if dry_run:
            return new
        key = rt.etcd_key(md_old.get("namespace"), md_old["name"])
        try:
            taken = hook.take(rt, new, old) if subresource is None else ()
        except BaseException:
            charge.release()
            raise
        try:
            written = self._typed(rt, self.store.update(key, new, expected_rv))
        except BaseException as err:
            hook.release(taken)
            charge.release()
            if isinstance(err, RevisionConflict):
                if not fresh:
                    raise _StaleGuess() from None
                raise errors.conflict(rt, md_old["name"]) from None
            if isinstance(err, KeyNotFound):
                raise errors.not_found(rt, md_old["name"]) from None
            raise
        hook.after_write(rt, old, written)
        if self._finished_deleting(written):
            try:
                self.store.delete(key, int(written["metadata"]["resourceVersion"]))
                hook.after_delete(rt, written)
            except (KeyNotFound, RevisionConflict):
                pass
        return written

    @staticmethod
    def _finished_deleting(obj) -> bool:
        """An object being deleted whose last finalizer is gone (and whose grace ran out) goes."""
        md = obj["metadata"]
        return bool(md.get("deletionTimestamp")) and not md.get("finalizers") \
            and not md.get("deletionGracePeriodSeconds") \
            and not (obj.get("kind") == "Namespace" and (obj.get("spec") or {}).get("finalizers"))

    # ---------------------------------------------------------------- delete
    def delete(self, rt, namespace, name, options: dict | None = None, dry_run=False):
        options = options or {}
        policy = options.get("propagationPolicy")
        if policy is None and options.get("orphanDependents") is not None:
            policy = "Orphan" if options["orphanDependents"] else "Background"
        if policy not in (None, "Orphan", "Foreground", "Background"):
            raise errors.bad_request(f'unsupported propagationPolicy "{policy}"')
        grace = options.get("gracePeriodSeconds")
        for attempt in range(PATCH_RETRIES):
            obj = self.get(rt, namespace, name)
            self.admission.admit_delete(rt, obj)
            md = obj["metadata"]
            pre = options.get("preconditions") or {}
            if pre.get("uid") and pre["uid"] != md.get("uid"):
                raise errors.APIError(409, "Conflict", f'Precondition failed: UID in precondition: '
                                      f'{pre["uid"]}, UID in object meta: {md.get("uid")}')
            if pre.get("resourceVersion") and pre["resourceVersion"] != md.get("resourceVersion"):
                raise errors.conflict(rt, name)
            new = codec.clone(obj)
            nmd = new["metadata"]
            finalizers = list(nmd.get("finalizers") or [])
            if policy == "Orphan" and "orphan" not in finalizers:
                finalizers.append("orphan")
            elif policy == "Foreground" and "foregroundDeletion" not in finalizers:
                finalizers.append("foregroundDeletion")
            elif policy == "Background":
                finalizers = [f for f in finalizers if f not in ("orphan", "foregroundDeletion")]
            finalizers += [f for f in self.hook(rt).deletion_finalizers(rt, obj) if f not in finalizers]
            if finalizers:
                nmd["finalizers"] = finalizers
            else:
                nmd.pop("finalizers", None)
            now = meta.now_rfc3339()
            pending = False
            if rt.kind == "Pod":
                g = self._pod_grace(obj, grace)
                if g > 0:
                    old_grace = md.get("deletionGracePeriodSeconds")
                    if old_grace is None or g < old_grace:
                        nmd["deletionTimestamp"] = _rfc3339_in(g)
                        nmd["deletionGracePeriodSeconds"] = g
                    pending = True
                else:
                    nmd.setdefault("deletionTimestamp", now)
                    nmd["deletionGracePeriodSeconds"] = 0
            if rt.kind == "Namespace" and (new.get("spec") or {}).get("finalizers"):
                nmd.setdefault("deletionTimestamp", now)
                new.setdefault("status", {})["phase"] = "Terminating"
                pending = True
            if finalizers:
                nmd.setdefault("deletionTimestamp", now)
                nmd.setdefault("deletionGracePeriodSeconds", 0)
                pending = True
            if dry_run:
                return new, False
            key = rt.etcd_key(md.get("namespace"), name)
            try:
                if pending:
                    if _same(obj, new):
                        return obj, False
                    return self._typed(rt, self.store.update(key, new, int(md["resourceVersion"]))), False
                deleted = self.store.delete(key, int(md["resourceVersion"]))
                self.hook(rt).after_delete(rt, deleted)
                return self._typed(rt, deleted), True
            except RevisionConflict:
                continue
            except KeyNotFound:
                raise errors.not_found(rt, name) from None
        raise errors.conflict(rt, name)

    @staticmethod
    def _pod_grace(pod, asked) -> int:
        """Pods on a node stop gracefully; unbound or finished pods go at once."""
        if not (pod.get("spec") or {}).get("nodeName"):
            return 0
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed"):
            return 0
        if asked is not None:
            return max(int(asked), 0)
        return int((pod.get("spec") or {}).get("terminationGracePeriodSeconds", 30))

    def delete_collection(self, rt, namespace, label_selector, field_selector, options):
        lst = self.list(rt, namespace, label_selector, field_selector)
        out = []
        for item in lst["items"]:
            try:
                obj, _ = self.delete(rt, item["metadata"].get("namespace"), item["metadata"]["name"], options)
                out.append(obj)
            except errors.APIError as err:
                if err.code != 404:
                    raise
        return {"kind": rt.kind + "List", "apiVersion": rt.api_version,
                "metadata": {"resourceVersion": lst["metadata"]["resourceVersion"]}, "items": out}


# a grace period of more than a century (an int64 can say 292 billion years) ends then:
# datetime stops at the year 9999
LONGEST_GRACE = 100 * 365 * 24 * 3600


def _rfc3339_in(seconds: int) -> str:
    t = dt.datetime.now(dt.timezone.utc) + dt.timedelta(seconds=min(seconds, LONGEST_GRACE))
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


def _same(a: dict, b: dict) -> bool:
    strip = lambda o: {**o, "metadata": {k: v for k, v in o["metadata"].items() if k != "resourceVersion"}}
    return strip(a) == strip(b)


def parse_selectors(label_selector, field_selector):
    try:
        lsel = LabelSelector.parse(label_selector) if label_selector else None
        fsel = FieldSelector.parse(field_selector) if field_selector else None
    except (SelectorError, ValueError) as err:
        raise errors.bad_request(f"unable to parse requirement: {err}") from None
    return lsel, fsel


def matches(obj, lsel, fsel) -> bool:
    if lsel is not None and not lsel.matches(obj.get("metadata", {}).get("labels") or {}):
        return False
    if fsel is not None and not fsel.matches(obj):
        return False
    return True


def apply_patch(current: dict, body, patch_type: str) -> dict:
    try:
        if patch_type == "json":
            if not isinstance(body, list):
                raise errors.bad_request("json patch must be a list of operations")
            return patching.json_patch(current, body)
        if not isinstance(body, dict):
            raise errors.bad_request("patch body must be a JSON object")
        if patch_type == "merge":
            return patching.merge_patch(current, body)
        return patching.strategic_merge_patch(current, body)
    except errors.APIError:
        raise
    except (patching.PatchError, ValueError, TypeError, KeyError) as err:
        raise errors.APIError(422 if patch_type == "json" else 400,
                              "Invalid" if patch_type == "json" else "BadRequest",
                              f"the patch could not be applied: {err}") from None


# ObjectMeta's fields and their JSON types: kube-apiserver's decoder refuses a body whose
# metadata has another type ("cannot unmarshal array into Go struct field ..."), and the
# code that names, labels and owns objects reads them before validation does.
META_STRINGS = ("name", "generateName", "namespace", "uid", "resourceVersion", "creationTimestamp",
                "deletionTimestamp", "selfLink")
META_STRING_MAPS = ("labels", "annotations")
META_LISTS = {"finalizers": (str, "string"), "ownerReferences": (dict, "v1.OwnerReference"),
              "managedFields": (dict, "v1.ManagedFieldsEntry")}
JSON_TYPES = {str: "string", dict: "object", list: "array", bool: "bool", int: "number", float: "number"}


def _json_type(value) -> str:
    return "null" if value is None else JSON_TYPES.get(type(value), type(value).__name__)


def meta_type_problem(md: dict) -> str | None:
    """The decoding error a wrongly typed ObjectMeta field gets, or None."""
    def wrong(value, field, go_type):
        return f"json: cannot unmarshal {_json_type(value)} into Go struct field ObjectMeta.metadata.{field} " \
               f"of type {go_type}"
    for key in META_STRINGS:
        if md.get(key) is not None and not isinstance(md[key], str):
            return wrong(md[key], key, "string")
    for key in META_STRING_MAPS:
        value = md.get(key)
        if value is None:
            continue
        if not isinstance(value, dict):
            return wrong(value, key, "map[string]string")
        for v in value.values():
            if not isinstance(v, str):
                return wrong(v, key, "string")
    for key, (item_type, go_type) in META_LISTS.items():
        value = md.get(key)
        if value is None:
            continue
        if not isinstance(value, list):
            return wrong(value, key, "[]" + go_type)
        for v in value:
            if not isinstance(v, item_type):
                return wrong(v, key, go_type)
    if md.get("generation") is not None and (not isinstance(md["generation"], int) or
                                             isinstance(md["generation"], bool)):
        return wrong(md["generation"], "generation", "int64")
    return None
