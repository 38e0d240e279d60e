"""The ``hollow`` runtime: a node that pretends to run pods (as kubemark's hollow kubelet).

For scale tests we want hundreds of nodes and thousands of Running pods on one
laptop.  A hollow node runs the *real* kubelet code -- registration, lease,
pod workers, status, events -- against this runtime, which keeps its
"containers" in a dict: they start instantly, run forever (init containers
finish at once, with exit code 0), never use CPU and log nothing.  Only what the control plane can see is real.

It offers the same methods as ``DockerRuntime`` (the kubelet does not know the
difference), so it doubles as a readable summary of what a runtime must do.
"""
from __future__ import annotations

import datetime as _dt
import hashlib
import itertools
import threading
import uuid
from typing import Iterator

from .base import (
    ContainerInfo, ContainerNotFound, ContainerStartError, ImageError,
    KIND_APP, KIND_INIT, KIND_SANDBOX, SANDBOX_CONTAINER_NAME, STATE_EXITED, STATE_RUNNING,
    container_hash, container_name,
)

# Fake pod IPs come from 10.0.0.0/8, unique within the process.
_ips = itertools.count(1)
_ips_lock = threading.Lock()


def _next_ip() -> str:
    with _ips_lock:
        n = next(_ips)
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"


def _now() -> _dt.datetime:
    return _dt.datetime.now(_dt.timezone.utc)


class HollowRuntime:
    """In-memory containers for one hollow node."""

    name = "hollow"
    # No cgroups behind these containers: the stats collector does not look for them (as
    # kubemark's hollow kubelet runs a fake cAdvisor that reports no container stats).
    has_cgroups = False

    def __init__(self, node_name: str, state_dir: str | None = None):
        self.node_name = node_name
        self.state_dir = state_dir or ""
        self._lock = threading.Lock()
        self._containers: dict[str, ContainerInfo] = {}
        self._ips: dict[str, str] = {}          # sandbox id -> IP

    # ------------------------------------------------------------ engine
    def ping(self) -> bool:
        return True

    def runtime_version(self) -> str:
        return "hollow://0.1.0"

    def image_present(self, image: str) -> bool:
        return True

    def ensure_image(self, image: str, pull_policy: str | None = None) -> None:
        if not image or image != image.strip():
            raise ImageError("InvalidImageName", f"invalid image name {image!r}")

    def list_images(self) -> list[dict]:
        return []

    # ------------------------------------------------------------ pods
    def _add(self, pod: dict, name: str, kind: str, restart_count: int, image: str,
             spec_hash: str | None = None) -> str:
        meta = pod.get("metadata") or {}
        cid = uuid.uuid4().hex + uuid.uuid4().hex
        now = _now()
        info = ContainerInfo(
            id=cid, pod_uid=meta["uid"], pod_name=meta["name"],
            namespace=meta.get("namespace", "default"), container_name=name, kind=kind,
            name=container_name(name, meta["name"], meta.get("namespace", "default"),
                                meta["uid"], restart_count),
            restart_count=restart_count, state=STATE_RUNNING, started_at=now, created_at=now,
            image=image, image_id="sha256:" + hashlib.sha256(image.encode()).hexdigest(),
            container_hash=spec_hash)
        with self._lock:
            self._containers[cid] = info
        return cid

    def create_sandbox(self, pod: dict, attempt: int = 0) -> str:
        cid = self._add(pod, SANDBOX_CONTAINER_NAME, KIND_SANDBOX, attempt, "hollow/pause")
        self._ips[cid] = _next_ip()
        return cid

    def sandbox_ip(self, sandbox_id: str) -> str:
        if sandbox_id not in self._ips:
            raise ContainerNotFound(sandbox_id)
        return self._ips[sandbox_id]

    def prepare_volumes(self, pod: dict) -> dict:
        return {}

    def start_container(self, pod: dict, container_spec: dict, sandbox_id: str,
                        restart_count: int = 0, kind: str = KIND_APP, **_ignored) -> str:
        if sandbox_id not in self._ips:
            raise ContainerStartError("CreateContainerError", f"no sandbox {sandbox_id[:12]}")
        cid = self._add(pod, container_spec["name"], kind, restart_count,
                        container_spec.get("image", ""), container_hash(container_spec))
        if kind == KIND_INIT:
            self.stop_container(cid)          # an init container's work is done at once
        return cid

    # ------------------------------------------------------------ observe
    def list_containers(self, pod_uid: str | None = None) -> list[ContainerInfo]:
        with self._lock:
            return [c for c in self._containers.values()
                    if pod_uid is None or c.pod_uid == pod_uid]

    def running_containers(self) -> list[ContainerInfo]:
        with self._lock:
            return [c for c in self._containers.values() if c.running]

    def relist(self) -> list[tuple[str, str, str]]:
        with self._lock:
            return [(c.id, c.pod_uid, c.state) for c in self._containers.values()]

    def inspect(self, container_id: str) -> ContainerInfo:
        with self._lock:
            if container_id not in self._containers:
                raise ContainerNotFound(container_id)
            return self._containers[container_id]

    # ------------------------------------------------------------ stop/remove
    def stop_container(self, container_id: str, grace_seconds: float = 30) -> None:
        with self._lock:
            c = self._containers.get(container_id)
            if c is not None and c.state == STATE_RUNNING:
                c.state, c.exit_code, c.reason = STATE_EXITED, 0, "Completed"
                c.finished_at = _now()

    def remove_container(self, container_id: str) -> None:
        with self._lock:
            self._containers.pop(container_id, None)
            self._ips.pop(container_id, None)

    def stop_pod(self, pod_uid: str, grace_seconds: float = 30) -> None:
        for c in self.list_containers(pod_uid):
            self.stop_container(c.id)

    def remove_pod(self, pod_uid: str, remove_volumes: bool = True) -> int:
        infos = self.list_containers(pod_uid)
        for c in infos:
            self.remove_container(c.id)
        return len(infos)

    # ------------------------------------------------------------ logs/exec
    def logs(self, container_id: str, tail: int | None = None, follow: bool = False,
             timestamps: bool = False, since=None) -> Iterator[bytes]:
        self.inspect(container_id)
        return iter(())

    def exec(self, container_id: str, cmd, timeout: float | None = 10) -> tuple[int, bytes]:
        self.inspect(container_id)
        return 0, b""
