"""``logs``, ``version``, ``api-resources``, ``cluster-info``: a container's output, and what the server is.

logs streams ``GET pods/NAME/log`` (the apiserver proxies it from the kubelet);
version reads ``GET /version``; api-resources lists what discovery serves;
cluster-info names the apiserver and the cluster's add-on Services, as kubectl does
(those in kube-system labelled ``kubernetes.io/cluster-service=true``).
"""
from __future__ import annotations

import sys

import click

from .. import printers
from ..arguments import bare_name
from ..errors import warn
from ..options import cluster, global_options


@click.command()
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


@click.command()
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


@click.command("api-resources")
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


@click.command("cluster-info")
@global_options
def cluster_info():
    """Where the control plane and the add-on Services (cluster DNS, ...) are."""
    c = cluster()
    server = c.client.server.rstrip("/")
    click.echo(f"{click.style('Kubernetes control plane', fg='green')} is running at "
               f"{click.style(server, fg='yellow')}")
    services = c.get_json("/api/v1/namespaces/kube-system/services"
                          "?labelSelector=kubernetes.io%2Fcluster-service%3Dtrue")["items"]
    for svc in services:
        labels = svc["metadata"].get("labels") or {}
        name = labels.get("kubernetes.io/name") or svc["metadata"]["name"]
        ports = svc["spec"].get("ports") or []
        port = ports[0].get("name") or ports[0].get("port") if ports else ""
        target = f"{svc['metadata']['name']}:{port}" if port else svc["metadata"]["name"]
        url = f"{server}/api/v1/namespaces/kube-system/services/{target}/proxy"
        click.echo(f"{click.style(name, fg='green')} is running at {click.style(url, fg='yellow')}")
    click.echo("\nTo see the control plane's health, use 'mkctl get componentstatuses'.")
