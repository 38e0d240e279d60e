"""The kubelet's Docker runtime: pods as real containers through the Docker SDK.

A pod becomes, as with Kubernetes' dockershim:

* one **sandbox** container (the tiny "pause" image) that owns the pod's network
  and IPC namespaces, its IP address, hostname and host ports;
* one container per init/app container, started with
  ``network_mode=container:<sandbox>`` and ``ipc_mode=container:<sandbox>`` so
  all containers of a pod share one IP and talk over ``localhost``.

Every container carries labels (see ``base.py``) naming the node, the pod and the
container, so that several kubelets can share one Docker engine without touching
each other's containers, and a restarted kubelet finds (adopts) its containers.

What the kubelet computed before (the environment, ``envvars.py``; the volumes'
host paths, ``volumes.py``) and the pure translation of a pod spec into Docker's
create arguments (``dockerconfig.py``) live elsewhere; this module is the part
that talks to the engine.

Images (the lab has no registry): see ``dockerimages.py``.
"""

from __future__ import annotations

import concurrent.futures
import datetime as _dt
import contextlib
import logging
import math
import os
import re
import shutil
import threading
import time
from typing import Iterator

import docker
import docker.errors
import requests

from ..dns import write_resolv_conf
from ..envvars import resolve_env
from ..volumes import make_subpaths, pod_dir, prepare_volumes
from .base import (
    KIND_APP, LABEL_NODE, LABEL_POD_UID, STATE_CREATED, STATE_EXITED, STATE_RUNNING,
    ContainerInfo, ContainerNotFound, ContainerRuntimeError, ContainerStartError, ExecTimeout,
    RuntimeUnavailable,
)
from .dockerimages import PULL_TIMEOUT_S, DockerImages
from .dockerconfig import (
    DEFAULT_NETWORK, PAUSE_IMAGE, container_config, container_info, pod_uid, sandbox_config,
    summary_info,
)

log = logging.getLogger(__name__)



