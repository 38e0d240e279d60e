"""Workload validation (Deployment, ReplicaSet, DaemonSet, StatefulSet, ControllerRevision):
replicas, a selector that matches the pod template's labels, a valid template, an update
strategy that can make progress, and the fields an update may not change."""
import json
import re

from .names import regex_error
from .podvalidation import validate_pod_spec
from .selectors import LabelSelector, SelectorError
from .validation import forbidden, invalid, non_negative, not_supported, required, validate_labels

__all__ = ["validate_controller_revision", "validate_controller_revision_update", "validate_daemonset",
           "validate_deployment", "validate_replicated", "validate_selector_unchanged", "validate_statefulset",
           "validate_statefulset_update"]


# ---------------------------------------------------------------- workloads

_PERCENT_FMT = "[0-9]+%"


def _int_or_percent(value, path: str) -> list:
    """maxSurge / maxUnavailable: a non-negative integer or a percentage like "25%"."""
    if isinstance(value, str):
        if not re.fullmatch(_PERCENT_FMT, value):
            return [invalid(path, value, regex_error(
                "a valid percent string must be a numeric string followed by an ending '%'",
                _PERCENT_FMT, "1%", "93%"))]
        return []
    if isinstance(value, int) and not isinstance(value, bool):
        return non_negative(path, value)
    return [invalid(path, value, "must be an integer or percentage (e.g '5%')")]


def _validate_strategy(strategy, path: str) -> list:
    strategy = strategy or {}
    kind = strategy.get("type")
    if kind is not None and kind not in ("Recreate", "RollingUpdate"):
        return [not_supported(f"{path}.type", kind, ["Recreate", "RollingUpdate"])]
    rolling = strategy.get("rollingUpdate")
    if kind == "Recreate" and rolling is not None:
        return [forbidden(f"{path}.rollingUpdate",
                          "may not be specified when strategy `type` is 'Recreate'")]
    if not rolling:
        return []
    rp = f"{path}.rollingUpdate"
    surge, unavailable = rolling.get("maxSurge"), rolling.get("maxUnavailable")
    causes = []
    for name, value in (("maxUnavailable", unavailable), ("maxSurge", surge)):
        if value is not None:
            causes += _int_or_percent(value, f"{rp}.{name}")
    if isinstance(unavailable, str) and re.fullmatch(_PERCENT_FMT, unavailable) \
            and int(unavailable[:-1]) > 100:
        causes.append(invalid(f"{rp}.maxUnavailable", unavailable, "must not be greater than 100%"))
    if unavailable in (0, "0%") and surge in (0, "0%"):
        causes.append(invalid(f"{rp}.maxUnavailable", unavailable,
                              "may not be 0 when `maxSurge` is 0"))
    return causes


def validate_replicated(obj: dict) -> list:
    """What a Deployment and a ReplicaSet share: replicas, selector and pod template."""
    spec = obj.get("spec") or {}
    causes = non_negative("spec.replicas", spec.get("replicas"))
    causes += non_negative("spec.minReadySeconds", spec.get("minReadySeconds"))

    selector, sel_dict = None, spec.get("selector")
    if sel_dict is None:
        causes.append(required("spec.selector"))
    else:
        try:
            selector = LabelSelector.from_dict(sel_dict)
        except SelectorError as err:
            causes.append(invalid("spec.selector", sel_dict, str(err)))
        else:
            if selector.empty:
                causes.append(invalid("spec.selector", sel_dict,
                                      "empty selector is invalid for deployment"))

    template = spec.get("template") or {}
    labels = (template.get("metadata") or {}).get("labels") or {}
    causes += validate_labels(labels, "spec.template.metadata.labels")
    if selector is not None and not selector.empty and not selector.matches(labels):
        causes.append(invalid("spec.template.metadata.labels", labels,
                              "`selector` does not match template `labels`"))
    pod_spec = template.get("spec")
    causes += validate_pod_spec(pod_spec, "spec.template.spec")
    if isinstance(pod_spec, dict):
        policy = pod_spec.get("restartPolicy")
        if policy is not None and policy != "Always":
            causes.append(not_supported("spec.template.spec.restartPolicy", policy, ["Always"]))
        if pod_spec.get("activeDeadlineSeconds") is not None:
            causes.append(forbidden("spec.template.spec.activeDeadlineSeconds",
                                    "activeDeadlineSeconds in ReplicaSet is not Supported"))
    return causes


