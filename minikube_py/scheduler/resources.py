"""What a pod asks for and what a node offers, as plain integers.

Quantities ("250m", "1Gi") are parsed once into integers the scheduler can add up
quickly: CPU in millicores, everything else (memory bytes, pods, nvidia.com/gpu, ...)
as a whole number rounded up, as Kubernetes' Quantity.Value() does.

A pod's request is not simply the sum of its containers. Init containers run one
after the other *before* the app containers, so the pod needs, per resource,

    max(sum of the app containers, the largest single init container)

plus ``spec.overhead`` (the sandbox's own cost). Sidecars -- init containers with
``restartPolicy: Always`` -- keep running beside everything started after them, so
they are added to both sides. This is Kubernetes' ``PodRequests``.
"""
from __future__ import annotations

import math
from functools import lru_cache

from ..api.quantity import QuantityError, parse_quantity

__all__ = ["CPU", "MEMORY", "PODS", "DEFAULT_MILLI_CPU_REQUEST", "DEFAULT_MEMORY_REQUEST",
           "ResourceError", "amount", "resource_list", "pod_requests"]

CPU, MEMORY, PODS = "cpu", "memory", "pods"

# For *scoring* only, a container that asks for nothing is counted as asking for
# this much, so that a node full of "free" pods does not look empty
# (Kubernetes' DefaultMilliCPURequest / DefaultMemoryRequest).
DEFAULT_MILLI_CPU_REQUEST = 100
DEFAULT_MEMORY_REQUEST = 200 * 1024 * 1024


class ResourceError(ValueError):
    """A resource amount that is not a valid, non-negative quantity."""


@lru_cache(maxsize=16384)
def _amount(resource: str, value) -> int:
    q = parse_quantity(value)
    if q < 0:
        raise QuantityError("must be greater than or equal to 0")
    return math.ceil(q * 1000) if resource == CPU else math.ceil(q)


def amount(resource: str, value) -> int:
    """One amount as an integer: millicores for cpu, a rounded-up count otherwise.

    Cached: a cluster repeats the same few strings ("100m", "128Mi") endlessly.
    """
    try:
        return _amount(resource, value)
    except TypeError:            # unhashable (a list or dict where a quantity belongs)
        raise ResourceError(f"{resource}: quantity must be a string or a number") from None
    except QuantityError as err:
        raise ResourceError(f"{resource}: {value!r}: {err}") from None


def resource_list(amounts, where: str = "") -> dict[str, int]:
    """A ResourceList (``{"cpu": "500m", ...}``) as ``{"cpu": 500, ...}``."""
    if not amounts:
        return {}
    if not isinstance(amounts, dict):
        raise ResourceError(f"{where or 'resources'}: must be a map of resource names to quantities")
    out = {}
    for name, value in amounts.items():
        try:
            out[name] = amount(name, value)
        except ResourceError as err:
            raise ResourceError(f"{where}[{name}]: {err}" if where else str(err)) from None
    return out


def _container_requests(c: dict, where: str, defaults: dict | None) -> dict[str, int]:
    resources = c.get("resources") or {}
    if not isinstance(resources, dict):
        raise ResourceError(f"{where}.resources: must be an object")
    reqs = resource_list(resources.get("requests"), f"{where}.resources.requests")
    if defaults:
        for name, value in defaults.items():
            if name not in reqs:      # an explicit 0 stays 0, as in Kubernetes
                reqs[name] = value
    return reqs


def _add(into: dict, more: dict) -> None:
    for name, value in more.items():
        into[name] = into.get(name, 0) + value


def _max(into: dict, other: dict) -> None:
    for name, value in other.items():
        if value > into.get(name, 0):
            into[name] = value


def pod_requests(spec: dict, defaults: dict | None = None) -> dict[str, int]:
    """The pod's effective requests, ``{resource: integer}``.

    ``defaults`` (e.g. ``{"cpu": 100, "memory": 200Mi}``) fills in containers that
    ask for none of a resource; the scheduler's scorers use that "non-zero" view.
    Raises :class:`ResourceError` for an amount that is not a quantity.
    """
    apps: dict[str, int] = {}
    for i, c in enumerate(spec.get("containers") or []):
        _add(apps, _container_requests(c, f"spec.containers[{i}]", defaults))

    sidecars: dict[str, int] = {}   # restartable init containers started so far
    init_peak: dict[str, int] = {}
    for i, c in enumerate(spec.get("initContainers") or []):
        reqs = _container_requests(c, f"spec.initContainers[{i}]", defaults)
        if c.get("restartPolicy") == "Always":
            _add(apps, reqs)          # a sidecar keeps running beside the app containers
            _add(sidecars, reqs)
            needed = dict(sidecars)
        else:
            needed = dict(reqs)
            _add(needed, sidecars)    # an init container runs beside the sidecars before it
        _max(init_peak, needed)
    _max(apps, init_peak)

    overhead = resource_list(spec.get("overhead"), "spec.overhead")
    _add(apps, overhead)
    return apps
