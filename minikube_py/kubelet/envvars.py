"""A container's environment, built the way the kubelet builds it (before any runtime sees it).

Kubernetes resolves ``env`` in the kubelet (``makeEnvironmentVariables``), not
in the container runtime: ``envFrom`` (all keys of a ConfigMap or Secret),
``value`` entries with ``$(VAR)`` expansion against the entries before them,
``valueFrom.fieldRef`` (the pod's own name, namespace, IP ...: the downward
API), ``valueFrom.resourceFieldRef`` (its requests and limits) and
``configMapKeyRef``/``secretKeyRef``.  The same ``$(VAR)`` expansion applies to
``command`` and ``args``.  The downward API volume (projection.py) reads the
same fields through ``field_value`` and ``resource_value``.
"""
from __future__ import annotations

import json
import math
import re

from ..api.quantity import parse_quantity
from .objectcache import ObjectError, secret_bytes
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


def format_map(m: dict) -> str:
    """A labels/annotations map as the downward API writes it: sorted ``key="value"`` lines
    (upstream's ``FormatMap``: Go-quoted values, no newline after the last)."""
    return "\n".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in sorted((m or {}).items()))


def field_value(pod: dict, path: str, node_name: str | None = None, pod_ip: str | None = None,
                host_ip: str | None = None) -> str | None:
    """A ``fieldRef.fieldPath`` of the pod (the downward API); None for one we do not know."""
    meta, spec = pod.get("metadata") or {}, pod.get("spec") or {}
    m = re.match(r"metadata\.(labels|annotations)\['([^']*)'\]$", path)
    if m:
        return (meta.get(m.group(1)) or {}).get(m.group(2), "")
    if path in ("metadata.labels", "metadata.annotations"):
        return format_map(meta.get(path.split(".")[1]))
    simple = {
        "metadata.name": meta.get("name"),
        "metadata.namespace": meta.get("namespace", "default"),
        "metadata.uid": meta.get("uid"),
        "spec.nodeName": spec.get("nodeName") or node_name,
        "spec.serviceAccountName": spec.get("serviceAccountName", "default"),
        "status.podIP": pod_ip or (pod.get("status") or {}).get("podIP"),
        "status.podIPs": pod_ip or (pod.get("status") or {}).get("podIP"),
        "status.hostIP": host_ip or (pod.get("status") or {}).get("hostIP"),
        "status.hostIPs": host_ip or (pod.get("status") or {}).get("hostIP"),
    }
    if path in simple:
        return simple[path] or ""
    return None


def resource_value(container: dict, resource: str, divisor="1",
                   allocatable=None) -> str | None:
    """A ``resourceFieldRef``: the container's request or limit, divided and rounded up.

    A limit that is not set reads as the node's allocatable amount, an unset
    request as 0 (upstream's ``ExtractContainerResourceValue``); ``allocatable`` is
    a dict or a function returning one.  None for a resource it does not know.
    """
    where, _, what = resource.partition(".")
    if where not in ("limits", "requests") or what not in ("cpu", "memory", "ephemeral-storage") \
            and not what.startswith("hugepages-"):
        return None
    value = ((container.get("resources") or {}).get(where) or {}).get(what)
    if value is None and where == "limits":
        if callable(allocatable):                 # asked only when needed (it reads the host)
            allocatable = allocatable()
        value = (allocatable or {}).get(what)
    elif value is None:
        value = "0"
    if value is None:
        return None
    divisor = parse_quantity(divisor or "1")
    if divisor <= 0:
        return None
    return str(math.ceil(parse_quantity(value) / divisor))


ENV_VAR_NAME = re.compile(r"[-._a-zA-Z][-._a-zA-Z0-9]*")

# Services whose variables every pod gets, whatever its namespace and enableServiceLinks:
# `kubernetes` in `default` is how a pod finds the apiserver (load_incluster_config reads
# KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT).
MASTER_SERVICES = ("kubernetes",)


def _env_name(name: str) -> str:
    return name.replace("-", "_").upper()