def validate_deployment(obj: dict) -> list:
    spec = obj.get("spec") or {}
    causes = validate_replicated(obj)
    causes += non_negative("spec.revisionHistoryLimit", spec.get("revisionHistoryLimit"))
    causes += _validate_strategy(spec.get("strategy"), "spec.strategy")
    deadline = spec.get("progressDeadlineSeconds")
    if isinstance(deadline, int) and deadline <= (spec.get("minReadySeconds") or 0):
        causes.append(invalid("spec.progressDeadlineSeconds", deadline,
                              "must be greater than minReadySeconds"))
    return causes


def _selector_key(sel):
    try:
        return LabelSelector.from_dict(sel).to_string()
    except SelectorError:
        return json.dumps(sel, sort_keys=True)


def validate_selector_unchanged(old: dict, new: dict) -> list:
    """A Deployment's or ReplicaSet's selector is immutable (apps/v1)."""
    old_sel = (old.get("spec") or {}).get("selector")
    new_sel = (new.get("spec") or {}).get("selector")
    if _selector_key(old_sel) != _selector_key(new_sel):
        return [invalid("spec.selector", new_sel, "field is immutable")]
    return []


# ---------------------------------------------------------------- DaemonSet, StatefulSet

def _percent_at_most_100(value, path: str) -> list:
    if isinstance(value, str) and re.fullmatch(_PERCENT_FMT, value) and int(value[:-1]) > 100:
        return [invalid(path, value, "must not be greater than 100%")]
    return []


def validate_daemonset(obj: dict) -> list:
    """ValidateDaemonSetSpec: what every workload needs, plus an update strategy that moves."""
    spec = obj.get("spec") or {}
    causes = validate_replicated(obj)
    causes += non_negative("spec.revisionHistoryLimit", spec.get("revisionHistoryLimit"))
    strategy = spec.get("updateStrategy") or {}
    path = "spec.updateStrategy"
    kind = strategy.get("type")
    if kind not in ("RollingUpdate", "OnDelete"):
        return causes + [not_supported(f"{path}.type", kind, ["OnDelete", "RollingUpdate"])]
    rolling = strategy.get("rollingUpdate")
    if kind == "RollingUpdate":
        if not rolling:
            return causes + [required(f"{path}.rollingUpdate")]
        rp = f"{path}.rollingUpdate"
        surge, unavailable = rolling.get("maxSurge", 0), rolling.get("maxUnavailable", 1)
        for name, value in (("maxUnavailable", unavailable), ("maxSurge", surge)):
            causes += _int_or_percent(value, f"{rp}.{name}") + _percent_at_most_100(value, f"{rp}.{name}")
        if unavailable in (0, "0%") and surge in (0, "0%"):
            causes.append(invalid(f"{rp}.maxUnavailable", unavailable, "cannot be 0 when maxSurge is 0"))
    return causes


STATEFULSET_MUTABLE = ("replicas", "ordinals", "template", "updateStrategy", "revisionHistoryLimit",
                       "persistentVolumeClaimRetentionPolicy", "minReadySeconds")
RETENTION_POLICIES = ("Retain", "Delete")


