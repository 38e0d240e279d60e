"""``apply``, ``create`` and ``delete``: objects from manifests, and their removal.

apply is client-side, as in kubectl: GET, then POST (remembering the manifest in
the ``last-applied-configuration`` annotation) or PATCH with the difference
between the last manifest, the new one and what is live (api/patch.py's
``three_way_patch``, which shares its merge keys with the server's strategic merge).
"""
from __future__ import annotations

import copy
import inspect
import json
import sys
from typing import Callable, Optional

import click

from ...api.kinds import Kind
from ...api.patch import three_way_patch
from ...client import errors
from ..arguments import parse_targets
from ..cluster import Cluster
from ..errors import CLIError, error_line, say_nothing_found, warn
from ..manifests import place, read_manifests
from ..options import cluster, global_options
from ..printers import LAST_APPLIED

# Kinds kubectl knows the Go types of, so apply sends a strategic merge patch;
# for any other group (custom resources) it sends a JSON merge patch.
BUILTIN_GROUPS = {"", "apps", "batch", "autoscaling", "policy", "coordination.k8s.io",
                  "networking.k8s.io", "rbac.authorization.k8s.io", "storage.k8s.io",
                  "scheduling.k8s.io", "events.k8s.io", "discovery.k8s.io", "node.k8s.io"}


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


def manifest_command(doing: str):
    """Make a command of ``handle(c, source, manifest)``: it runs for every manifest
    of -f; a failure is printed and the rest still go (exit code 1 at the end), as
    kubectl does."""
    def make(handle: Callable[[Cluster, str, dict], None]) -> click.Command:
        @click.command(handle.__name__, help=inspect.getdoc(handle))
        @click.option("-f", "--filename", multiple=True, help="File, directory or - (stdin).")
        @click.option("-R", "--recursive", is_flag=True)
        @global_options
        def command(filename, recursive):
            c, failed = cluster(), False
            for source, manifest in read_manifests(filename, recursive):
                try:
                    handle(c, source, manifest)
                except errors.ApiError as err:
                    warn(error_line(err, f'error when {doing} "{source}": '))
                    failed = True
                except CLIError as err:
                    warn(f"error: {err}")
                    failed = True
            if failed:
                sys.exit(1)
        return command
    return make


@manifest_command("applying")
def apply(c: Cluster, source: str, manifest: dict) -> None:
    """Make the cluster match the manifests: create what is missing, patch what changed."""
    res, ns, name = place(c, source, manifest)
    modified = with_last_applied(manifest)
    try:
        current = c.get(res, name, ns)
    except errors.NotFound:
        c.client.create(res, modified, ns)
        click.echo(f"{res.qualified_singular}/{name} created")
        return
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
        return
    c.client.patch(res, name, patch, ns, "strategic" if strategic else "merge")
    click.echo(f"{res.qualified_singular}/{name} configured")


@manifest_command("creating")
def create(c: Cluster, source: str, manifest: dict) -> None:
    """Create the objects in the manifests (an existing one is an error)."""
    res, ns, _ = place(c, source, manifest, "create")
    created = c.client.create(res, manifest, ns)
    click.echo(f"{res.qualified_singular}/{created['metadata']['name']} created")


@click.command()
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
        failed |= not c.wait_until_gone(deleted, timeout)
    if failed:
        sys.exit(1)
