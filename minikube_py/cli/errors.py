"""How mkctl reports failures: kubectl's wording, one line on stderr.

Commands raise :class:`CLIError` for a mistake on the command line or in a file,
and let the client's :class:`~minikube_py.client.errors.ApiError` through; the
group in mkctl.py turns both into one line and exit code 1.  A command that goes
on after a failure (``get a b``, ``apply -f dir``) prints the line with
:func:`warn` itself and exits 1 at the end.
"""
from __future__ import annotations

from urllib.parse import urlsplit

import click

from ..client import errors


class CLIError(Exception):
    """A mistake on the command line or in a file: printed as ``error: ...``."""


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


def say_nothing_found(c, resources: list, all_namespaces: bool) -> None:
    """``No resources found in NS namespace.`` -- on stderr, and not an error."""
    if not all_namespaces and all(r.namespaced for r in resources):
        warn(f"No resources found in {c.namespace} namespace.")
    else:
        warn("No resources found")