# ====================================================================== runtime
class DockerRuntime:
    """The kubelet's container runtime on one Docker engine, for one node.

    ``client``: a ``docker.DockerClient`` (default: ``docker.from_env()``, created
    on first use, so a kubelet can start before Docker does).
    ``state_dir``: where pod volumes live.  If the kubelet itself runs in a
    container on the host's Docker socket, this directory must have the same
    path inside the kubelet container and on the host (bind sources are host
    paths).
    ``container_labels``: labels put on every container it creates besides its own
    (``--container-labels``; the compose lab's kubelets mark their pods as part of the
    Compose project so that ``docker-compose down`` removes them). Its own labels win.
    """

    name = "docker"

    def __init__(self, node_name: str, client: docker.DockerClient | None = None, *,
                 state_dir: str | None = None, network: str = DEFAULT_NETWORK,
                 pause_image: str = PAUSE_IMAGE, pull_timeout: float = PULL_TIMEOUT_S, dns=None,
                 container_labels: dict | None = None):
        self.node_name = node_name
        self.container_labels = dict(container_labels or {})
        self._client = client
        self.state_dir = os.path.abspath(state_dir or os.path.join(
            os.environ.get("MINIKUBE_PY_STATE", "/tmp/minikube-py"), "nodes", node_name))
        self.network = network
        self.pause_image = pause_image
        self.pull_timeout = pull_timeout
        self.dns = dns               # kubelet/dns.py DNSConfigurer: each pod's resolv.conf
        self._lock = threading.Lock()
        self.images = DockerImages(self)
        self._exited: dict[str, ContainerInfo] = {}  # cache: an exited container never changes

    # ------------------------------------------------------------ engine
    @property
    def client(self) -> docker.DockerClient:
        if self._client is None:
            with self._lock:
                if self._client is None:
                    try:
                        self._client = docker.from_env(timeout=60, max_pool_size=32)
                    except docker.errors.DockerException as e:
                        raise RuntimeUnavailable(f"cannot reach Docker: {e}") from e
        return self._client

    @contextlib.contextmanager
    def _engine(self):
        """Turn 'cannot talk to Docker' into RuntimeUnavailable."""
        try:
            yield
        except (requests.exceptions.ConnectionError, ConnectionError) as e:
            raise RuntimeUnavailable(f"cannot reach Docker: {e}") from e
        except docker.errors.DockerException as e:
            if not isinstance(e, docker.errors.APIError) and "Error while fetching" in str(e):
                raise RuntimeUnavailable(str(e)) from e
            raise

    def ping(self) -> bool:
        """True when the engine answers; RuntimeUnavailable otherwise."""
        try:
            with self._engine():
                return bool(self.client.ping())
        except docker.errors.APIError as e:
            raise RuntimeUnavailable(f"Docker ping failed: {e}") from e

    @property
    def image_fs_path(self) -> str | None:
        """Docker's data root, where images live: the kubelet's ``imagefs`` in its stats."""
        if not hasattr(self, "_image_fs_path"):
            try:
                with self._engine():
                    self._image_fs_path = self.client.info().get("DockerRootDir")
            except docker.errors.DockerException:
                return None
        return self._image_fs_path

    def container_log_path(self, container_id: str) -> str | None:
        """The file Docker's json-file log driver writes the container's output to."""
        root = self.image_fs_path
        return os.path.join(root, "containers", container_id, f"{container_id}-json.log") \
            if root else None

    def runtime_version(self) -> str:
        """For NodeStatus.nodeInfo.containerRuntimeVersion, e.g. ``docker://20.10.24``."""
        with self._engine():
            return "docker://" + self.client.version().get("Version", "unknown")

    # ------------------------------------------------------------ images
    def image_present(self, image: str) -> bool:
        """Is ``image`` in the engine's local store? (InvalidImageName for a bad reference)."""
        return self.images.present(image)

    def ensure_image(self, image: str, pull_policy: str | None = None) -> None:
        """Make sure ``image`` is present, following the pod's imagePullPolicy (see dockerimages)."""
        self.images.ensure(image, pull_policy)

    def list_images(self) -> list[dict]:
        """For NodeStatus.images: ``[{"names": [...], "sizeBytes": n}]``."""
        return self.images.list()

    # ------------------------------------------------------------ create/start
    def _create(self, kwargs: dict):
        """containers.create, clearing a dead leftover of ours that holds the name."""
        kwargs = {**kwargs, "labels": {**self.container_labels, **kwargs.get("labels", {})}}
        with self._engine():
            try:
                return self.client.containers.create(**kwargs)
            except docker.errors.APIError as e:
                if e.status_code != 409:
                    raise
                try:
                    old = self.client.containers.get(kwargs["name"])
                except docker.errors.NotFound:
                    raise e from None
                if old.labels.get(LABEL_NODE) != self.node_name or old.status == "running":
                    raise
                log.info("removing leftover container %s (%s)", kwargs["name"], old.status)
                old.remove(force=True)
                return self.client.containers.create(**kwargs)

    def create_sandbox(self, pod: dict, attempt: int = 0) -> str:
        """Create and start the pod's sandbox; return its container id.

        ``attempt`` counts sandbox re-creations (it is the sandbox's "restart
        count" in its name and labels).
        """
        self.ensure_image(self.pause_image, "IfNotPresent")
        kwargs = sandbox_config(pod, node_name=self.node_name, image=self.pause_image,
                                network=self.network, attempt=attempt, dns=self.dns)
        try:
            container = self._create(kwargs)
        except docker.errors.APIError as e:
            raise ContainerStartError("CreatePodSandboxError",
                                      f"create sandbox: {e.explanation or e}") from e
        try:
            with self._engine():
                container.start()
        except docker.errors.APIError as e:
            with contextlib.suppress(docker.errors.APIError):
                container.remove(force=True)
            raise ContainerStartError("CreatePodSandboxError",
                                      f"start sandbox: {e.explanation or e}") from e
        return container.id

    def sandbox_ip(self, sandbox_id: str) -> str:
        """The pod IP: the sandbox's address on its network ("" with hostNetwork:
        the pod then has the node's IP, which the kubelet knows)."""
        with self._engine():
            try:
                attrs = self.client.api.inspect_container(sandbox_id)
            except docker.errors.NotFound as e:
                raise ContainerNotFound(sandbox_id) from e
        ns = attrs.get("NetworkSettings") or {}
        networks = ns.get("Networks") or {}
        if self.network in networks and networks[self.network].get("IPAddress"):
            return networks[self.network]["IPAddress"]
        if ns.get("IPAddress"):
            return ns["IPAddress"]
        for net in networks.values():
            if net.get("IPAddress"):
                return net["IPAddress"]
        return ""

    def _resolv_conf(self, pod: dict) -> str | None:
        """The pod's resolv.conf, written by the kubelet (kubelet/dns.py), or None."""
        if self.dns is None:
            return None
        return write_resolv_conf(self.dns, pod, pod_dir(self.state_dir, pod_uid(pod)))

    def prepare_volumes(self, pod: dict) -> dict:
        return prepare_volumes(pod, self.state_dir)

    def start_container(self, pod: dict, container_spec: dict, sandbox_id: str,
                        restart_count: int = 0, kind: str = KIND_APP, extra_env: dict | None = None,
                        runtime: str | None = None, device_requests: list | None = None,
                        volume_host_paths: dict | None = None, extra_mounts: list | None = None,
                        devices: list | None = None, env: dict | None = None,
                        read_only_volumes=()) -> str:
        """Create and start one init/app container inside the pod's sandbox.

        Env: ``env`` as the kubelet resolved it (ConfigMaps, Secrets: envvars.py),
        else ``resolve_env`` here (fieldRefs only; ``extra_env`` wins).
        Volumes: ``volume_host_paths`` (and ``read_only_volumes``) as the volume
        manager set them up, else emptyDir/hostPath are prepared under ``state_dir``.  GPUs: ``runtime="nvidia"`` plus
        ``extra_env={"NVIDIA_VISIBLE_DEVICES": ...}`` (nvidia-docker2 style), or
        ``device_requests``; ``extra_mounts``/``devices`` from a device plugin.

        Raises ContainerStartError: CreateContainerConfigError, CreateContainerError,
        or RunContainerError (created but could not start, e.g. no such command;
        ``.container_id`` is then set and the container is left for the kubelet to
        see and garbage-collect, as Kubernetes does).
        """
        if env is None:
            env = resolve_env(pod, container_spec, node_name=self.node_name,
                              pod_ip=self.sandbox_ip(sandbox_id), extra_env=extra_env)
        if volume_host_paths is None:
            volume_host_paths = self.prepare_volumes(pod)
        make_subpaths(container_spec, volume_host_paths)
        resolv_conf = self._resolv_conf(pod)
        if resolv_conf:
            extra_mounts = [*(extra_mounts or []),
                            {"container_path": "/etc/resolv.conf", "host_path": resolv_conf, "read_only": True}]
        kwargs = container_config(pod, container_spec, sandbox_id=sandbox_id,
                                  node_name=self.node_name, restart_count=restart_count,
                                  kind=kind, env=env, volume_host_paths=volume_host_paths,
                                  runtime=runtime, device_requests=device_requests,
                                  extra_mounts=extra_mounts, devices=devices,
                                  read_only_volumes=read_only_volumes)
        try:
            container = self._create(kwargs)
        except docker.errors.ImageNotFound as e:
            raise ContainerStartError(
                "CreateContainerError",
                f'image "{kwargs["image"]}" is not present (call ensure_image first)') from e
        except docker.errors.APIError as e:
            raise ContainerStartError("CreateContainerError", str(e.explanation or e)) from e
        try:
            with self._engine():
                container.start()
        except docker.errors.APIError as e:
            raise ContainerStartError("RunContainerError", _clean_error(e),
                                      container_id=container.id) from e
        return container.id

    # ------------------------------------------------------------ observe
    def list_containers(self, pod_uid: str | None = None) -> list[ContainerInfo]:
        """All containers of this node (optionally of one pod), sandboxes included."""
        filters = [f"{LABEL_NODE}={self.node_name}"]
        if pod_uid:
            filters.append(f"{LABEL_POD_UID}={pod_uid}")
        with self._engine():
            summaries = self.client.api.containers(all=True, filters={"label": filters})
            out = []
            seen = set()
            for s in summaries:
                cid = s["Id"]
                seen.add(cid)
                info = self._exited.get(cid)
                if info is None:
                    try:
                        info = container_info(self.client.api.inspect_container(cid))
                    except docker.errors.NotFound:
                        continue          # removed between list and inspect
                    if info.state == STATE_EXITED:
                        self._exited[cid] = info
                out.append(info)
        if pod_uid is None:
            for cid in list(self._exited):
                if cid not in seen:
                    self._exited.pop(cid, None)
        return out

    def relist(self) -> list[tuple[str, str, str]]:
        """``(container id, pod uid, state)`` of every container of this node, cheaply.

        One ``docker ps -a`` call and no inspects: this is what the kubelet's PLEG
        runs every second to notice containers that died or vanished.
        """
        with self._engine():
            summaries = self.client.api.containers(
                all=True, filters={"label": [f"{LABEL_NODE}={self.node_name}"]})
        out = []
        for s in summaries:
            st = s.get("State") or ""
            state = STATE_RUNNING if st in ("running", "paused", "restarting") else \
                STATE_CREATED if st == "created" else STATE_EXITED
            out.append((s["Id"], (s.get("Labels") or {}).get(LABEL_POD_UID, ""), state))
        return out

    def running_containers(self) -> list[ContainerInfo]:
        """The running containers of this node from one ``docker ps`` (no inspects): what the
        stats collector walks.  ``pid`` is not known this way (None)."""
        with self._engine():
            summaries = self.client.api.containers(
                filters={"label": [f"{LABEL_NODE}={self.node_name}"], "status": "running"})
        out = []
        for s in summaries:
            created = _dt.datetime.fromtimestamp(s.get("Created") or 0, _dt.timezone.utc)
            out.append(summary_info(s, created))
        return out

    def inspect(self, container_id: str) -> ContainerInfo:
        with self._engine():
            try:
                return container_info(self.client.api.inspect_container(container_id))
            except docker.errors.NotFound as e:
                raise ContainerNotFound(container_id) from e

    def _own(self, container_id: str):
        """The container, if it exists and belongs to this node; else None."""
        with self._engine():
            try:
                c = self.client.containers.get(container_id)
            except docker.errors.NotFound:
                return None
        if c.labels.get(LABEL_NODE) != self.node_name:
            log.warning("refusing to touch container %s of node %r", container_id[:12],
                        c.labels.get(LABEL_NODE))
            return None
        return c

    # ------------------------------------------------------------ stop/remove
    def stop_container(self, container_id: str, grace_seconds: float = 30) -> None:
        """SIGTERM (or the image's STOPSIGNAL), wait up to ``grace_seconds``, then SIGKILL.

        Missing or already stopped containers are fine (stop is idempotent).
        """
        c = self._own(container_id)
        if c is None:
            return
        grace = max(0, int(math.ceil(grace_seconds)))
        with self._engine():
            try:
                c.stop(timeout=grace)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as e:
                if e.status_code != 304:          # 304: already stopped
                    raise ContainerRuntimeError(f"stop {container_id[:12]}: {e}") from e

    def remove_container(self, container_id: str) -> None:
        """Remove (force: kills it if still running). Missing containers are fine."""
        c = self._own(container_id)
        if c is None:
            return
        with self._engine():
            try:
                c.remove(force=True, v=True)
            except docker.errors.NotFound:
                pass
            except docker.errors.APIError as e:
                if "already in progress" not in str(e):
                    raise
        self._exited.pop(c.id, None)

    def stop_pod(self, pod_uid: str, grace_seconds: float = 30) -> None:
        """Stop a pod gracefully: all app/init containers in parallel, then the sandbox."""
        infos = [i for i in self.list_containers(pod_uid) if i.state == STATE_RUNNING]
        apps = [i for i in infos if not i.is_sandbox]
        if apps:
            with concurrent.futures.ThreadPoolExecutor(max_workers=len(apps)) as pool:
                list(pool.map(lambda i: self.stop_container(i.id, grace_seconds), apps))
        for i in infos:
            if i.is_sandbox:
                self.stop_container(i.id, 2)

    def remove_pod(self, pod_uid: str, remove_volumes: bool = True) -> int:
        """Remove every container of a pod on this node (sandbox last) and, by
        default, the pod's directory (emptyDir volumes).  Returns how many
        containers were removed."""
        infos = self.list_containers(pod_uid)
        infos.sort(key=lambda i: i.is_sandbox)
        for i in infos:
            self.remove_container(i.id)
        if remove_volumes:
            path = pod_dir(self.state_dir, pod_uid)
            if path.startswith(self.state_dir + os.sep) and os.path.isdir(path):
                shutil.rmtree(path, ignore_errors=True)
        return len(infos)

    # ------------------------------------------------------------ logs/exec/stats
    def logs(self, container_id: str, tail: int | None = None, follow: bool = False,
             timestamps: bool = False, since=None) -> Iterator[bytes]:
        """stdout+stderr of a container as byte chunks, oldest first.

        ``tail``: last N lines; ``since``: datetime or unix time (seconds);
        ``timestamps``: prefix RFC 3339 times (as ``kubectl logs --timestamps``);
        ``follow``: keep streaming until the container stops (close() the
        returned iterator to stop early).
        """
        with self._engine():
            try:
                return self.client.api.logs(container_id, stdout=True, stderr=True,
                                            stream=True, follow=follow, timestamps=timestamps,
                                            tail="all" if tail is None else int(tail),
                                            since=since)
            except docker.errors.NotFound as e:
                raise ContainerNotFound(container_id) from e

    def exec(self, container_id: str, cmd: list[str] | str, timeout: float | None = 10
             ) -> tuple[int, bytes]:
        """Run ``cmd`` in a running container (exec probes): (exit code, stdout+stderr).

        Raises ExecTimeout after ``timeout`` seconds (the process may go on
        running inside the container, as with a real kubelet).
        """
        if isinstance(cmd, str):
            cmd = [cmd]
        api = self.client.api
        with self._engine():
            try:
                exec_id = api.exec_create(container_id, cmd, stdout=True, stderr=True)["Id"]
                sock = api.exec_start(exec_id, socket=True)
            except docker.errors.NotFound as e:
                raise ContainerNotFound(container_id) from e
            except docker.errors.APIError as e:
                raise ContainerRuntimeError(f"exec in {container_id[:12]}: {_clean_error(e)}") from e
        deadline = None if timeout is None else time.monotonic() + timeout
        raw = getattr(sock, "_sock", sock)
        data = bytearray()
        try:
            while True:
                if deadline is not None:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise ExecTimeout(f"command {cmd!r} timed out after {timeout:g}s")
                    raw.settimeout(left)
                try:
                    chunk = raw.recv(65536)
                except TimeoutError:
                    raise ExecTimeout(f"command {cmd!r} timed out after {timeout:g}s") from None
                if not chunk:
                    break
                data += chunk
        finally:
            with contextlib.suppress(Exception):
                sock.close()
        output = _demux(bytes(data))
        # The stream ends when the process does; its exit code lands a moment later.
        with self._engine():
            for _ in range(100):
                info = api.exec_inspect(exec_id)
                if not info.get("Running"):
                    break
                time.sleep(0.01)
        code = info.get("ExitCode")
        return (code if code is not None else -1), output

    def stats(self, container_id: str) -> dict:
        """cpu_usage_ns, memory_working_set_bytes, timestamp (see stats.cgroups)."""
        from ..stats import cgroups
        info = self.inspect(container_id)
        return cgroups.container_stats(info.id, pid=info.pid, docker_client=self.client)


# ====================================================================== helpers
def _clean_error(e: docker.errors.APIError) -> str:
    """Docker's start errors are long; keep the useful part, as Kubernetes shows it."""
    text = str(e.explanation or e)
    m = re.search(r"(exec: .*?)(?:: unknown)?$", text)
    return m.group(1) if m else text


def _demux(data: bytes) -> bytes:
    """Docker's multiplexed stream (8-byte headers: stream, 0,0,0, size) -> payload."""
    out = bytearray()
    i = 0
    while i + 8 <= len(data):
        if data[i] not in (0, 1, 2) or data[i + 1:i + 4] != b"\0\0\0":
            return bytes(out) + data[i:]   # not framed (tty): raw bytes
        size = int.from_bytes(data[i + 4:i + 8], "big")
        out += data[i + 8:i + 8 + size]
        i += 8 + size
    return bytes(out + data[i:]) if i < len(data) else bytes(out)