def service_variables(service: dict) -> dict:
    """One Service's variables (upstream's envvars.FromServices): <NAME>_SERVICE_HOST,
    <NAME>_SERVICE_PORT (the first port) and _<PORTNAME> for named ports, and the Docker
    link variables <NAME>_PORT, <NAME>_PORT_<port>_<PROTO>{,_PROTO,_PORT,_ADDR}."""
    spec = service.get("spec") or {}
    ip, ports = spec.get("clusterIP"), spec.get("ports") or []
    if not ip or ip == "None" or not ports:
        return {}
    prefix = _env_name(service["metadata"]["name"])
    env = {f"{prefix}_SERVICE_HOST": ip, f"{prefix}_SERVICE_PORT": str(ports[0].get("port"))}
    for port in ports:
        if port.get("name"):
            env[f"{prefix}_SERVICE_PORT_{_env_name(port['name'])}"] = str(port.get("port"))
    host = f"[{ip}]" if ":" in ip else ip
    for i, port in enumerate(ports):
        proto = (port.get("protocol") or "TCP").lower()
        url = f"{proto}://{host}:{port.get('port')}"
        if i == 0:
            env[f"{prefix}_PORT"] = url
        each = f"{prefix}_PORT_{port.get('port')}_{proto.upper()}"
        env.update({each: url, f"{each}_PROTO": proto, f"{each}_PORT": str(port.get("port")),
                    f"{each}_ADDR": ip})
    return env


def service_env(services: list, namespace: str, enable_service_links: bool = True) -> dict:
    """The variables of the Services a pod in `namespace` sees (upstream's
    getServiceEnvVarMap): its own namespace's when enableServiceLinks, and always the
    master services of `default`."""
    chosen: dict[str, dict] = {}
    for svc in services:
        md = svc.get("metadata") or {}
        if md.get("namespace") == "default" and md.get("name") in MASTER_SERVICES:
            chosen.setdefault(md["name"], svc)
        elif md.get("namespace") == namespace and enable_service_links:
            chosen[md["name"]] = svc
    env: dict[str, str] = {}
    for name in sorted(chosen):
        env.update(service_variables(chosen[name]))
    return env


def _lookup(objects, kind: str, namespace: str, ref: dict, cache: dict):
    """``ref`` names a ConfigMap/Secret: the object, or None when missing and optional."""
    name = ref.get("name", "")
    if (kind, name) not in cache:
        if objects is None:
            raise ContainerStartError("CreateContainerConfigError",
                                      f"cannot read {kind} {name!r}: no API access")
        try:
            cache[(kind, name)] = getattr(objects, kind)(namespace, name)
        except ObjectError as e:
            if not (e.not_found and ref.get("optional")):
                raise ContainerStartError("CreateContainerConfigError", e.message) from None
            cache[(kind, name)] = None
    return cache[(kind, name)]


def _values(kind: str, obj: dict) -> dict:
    if kind == "secret":
        return {k: secret_bytes(obj, k).decode("utf-8", "replace") for k in obj.get("data") or {}}
    return {k: str(v) for k, v in (obj.get("data") or {}).items()}


def _env_from(pod: dict, spec: dict, objects, cache: dict, warn) -> dict:
    """``envFrom``: every key of each ConfigMap/Secret (with ``prefix``), in order."""
    namespace = (pod.get("metadata") or {}).get("namespace", "default")
    env: dict[str, str] = {}
    for source in spec.get("envFrom") or []:
        kind, ref = ("configmap", source["configMapRef"]) if source.get("configMapRef") \
            else ("secret", source.get("secretRef") or {})
        obj = _lookup(objects, kind, namespace, ref, cache)
        if obj is None:
            continue
        invalid = []
        for key, value in _values(kind, obj).items():
            key = (source.get("prefix") or "") + key
            if ENV_VAR_NAME.fullmatch(key):
                env[key] = value
            else:
                invalid.append(key)
        if invalid and warn is not None:
            what = "configMap" if kind == "configmap" else "secret"
            warn("InvalidEnvironmentVariableNames",
                 f"Keys [{', '.join(sorted(invalid))}] from the EnvFrom {what} "
                 f"{namespace}/{ref.get('name', '')} were skipped since they are considered "
                 f"invalid environment variable names.")
    return env


