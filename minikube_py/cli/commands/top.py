"""``top nodes`` and ``top pods``: resource use, read from metrics.k8s.io as kubectl top does.

The figures are NodeMetrics/PodMetrics (``GET /apis/metrics.k8s.io/v1beta1/...``,
which the apiserver fills by scraping the kubelets: metrics/scraper.py); the
percentages of ``top nodes`` are of each Node's ``status.allocatable``.  The
columns and their rounding are kubectl's: CPU in millicores rounded up
(Quantity.MilliValue), memory in whole MiB (Quantity.Value / 2^20).

``top pods --gpus`` is minikube-py's own: it adds each pod's GPUs, their mean
utilisation and the GPU memory they use, from the ``accelerators`` of the
kubelets' Summary API (``GET /api/v1/nodes/{node}/proxy/stats/summary``).
"""
from __future__ import annotations

import click

from ...api.quantity import cpu_millis, to_int
from ...client import errors
from ..errors import CLIError
from ..options import cluster, global_options
from ..printers import TablePrinter

MI = 1024 * 1024
METRICS = "/apis/metrics.k8s.io/v1beta1"


def cpu_cell(q) -> str:
    return f"{cpu_millis(q)}m"


def memory_cell(q) -> str:
    return f"{to_int(q) // MI}Mi"


def _sorted(items, sort_by: str | None, usage):
    if sort_by == "cpu":
        return sorted(items, key=lambda i: cpu_millis(usage(i).get("cpu", "0")), reverse=True)
    if sort_by == "memory":
        return sorted(items, key=lambda i: to_int(usage(i).get("memory", "0")), reverse=True)
    return items


def _metrics(c, path: str, params: dict) -> list[dict]:
    try:
        return c.request("GET", path, params=params).json().get("items") or []
    except errors.NotFound:
        raise CLIError("Metrics API not available") from None


def _print(rows, no_headers: bool):
    printer = TablePrinter(click.echo)
    printer.print(rows[1:] if no_headers else rows)


@click.group()
def top():
    """Display resource (CPU/memory) usage of nodes or pods (metrics.k8s.io)."""


@top.command("nodes")
@click.argument("name", required=False)
@click.option("-l", "--selector", default=None, help="Label selector.")
@click.option("--sort-by", type=click.Choice(["cpu", "memory"]), default=None)
@click.option("--no-headers", is_flag=True)
@global_options
def top_nodes(name, selector, sort_by, no_headers):
    """CPU and memory of each node, and their share of its allocatable."""
    c = cluster()
    params = {"labelSelector": selector} if selector else {}
    metrics = {m["metadata"]["name"]: m for m in _metrics(c, f"{METRICS}/nodes", params)}
    nodes = c.list(c.resolve_one("nodes"), None, label_selector=selector)
    if name:
        nodes = [n for n in nodes if n["metadata"]["name"] == name]
        if not nodes:
            raise CLIError(f'nodes "{name}" not found')
    if not metrics:
        raise CLIError("metrics not available yet")
    rows = [["NAME", "CPU(cores)", "CPU(%)", "MEMORY(bytes)", "MEMORY(%)", ""]]
    known = _sorted([n for n in nodes if n["metadata"]["name"] in metrics], sort_by,
                    lambda n: metrics[n["metadata"]["name"]]["usage"])
    for n in known:
        usage = metrics[n["metadata"]["name"]]["usage"]
        alloc = (n.get("status") or {}).get("allocatable") or {}
        cpu, mem = cpu_millis(usage["cpu"]), to_int(usage["memory"])
        cpu_pct = f"{cpu * 100 // cpu_millis(alloc['cpu'])}%" if alloc.get("cpu") else "<unknown>"
        mem_pct = f"{mem * 100 // to_int(alloc['memory'])}%" if alloc.get("memory") else "<unknown>"
        rows.append([n["metadata"]["name"], f"{cpu}m", cpu_pct, f"{mem // MI}Mi", mem_pct, ""])
    for n in nodes:                               # kubectl lists nodes without figures last
        if n["metadata"]["name"] not in metrics:
            rows.append([n["metadata"]["name"], *["<unknown>"] * 4, ""])
    _print(rows, no_headers)


