"""``cordon``, ``uncordon`` and ``drain``: taking a node out of service.

cordon sets ``spec.unschedulable`` (the scheduler then leaves the node alone);
drain cordons, then asks the apiserver to evict each pod (POST to the pod's
``eviction`` subresource) and waits until they are gone.
"""
from __future__ import annotations

from typing import Optional

import click

from ...client import errors
from ..arguments import bare_name
from ..cluster import Cluster
from ..errors import CLIError, warn
from ..options import cluster, global_options

NODE_TYPES = ("node", "nodes", "no")


def _set_unschedulable(c: Cluster, node: str, value: bool) -> str:
    """PATCH spec.unschedulable, as kubectl cordon does; returns what to print."""
    res = c.resolve_one("nodes")
    verb = "cordoned" if value else "uncordoned"
    if bool((c.get(res, node, None).get("spec") or {}).get("unschedulable")) == value:
        return f"node/{node} already {verb}"
    c.client.patch(res, node, {"spec": {"unschedulable": value or None}})
    return f"node/{node} {verb}"


@click.command()
@click.argument("node")
@global_options
def cordon(node):
    """Mark a node unschedulable: running pods stay, new ones go elsewhere."""
    click.echo(_set_unschedulable(cluster(), bare_name(node, *NODE_TYPES), True))


@click.command()
@click.argument("node")
@global_options
def uncordon(node):
    """Mark a node schedulable again."""
    click.echo(_set_unschedulable(cluster(), bare_name(node, *NODE_TYPES), False))


def _drain_refusal(pod: dict, force: bool, delete_emptydir_data: bool) -> Optional[str]:
    """Why drain must not evict this pod without a flag (kubectl's checks), or None."""
    owners = [o for o in pod["metadata"].get("ownerReferences") or [] if o.get("controller")]
    if not owners and not force:
        return "cannot delete Pods that declare no controller (use --force to override)"
    if any("emptyDir" in v for v in (pod["spec"].get("volumes") or [])) and not delete_emptydir_data:
        return "cannot delete Pods with local storage (use --delete-emptydir-data to override)"
    return None


@click.command()
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
    name = bare_name(node, *NODE_TYPES)
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
    if not c.wait_until_gone(gone, timeout if timeout > 0 else float("inf")):
        raise CLIError(f"unable to drain node {name!r}: pods still running after {timeout:g}s")
    for _, ns, pod, _ in gone:
        click.echo(f"pod/{pod} evicted")
    click.echo(f"node/{name} drained")
