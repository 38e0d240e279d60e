"""The EndpointSlice controller: a Service's pods, in slices of at most 100.

Endpoints objects (controllers/endpoints.py) hold every address of a Service in one
object; with thousands of pods each change rewrites all of it, so Kubernetes moved to
EndpointSlices (discovery.k8s.io/v1): several small objects per Service, each with up
to 100 endpoints that share one list of ports. kubectl (`describe svc`), kube-proxy and
CoreDNS read slices today. This controller keeps them (kube-controller-manager's
"endpointslice" controller, pkg/controller/endpointslice), from the same pods and with
the same rules as the Endpoints controller:

- one endpoint per pod with an IP that has not finished, with conditions
  ``ready`` (Ready and not terminating; always true with publishNotReadyAddresses),
  ``serving`` (Ready, terminating or not) and ``terminating``;
- ports resolved per pod (a named targetPort may be a different number in different
  pods); pods that resolve to the same ports share slices;
- slices carry ``kubernetes.io/service-name`` and
  ``endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io`` labels
  and are owned by the Service (the garbage collector removes them with it).

    watches  services, pods, endpointslices
    writes   endpointslices (create, update, delete)
"""
from __future__ import annotations

import json

from ..api.kinds.service import is_headless
from ..client import errors
from ..client.informer import split_key
from .endpoints import ServicePodsController, endpoint_address, endpoint_port, find_port, pod_ip
from .podutil import is_pod_ready

SERVICE_NAME = "kubernetes.io/service-name"
MANAGED_BY = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
MAX_ENDPOINTS_PER_SLICE = 100       # kube-controller-manager's --max-endpoints-per-slice default
SERVICE_INDEX = "service-name"


# ---------------------------------------------------------------- the pure part
def endpoint_of(service: dict, pod: dict, publish_not_ready: bool) -> dict:
    """One pod as an EndpointSlice endpoint."""
    addr = endpoint_address(service, pod)
    terminating = bool((pod.get("metadata") or {}).get("deletionTimestamp"))
    ready = is_pod_ready(pod)
    endpoint = {"addresses": [addr["ip"]],
                "conditions": {"ready": publish_not_ready or (ready and not terminating),
                               "serving": publish_not_ready or ready,
                               "terminating": terminating}}
    if addr.get("hostname"):
        endpoint["hostname"] = addr["hostname"]
    if addr.get("nodeName"):
        endpoint["nodeName"] = addr["nodeName"]
    endpoint["targetRef"] = addr["targetRef"]
    return endpoint


def desired_slices(service: dict, pods: list[dict]) -> list[tuple[list[dict], list[dict]]]:
    """[(ports, endpoints)]: endpoints grouped by their resolved ports, at most 100 a slice."""
    spec = service.get("spec") or {}
    publish = bool(spec.get("publishNotReadyAddresses"))
    groups: dict[str, tuple[list, list]] = {}
    for pod in pods:
        if (pod.get("status") or {}).get("phase") in ("Succeeded", "Failed") or not pod_ip(pod):
            continue
        ports = []
        for sp in spec.get("ports") or []:
            number = find_port(pod, sp)
            if number is not None:
                port = endpoint_port(sp, number)
                port.setdefault("name", "")
                ports.append(port)
        if spec.get("ports") and not ports and not is_headless(service):
            continue
        ports.sort(key=lambda p: (p["name"], p["port"], p["protocol"]))
        key = json.dumps(ports, sort_keys=True)
        groups.setdefault(key, (ports, []))[1].append(endpoint_of(service, pod, publish))
    slices = []
    for key in sorted(groups):
        ports, endpoints = groups[key]
        endpoints.sort(key=lambda e: (e["addresses"][0], e["targetRef"]["name"]))
        for i in range(0, len(endpoints), MAX_ENDPOINTS_PER_SLICE):
            slices.append((ports, endpoints[i:i + MAX_ENDPOINTS_PER_SLICE]))
    return slices


def slice_labels(service: dict) -> dict:
    labels = dict((service.get("metadata") or {}).get("labels") or {})
    labels[SERVICE_NAME] = service["metadata"]["name"]
    labels[MANAGED_BY] = CONTROLLER_NAME
    if is_headless(service):
        labels["service.kubernetes.io/headless"] = ""
    return labels


def _service_name_of(obj: dict):
    labels = (obj.get("metadata") or {}).get("labels") or {}
    if labels.get(MANAGED_BY) != CONTROLLER_NAME or not labels.get(SERVICE_NAME):
        return []
    return [f"{obj['metadata'].get('namespace')}/{labels[SERVICE_NAME]}"]


# ---------------------------------------------------------------- the controller
class EndpointSliceController(ServicePodsController):
    name = "endpointslice"
    workers = 2
    quiet_retries = True

    def __init__(self, client, informers):
        super().__init__(client, informers)
        self.slices = informers.get("endpointslices")
        self.slices.add_index(SERVICE_INDEX, _service_name_of)
        self.slices.add_handler(on_delete=self._slice_changed,
                                on_update=lambda old, new: self._slice_changed(new))

    def _slice_changed(self, es: dict):
        for key in _service_name_of(es):     # someone changed or deleted one of ours: put it back
            self.queue.add(key)

    # ------------------------------------------------------------ sync
    def sync(self, key: str) -> None:
        namespace, name = split_key(key)
        service = self.services.get(key)
        current = sorted(self.slices.by_index(SERVICE_INDEX, key), key=lambda s: s["metadata"]["name"])
        spec = (service or {}).get("spec") or {}
        if service is None or spec.get("type") == "ExternalName" or spec.get("selector") is None:
            for es in current:              # no Service (or none of ours to keep): no slices
                self._delete(es)
            return
        pods = self.selected_pods(service)
        labels = slice_labels(service)
        owner = {"apiVersion": "v1", "kind": "Service", "name": name,
                 "uid": service["metadata"].get("uid"), "controller": True, "blockOwnerDeletion": True}
        wanted = desired_slices(service, pods) or [([], [])]    # an empty slice says "no endpoints"
        for i, (ports, endpoints) in enumerate(wanted):
            body = {"addressType": "IPv4", "endpoints": endpoints, "ports": ports}
            if i < len(current):
                es = current[i]
                if {k: es.get(k) or [] for k in ("endpoints", "ports")} == \
                        {"endpoints": endpoints, "ports": ports} and \
                        (es["metadata"].get("labels") or {}) == labels:
                    continue                # as it should be: no write
                updated = dict(es, **body)
                updated["metadata"] = dict(es["metadata"], labels=labels)
                self._write(self.client.update, "endpointslices", updated)
            else:
                new = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
                       "metadata": {"generateName": f"{name}-", "namespace": namespace,
                                    "labels": labels, "ownerReferences": [owner]}, **body}
                self._write(lambda r, o: self.client.create(r, o, namespace=namespace), "endpointslices", new)
        for es in current[len(wanted):]:
            self._delete(es)

    def _write(self, verb, resource: str, obj: dict) -> None:
        try:
            verb(resource, obj)
        except errors.Forbidden:
            pass           # the namespace is terminating
        except errors.NotFound:
            pass           # deleted meanwhile: its delete event queues the Service again

    def _delete(self, es: dict) -> None:
        try:
            self.client.delete("endpointslices", es["metadata"]["name"],
                               namespace=es["metadata"].get("namespace"))
        except errors.NotFound:
            pass
