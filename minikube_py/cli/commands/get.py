"""``get``, ``get -w`` and ``describe``: reading objects.

Tables come from the server: ``get`` asks for a ``meta.k8s.io/v1`` Table and only
lays the columns out (printers.py).  ``describe`` is a handful of GETs and LISTs
(the object, its events, its pods) printed as text (describe.py).
"""
from __future__ import annotations

import sys

import click

from ...client import errors
from ...client.rest import Watch
from .. import printers
from ..arguments import join_selectors, parse_targets
from ..cluster import TABLE_ACCEPT, Cluster, typed
from ..errors import CLIError, error_line, say_nothing_found, warn
from ..options import cluster, global_options


@click.command()
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
                found, missing = get_each(c, res, names, ns)
                objects += found
                failed |= missing
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
            click.echo(object_name(obj))
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


def get_each(c: Cluster, res, names: list[str], ns) -> tuple[list[dict], bool]:
    """GET each named object; one missing is reported and the rest still shown.
    Returns (the objects found, whether any was missing)."""
    found, missing = [], False
    for name in names:
        try:
            found.append(c.get(res, name, ns))
        except errors.NotFound as err:
            warn(error_line(err))
            missing = True
    return found, missing


def object_name(obj: dict) -> str:
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
                click.echo(object_name(obj))
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


@click.command()
@click.argument("args", nargs=-1, required=True)
@click.option("-l", "--selector")
@click.option("-A", "--all-namespaces", is_flag=True)
@global_options
def describe(args, selector, all_namespaces):
    """Show details of objects, with related objects and their events."""
    from ..describe import describe_object
    c = cluster()
    failed, separator = False, ""
    for res, names in parse_targets(c, args):
        ns = c.ns_for(res, all_namespaces)
        if names:
            objs, missing = get_each(c, res, names, ns)
            failed |= missing
        else:
            objs = c.list(res, ns, selector)
            if not objs and not failed:
                say_nothing_found(c, [res], all_namespaces)
        for obj in objs:
            click.echo(separator + describe_object(c, res, obj), nl=False)
            separator = "\n\n"
    if failed:
        sys.exit(1)
