"""The apps group's kinds (`/apis/apps/v1`): Deployment, ReplicaSet, DaemonSet, StatefulSet
and ControllerRevision (the snapshots of a DaemonSet's or StatefulSet's pod template that
`kubectl rollout history|undo` read; controllers/history.py writes them)."""
from __future__ import annotations

from .. import defaults, workloadvalidation
from .columns import AGE, NAME, age_of, col, selector_text, template_containers
from .kind import Kind
from .storage import default_pvc, validate_pvc_spec


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


def _containers_and_images(obj) -> list:
    cs = template_containers(obj)
    return [",".join(c.get("name", "") for c in cs), ",".join(c.get("image", "") for c in cs)]


def node_selector_text(ds) -> str:
    """NODE SELECTOR as kubectl prints it: k=v pairs sorted by key, or <none>."""
    selector = ((((ds.get("spec") or {}).get("template") or {}).get("spec") or {}).get("nodeSelector")) or {}
    return ",".join(f"{k}={v}" for k, v in sorted(selector.items())) or "<none>"


def daemonset_row(ds):
    st = ds.get("status") or {}
    return [ds["metadata"]["name"], st.get("desiredNumberScheduled", 0), st.get("currentNumberScheduled", 0),
            st.get("numberReady", 0), st.get("updatedNumberScheduled", 0), st.get("numberAvailable", 0),
            node_selector_text(ds), age_of(ds), *_containers_and_images(ds), selector_text(ds)]


DAEMONSET = Kind(
    "apps", "v1", "DaemonSet", "daemonsets", short_names=("ds",), categories=("all",),
    subresources=("status",),
    default=defaults.default_daemonset, validate=workloadvalidation.validate_daemonset,
    validate_update=workloadvalidation.validate_selector_unchanged,
    columns=(NAME, col("Desired", "integer"), col("Current", "integer"), col("Ready", "integer"),
             col("Up-to-date", "integer"), col("Available", "integer"), col("Node Selector"), AGE,
             col("Containers", priority=1), col("Images", priority=1), col("Selector", priority=1)),
    row=daemonset_row,
    proto="k8s.io.api.apps.v1.DaemonSet")


def statefulset_row(sts):
    spec, st = sts.get("spec") or {}, sts.get("status") or {}
    return [sts["metadata"]["name"], f"{st.get('readyReplicas', 0)}/{spec.get('replicas', 0)}", age_of(sts),
            *_containers_and_images(sts)]


def default_statefulset(sts):
    """The StatefulSet's defaults; each claim template gets a claim's (volumeMode, phase)."""
    defaults.default_statefulset(sts)
    for claim in (sts.get("spec") or {}).get("volumeClaimTemplates") or []:
        if isinstance(claim, dict):
            default_pvc(claim)


def validate_statefulset(sts):
    causes = workloadvalidation.validate_statefulset(sts)
    for i, claim in enumerate((sts.get("spec") or {}).get("volumeClaimTemplates") or []):
        causes += validate_pvc_spec((claim or {}).get("spec"), f"spec.volumeClaimTemplates[{i}].spec")
    return causes


STATEFULSET = Kind(
    "apps", "v1", "StatefulSet", "statefulsets", short_names=("sts",), categories=("all",),
    subresources=("status", "scale"),
    default=default_statefulset, validate=validate_statefulset,
    validate_update=workloadvalidation.validate_statefulset_update,
    columns=(NAME, col("Ready"), AGE, col("Containers", priority=1), col("Images", priority=1)),
    row=statefulset_row,
    proto="k8s.io.api.apps.v1.StatefulSet")


def controller_revision_row(rev):
    owner = next((r for r in (rev["metadata"].get("ownerReferences") or []) if r.get("controller")), None)
    controller = "<none>"
    if owner:
        group = (owner.get("apiVersion") or "").rpartition("/")[0]
        controller = f"{owner.get('kind', '').lower()}{'.' + group if group else ''}/{owner.get('name')}"
    return [rev["metadata"]["name"], controller, rev.get("revision", 0), age_of(rev)]


CONTROLLER_REVISION = Kind(
    "apps", "v1", "ControllerRevision", "controllerrevisions", has_status=False, counts_generation=False,
    validate=workloadvalidation.validate_controller_revision,
    validate_update=workloadvalidation.validate_controller_revision_update,
    columns=(NAME, col("Controller"), col("Revision", "integer"), AGE),
    row=controller_revision_row,
    proto="k8s.io.api.apps.v1.ControllerRevision")

KINDS = (DEPLOYMENT, REPLICASET, DAEMONSET, STATEFULSET, CONTROLLER_REVISION)
