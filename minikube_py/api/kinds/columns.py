"""Table columns: what `kubectl get` prints for a kind, as kube-apiserver's printers declare them.

kubectl asks for `application/json;as=Table;v=v1;g=meta.k8s.io` and prints the columns
it gets back, so each kind's declaration carries its columns and a function giving one
row of cells (pkg/printers/internalversion in Kubernetes). Priority 1: only with `-o wide`.
"""
from __future__ import annotations

from ..meta import age
from ..selectors import LabelSelector

NAME = {"name": "Name", "type": "string", "format": "name", "priority": 0,
        "description": "Name must be unique within a namespace."}
AGE = {"name": "Age", "type": "string", "format": "", "priority": 0,
       "description": "CreationTimestamp is a timestamp representing the server time when this object was created."}
DEFAULT_COLUMNS = (NAME, AGE)


def col(name, type_="string", priority=0, description="", fmt=""):
    return {"name": name, "type": type_, "format": fmt, "priority": priority, "description": description}


def age_of(obj) -> str:
    return age((obj.get("metadata") or {}).get("creationTimestamp"))


def default_row(obj) -> list:
    """NAME and AGE: the row of a kind that declares no columns."""
    return [obj["metadata"]["name"], age_of(obj)]


def template_containers(obj) -> list:
    """The containers of a workload's pod template."""
    return ((obj.get("spec") or {}).get("template") or {}).get("spec", {}).get("containers") or []


def selector_text(obj) -> str:
    return LabelSelector.from_dict((obj.get("spec") or {}).get("selector")).to_string() or "<none>"
