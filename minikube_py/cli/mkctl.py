"""mkctl: minikube-py's kubectl.

Everything kubectl does is an ordinary REST call, and mkctl shows which ones:

* **Names -> paths by discovery.**  ``mkctl get deploy`` first asks the server
  what it serves (``/api/v1``, ``/apis``, ``/apis/{group}/{version}``) and finds
  the resource whose plural, singular, kind or short name is ``deploy``.  Nothing
  here lists the kinds, so a kind added to the apiserver works at once.
* **Tables come from the server.**  ``get`` asks for a ``meta.k8s.io/v1`` Table
  and only lays the columns out (printers.py).
* **apply is client-side**: GET, then POST (remembering the manifest in the
  ``last-applied-configuration`` annotation) or PATCH with the difference
  between the last manifest, the new one and what is live.
* **describe** is a handful of GETs and LISTs (the object, its events, its pods)
  printed as text (describe.py).

Errors are printed the way kubectl prints them, one line on stderr, exit code 1.
"""
from __future__ import annotations

import copy
import json
import os
import sys
import time
from typing import Iterator, Optional
from urllib.parse import urlsplit

import click
import requests
import yaml

from ..api.patch import MERGE_KEYS
from ..client import errors
from ..client.kubeconfig import load_config
from ..api.kinds import Kind
from ..client.rest import Client, Watch
from . import printers
from .printers import LAST_APPLIED

TABLE_ACCEPT = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"

# Kinds kubectl knows the Go types of, so apply sends a strategic merge patch;
# for any other group (custom resources) it sends a JSON merge patch.
BUILTIN_GROUPS = {"", "apps", "batch", "autoscaling", "policy", "coordination.k8s.io",
                  "networking.k8s.io", "rbac.authorization.k8s.io", "storage.k8s.io",
                  "scheduling.k8s.io", "events.k8s.io", "discovery.k8s.io", "node.k8s.io"}


class CLIError(Exception):
    """A mistake on the command line or in a file: printed as ``error: ...``."""


# ====================================================================== discovery
# Resources are the kinds' `Kind` declarations, as the client's RESTMapper reads them from
# discovery (client/discovery.py).


class Cluster:
    """One mkctl run's view of the cluster: a client, the namespace, discovery."""

    def __init__(self, kubeconfig: Optional[str], context: Optional[str], namespace: Optional[str]):
        config = load_config(kubeconfig, context)
        self.client = Client(config=config, user_agent="mkctl")
        self.explicit_namespace = namespace          # -n, when given
        self.namespace = namespace or config.namespace or "default"
        self._resources: Optional[list[Kind]] = None

    # ---------------------------------------------------------------- requests
    def request(self, method: str, path: str, params: Optional[dict] = None,
                headers: Optional[dict] = None, stream: bool = False) -> requests.Response:
        """``Client.request``; streams (``-w``, ``logs -f``) have no read timeout."""
        return self.client.request(method, path, params=params, headers=headers, stream=stream,
                                   timeout=(10.0, None) if stream else None)

    def get_json(self, path: str) -> dict:
        return self.request("GET", path).json()

    # ---------------------------------------------------------------- discovery
    def resources(self) -> list[Kind]:
        """Every resource the server serves (read from discovery once per mkctl run)."""
        if self._resources is None:
            self._resources = self.client.mapper.discover()
        return self._resources

    def resolve(self, name: str) -> list[Kind]:
        """``deploy``, ``deployments.apps``, ``Pod``, ``all`` -> the resources meant."""
        wanted = name.lower()
        if wanted == "all" or any(wanted in r.categories for r in self.resources()):
            matches = [r for r in self.resources() if wanted in r.categories]
            if matches:
                return matches
        for r in self.resources():
            if wanted in r.names():
                return [r]
        # plural.group, or plural.version.group
        head, _, group = wanted.partition(".")
        for r in self.resources():
            if head in r.names() and group in (r.group, f"{r.version}.{r.group}"):
                return [r]
        raise CLIError(f'the server doesn\'t have a resource type "{name}"')

    def resolve_one(self, name: str) -> Kind:
        found = self.resolve(name)
        if len(found) != 1:
            raise CLIError(f'"{name}" names several resource types; name one of them')
        return found[0]

    def for_kind(self, api_version: str, kind: str) -> Kind:
        """The resource serving objects of ``kind`` in ``api_version`` (for manifests)."""
        found = self.client.mapper.kind_for(api_version or "", kind)
        if found is not None and found.api_version == api_version:
            return found
        raise CLIError(f'no matches for kind "{kind}" in version "{api_version}"\n'
                       "ensure CRDs are installed first")

    # ---------------------------------------------------------------- helpers
    def ns_for(self, res: Kind, all_namespaces: bool = False) -> Optional[str]:
        """The namespace a request goes to: None for cluster-scoped kinds and -A."""
        if not res.namespaced or all_namespaces:
            return None
        return self.namespace

    def path(self, res: Kind, namespace: Optional[str], name: Optional[str] = None,
             subresource: Optional[str] = None) -> str:
        return res.path(namespace if res.namespaced else None, name, subresource)

    def get_table(self, res: Kind, namespace: Optional[str], name: Optional[str] = None,
                  params: Optional[dict] = None) -> dict:
        """GET an object or a collection as a server-side Table."""
        body = self.request("GET", self.path(res, namespace, name), params,
                            headers={"Accept": TABLE_ACCEPT}).json()
        if body.get("kind") == "Table":
            return body
        return printers.fallback_table(body["items"] if "items" in body else [body])

    def list(self, res: Kind, namespace: Optional[str], label_selector: Optional[str] = None,
             field_selector: Optional[str] = None) -> list[dict]:
        """LIST objects; items get apiVersion and kind filled in, as kubectl shows them."""
        lst = self.client.list(res, namespace, label_selector, field_selector)
        return [typed(res, item) for item in lst.get("items") or []]

    def list_of(self, resource: str, namespace: Optional[str], **selectors) -> list[dict]:
        """LIST by resource name, [] if the server has no such resource (for describe)."""
        try:
            res = self.resolve_one(resource)
        except CLIError:
            return []
        return self.list(res, namespace if res.namespaced else None, **selectors)

    def get(self, res: Kind, name: str, namespace: Optional[str]) -> dict:
        return typed(res, self.client.get(res, name, namespace))


