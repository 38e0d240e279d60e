"""Pod validation: the spec every pod (and every pod template) must have, and what an
update of a pod may change (Kubernetes' ValidatePodSpec and ValidatePodUpdate)."""
import copy

from .defaults import default_pod
from .names import is_dns1123_label
from .validation import (TAINT_EFFECTS, diff_lines, duplicate, forbidden, invalid, non_negative, not_found,
                         not_supported, required, validate_labels, validate_resources)

__all__ = ["validate_pod", "validate_pod_spec", "validate_pod_update"]


# ---------------------------------------------------------------- pods

RESTART_POLICIES = ["Always", "OnFailure", "Never"]
PULL_POLICIES = ["Always", "IfNotPresent", "Never"]
DNS_POLICIES = ["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"]
PROTOCOLS = ["TCP", "UDP", "SCTP"]


def _validate_container(c: dict, path: str, volume_names: set) -> list:
    causes = []
    if not c.get("image"):
        causes.append(required(f"{path}.image"))
    policy = c.get("imagePullPolicy")
    if policy is not None and policy not in PULL_POLICIES:
        causes.append(not_supported(f"{path}.imagePullPolicy", policy, PULL_POLICIES))
    for j, port in enumerate(c.get("ports") or []):
        pp = f"{path}.ports[{j}]"
        number = port.get("containerPort")
        if not isinstance(number, int) or not 1 <= number <= 65535:
            causes.append(invalid(f"{pp}.containerPort", number,
                                  "must be between 1 and 65535, inclusive"))
        if port.get("protocol") is not None and port["protocol"] not in PROTOCOLS:
            causes.append(not_supported(f"{pp}.protocol", port["protocol"], PROTOCOLS))
    for j, env in enumerate(c.get("env") or []):
        if not env.get("name"):
            causes.append(required(f"{path}.env[{j}].name"))
    for j, mount in enumerate(c.get("volumeMounts") or []):
        mp = f"{path}.volumeMounts[{j}]"
        if not mount.get("name"):
            causes.append(required(f"{mp}.name"))
        elif mount["name"] not in volume_names:
            causes.append(not_found(f"{mp}.name", mount["name"]))
        if not mount.get("mountPath"):
            causes.append(required(f"{mp}.mountPath"))
    return causes + validate_resources(c.get("resources"), f"{path}.resources")


def _validate_tolerations(tolerations, path: str) -> list:
    causes = []
    for i, t in enumerate(tolerations or []):
        tp = f"{path}[{i}]"
        operator = t.get("operator") or "Equal"
        if operator not in ("Equal", "Exists"):
            causes.append(not_supported(f"{tp}.operator", operator, ["Equal", "Exists"]))
        if operator == "Exists" and t.get("value"):
            causes.append(invalid(f"{tp}.operator", t["value"],
                                  "value must be empty when `operator` is 'Exists'"))
        if not t.get("key") and operator != "Exists":
            causes.append(invalid(f"{tp}.operator", operator,
                                  "operator must be Exists when `key` is empty, "
                                  "which means \"match all values and all keys\""))
        if t.get("effect") and t["effect"] not in TAINT_EFFECTS:
            causes.append(not_supported(f"{tp}.effect", t["effect"], TAINT_EFFECTS))
    return causes


def validate_pod_spec(spec, path: str = "spec") -> list:
    """Check a pod spec; `path` is where it sits ("spec" or "spec.template.spec")."""
    if not isinstance(spec, dict):
        return [required(path)]
    causes, volume_names = [], set()
    for i, vol in enumerate(spec.get("volumes") or []):
        vp, name = f"{path}.volumes[{i}].name", vol.get("name")
        if not name:
            causes.append(required(vp))
            continue
        causes += [invalid(vp, name, msg) for msg in is_dns1123_label(name)]
        if name in volume_names:
            causes.append(duplicate(vp, name))
        volume_names.add(name)

    if not spec.get("containers"):
        causes.append(required(f"{path}.containers"))
    seen = set()                 # container names are unique across all container lists
    for group in ("initContainers", "containers"):
        for i, c in enumerate(spec.get(group) or []):
            cp, name = f"{path}.{group}[{i}]", c.get("name")
            if not name:
                causes.append(required(f"{cp}.name"))
            else:
                causes += [invalid(f"{cp}.name", name, msg) for msg in is_dns1123_label(name)]
                if name in seen:
                    causes.append(duplicate(f"{cp}.name", name))
                seen.add(name)
            causes += _validate_container(c, cp, volume_names)

    for field, allowed in (("restartPolicy", RESTART_POLICIES), ("dnsPolicy", DNS_POLICIES)):
        value = spec.get(field)
        if value is not None and value not in allowed:
            causes.append(not_supported(f"{path}.{field}", value, allowed))
    deadline = spec.get("activeDeadlineSeconds")
    if deadline is not None and not (isinstance(deadline, int) and 1 <= deadline <= 2**31 - 1):
        causes.append(invalid(f"{path}.activeDeadlineSeconds", deadline,
                              "must be between 1 and 2147483647, inclusive"))
    causes += non_negative(f"{path}.terminationGracePeriodSeconds",
                            spec.get("terminationGracePeriodSeconds"))
    causes += validate_labels(spec.get("nodeSelector"), f"{path}.nodeSelector")
    causes += _validate_tolerations(spec.get("tolerations"), f"{path}.tolerations")
    return causes


