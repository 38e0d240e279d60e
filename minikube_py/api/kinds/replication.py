"""core/v1 ReplicationController: the ReplicaSet before there were ReplicaSets.

It keeps `spec.replicas` pods matching its selector, as a ReplicaSet does (and the
same controller code runs it: controllers/replicationcontroller.py), with two
differences from apps/v1 ReplicaSet that show in the API:

- `spec.selector` is a plain map of labels (`{app: web}`), not a LabelSelector,
  and it may change; left out, it defaults to the pod template's labels;
- `spec.template` may be left out of the object (validation then asks for it).
"""
from __future__ import annotations

from ..defaults import default_pod_spec
from ..podvalidation import validate_pod_spec
from ..validation import invalid, non_negative, not_supported, required, validate_labels
from .columns import AGE, NAME, age_of, col, template_containers
from .kind import Kind


def selector_text(selector) -> str:
    """labels.FormatLabels: `app=web,tier=db`, sorted; `<none>` when empty."""
    return ",".join(f"{k}={v}" for k, v in sorted((selector or {}).items())) or "<none>"


def matches(selector: dict, labels: dict) -> bool:
    return all(labels.get(k) == v for k, v in selector.items())


def default_replication_controller(rc: dict):
    spec = rc.get("spec")
    if not isinstance(spec, dict):
        spec = rc["spec"] = {}
    template = spec.get("template")
    labels = ((template.get("metadata") or {}).get("labels")) if isinstance(template, dict) else None
    if labels:
        if not spec.get("selector"):
            spec["selector"] = dict(labels)
        md = rc.setdefault("metadata", {})
        if not md.get("labels"):
            md["labels"] = dict(labels)
    spec.setdefault("replicas", 1)
    if isinstance(template, dict):
        if not isinstance(template.get("spec"), dict):
            template["spec"] = {}
        default_pod_spec(template["spec"])


def validate_replication_controller(rc: dict) -> list:
    spec = rc.get("spec") or {}
    causes = non_negative("spec.replicas", spec.get("replicas"))
    causes += non_negative("spec.minReadySeconds", spec.get("minReadySeconds"))
    selector = spec.get("selector")
    if not selector:
        causes.append(required("spec.selector"))
    else:
        causes += validate_labels(selector, "spec.selector")
    template = spec.get("template")
    if not isinstance(template, dict):
        return causes + [required("spec.template")]
    labels = (template.get("metadata") or {}).get("labels") or {}
    if isinstance(selector, dict) and selector and not matches(selector, labels):
        causes.append(invalid("spec.template.metadata.labels", labels,
                              "`selector` does not match template `labels`"))
    causes += validate_labels(labels, "spec.template.metadata.labels")
    pod_spec = template.get("spec")
    causes += validate_pod_spec(pod_spec, "spec.template.spec")
    if isinstance(pod_spec, dict):
        if pod_spec.get("restartPolicy") != "Always":
            causes.append(not_supported("spec.template.spec.restartPolicy", pod_spec.get("restartPolicy"),
                                        ["Always"]))
        if pod_spec.get("activeDeadlineSeconds") is not None:
            causes.append(invalid("spec.template.spec.activeDeadlineSeconds", pod_spec["activeDeadlineSeconds"],
                                  "activeDeadlineSeconds in ReplicationController is not Supported"))
    return causes


def replication_controller_row(rc: dict) -> list:
    spec, st = rc.get("spec") or {}, rc.get("status") or {}
    cs = template_containers(rc)
    return [rc["metadata"]["name"], spec.get("replicas", 0), st.get("replicas", 0), st.get("readyReplicas", 0),
            age_of(rc), ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs),
            selector_text(spec.get("selector"))]


REPLICATION_CONTROLLER = Kind(
    "", "v1", "ReplicationController", "replicationcontrollers", short_names=("rc",), categories=("all",),
    subresources=("status", "scale"),
    default=default_replication_controller, validate=validate_replication_controller,
    columns=(NAME, col("Desired", "integer"), col("Current", "integer"), col("Ready", "integer"), AGE,
             col("Containers", priority=1), col("Images", priority=1), col("Selector", priority=1)),
    row=replication_controller_row,
    proto="k8s.io.api.core.v1.ReplicationController")

KINDS = (REPLICATION_CONTROLLER,)
