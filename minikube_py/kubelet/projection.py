"""What files a configMap, secret, downwardAPI or projected volume holds: its *payload*.

Pure functions from the volume source and the objects it names to
``{path: (bytes, mode)}``, which the atomic writer (atomicwriter.py) puts on
disk.  The rules are upstream's ``MakePayload`` / ``CollectData``:

* without ``items`` every key becomes a file of that name; with ``items`` only
  the keys listed, at their ``path``, each with its own ``mode`` if given;
* ``defaultMode`` (0644 when unset) is the mode of every other file;
* an item naming a key the object lacks is an error
  (``configmap references non-existent config key: k``) unless the source is
  ``optional``; a missing optional object is an empty volume;
* a downwardAPI item is a ``fieldRef`` (name, namespace, uid, labels,
  annotations -- maps as sorted ``key="value"`` lines) or a ``resourceFieldRef``
  of a named container (divided by ``divisor``, rounded up);
* a projected volume merges its sources (configMap, secret, downwardAPI,
  serviceAccountToken) into one directory, and reports every failing source.
"""
from __future__ import annotations

from .envvars import field_value, resource_value
from .objectcache import ObjectError, configmap_bytes, secret_bytes

DEFAULT_MODE = 0o644
DEFAULT_TOKEN_EXPIRATION = 3600


class ProjectionError(Exception):
    """A volume cannot be set up; ``str()`` is the message after ``MountVolume.SetUp failed``."""


def _mode(value, default: int) -> int:
    return default if value is None else int(value)


def keys_payload(kind: str, obj: dict | None, items: list | None, default_mode: int,
                 optional: bool) -> dict:
    """The files of a ConfigMap or Secret (``kind``: "configmap" | "secret")."""
    if obj is None:
        return {}
    value_of = configmap_bytes if kind == "configmap" else secret_bytes
    payload = {}
    if not items:
        keys = list(obj.get("data") or {})
        if kind == "configmap":
            keys += list(obj.get("binaryData") or {})
        for key in keys:
            payload[key] = (value_of(obj, key), default_mode)
        return payload
    for item in items:
        data = value_of(obj, item.get("key", ""))
        if data is None:
            if optional:
                continue
            what = "config" if kind == "configmap" else "secret"
            raise ProjectionError(f"{kind} references non-existent {what} key: {item.get('key')}")
        payload[item["path"]] = (data, _mode(item.get("mode"), default_mode))
    return payload


def downward_api_payload(pod: dict, items: list | None, default_mode: int,
                         allocatable=None) -> dict:
    """The files of a downwardAPI volume (or source)."""
    spec = pod.get("spec") or {}
    containers = (spec.get("containers") or []) + (spec.get("initContainers") or [])
    payload = {}
    for item in items or []:
        if item.get("fieldRef"):
            path = item["fieldRef"].get("fieldPath", "")
            value = field_value(pod, path)
            if value is None:
                raise ProjectionError(f"unsupported fieldPath: {path}")
        elif item.get("resourceFieldRef"):
            ref = item["resourceFieldRef"]
            name = ref.get("containerName", "")
            container = next((c for c in containers if c.get("name") == name), None)
            if container is None:
                raise ProjectionError(f"container {name!r} not found in pod for "
                                      f"resourceFieldRef {ref.get('resource')}")
            value = resource_value(container, ref.get("resource", ""), ref.get("divisor", "1"),
                                   allocatable)
            if value is None:
                raise ProjectionError(f"unsupported container resource: {ref.get('resource')}")
        else:
            continue
        payload[item["path"]] = (value.encode(), _mode(item.get("mode"), default_mode))
    return payload


def _namespace(pod: dict) -> str:
    return (pod.get("metadata") or {}).get("namespace", "default")


def object_source_payload(kind: str, source: dict, pod: dict, objects,
                          default_mode: int) -> dict:
    """A configMap/secret volume or projected source: fetch the object, make its files."""
    name = source.get("name") if kind == "configmap" else \
        source.get("secretName", source.get("name"))
    optional = bool(source.get("optional"))
    try:
        obj = getattr(objects, kind)(_namespace(pod), name or "")
    except ObjectError as e:
        if not (e.not_found and optional):
            raise ProjectionError(e.message) from None
        obj = None
    return keys_payload(kind, obj, source.get("items"), default_mode, optional)


def projected_payload(pod: dict, projected: dict, objects, allocatable=None) -> dict:
    """A projected volume: all its sources in one directory."""
    default_mode = _mode(projected.get("defaultMode"), DEFAULT_MODE)
    payload, errors = {}, []
    for source in projected.get("sources") or []:
        try:
            if source.get("configMap") is not None:
                payload.update(object_source_payload("configmap", source["configMap"], pod,
                                                     objects, default_mode))
            elif source.get("secret") is not None:
                payload.update(object_source_payload("secret", source["secret"], pod,
                                                     objects, default_mode))
            elif source.get("downwardAPI") is not None:
                payload.update(downward_api_payload(pod, source["downwardAPI"].get("items"),
                                                    default_mode, allocatable))
            elif source.get("serviceAccountToken") is not None:
                sat = source["serviceAccountToken"]
                token = objects.token(pod, sat.get("audience"),
                                      int(sat.get("expirationSeconds")
                                          or DEFAULT_TOKEN_EXPIRATION))
                payload[sat["path"]] = (token, default_mode)
        except (ProjectionError, ObjectError) as e:
            errors.append(str(e))
    if len(errors) == 1:
        raise ProjectionError(errors[0])
    if errors:
        raise ProjectionError("[" + ", ".join(errors) + "]")
    return payload


def volume_payload(pod: dict, volume: dict, objects, allocatable=None):
    """(plugin directory name, payload) of a volume the writer fills; None for other types."""
    if volume.get("configMap") is not None:
        src = volume["configMap"]
        return "kubernetes.io~configmap", object_source_payload(
            "configmap", src, pod, objects, _mode(src.get("defaultMode"), DEFAULT_MODE))
    if volume.get("secret") is not None:
        src = volume["secret"]
        return "kubernetes.io~secret", object_source_payload(
            "secret", src, pod, objects, _mode(src.get("defaultMode"), DEFAULT_MODE))
    if volume.get("downwardAPI") is not None:
        src = volume["downwardAPI"]
        return "kubernetes.io~downward-api", downward_api_payload(
            pod, src.get("items"), _mode(src.get("defaultMode"), DEFAULT_MODE), allocatable)
    if volume.get("projected") is not None:
        return "kubernetes.io~projected", projected_payload(pod, volume["projected"], objects,
                                                            allocatable)
    return None