def _key_ref(pod: dict, kind: str, ref: dict, objects, cache: dict) -> str | None:
    """``configMapKeyRef``/``secretKeyRef``: the value; None when missing and optional."""
    namespace = (pod.get("metadata") or {}).get("namespace", "default")
    obj = _lookup(objects, kind, namespace, ref, cache)
    if obj is None:
        return None
    value = _values(kind, obj).get(ref.get("key", ""))
    if value is None:
        if ref.get("optional"):
            return None
        title = "ConfigMap" if kind == "configmap" else "Secret"
        raise ContainerStartError(
            "CreateContainerConfigError",
            f"couldn't find key {ref.get('key', '')} in {title} {namespace}/{ref.get('name', '')}")
    return value


def resolve_env(pod: dict, spec: dict, *, node_name: str | None = None,
                pod_ip: str | None = None, host_ip: str | None = None,
                extra_env: dict | None = None, objects=None, allocatable=None,
                warn=None, services: list | None = None) -> dict:
    """The container's environment as a dict, the way the kubelet builds it.

    * ``envFrom`` first: every key of the ConfigMaps/Secrets named (with
      ``prefix``; keys that are no variable names are skipped, with a warning
      through ``warn(reason, message)``);
    * then ``env``, which wins: ``value`` entries with $(VAR) expansion against
      everything before them; ``valueFrom.fieldRef`` (metadata.name/namespace/
      uid/labels/annotations, spec.nodeName, spec.serviceAccountName,
      status.podIP, status.hostIP), ``valueFrom.resourceFieldRef`` and
      ``configMapKeyRef``/``secretKeyRef`` (read through ``objects``, an
      ObjectCache);
    * ``optional: true`` refs to missing objects or keys are left out;
    * ``services`` (when given) add their variables (``service_env``) under all of it:
      the container's own entries win, and $(VAR) can refer to them;
    * ``extra_env`` is applied last and wins: it is what the kubelet computed
      (device plugin allocations such as NVIDIA_VISIBLE_DEVICES), which a pod
      spec must not override.

    Raises ContainerStartError(CreateContainerConfigError) with upstream's
    message (``configmap "x" not found``, ``couldn't find key k in ConfigMap
    ns/x``) for a reference it cannot resolve.
    """
    extra_env = {k: str(v) for k, v in (extra_env or {}).items()}
    cache: dict = {}
    service_vars = {}
    if services is not None:
        pod_spec = pod.get("spec") or {}
        service_vars = service_env(services, (pod.get("metadata") or {}).get("namespace", "default"),
                                   pod_spec.get("enableServiceLinks") is not False)
    env: dict[str, str] = dict(service_vars)
    env.update(_env_from(pod, spec, objects, cache, warn))
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
            value = field_value(pod, source["fieldRef"].get("fieldPath", ""),
                                node_name, pod_ip, host_ip)
        elif "resourceFieldRef" in source:
            ref = source["resourceFieldRef"]
            value = resource_value(spec, ref.get("resource", ""), ref.get("divisor", "1"),
                                   allocatable)
        elif "configMapKeyRef" in source or "secretKeyRef" in source:
            kind = "configmap" if "configMapKeyRef" in source else "secret"
            ref = source.get("configMapKeyRef") or source.get("secretKeyRef") or {}
            value = _key_ref(pod, kind, ref, objects, cache)
            if value is None:
                continue                                  # optional and missing
        if value is None:
            raise ContainerStartError(
                "CreateContainerConfigError",
                f"cannot resolve env {name!r} of container {spec.get('name')!r}: "
                f"{json.dumps(source)}")
        env[name] = value
    env.update(extra_env)
    return env
