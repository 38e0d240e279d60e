"""How mkctl prints: kubectl's tables, YAML, JSON and names.

The apiserver decides *what* columns a kind has (it answers a meta.k8s.io/v1
Table, see apiserver/tables.py); the client only decides *how* to lay them out,
exactly as kubectl does.  kubectl lays text out with Go's ``text/tabwriter``,
so :class:`TabWriter` below is a small port of it: both ``get`` tables and
``describe`` output come out aligned the way students see them in kubectl.
"""
from __future__ import annotations

import json
from typing import Iterable, Optional

import yaml

LAST_APPLIED = "kubectl.kubernetes.io/last-applied-configuration"


# ------------------------------------------------------------------ tabwriter
class TabWriter:
    """Go's text/tabwriter: cells end with a tab; a column is aligned over the block
    of consecutive lines that have a cell in it.

    kubectl's tables use ``minwidth=6, padding=3``; ``describe`` uses
    ``minwidth=0, padding=2``.  The last cell of a line (not tab-terminated) is
    never padded, so lines carry no trailing spaces unless a cell is empty.
    """

    def __init__(self, minwidth: int = 0, padding: int = 2):
        self.minwidth, self.padding = minwidth, padding
        self.text = ""

    def write(self, text: str) -> None:
        self.text += text

    def getvalue(self) -> str:
        lines = [line.split("\t") for line in self.text.split("\n")]
        trailing_newline = self.text.endswith("\n")
        if trailing_newline:
            lines.pop()
        out: list[str] = []
        self._format(lines, 0, len(lines), [], out)
        return "\n".join(out) + ("\n" if trailing_newline else "")

    def _format(self, lines, line0, line1, widths, out):
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(lines[this]) - 1:      # no cell in this column: keep going
                this += 1
                continue
            self._emit(lines, line0, this, widths, out)
            start, width = this, self.minwidth      # a column block starts here
            while this < line1 and column < len(lines[this]) - 1:
                width = max(width, len(lines[this][column]) + self.padding)
                this += 1
            self._format(lines, start, this, widths + [width], out)
            line0 = this
        self._emit(lines, line0, line1, widths, out)

    @staticmethod
    def _emit(lines, line0, line1, widths, out):
        for cells in lines[line0:line1]:
            out.append("".join(c.ljust(widths[j]) if j < len(widths) else c
                               for j, c in enumerate(cells)))


# ------------------------------------------------------------------ tables
def cell_text(value) -> str:
    """A Table cell as kubectl shows it (Go's %v: true/false, <none> for null)."""
    if value is None:
        return "<none>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def labels_text(labels: Optional[dict]) -> str:
    """``k=v,k2=v2`` sorted by key, or ``<none>`` -- the LABELS column and selectors."""
    return ",".join(f"{k}={v}" for k, v in sorted((labels or {}).items())) or "<none>"


def table_lines(table: dict, wide: bool = False, show_labels: bool = False,
                with_namespace: bool = False, name_prefix: str = "") -> tuple[list[str], list[list[str]]]:
    """Turn a server Table into (headers, rows of strings), choosing columns like kubectl.

    Columns with priority > 0 appear only with ``-o wide``; ``-A`` adds NAMESPACE
    in front; ``--show-labels`` adds LABELS at the end; when several types are
    printed together the NAME cells get a ``kind.group/`` prefix.
    """
    columns = table.get("columnDefinitions") or []
    keep = [i for i, c in enumerate(columns) if wide or not c.get("priority")]
    name_col = next((i for i, c in enumerate(columns) if c.get("format") == "name"), None)
    headers = [columns[i]["name"].upper() for i in keep]
    if with_namespace:
        headers.insert(0, "NAMESPACE")
    if show_labels:
        headers.append("LABELS")
    rows = []
    for row in table.get("rows") or []:
        meta = (row.get("object") or {}).get("metadata") or {}
        cells = row.get("cells") or []
        out = []
        for i in keep:
            text = cell_text(cells[i] if i < len(cells) else None)
            out.append(name_prefix + text if i == name_col else text)
        if with_namespace:
            out.insert(0, meta.get("namespace", ""))
        if show_labels:
            out.append(labels_text(meta.get("labels")))
        rows.append(out)
    return headers, rows


def fallback_table(objects: list[dict]) -> dict:
    """NAME and AGE only: what kubectl shows when a server cannot answer a Table."""
    from ..api.meta import age
    return {"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {},
            "columnDefinitions": [{"name": "Name", "type": "string", "format": "name", "priority": 0},
                                  {"name": "Age", "type": "string", "format": "", "priority": 0}],
            "rows": [{"cells": [o["metadata"]["name"], age(o["metadata"].get("creationTimestamp"))],
                      "object": {"metadata": o["metadata"]}} for o in objects]}


class TablePrinter:
    """Prints table rows padded with 3 spaces (kubectl's tabwriter settings).

    Widths are remembered between calls, so the rows that ``get -w`` prints one
    at a time stay aligned with the header printed first.
    """

    MINWIDTH, PADDING = 6, 3

    def __init__(self, echo):
        self.echo = echo
        self.widths: list[int] = []

    def print(self, rows: Iterable[list[str]]) -> None:
        rows = list(rows)
        for row in rows:
            for j, cell in enumerate(row[:-1]):
                w = max(self.MINWIDTH, len(cell) + self.PADDING)
                if j >= len(self.widths):
                    self.widths.append(w)
                elif w > self.widths[j]:
                    self.widths[j] = w
        for row in rows:
            self.echo("".join(c.ljust(self.widths[j]) for j, c in enumerate(row[:-1])) + (row[-1] if row else ""))


# ------------------------------------------------------------------ yaml / json / name
class _Dumper(yaml.SafeDumper):
    """YAML as kubectl (go-yaml) writes it: strings with newlines as ``|`` blocks,
    other strings that need quotes in double quotes ("11", "3600")."""

    def choose_scalar_style(self):
        style = super().choose_scalar_style()
        return '"' if style == "'" else style


def _str_presenter(dumper, data):
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style="|" if "\n" in data else None)


_Dumper.add_representer(str, _str_presenter)


def to_yaml(obj) -> str:
    """kubectl -o yaml: keys sorted (Go marshals maps in key order), block style."""
    return yaml.dump(obj, Dumper=_Dumper, default_flow_style=False, sort_keys=True,
                     allow_unicode=True, width=1 << 16)


def to_json(obj) -> str:
    """kubectl -o json: four-space indentation, keys sorted."""
    return json.dumps(obj, indent=4, sort_keys=True, ensure_ascii=False)


def as_list(items: list[dict]) -> dict:
    """The ``List`` kubectl prints for several objects (kind List, apiVersion v1)."""
    return {"apiVersion": "v1", "items": items, "kind": "List", "metadata": {"resourceVersion": ""}}