def typed(res: Kind, obj: dict) -> dict:
    obj.setdefault("apiVersion", res.api_version)
    obj.setdefault("kind", res.kind)
    return obj


# ====================================================================== errors
def error_line(err: errors.ApiError, context: str = "") -> str:
    """kubectl's wording: ``Error from server (NotFound): pods "x" not found``."""
    if err.reason == "Invalid" and err.details.get("causes"):
        d = err.details
        causes = [f"{c['field']}: {c.get('message', '')}" if c.get("field") else c.get("message", "")
                  for c in d["causes"]]
        head = f'The {d.get("kind", "object")} "{d.get("name", "")}" is invalid: '
        return head + (causes[0] if len(causes) == 1 else "\n" + "\n".join(f"* {c}" for c in causes))
    reason = f" ({err.reason})" if err.reason and err.reason != "Unknown" else ""
    return f"Error from server{reason}: {context}{err.message}"


def connection_error_line(cluster_server: str, exc: Exception) -> str:
    host = urlsplit(cluster_server).netloc or cluster_server
    if "refused" in str(exc).lower():
        return f"The connection to the server {host} was refused - did you specify the right host or port?"
    return f"Unable to connect to the server: {exc}"


def warn(text: str) -> None:
    click.echo(text, err=True)


class MkctlGroup(click.Group):
    """Turns what can go wrong into kubectl's one-line errors and exit code 1."""

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except errors.ApiError as err:
            warn(error_line(err))
        except requests.ConnectionError as exc:
            server = ctx.meta.get("mkctl.cluster").client.server if ctx.meta.get("mkctl.cluster") else ""
            warn(connection_error_line(server, exc))
        except requests.RequestException as exc:
            warn(f"Unable to connect to the server: {exc}")
        except OSError as exc:
            warn(f"error: {exc.filename}: {exc.strerror.lower()}" if exc.filename else f"error: {exc}")
        except (CLIError, yaml.YAMLError) as exc:
            warn(f"error: {exc}")
        except KeyboardInterrupt:
            ctx.exit(130)
        ctx.exit(1)


# ====================================================================== options
def _remember(ctx, param, value):
    """Global options may come before or after the command: keep the one given."""
    if value is not None and value is not False:
        ctx.meta[f"mkctl.{param.name}"] = value
    return value


def global_options(f):
    """--kubeconfig, --context, -n: accepted by every command, as in kubectl."""
    for opt in (click.option("--kubeconfig", callback=_remember, expose_value=False,
                             help="Path to the kubeconfig file (else $KUBECONFIG, ~/.minikube-py/kubeconfig)."),
                click.option("--context", callback=_remember, expose_value=False,
                             help="The kubeconfig context to use."),
                click.option("-n", "--namespace", callback=_remember, expose_value=False,
                             help="The namespace of the request.")):
        f = opt(f)
    return f


