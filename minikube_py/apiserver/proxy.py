"""``GET pods/{name}/log``: the apiserver fetches logs from the pod's kubelet (and
``nodes/{name}/proxy/...`` any other kubelet page: its stats, its metrics).

Logs never go through etcd.  ``kubectl logs web`` asks the apiserver, which:

1. reads the pod, checks the container name (``container X is not valid for
   pod Y``; with several containers one must be named);
2. reads the pod's Node for the kubelet's address: ``status.addresses``
   (InternalIP) and ``status.daemonEndpoints.kubeletEndpoint.Port``;
3. streams ``GET http://<ip>:<port>/containerLogs/{ns}/{pod}/{container}``
   back to the client as text/plain -- with ``follow`` until the container
   stops or the client goes away.

The kubelet's refusals (400 "waiting to start: ContainerCreating" ...) come
back to kubectl as Status errors with the kubelet's message.
"""
from __future__ import annotations

import logging
import queue
import threading

import requests
from flask import Response

from ..streaming import client_gone
from .kubeletclient import PLAIN
from . import errors
from ..api.kinds.core import NODE, POD

log = logging.getLogger(__name__)

LOG_PARAMS = ("follow", "tailLines", "previous", "timestamps", "sinceSeconds", "sinceTime",
              "limitBytes")
INT_PARAMS = ("tailLines", "sinceSeconds", "limitBytes")
_END = object()


def pick_container(pod: dict, container: str | None) -> str:
    """The container whose logs are asked for, checked as Kubernetes' LogLocation does."""
    name = pod["metadata"]["name"]
    spec = pod.get("spec") or {}
    containers = [c["name"] for c in spec.get("containers") or []]
    inits = [c["name"] for c in spec.get("initContainers") or []]
    if not container:
        if len(containers) == 1:
            return containers[0]
        message = f"a container name must be specified for pod {name}, " \
                  f"choose one of: [{' '.join(containers)}]"
        if inits:
            message += f" or one of the init containers: [{' '.join(inits)}]"
        raise errors.bad_request(message)
    if container not in containers and container not in inits:
        raise errors.bad_request(f"container {container} is not valid for pod {name}")
    return container


def kubelet_endpoint(node: dict) -> tuple[str, int]:
    """(InternalIP, kubelet port) from a Node's status."""
    status = node.get("status") or {}
    addresses = status.get("addresses") or []
    ip = next((a["address"] for a in addresses if a.get("type") == "InternalIP"), None) \
        or next((a["address"] for a in addresses if a.get("address")), None)
    port = ((status.get("daemonEndpoints") or {}).get("kubeletEndpoint") or {}).get("Port")
    if not ip or not port:
        raise errors.APIError(500, "InternalError",
                              f'node "{node["metadata"]["name"]}" has no kubelet endpoint '
                              "(status.addresses / status.daemonEndpoints)")
    return ip, int(port)


def _query(args) -> dict:
    params = {}
    for key in LOG_PARAMS:
        value = args.get(key)
        if value in (None, ""):
            continue
        if key in INT_PARAMS:
            try:
                if int(value) < 0:
                    raise ValueError
            except ValueError:
                raise errors.bad_request(f"{key}: Invalid value: {value!r}: must be a "
                                         "non-negative integer") from None
        params[key] = value
    return params


def _error_from_kubelet(resp: requests.Response) -> errors.APIError:
    text = resp.text.strip()[:4096] or resp.reason
    if resp.status_code == 400:
        return errors.bad_request(text)
    if resp.status_code == 404:
        return errors.APIError(404, "NotFound", text)
    return errors.APIError(500, "InternalError", text)


def stream_pod_log(registry, namespace: str, name: str, args, sock=None, kubelet=PLAIN) -> Response:
    pod = registry.get(POD, namespace, name)
    container = pick_container(pod, args.get("container"))
    node_name = (pod.get("spec") or {}).get("nodeName")
    if not node_name:
        raise errors.bad_request(f"pod {name} does not have a host assigned")
    try:
        node = registry.get(NODE, None, node_name)
    except errors.APIError as err:
        if err.code == 404:
            raise errors.APIError(500, "InternalError",
                                  f'node "{node_name}" of pod {name} not found') from None
        raise
    ip, port = kubelet_endpoint(node)
    url = kubelet.url(ip, port, f"containerLogs/{namespace}/{name}/{container}")
    try:
        resp = requests.get(url, params=_query(args), stream=True, timeout=(5, None),
                            **kubelet.requests_options())
    except requests.RequestException as e:
        reason = "connect: connection refused" if "refused" in str(e) else str(e)
        raise errors.APIError(500, "InternalError",
                              f'Get "{url}": dial tcp {ip}:{port}: {reason}') from None
    if resp.status_code != 200:
        try:
            raise _error_from_kubelet(resp)
        finally:
            resp.close()
    return Response(_relay(resp, sock), mimetype="text/plain",
                    headers={"Cache-Control": "no-cache"}, direct_passthrough=True)


def proxy_to_kubelet(registry, node_name: str, path: str, query: bytes = b"", kubelet=PLAIN) -> Response:
    """``GET /api/v1/nodes/{name}/proxy/{path}``: the answer of that node's kubelet to
    ``GET /{path}`` (``kubectl get --raw /api/v1/nodes/n1/proxy/stats/summary``)."""
    ip, port = kubelet_endpoint(registry.get(NODE, None, node_name))
    url = kubelet.url(ip, port, path) + (f"?{query.decode()}" if query else "")
    try:
        resp = requests.get(url, timeout=(5, 30), **kubelet.requests_options())
    except requests.RequestException as e:
        raise errors.APIError(503, "ServiceUnavailable",
                              f'error trying to reach service: Get "{url}": {e}') from None
    return Response(resp.content, status=resp.status_code,
                    content_type=resp.headers.get("Content-Type", "text/plain"))


def _relay(resp: requests.Response, sock, poll: float = 1.0):
    """Yield the kubelet's body as it arrives; stop when the client goes away.

    A helper thread reads the kubelet (``read1``: whatever bytes are there), so
    that a quiet ``follow`` still checks the client every ``poll`` seconds.
    """
    chunks: queue.Queue = queue.Queue(maxsize=64)

    def reader():
        try:
            raw = resp.raw
            while True:
                data = raw.read1(65536)
                if not data:
                    break
                chunks.put(data)
        except Exception as e:  # noqa: BLE001 - closed under us, or the kubelet went away
            log.debug("log relay ended: %s", e)
        finally:
            chunks.put(_END)

    threading.Thread(target=reader, daemon=True, name="log-relay").start()
    yield b""                                    # send the headers now
    try:
        while True:
            try:
                chunk = chunks.get(timeout=poll)
            except queue.Empty:
                if client_gone(sock):
                    return
                continue
            if chunk is _END:
                return
            yield chunk
    finally:
        resp.close()
