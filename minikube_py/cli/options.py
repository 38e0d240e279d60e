"""The options every mkctl command takes (--kubeconfig, --context, -n) and the
:class:`~.cluster.Cluster` built from them on first use.

As in kubectl they may come before or after the command name, so each is
remembered in the click context (``ctx.meta``), shared by the group and the command.
"""
from __future__ import annotations

import click

from .cluster import Cluster


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
