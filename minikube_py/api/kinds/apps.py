"""The apps group's kinds (`/apis/apps/v1`): Deployment and ReplicaSet."""
from __future__ import annotations

from .. import defaults, workloadvalidation
from .columns import AGE, NAME, age_of, col, selector_text, template_containers
from .kind import Kind


def deployment_row(d):
    spec, st = d.get("spec") or {}, d.get("status") or {}
    cs = template_containers(d)
    return [d["metadata"]["name"], f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 0)}",
            st.get("updatedReplicas", 0), st.get("availableReplicas", 0), age_of(d),
            ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs), selector_text(d)]


DEPLOYMENT = Kind(
    "apps", "v1", "Deployment", "deployments", short_names=("deploy",), categories=("all",),
    subresources=("status", "scale"),
    default=defaults.default_deployment, validate=workloadvalidation.validate_deployment,
    validate_update=workloadvalidation.validate_selector_unchanged,
    columns=(NAME, col("Ready"), col("Up-to-date", "integer"), col("Available", "integer"), AGE,
             col("Containers", priority=1), col("Images", priority=1), col("Selector", priority=1)),
    row=deployment_row,
    proto="k8s.io.api.apps.v1.Deployment")


def replicaset_row(rs):
    spec, st = rs.get("spec") or {}, rs.get("status") or {}
    cs = template_containers(rs)
    return [rs["metadata"]["name"], spec.get("replicas", 0), st.get("replicas", 0), st.get("readyReplicas", 0),
            age_of(rs), ",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs),
            selector_text(rs)]


REPLICASET = Kind(
    "apps", "v1", "ReplicaSet", "replicasets", short_names=("rs",), categories=("all",),
    subresources=("status", "scale"),
    default=defaults.default_replicaset, validate=workloadvalidation.validate_replicated,
    validate_update=workloadvalidation.validate_selector_unchanged,
    columns=(NAME, col("Desired", "integer"), col("Current", "integer"), col("Ready", "integer"), AGE,
             col("Containers", priority=1), col("Images", priority=1), col("Selector", priority=1)),
    row=replicaset_row,
    proto="k8s.io.api.apps.v1.ReplicaSet")

KINDS = (DEPLOYMENT, REPLICASET)
