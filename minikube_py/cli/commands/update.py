"""``scale``, ``label`` and ``annotate``: small JSON merge patches of live objects.

scale patches the ``/scale`` subresource (only ``spec.replicas``); label and
annotate patch ``metadata.labels`` / ``metadata.annotations``, ``null`` removing a key.
"""
from __future__ import annotations

import sys
from typing import Optional

import click

from ..arguments import one_object, parse_targets
from ..errors import CLIError, warn
from ..options import cluster, global_options


@click.command()
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


def _metadata_command(name: str, field: str, what: str, doc: str) -> click.Command:
    """label and annotate: the same command, on metadata.labels or metadata.annotations."""
    @click.command(name, help=doc)
    @click.argument("args", nargs=-1, required=True)
    @click.option("--overwrite", is_flag=True, help=f"Replace {what} that has another value.")
    @click.option("-l", "--selector")
    @click.option("--all", "all_", is_flag=True)
    @global_options
    def command(args, overwrite, selector, all_):
        _change_metadata(field, name, args, overwrite, selector, all_)
    return command


label = _metadata_command("label", "labels", "a label",
                          "Add (k=v) or remove (k-) labels (a JSON merge patch of metadata.labels).")
annotate = _metadata_command("annotate", "annotations", "an annotation",
                             "Add (k=v) or remove (k-) annotations (a JSON merge patch of metadata.annotations).")