def cluster() -> Cluster:
    """The Cluster for this run, built on first use from the global options."""
    meta = click.get_current_context().meta
    if "mkctl.cluster" not in meta:
        meta["mkctl.cluster"] = Cluster(meta.get("mkctl.kubeconfig"), meta.get("mkctl.context"),
                                        meta.get("mkctl.namespace"))
    return meta["mkctl.cluster"]


@click.group(cls=MkctlGroup, context_settings={"help_option_names": ["-h", "--help"]})
@global_options
def main():
    """mkctl controls a minikube-py cluster, the way kubectl controls Kubernetes."""


# ====================================================================== arguments
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


def join_selectors(*parts: Optional[str]) -> Optional[str]:
    return ",".join(p for p in parts if p) or None


# ====================================================================== get
@main.command()
@click.argument("args", nargs=-1)
@click.option("-o", "--output", type=click.Choice(["wide", "yaml", "json", "name"]))
@click.option("-l", "--selector", help="Label selector, e.g. app=web,tier!=db.")
@click.option("--field-selector", help="Field selector, e.g. status.phase=Running.")
@click.option("-w", "--watch", is_flag=True, help="After listing, watch for changes.")
@click.option("--show-labels", is_flag=True, help="Add a LABELS column.")
@click.option("-A", "--all-namespaces", is_flag=True)
@global_options
def get(args, output, selector, field_selector, watch, show_labels, all_namespaces):
    """Display one or many resources (a server-side Table, printed like kubectl)."""
    c = cluster()
    targets = parse_targets(c, args)
    if any(names for _, names in targets) and (selector or field_selector):
        raise CLIError("name cannot be provided when a selector is specified")
    if watch:
        return watch_one(c, targets, output, selector, field_selector, show_labels, all_namespaces)
    failed, objects, printed = False, [], False
    several = len(targets) > 1
    for res, names in targets:
        ns = c.ns_for(res, all_namespaces)
        params = {"labelSelector": selector, "fieldSelector": field_selector}
        if output in ("yaml", "json", "name"):
            if names:
                for name in names:
                    try:
                        objects.append(c.get(res, name, ns))
                    except errors.NotFound as err:
                        warn(error_line(err))
                        failed = True
            else:
                objects += c.list(res, ns, selector, field_selector)
            continue
        tables = []
        for name in names or [None]:
            try:
                tables.append(c.get_table(res, ns, name, None if name else params))
            except errors.NotFound as err:
                warn(error_line(err))
                failed = True
        if not tables or not any(t.get("rows") for t in tables):
            continue
        table = dict(tables[0], rows=[row for t in tables for row in t.get("rows") or []])
        headers, rows = printers.table_lines(table, wide=output == "wide", show_labels=show_labels,
                                             with_namespace=all_namespaces and res.namespaced,
                                             name_prefix=res.qualified_singular + "/" if several else "")
        if printed:
            click.echo("")
        printers.TablePrinter(click.echo).print([headers] + rows)
        printed = True
    if output == "name":
        for obj in objects:
            click.echo(object_name(c, obj))
    elif output in ("yaml", "json"):
        single = len(objects) == 1 and len(targets) == 1 and len(targets[0][1]) == 1
        doc = objects[0] if single else printers.as_list(objects)
        click.echo(printers.to_yaml(doc) if output == "yaml" else printers.to_json(doc),
                   nl=output == "json")
        printed = True  # even an empty List
    if not printed and not objects and not failed:
        say_nothing_found(c, [res for res, _ in targets], all_namespaces)
    if failed:
        sys.exit(1)


def say_nothing_found(c: Cluster, resources: list[Kind], all_namespaces: bool) -> None:
    if not all_namespaces and all(r.namespaced for r in resources):
        warn(f"No resources found in {c.namespace} namespace.")
    else:
        warn("No resources found")


def object_name(c: Cluster, obj: dict) -> str:
    """``deployment.apps/nginx`` (what ``-o name`` prints)."""
    group = (obj.get("apiVersion") or "").rpartition("/")[0]
    kind = (obj.get("kind") or "").lower()
    return f"{kind}{'.' + group if group else ''}/{obj['metadata']['name']}"


