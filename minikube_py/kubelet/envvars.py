"""A container's environment, built the way the kubelet builds it (before any runtime sees it).

Kubernetes resolves ``env`` in the kubelet (``makeEnvironmentVariables``), not
in the container runtime: ``value`` entries with ``$(VAR)`` expansion against
the entries before them, ``valueFrom.fieldRef`` (the pod's own name, namespace,
IP ...: the downward API) and ``valueFrom.resourceFieldRef`` (its requests and
limits).  The same ``$(VAR)`` expansion applies to ``command`` and ``args``.
"""
from __future__ import annotations

import json
import math
import re

from ..api.quantity import parse_quantity
from .runtime.base import ContainerStartError

_VAR_REF = re.compile(r"\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)")


def expand_vars(text: str, env: dict) -> str:
    """Kubernetes' $(VAR) expansion: known names are replaced, ``$$`` is a literal
    ``$``, unknown references stay as they are."""
    def repl(m):
        if m.group(0) == "$$":
            return "$"
        name = m.group(1)
        return env[name] if name in env else m.group(0)
    return _VAR_REF.sub(repl, text)


def _field_ref(pod: dict, path: str, node_name: str | None, pod_ip: str | None,
               host_ip: str | None) -> str | None:
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    m = re.match(r"metadata\.(labels|annotations)\['([^']*)'\]$", path)
    if m:
        return (meta.get(m.group(1)) or {}).get(m.group(2), "")
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace", "default"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName") or node_name,
        "spec.serviceAccountName": spec.get("serviceAccountName", "default"),
        "status.podIP": pod_ip or (pod.get("status") or {}).get("podIP"),
        "status.podIPs": pod_ip or (pod.get("status") or {}).get("podIP"),
        "status.hostIP": host_ip or (pod.get("status") or {}).get("hostIP"),
    }
    if path in simple:
        return simple[path] or ""
    return None


def _resource_ref(spec: dict, ref: dict) -> str | None:
    resource = ref.get("resource", "")
    where, _, what = resource.partition(".")
    value = ((spec.get("resources") or {}).get(where) or {}).get(what)
    if value is None:
        return None
    divisor = parse_quantity(ref.get("divisor", "1"))
    return str(math.ceil(parse_quantity(value) / divisor))


def resolve_env(pod: dict, spec: dict, *, node_name: str | None = None,
                pod_ip: str | None = None, host_ip: str | None = None,
                extra_env: dict | None = None) -> dict:
    """The container's environment as a dict, the way the kubelet builds it.

    * ``value`` entries, with $(VAR) expansion against the entries before them;
    * ``valueFrom.fieldRef`` (metadata.name/namespace/uid/labels/annotations,
      spec.nodeName, spec.serviceAccountName, status.podIP, status.hostIP) and
      ``valueFrom.resourceFieldRef`` (when the request/limit is set);
    * anything else (secretKeyRef, configMapKeyRef, envFrom) must be resolved by
      the caller and handed in as ``extra_env``;
    * ``extra_env`` is applied last and wins: it is what the kubelet computed
      (device plugin allocations such as NVIDIA_VISIBLE_DEVICES, resolved
      secrets), which a pod spec must not override.

    Raises ContainerStartError(CreateContainerConfigError) for a reference it
    cannot resolve.
    """
    extra_env = {k: str(v) for k, v in (extra_env or {}).items()}
    env: dict[str, str] = {}
    for item in spec.get("env") or []:
        name = item["name"]
        if "valueFrom" not in item:
            env[name] = expand_vars(str(item.get("value", "")), env)
            continue
        if name in extra_env:
            env[name] = extra_env[name]
            continue
        source = item["valueFrom"] or {}
        value = None
        if "fieldRef" in source:
            value = _field_ref(pod, source["fieldRef"].get("fieldPath", ""),
                               node_name, pod_ip, host_ip)
        elif "resourceFieldRef" in source:
            value = _resource_ref(spec, source["resourceFieldRef"])
        if value is None:
            raise ContainerStartError(
                "CreateContainerConfigError",
                f"cannot resolve env {name!r} of container {spec.get('name')!r}: "
                f"{json.dumps(source)} (resolve it in the kubelet and pass extra_env)")
        env[name] = value
    env.update(extra_env)
    return env