def validate_pod(obj: dict) -> list:
    return validate_pod_spec(obj.get("spec"), "spec")


# ---------------------------------------------------------------- updates

UPDATABLE_POD_FIELDS = [
    "`spec.containers[*].image`",
    "`spec.initContainers[*].image`",
    "`spec.activeDeadlineSeconds`",
    "`spec.tolerations` (only additions to existing tolerations)",
    "`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)",
]


def _validate_running_pod_update(old: dict, new: dict) -> list:
    """Only a few fields of a running pod's spec may change (see UPDATABLE_POD_FIELDS)."""
    # Default a copy of the old pod too, so that a pod stored before some default was
    # added does not look changed when the new copy gets that default.
    old = copy.deepcopy(old)
    try:
        default_pod(old)
    except (AttributeError, TypeError):
        pass    # malformed: the checks below report it
    old_spec, new_spec = old.get("spec") or {}, new.get("spec") or {}
    causes = []
    old_deadline, new_deadline = old_spec.get("activeDeadlineSeconds"), new_spec.get("activeDeadlineSeconds")
    if new_deadline is None and old_deadline is not None:
        causes.append(invalid("spec.activeDeadlineSeconds", None,
                              "must not update from a positive integer to nil value"))
    elif new_deadline is not None and old_deadline is not None and new_deadline > old_deadline:
        causes.append(invalid("spec.activeDeadlineSeconds", new_deadline,
                              "must be less than or equal to previous value"))
    old_tolerations = old_spec.get("tolerations") or []
    new_tolerations = new_spec.get("tolerations") or []
    if any(t not in new_tolerations for t in old_tolerations):
        causes.append(forbidden("spec.tolerations",
                                "existing toleration can not be modified except its tolerationSeconds"))

    # Copy the new spec and undo the allowed changes; whatever differs then is forbidden.
    munged = copy.deepcopy(new_spec)
    for group in ("containers", "initContainers"):
        for c_new, c_old in zip(munged.get(group) or [], old_spec.get(group) or []):
            if "image" in c_old:
                c_new["image"] = c_old["image"]
    for field in ("activeDeadlineSeconds", "tolerations"):
        munged.pop(field, None)
        if field in old_spec:
            munged[field] = old_spec[field]
    grace = old_spec.get("terminationGracePeriodSeconds")
    if isinstance(grace, int) and grace < 0 and munged.get("terminationGracePeriodSeconds") == 1:
        munged["terminationGracePeriodSeconds"] = grace
    if munged != old_spec:
        detail = ("pod updates may not change fields other than " + ",".join(UPDATABLE_POD_FIELDS)
                  + "\n" + "\n".join(diff_lines(old_spec, munged, "spec")))
        causes.append(forbidden("spec", detail))
    return causes


def validate_pod_update(old: dict, new: dict) -> list:
    causes = _validate_running_pod_update(old, new)
    old_phase = (old.get("status") or {}).get("phase")
    new_phase = (new.get("status") or {}).get("phase")
    if old_phase in ("Succeeded", "Failed") and new_phase != old_phase:
        # A pod that finished stays finished (ValidatePodStatusUpdate).
        causes.append(forbidden("status.phase", f"cannot transition from terminal phase "
                                                f"{old_phase!r} to {new_phase!r}"))
    return causes
