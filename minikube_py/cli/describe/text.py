"""The text describe prints: kubectl's PrefixWriter and the small formatters every describer uses.

Output is aligned at tabs by the TabWriter (printers.py), two spaces a level, as
``kubectl describe`` lays it out; times, quantities, labels and taints are written
the way kubectl writes them.
"""
from __future__ import annotations

from fractions import Fraction

from ...api.meta import age, parse_time
from ...api.quantity import format_bytes, format_cpu_millis
from ...api.selectors import LabelSelector
from ..printers import LAST_APPLIED, TabWriter


class Writer:
    """kubectl's PrefixWriter: text indented by level (2 spaces each), aligned at tabs."""

    def __init__(self):
        self.done, self.tw = "", TabWriter(minwidth=0, padding=2)

    def write(self, level: int, text: str) -> None:
        self.tw.write("  " * level + text)

    def flush(self) -> None:
        self.done += self.tw.getvalue()
        self.tw = TabWriter(minwidth=0, padding=2)

    def getvalue(self) -> str:
        self.flush()
        return self.done


# ---------------------------------------------------------------- small formatters
def when(ts) -> str:
    """RFC 1123 with numeric zone, kubectl's describe time format, in local time."""
    if not ts:
        return "<unset>"
    return parse_time(ts).astimezone().strftime("%a, %d %b %Y %H:%M:%S %z")


def since(ts) -> str:
    return age(ts) if ts else "<unknown>"


def multiline(w: Writer, title: str, values: list[str]) -> None:
    """``Title:  first`` then the rest aligned under it, or ``<none>``."""
    w.write(0, f"{title}:\t")
    if not values:
        w.write(0, "<none>\n")
        return
    for i, v in enumerate(values):
        w.write(0, ("\t" if i else "") + f"{v}\n")


def labels(w: Writer, title: str, items: dict | None) -> None:
    multiline(w, title, [f"{k}={v}" for k, v in sorted((items or {}).items())])


def annotations(w: Writer, title: str, items: dict | None) -> None:
    """Annotations, without the (long) last-applied manifest, as kubectl skips it."""
    shown = {k: v for k, v in (items or {}).items() if k != LAST_APPLIED}
    values = []
    for k, v in sorted(shown.items()):
        values.append(f"{k}: {v}" if len(v) <= 140 else f"{k}: {v[:140]}...")
    multiline(w, title, values)


def name_lines(w: Writer, md: dict) -> None:
    """The first lines of a namespaced object's text."""
    w.write(0, f"Name:\t{md['name']}\n")
    w.write(0, f"Namespace:\t{md.get('namespace', '')}\n")


def labels_and_annotations(w: Writer, md: dict) -> None:
    labels(w, "Labels", md.get("labels"))
    annotations(w, "Annotations", md.get("annotations"))


def optional_fields(w: Writer, level: int, obj: dict, *fields: tuple[str, str]) -> None:
    """``Heading:  value`` for each (key, heading) that is set in ``obj``, else nothing."""
    for key, heading in fields:
        if obj.get(key):
            w.write(level, f"{heading}:\t{obj[key]}\n")


def selector_text(sel) -> str:
    text = LabelSelector.from_dict(sel).to_string()
    return text or "<none>"


def controller_text(obj: dict) -> str:
    for ref in (obj.get("metadata") or {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return f"{ref['kind']}/{ref['name']}"
    return ""


def toleration_text(t: dict) -> str:
    text = t.get("key", "")
    if t.get("value"):
        text += f"={t['value']}"
    if t.get("effect"):
        text += f":{t['effect']}"
    if t.get("operator") == "Exists" and not t.get("value"):
        text += " op=Exists" if (t.get("key") or t.get("effect")) else "op=Exists"
    if t.get("tolerationSeconds") is not None:
        text += f" for {t['tolerationSeconds']}s"
    return text


def taint_text(t: dict) -> str:
    return t["key"] + (f"={t['value']}" if t.get("value") else "") + f":{t.get('effect', '')}"


def quantity_text(resource: str, value) -> str:
    """A quantity in Kubernetes' canonical form: cpu in cores or millicores, bytes with Ki/Mi/Gi."""
    value = Fraction(value)
    if resource == "cpu":
        return format_cpu_millis(value)
    if resource in ("memory", "ephemeral-storage") or resource.startswith("hugepages-"):
        return format_bytes(value)
    return str(value.numerator // value.denominator) if value.denominator == 1 else str(float(value))


def resource_list(w: Writer, level: int, amounts: dict) -> None:
    for name in sorted(amounts):
        w.write(level, f"{name}:\t{amounts[name]}\n")


def workload_conditions(w: Writer, conditions: list | None) -> None:
    """The Conditions table of a Deployment or ReplicaSet (type, status, reason)."""
    if not conditions:
        return
    w.write(0, "Conditions:\n  Type\tStatus\tReason\n")
    w.write(1, "----\t------\t------\n")
    for cond in conditions:
        w.write(1, f"{cond.get('type')} \t{cond.get('status')}\t{cond.get('reason', '')}\n")