def _gpu_figures(c, pods: list[dict]) -> dict:
    """{(namespace, pod): [accelerator, ...]} from the Summary of each node running them."""
    out: dict = {}
    nodes = {n for n in (((p.get("spec") or {}).get("nodeName")) for p in pods) if n}
    for node in sorted(nodes):
        try:
            summary = c.get_json(f"/api/v1/nodes/{node}/proxy/stats/summary")
        except errors.ApiError:
            continue
        for pod in summary.get("pods") or []:
            ref = pod["podRef"]
            accs = [a for ct in pod.get("containers") or [] for a in ct.get("accelerators") or []]
            if accs:
                out[(ref["namespace"], ref["name"])] = accs
    return out


@top.command("pods")
@click.argument("name", required=False)
@click.option("-A", "--all-namespaces", is_flag=True)
@click.option("-l", "--selector", default=None, help="Label selector.")
@click.option("--containers", is_flag=True, help="Each container's figures.")
@click.option("--sort-by", type=click.Choice(["cpu", "memory"]), default=None)
@click.option("--no-headers", is_flag=True)
@click.option("--gpus", is_flag=True, help="Add the pods' GPUs (from the kubelets' Summary API).")
@global_options
def top_pods(name, all_namespaces, selector, containers, sort_by, no_headers, gpus):
    """CPU and memory of pods (or of their containers)."""
    c = cluster()
    ns = None if all_namespaces else c.namespace
    path = f"{METRICS}/namespaces/{ns}/pods" if ns else f"{METRICS}/pods"
    params = {"labelSelector": selector} if selector else {}
    if name:
        params["fieldSelector"] = f"metadata.name={name}"
    items = _metrics(c, path, params)
    if not items:
        if name:
            raise CLIError(f'podmetrics.metrics.k8s.io "{ns}/{name}" not found' if ns else
                           f'podmetrics.metrics.k8s.io "{name}" not found')
        raise CLIError("metrics not available yet")

    def total(m):
        cpu = sum(cpu_millis(ct["usage"]["cpu"]) for ct in m["containers"])
        mem = sum(to_int(ct["usage"]["memory"]) for ct in m["containers"])
        return {"cpu": f"{cpu}m", "memory": str(mem)}

    items = _sorted(items, sort_by, total)
    accs = _gpu_figures(c, c.list(c.resolve_one("pods"), ns)) if gpus else {}
    head = (["NAMESPACE"] if all_namespaces else []) + (["POD"] if containers else [])
    rows = [head + ["NAME", "CPU(cores)", "MEMORY(bytes)"]
            + (["GPUS", "GPU-UTIL", "GPU-MEMORY"] if gpus else []) + [""]]
    for m in items:
        meta = m["metadata"]
        lead = [meta["namespace"]] if all_namespaces else []
        gpu_cells = []
        if gpus:
            a = accs.get((meta["namespace"], meta["name"])) or []
            gpu_cells = [str(len(a)), f"{sum(x['dutyCycle'] for x in a) // len(a)}%" if a else "-",
                         f"{sum(x['memoryUsed'] for x in a) // MI}Mi" if a else "-"]
        if containers:
            for ct in m["containers"]:
                rows.append(lead + [meta["name"], ct["name"], cpu_cell(ct["usage"]["cpu"]),
                                    memory_cell(ct["usage"]["memory"])] + gpu_cells + [""])
        else:
            t = total(m)
            rows.append(lead + [meta["name"], t["cpu"], memory_cell(t["memory"])] + gpu_cells + [""])
    _print(rows, no_headers)


top.add_command(top_nodes, "node")
top.add_command(top_nodes, "no")
top.add_command(top_pods, "pod")
top.add_command(top_pods, "po")
