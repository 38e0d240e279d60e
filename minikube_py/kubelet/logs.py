"""Container logs, as ``kubectl logs`` gets them: which container instance, which options.

``kubectl logs`` asks the apiserver, the apiserver asks the kubelet of the pod's
node (``GET /containerLogs/{ns}/{pod}/{container}``), and the kubelet reads the
runtime's log of the right container *instance*:

* normally the current one (running or, if it exited, the last run);
* ``previous=true``: the one before (what ``lastState.terminated`` names);

and answers 400 with the reason when there is nothing to show yet ("waiting to
start: ContainerCreating").  The rules are the kubelet's validateContainerLogStatus.
"""
from __future__ import annotations

import datetime as _dt
import time
from typing import Iterator

from ..api.meta import parse_time


class LogError(Exception):
    """The kubelet cannot serve these logs: HTTP ``code`` with ``message``."""

    def __init__(self, code: int, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def _container_status(pod: dict, name: str) -> dict | None:
    status = pod.get("status") or {}
    for s in (status.get("containerStatuses") or []) + (status.get("initContainerStatuses") or []):
        if s.get("name") == name:
            return s
    return None


def _strip_scheme(container_id: str) -> str:
    return container_id.split("://", 1)[-1]


def pick_container(pod: dict, name: str, previous: bool) -> str:
    """The runtime container id whose log to show, or LogError(400) saying why there is none."""
    pod_name = pod["metadata"]["name"]
    names = [c["name"] for c in ((pod.get("spec") or {}).get("containers") or [])
             + ((pod.get("spec") or {}).get("initContainers") or [])]
    if name not in names:
        raise LogError(400, f"container {name} is not valid for pod {pod_name}")
    st = _container_status(pod, name)
    if st is None:
        raise LogError(400, f'container "{name}" in pod "{pod_name}" is waiting to start: '
                            "ContainerCreating")
    state = st.get("state") or {}
    last = (st.get("lastState") or {}).get("terminated")
    if previous:
        if not last or not last.get("containerID"):
            raise LogError(400, f'previous terminated container "{name}" in pod "{pod_name}" '
                                "not found")
        return _strip_scheme(last["containerID"])
    if "running" in state and st.get("containerID"):
        return _strip_scheme(st["containerID"])
    if "terminated" in state:
        cid = (state["terminated"] or {}).get("containerID") or st.get("containerID")
        if not cid:
            raise LogError(400, f'container "{name}" in pod "{pod_name}" is terminated')
        return _strip_scheme(cid)
    if last and last.get("containerID"):
        return _strip_scheme(last["containerID"])
    reason = (state.get("waiting") or {}).get("reason")
    if reason == "ErrImagePull":
        raise LogError(400, f'container "{name}" in pod "{pod_name}" is waiting to start: '
                            "image can't be pulled")
    if reason == "ImagePullBackOff":
        raise LogError(400, f'container "{name}" in pod "{pod_name}" is waiting to start: '
                            "trying and failing to pull image")
    if reason:
        raise LogError(400, f'container "{name}" in pod "{pod_name}" is waiting to start: {reason}')
    raise LogError(400, f'container "{name}" in pod "{pod_name}" is waiting to start - no logs yet')


def _flag(value) -> bool:
    return str(value).lower() in ("1", "true", "yes")


def _int(params: dict, key: str) -> int | None:
    value = params.get(key)
    if value in (None, ""):
        return None
    try:
        n = int(value)
    except ValueError:
        raise LogError(400, f"{key}: invalid value {value!r}: must be an integer") from None
    if n < 0:
        raise LogError(400, f"{key}: Invalid value: {n}: must be greater than or equal to 0")
    return n


def parse_options(params: dict) -> dict:
    """Query parameters (follow, tailLines, previous, timestamps, sinceSeconds,
    sinceTime, limitBytes) -> keyword arguments for ``open_logs``."""
    since = None
    since_seconds = _int(params, "sinceSeconds")
    if since_seconds is not None:
        since = time.time() - since_seconds
    elif params.get("sinceTime"):
        try:
            since = parse_time(params["sinceTime"]).timestamp()
        except ValueError:
            raise LogError(400, f"sinceTime: invalid value {params['sinceTime']!r}") from None
    return {"follow": _flag(params.get("follow", "")), "tail": _int(params, "tailLines"),
            "previous": _flag(params.get("previous", "")),
            "timestamps": _flag(params.get("timestamps", "")), "since": since,
            "limit_bytes": _int(params, "limitBytes")}


def open_logs(runtime, pod: dict, container: str, *, follow=False, tail=None, previous=False,
              timestamps=False, since=None, limit_bytes=None) -> Iterator[bytes]:
    """An iterator of log chunks (close() it to stop following)."""
    cid = pick_container(pod, container, previous)
    # Follow only what still runs (the stream of an exited container ends by itself).
    stream = runtime.logs(cid, tail=tail, follow=follow, timestamps=timestamps,
                          since=_dt.datetime.fromtimestamp(since, _dt.timezone.utc)
                          if since is not None else None)
    if limit_bytes is None:
        return stream
    return _limited(stream, limit_bytes)


def _limited(stream, limit: int) -> Iterator[bytes]:
    sent = 0
    try:
        for chunk in stream:
            if sent + len(chunk) >= limit:
                yield chunk[:limit - sent]
                return
            sent += len(chunk)
            yield chunk
    finally:
        close = getattr(stream, "close", None)
        if close:
            close()
