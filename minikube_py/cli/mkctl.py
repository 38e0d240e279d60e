"""mkctl: minikube-py's kubectl.

Everything kubectl does is an ordinary REST call, and mkctl shows which ones:

* **Names -> paths by discovery** (cluster.py): ``mkctl get deploy`` asks the
  server what it serves and finds the resource called ``deploy``.
* **Tables come from the server** (commands/get.py): ``get`` asks for a
  ``meta.k8s.io/v1`` Table and only lays the columns out (printers.py).
* **apply is client-side** (commands/apply.py): GET, then POST or PATCH with the
  three-way difference between the last manifest, the new one and what is live.
* **describe** is a handful of GETs and LISTs printed as text (describe.py).
* **top** reads metrics.k8s.io, which the apiserver fills from the kubelets (top.py).

This module is only the command group: it adds the commands (commands/) and turns
what goes wrong into kubectl's errors: one line on stderr, exit code 1.
"""
from __future__ import annotations

import click
import requests
import yaml

from ..client import errors
from .commands import apply, get, info, node, top, update
from .errors import CLIError, connection_error_line, error_line, warn
from .options import global_options


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


@click.group(cls=MkctlGroup, context_settings={"help_option_names": ["-h", "--help"]})
@global_options
def main():
    """mkctl controls a minikube-py cluster, the way kubectl controls Kubernetes."""


for command in (get.get, get.describe,
                apply.apply, apply.create, apply.delete,
                update.scale, update.label, update.annotate,
                node.cordon, node.uncordon, node.drain,
                info.logs, info.version, info.api_resources, info.cluster_info, top.top):
    main.add_command(command)


if __name__ == "__main__":
    main()