def watch_one(c: Cluster, targets, output, selector, field_selector, show_labels, all_namespaces):
    """``get -w``: print the list, then one row per watch event, until interrupted.

    The watch starts at the list's resourceVersion, so no change in between is
    missed and none is shown twice.
    """
    if len(targets) != 1 or len(targets[0][1]) > 1:
        raise CLIError("watch is only supported on individual resources and resource collections")
    res, names = targets[0]
    ns = c.ns_for(res, all_namespaces)
    fsel = join_selectors(field_selector, f"metadata.name={names[0]}" if names else None)
    params = {"labelSelector": selector, "fieldSelector": fsel}
    as_table = output not in ("yaml", "json", "name")
    table = c.get_table(res, ns, None, params) if as_table else \
        c.client.list(res, ns, selector, fsel)
    printer = printers.TablePrinter(lambda line: (click.echo(line), sys.stdout.flush()))
    opts = dict(wide=output == "wide", show_labels=show_labels,
                with_namespace=all_namespaces and res.namespaced)
    header_done = False

    def show(items_or_table):
        nonlocal header_done
        if as_table:
            headers, rows = printers.table_lines(items_or_table, **opts)
            if rows:
                printer.print(rows if header_done else [headers] + rows)
                header_done = True
            return
        for obj in items_or_table:
            obj = typed(res, obj)
            if output == "name":
                click.echo(object_name(c, obj))
            elif output == "json":
                click.echo(printers.to_json(obj))
            else:
                click.echo("---\n" + printers.to_yaml(obj), nl=False)
        sys.stdout.flush()

    show(table if as_table else table.get("items") or [])
    rv = (table.get("metadata") or {}).get("resourceVersion")
    params.update({"watch": "1", "resourceVersion": rv, "allowWatchBookmarks": "true"})
    resp = c.request("GET", c.path(res, ns), params, stream=True,
                     headers={"Accept": TABLE_ACCEPT if as_table else "application/json"})
    with Watch(resp) as events:
        for etype, obj in events:
            if etype == "BOOKMARK":
                continue
            show(obj if as_table else [obj])


# ====================================================================== describe
@main.command()
@click.argument("args", nargs=-1, required=True)
@click.option("-l", "--selector")
@click.option("-A", "--all-namespaces", is_flag=True)
@global_options
def describe(args, selector, all_namespaces):
    """Show details of objects, with related objects and their events."""
    from .describe import describe_object
    c = cluster()
    failed, separator = False, ""
    for res, names in parse_targets(c, args):
        ns = c.ns_for(res, all_namespaces)
        if names:
            objs = []
            for name in names:
                try:
                    objs.append(c.get(res, name, ns))
                except errors.NotFound as err:
                    warn(error_line(err))
                    failed = True
        else:
            objs = c.list(res, ns, selector)
            if not objs and not failed:
                say_nothing_found(c, [res], all_namespaces)
        for obj in objs:
            click.echo(separator + describe_object(c, res, obj), nl=False)
            separator = "\n\n"
    if failed:
        sys.exit(1)


# ====================================================================== manifests
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


def with_last_applied(obj: dict) -> dict:
    """The object to send, carrying its own manifest in the last-applied annotation.

    kubectl stores the manifest as compact JSON with sorted keys (and an
    ``annotations: {}`` left where the annotation itself was taken out).
    """
    obj = copy.deepcopy(obj)
    annotations = obj["metadata"].setdefault("annotations", {}) or {}
    annotations.pop(LAST_APPLIED, None)
    obj["metadata"]["annotations"] = annotations
    recorded = json.dumps(obj, sort_keys=True, separators=(",", ":")) + "\n"
    annotations = dict(annotations)
    annotations[LAST_APPLIED] = recorded
    obj["metadata"]["annotations"] = annotations
    return obj


# ---------------------------------------------------------------- three-way merge
_MISSING = object()


def _merge_key(field: str, *lists) -> Optional[str]:
    """The key list ``field`` is merged by in a strategic merge patch (None: replaced)."""
    key = MERGE_KEYS.get(field, _MISSING)
    if key is _MISSING:
        return None
    if key is None:  # ports: containerPort in containers, port in Services
        items = [i for lst in lists for i in lst if isinstance(i, dict)]
        key = "containerPort" if any("containerPort" in i for i in items) else "port"
    return key


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
    and ``$setElementOrder`` to keep the manifest's order.
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