def validate_statefulset(obj: dict) -> list:
    """ValidateStatefulSetSpec: replicas, selector, template, podManagementPolicy, update
    strategy (partition), claim templates and their retention policy."""
    spec = obj.get("spec") or {}
    causes = validate_replicated(_with_claim_volumes(obj))
    causes += non_negative("spec.revisionHistoryLimit", spec.get("revisionHistoryLimit"))
    policy = spec.get("podManagementPolicy")
    if policy not in ("OrderedReady", "Parallel"):
        causes.append(not_supported("spec.podManagementPolicy", policy, ["OrderedReady", "Parallel"]))
    strategy = spec.get("updateStrategy") or {}
    kind, rolling = strategy.get("type"), strategy.get("rollingUpdate")
    if kind not in ("RollingUpdate", "OnDelete"):
        causes.append(not_supported("spec.updateStrategy.type", kind, ["OnDelete", "RollingUpdate"]))
    elif kind == "OnDelete" and rolling is not None:
        causes.append(invalid("spec.updateStrategy.rollingUpdate", rolling,
                              "only allowed for updateStrategy 'RollingUpdate'"))
    elif rolling:
        causes += non_negative("spec.updateStrategy.rollingUpdate.partition", rolling.get("partition"))
        unavailable = rolling.get("maxUnavailable")
        if unavailable is not None:
            path = "spec.updateStrategy.rollingUpdate.maxUnavailable"
            causes += _int_or_percent(unavailable, path) + _percent_at_most_100(unavailable, path)
            if unavailable in (0, "0%"):
                causes.append(invalid(path, unavailable, "must be greater than 0"))
    retention = spec.get("persistentVolumeClaimRetentionPolicy") or {}
    for name in ("whenDeleted", "whenScaled"):
        value = retention.get(name)
        if value is not None and value not in RETENTION_POLICIES:
            causes.append(not_supported(f"spec.persistentVolumeClaimRetentionPolicy.{name}", value,
                                        list(RETENTION_POLICIES)))
    causes += non_negative("spec.ordinals.start", (spec.get("ordinals") or {}).get("start"))
    for i, claim in enumerate(spec.get("volumeClaimTemplates") or []):
        if not ((claim or {}).get("metadata") or {}).get("name"):
            causes.append(required(f"spec.volumeClaimTemplates[{i}].metadata.name", "name or generateName is required"))
    return causes


def _with_claim_volumes(obj: dict) -> dict:
    """The set as its pods will be: each claim template is a volume of that name, so the
    template's volumeMounts may name it (the controller adds those volumes to each pod)."""
    spec = obj.get("spec") or {}
    template = spec.get("template") or {}
    pod_spec = template.get("spec")
    names = [((c or {}).get("metadata") or {}).get("name") for c in spec.get("volumeClaimTemplates") or []]
    if not isinstance(pod_spec, dict) or not names:
        return obj
    volumes = [v for v in pod_spec.get("volumes") or [] if not isinstance(v, dict) or v.get("name") not in names]
    volumes += [{"name": n, "persistentVolumeClaim": {"claimName": n}} for n in names if n]
    return dict(obj, spec=dict(spec, template=dict(template, spec=dict(pod_spec, volumes=volumes))))


def validate_statefulset_update(old: dict, new: dict) -> list:
    """Only replicas, ordinals, template, updateStrategy, revisionHistoryLimit, the claim
    retention policy and minReadySeconds of a StatefulSet may change."""
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    frozen = lambda spec: {k: v for k, v in spec.items() if k not in STATEFULSET_MUTABLE}  # noqa: E731
    if json.dumps(frozen(old_spec), sort_keys=True) != json.dumps(frozen(new_spec), sort_keys=True):
        return [forbidden("spec", "updates to statefulset spec for fields other than 'replicas', 'ordinals', "
                                  "'template', 'updateStrategy', 'revisionHistoryLimit', "
                                  "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden")]
    return []


def validate_controller_revision(obj: dict) -> list:
    causes = non_negative("revision", obj.get("revision"))
    if obj.get("data") is None:
        causes.append(required("data", "data is mandatory"))
    return causes


def validate_controller_revision_update(old: dict, new: dict) -> list:
    """A ControllerRevision's data is a snapshot: it never changes (its revision number may)."""
    if json.dumps(old.get("data"), sort_keys=True) != json.dumps(new.get("data"), sort_keys=True):
        return [invalid("data", new.get("data"), "field is immutable")]
    return []