# ---------------------------------------------------------------- apply / create
@main.command()
@click.option("-f", "--filename", multiple=True, help="File, directory or - (stdin).")
@click.option("-R", "--recursive", is_flag=True)
@global_options
def apply(filename, recursive):
    """Make the cluster match the manifests: create what is missing, patch what changed."""
    c = cluster()
    failed = False
    for source, manifest in read_manifests(filename, recursive):
        try:
            res, ns, name = place(c, source, manifest)
            modified = with_last_applied(manifest)
            try:
                current = c.get(res, name, ns)
            except errors.NotFound:
                c.client.create(res, modified, ns)
                click.echo(f"{res.qualified_singular}/{name} created")
                continue
            recorded = ((current.get("metadata") or {}).get("annotations") or {}).get(LAST_APPLIED)
            if recorded is None:
                warn(f"Warning: resource {res.plural}/{name} is missing the {LAST_APPLIED} annotation "
                     "which is required by mkctl apply. It will be patched automatically.")
            original = json.loads(recorded) if recorded else {}
            strategic = res.group in BUILTIN_GROUPS
            patch = three_way_patch(original, modified, current, strategic)
            patch.pop("status", None)
            if not patch:
                click.echo(f"{res.qualified_singular}/{name} unchanged")
                continue
            c.client.patch(res, name, patch, ns, "strategic" if strategic else "merge")
            click.echo(f"{res.qualified_singular}/{name} configured")
        except errors.ApiError as err:
            warn(error_line(err, f'error when applying "{source}": '))
            failed = True
        except CLIError as err:
            warn(f"error: {err}")
            failed = True
    if failed:
        sys.exit(1)


@main.command()
@click.option("-f", "--filename", multiple=True, help="File, directory or - (stdin).")
@click.option("-R", "--recursive", is_flag=True)
@global_options
def create(filename, recursive):
    """Create the objects in the manifests (an existing one is an error)."""
    c = cluster()
    failed = False
    for source, manifest in read_manifests(filename, recursive):
        try:
            res, ns, _ = place(c, source, manifest, "create")
            created = c.client.create(res, manifest, ns)
            click.echo(f"{res.qualified_singular}/{created['metadata']['name']} created")
        except errors.ApiError as err:
            warn(error_line(err, f'error when creating "{source}": '))
            failed = True
        except CLIError as err:
            warn(f"error: {err}")
            failed = True
    if failed:
        sys.exit(1)


# ====================================================================== delete
@main.command()
@click.argument("args", nargs=-1)
@click.option("-f", "--filename", multiple=True)
@click.option("-R", "--recursive", is_flag=True)
@click.option("-l", "--selector")
@click.option("--field-selector")
@click.option("--all", "all_", is_flag=True, help="Delete every object of the type(s).")
@click.option("-A", "--all-namespaces", is_flag=True)
@click.option("--cascade", default="background", show_default=True,
              type=click.Choice(["background", "foreground", "orphan", "true", "false"]),
              help="What the garbage collector does with dependents (ownerReferences).")
@click.option("--grace-period", type=int, default=-1, help="Seconds a pod has to stop (-1: its own).")
@click.option("--now", is_flag=True, help="--grace-period=1: stop at once.")
@click.option("--force", is_flag=True, help="--grace-period=0: remove without waiting for the kubelet.")
@click.option("--wait/--no-wait", default=False, help="Wait until the objects are really gone.")
@click.option("--timeout", type=float, default=60.0, show_default=True, help="Seconds to --wait.")
@click.option("--ignore-not-found", is_flag=True)
@global_options
def delete(args, filename, recursive, selector, field_selector, all_, all_namespaces, cascade,
           grace_period, now, force, wait, timeout, ignore_not_found):
    """Delete objects by file, by type and name, or by type and label selector."""
    c = cluster()
    victims: list[tuple[Kind, Optional[str], str]] = []
    if filename:
        victims = [place(c, source, obj, "delete") for source, obj in read_manifests(filename, recursive)]
    for res, names in parse_targets(c, args) if args else []:
        ns = c.ns_for(res, all_namespaces)
        if names:
            victims += [(res, ns, name) for name in names]
        elif selector or field_selector or all_:
            victims += [(res, o["metadata"].get("namespace"), o["metadata"]["name"])
                        for o in c.list(res, ns, selector, field_selector)]
        else:
            raise CLIError("resource(s) were provided, but no name was specified")
    if not victims and not args and not filename:
        raise CLIError("You must provide one or more resources by argument or filename.")
    if not victims:
        say_nothing_found(c, [r for r, _ in parse_targets(c, args)] if args else [], all_namespaces)
        return
    policy = {"true": "Background", "false": "Orphan"}.get(cascade, cascade.capitalize())
    grace = 0 if force else 1 if now else (grace_period if grace_period >= 0 else None)
    if force:
        warn("Warning: Immediate deletion does not wait for confirmation that the running resource "
             "has been terminated. The resource may continue to run on the cluster indefinitely.")
    failed, deleted = False, []
    for res, ns, name in victims:
        try:
            obj = c.client.get(res, name, ns)
            c.client.delete(res, name, ns, propagation_policy=policy, grace_period_seconds=grace)
            click.echo(f'{res.qualified_singular} "{name}" {"force deleted" if force else "deleted"}')
            deleted.append((res, ns, name, obj["metadata"].get("uid")))
        except errors.NotFound as err:
            if not ignore_not_found:
                warn(error_line(err))
                failed = True
        except errors.ApiError as err:
            warn(error_line(err))
            failed = True
    if wait:
        failed |= not wait_until_gone(c, deleted, timeout)
    if failed:
        sys.exit(1)


def wait_until_gone(c: Cluster, objects, timeout: float) -> bool:
    """Poll until each object is gone (or replaced by a new one with another uid).

    Deleting only *starts* the end of an object: a pod waits for its kubelet,
    an object with finalizers for the controllers that own them.
    """
    deadline = time.monotonic() + timeout
    for res, ns, name, uid in objects:
        while True:
            try:
                if c.client.get(res, name, ns)["metadata"].get("uid") != uid:
                    break
            except errors.NotFound:
                break
            if time.monotonic() > deadline:
                warn(f"error: timed out waiting for the condition on {res.plural}/{name}")
                return False
            time.sleep(0.5)
    return True


# ====================================================================== scale
def one_object(c: Cluster, args: tuple) -> tuple[Kind, str]:
    """``TYPE NAME`` or ``TYPE/NAME`` -> (resource, name)."""
    if len(args) == 1 and "/" in args[0]:
        kind, _, name = args[0].partition("/")
    elif len(args) == 2:
        kind, name = args
    else:
        raise CLIError("expected TYPE NAME or TYPE/NAME")
    return c.resolve_one(kind), name


@main.command()
@click.argument("args", nargs=-1, required=True)
@click.option("--replicas", type=int, required=True, help="The new number of replicas.")
@global_options
def scale(args, replicas):
    """Set the replicas of a Deployment or ReplicaSet (PATCH its /scale subresource)."""
    c = cluster()
    res, name = one_object(c, args)
    if "scale" not in res.subresources:
        raise CLIError(f'cannot scale {res.plural}: the server has no "{res.plural}/scale" subresource')
    c.client.patch(res, name, {"spec": {"replicas": replicas}}, c.ns_for(res), "merge",
                   subresource="scale")
    click.echo(f"{res.qualified_singular}/{name} scaled")


# ====================================================================== label / annotate
def _change_metadata(field: str, verb: str, args: tuple, overwrite: bool, selector: Optional[str],
                     all_: bool) -> None:
    """label and annotate: ``TYPE NAME... k=v k2-`` -> one merge patch per object."""
    c = cluster()
    split = next((i for i, a in enumerate(args) if "=" in a or a.endswith("-")), len(args))
    targets, changes = args[:split], args[split:]
    if not changes:
        raise CLIError(f"at least one {verb.rstrip('e')} update is required")
    if not targets:
        raise CLIError("one or more resources must be specified as <resource> <name> or <resource>/<name>")
    sets, removes = {}, []
    for change in changes:
        if change.endswith("-") and "=" not in change:
            removes.append(change[:-1])
        elif "=" in change:
            k, _, v = change.partition("=")
            sets[k] = v
        else:
            raise CLIError(f"invalid {verb} format: {change}")
    failed = False
    for res, names in parse_targets(c, targets):
        ns = c.ns_for(res)
        if names:
            objs = [c.get(res, name, ns) for name in names]
        elif selector or all_:
            objs = c.list(res, ns, selector)
        else:
            raise CLIError("resource(s) were provided, but no name was specified")
        for obj in objs:
            name = obj["metadata"]["name"]
            have = obj["metadata"].get(field) or {}
            patch: dict = {}
            for k, v in sets.items():
                if k in have and have[k] != v and not overwrite:
                    why = f"'{k}' already has a value ({have[k]})"
                    warn(f"error: {why}, and --overwrite is false" if field == "labels" else
                         f"error: --overwrite is false but found the following declared annotation(s): {why}")
                    failed = True
                    break
                if have.get(k) != v:
                    patch[k] = v
            else:
                for k in removes:
                    if k in have:
                        patch[k] = None
                    else:
                        warn(f'{field[:-1]} "{k}" not found.')
                if patch:
                    c.client.patch(res, name, {"metadata": {field: patch}},
                                   obj["metadata"].get("namespace"), "merge")
                if field == "labels":
                    outcome = "not labeled" if not patch else \
                        "unlabeled" if all(v is None for v in patch.values()) else "labeled"
                else:
                    outcome = "annotated"
                click.echo(f"{res.qualified_singular}/{name} {outcome}")
    if failed:
        sys.exit(1)


@main.command()
@click.argument("args", nargs=-1, required=True)
@click.option("--overwrite", is_flag=True, help="Replace a label that has another value.")
@click.option("-l", "--selector")
@click.option("--all", "all_", is_flag=True)
@global_options
def label(args, overwrite, selector, all_):
    """Add (k=v) or remove (k-) labels (a JSON merge patch of metadata.labels)."""
    _change_metadata("labels", "label", args, overwrite, selector, all_)


@main.command()
@click.argument("args", nargs=-1, required=True)
@click.option("--overwrite", is_flag=True, help="Replace an annotation that has another value.")
@click.option("-l", "--selector")
@click.option("--all", "all_", is_flag=True)
@global_options
def annotate(args, overwrite, selector, all_):
    """Add (k=v) or remove (k-) annotations (a JSON merge patch of metadata.annotations)."""
    _change_metadata("annotations", "annotate", args, overwrite, selector, all_)


# ====================================================================== cordon / uncordon / drain
def bare_name(arg: str, *types: str) -> str:
    """``node/x``, ``nodes/x`` or ``x`` -> ``x`` (the TYPE/ prefixes kubectl accepts)."""
    kind, slash, name = arg.partition("/")
    return name if slash and kind in types else arg


def _set_unschedulable(c: Cluster, node: str, value: bool) -> str:
    """PATCH spec.unschedulable, as kubectl cordon does; returns what to print."""
    res = c.resolve_one("nodes")
    verb = "cordoned" if value else "uncordoned"
    if bool((c.get(res, node, None).get("spec") or {}).get("unschedulable")) == value:
        return f"node/{node} already {verb}"
    c.client.patch(res, node, {"spec": {"unschedulable": value or None}})
    return f"node/{node} {verb}"


@main.command()
@click.argument("node")
@global_options
def cordon(node):
    """Mark a node unschedulable: running pods stay, new ones go elsewhere."""
    click.echo(_set_unschedulable(cluster(), bare_name(node, "node", "nodes", "no"), True))


@main.command()
@click.argument("node")
@global_options
def uncordon(node):
    """Mark a node schedulable again."""
    click.echo(_set_unschedulable(cluster(), bare_name(node, "node", "nodes", "no"), False))


def _drain_refusal(pod: dict, force: bool, delete_emptydir_data: bool) -> Optional[str]:
    """Why drain must not evict this pod without a flag (kubectl's checks), or None."""
    owners = [o for o in pod["metadata"].get("ownerReferences") or [] if o.get("controller")]
    if not owners and not force:
        return "cannot delete Pods that declare no controller (use --force to override)"
    if any("emptyDir" in v for v in (pod["spec"].get("volumes") or [])) and not delete_emptydir_data:
        return "cannot delete Pods with local storage (use --delete-emptydir-data to override)"
    return None


@main.command()
@click.argument("node")
@click.option("--force", is_flag=True, help="Also evict pods no controller will re-create.")
@click.option("--ignore-daemonsets", is_flag=True, help="Accepted, as kubectl (there are no DaemonSets here).")
@click.option("--delete-emptydir-data", is_flag=True, help="Also evict pods with emptyDir volumes.")
@click.option("--grace-period", type=int, default=-1, help="Seconds each pod has to stop (-1: its own).")
@click.option("--timeout", type=float, default=0, help="Seconds to wait for the pods to go (0: forever).")
@global_options
def drain(node, force, ignore_daemonsets, delete_emptydir_data, grace_period, timeout):
    """Cordon a node, then evict its pods (POST pods/NAME/eviction) and wait until they are gone.

    Their controllers re-create them on other nodes. A pod no controller owns is
    only evicted with --force: nothing would bring it back.
    """
    c = cluster()
    name = bare_name(node, "node", "nodes", "no")
    click.echo(_set_unschedulable(c, name, True))
    pods_res = c.resolve_one("pods")
    pods = [p for p in c.client.list(pods_res, None, field_selector=f"spec.nodeName={name}")["items"]
            if (p.get("status") or {}).get("phase") not in ("Succeeded", "Failed")]
    refusals = [(p, why) for p in pods if (why := _drain_refusal(p, force, delete_emptydir_data))]
    if refusals:
        for p, why in refusals:
            warn(f"error: {why}: {p['metadata']['namespace']}/{p['metadata']['name']}")
        raise CLIError(f"unable to drain node {name!r}, aborting command...")
    options = {} if grace_period < 0 else {"gracePeriodSeconds": grace_period}
    gone = []
    for p in pods:
        md = p["metadata"]
        click.echo(f"evicting pod {md['namespace']}/{md['name']}")
        eviction = {"apiVersion": "policy/v1", "kind": "Eviction",
                    "metadata": {"name": md["name"], "namespace": md["namespace"]},
                    "deleteOptions": options}
        try:
            c.client.request("POST", pods_res.path(md["namespace"], md["name"], "eviction"),
                             body=eviction)
        except errors.NotFound:
            pass                     # already gone
        gone.append((pods_res, md["namespace"], md["name"], md["uid"]))
    if not wait_until_gone(c, gone, timeout if timeout > 0 else float("inf")):
        raise CLIError(f"unable to drain node {name!r}: pods still running after {timeout:g}s")
    for _, ns, pod, _ in gone:
        click.echo(f"pod/{pod} evicted")
    click.echo(f"node/{name} drained")


# ====================================================================== logs
@main.command()
@click.argument("pod")
@click.option("-c", "--container")
@click.option("-f", "--follow", is_flag=True)
@click.option("--tail", type=int, default=-1, help="Lines of the end to show (-1: all).")
@click.option("-p", "--previous", is_flag=True, help="The previous, terminated container.")
@click.option("--timestamps", is_flag=True)
@global_options
def logs(pod, container, follow, tail, previous, timestamps):
    """Print a container's output (GET pods/NAME/log, which the kubelet serves)."""
    c = cluster()
    res = c.resolve_one("pods")
    name = bare_name(pod, "pod", "pods", "po")
    ns = c.ns_for(res)
    if not container:
        spec = (c.get(res, name, ns).get("spec") or {})
        names = [x["name"] for x in spec.get("containers") or []]
        if len(names) > 1:
            container = names[0]
            warn(f'Defaulted container "{container}" out of: {", ".join(names)}')
    params = {"container": container, "follow": "true" if follow else None,
              "tailLines": tail if tail >= 0 else None, "previous": "true" if previous else None,
              "timestamps": "true" if timestamps else None}
    resp = c.client.get_raw(c.path(res, ns, name, "log"), params, stream=True)
    with resp:
        for chunk in resp.iter_content(chunk_size=None):
            sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()


# ====================================================================== version / api-resources
@main.command()
@click.option("--client", "client_only", is_flag=True, help="Only the client version.")
@click.option("-o", "--output", type=click.Choice(["yaml", "json"]))
@global_options
def version(client_only, output):
    """Print the client and server versions (the server's comes from GET /version)."""
    try:
        from importlib.metadata import version as pkg_version
        mine = pkg_version("minikube-py")
    except Exception:
        mine = "unknown"
    info: dict = {"clientVersion": {"gitVersion": f"v{mine}", "program": "mkctl"}}
    if not client_only:
        info["serverVersion"] = cluster().get_json("/version")
    if output:
        click.echo(printers.to_yaml(info) if output == "yaml" else printers.to_json(info),
                   nl=output == "json")
        return
    click.echo(f"Client Version: v{mine}")
    if not client_only:
        click.echo(f"Server Version: {info['serverVersion'].get('gitVersion')}")


@main.command("api-resources")
@click.option("-o", "--output", type=click.Choice(["wide", "name"]))
@click.option("--namespaced", type=bool, default=None, help="Only namespaced (true) or cluster (false) kinds.")
@click.option("--api-group", default=None, help="Only this group ('' is the core group).")
@global_options
def api_resources(output, namespaced, api_group):
    """List the resource types the server serves (from discovery)."""
    found = sorted((r for r in cluster().resources()
                    if (namespaced is None or r.namespaced == namespaced)
                    and (api_group is None or r.group == api_group)),
                   key=lambda r: (r.group, r.plural))   # kubectl's order: by group, then name
    if output == "name":
        for r in found:
            click.echo(r.plural + (f".{r.group}" if r.group else ""))
        return
    rows = [["NAME", "SHORTNAMES", "APIVERSION", "NAMESPACED", "KIND"]
            + (["VERBS", "CATEGORIES"] if output == "wide" else [])]
    for r in found:
        rows.append([r.plural, ",".join(r.short_names), r.api_version, str(r.namespaced).lower(), r.kind]
                    + ([",".join(r.verbs), ",".join(r.categories)] if output == "wide" else []))
    printers.TablePrinter(click.echo).print(rows)


if __name__ == "__main__":
    main()
