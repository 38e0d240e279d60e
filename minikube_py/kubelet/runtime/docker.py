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

The module is split so that the mapping from a Kubernetes container spec to
Docker's create arguments is pure and unit-testable:

* ``resolve_env()``       env list (+ fieldRef, $(VAR) expansion) -> dict
* ``sandbox_config()``    pod -> kwargs for ``client.containers.create`` (sandbox)
* ``container_config()``  pod + container spec -> kwargs for ``client.containers.create``
* ``prepare_volumes()``   emptyDir / hostPath -> host directories (touches the disk)
* ``DockerRuntime``       the part that talks to the engine.

Images: this lab has no registry (images are built locally by
``lab/build-images.sh``), so a pull fails fast.  ``IfNotPresent`` uses the local
image, ``Never`` requires it, and ``Always`` tries to pull and, when the pull
fails, *falls back to the local image* (a real kubelet would report
ErrImagePull).  That keeps manifests with ``image: busybox`` (implicitly
``:latest`` and so ``Always``) working offline.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import json
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
import docker.types
import requests

from ...api.quantity import cpu_millis, parse_quantity, to_int
from .base import (
    ContainerInfo, ContainerNotFound, ContainerRuntimeError, ContainerStartError,
    ExecTimeout, ImageError, RuntimeUnavailable,
    KIND_APP, KIND_INIT, KIND_SANDBOX, LABEL_CONTAINER_HASH, LABEL_CONTAINER_NAME,
    LABEL_GRACE_PERIOD, LABEL_KIND, LABEL_NODE, LABEL_POD_NAME, LABEL_POD_NAMESPACE,
    LABEL_POD_UID, LABEL_RESTART_COUNT, SANDBOX_CONTAINER_NAME, STATE_CREATED,
    STATE_EXITED, STATE_RUNNING, container_hash, container_name, parse_time,
)

log = logging.getLogger(__name__)

PAUSE_IMAGE = "minikube-py/pause:3.9"
DEFAULT_NETWORK = "bridge"
CPU_PERIOD_US = 100_000     # CFS period Kubernetes uses (100 ms)
MIN_CPU_SHARES = 2          # Kubernetes' MinShares (best-effort containers)
MIN_CPU_QUOTA_US = 1_000    # Kubernetes' MinQuotaPeriod
PULL_TIMEOUT_S = 10.0
PULL_RETRY_AFTER_S = 300.0  # after a failed pull, use a local image without retrying


# ====================================================================== quantities
def memory_bytes(q) -> int:
    """Memory quantity -> bytes, rounded up ("64Mi" -> 67108864)."""
    return to_int(q)


def cpu_shares(milli: int) -> int:
    """Kubernetes' MilliCPUToShares: 1 CPU = 1024 shares, never below 2."""
    if milli <= 0:
        return MIN_CPU_SHARES
    return max(MIN_CPU_SHARES, milli * 1024 // 1000)


def cpu_quota(milli: int, period: int = CPU_PERIOD_US) -> int:
    """Kubernetes' MilliCPUToQuota: the CFS quota (µs per period) for a CPU limit."""
    return max(MIN_CPU_QUOTA_US, milli * period // 1000)


# ====================================================================== pod helpers
def _meta(pod: dict) -> dict:
    return pod.get("metadata") or {}


def _spec(pod: dict) -> dict:
    return pod.get("spec") or {}


def pod_uid(pod: dict) -> str:
    uid = _meta(pod).get("uid")
    if not uid:
        raise ValueError("pod has no metadata.uid")
    return uid


def default_pull_policy(image: str) -> str:
    """Kubernetes' defaulting: Always for ``:latest`` or untagged images, else IfNotPresent."""
    if "@" in image:
        return "IfNotPresent"
    last = image.rsplit("/", 1)[-1]
    if ":" not in last or last.endswith(":latest"):
        return "Always"
    return "IfNotPresent"


# ----------------------------------------------------------------- env
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
    meta, spec = _meta(pod), _spec(pod)
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


# ----------------------------------------------------------------- labels
def _labels(pod: dict, container: str, kind: str, node_name: str,
            restart_count: int) -> dict:
    meta = _meta(pod)
    return {
        LABEL_NODE: node_name,
        LABEL_POD_NAMESPACE: meta.get("namespace", "default"),
        LABEL_POD_NAME: meta["name"],
        LABEL_POD_UID: pod_uid(pod),
        LABEL_CONTAINER_NAME: container,
        LABEL_RESTART_COUNT: str(int(restart_count)),
        LABEL_KIND: kind,
        LABEL_GRACE_PERIOD: str(_spec(pod).get("terminationGracePeriodSeconds", 30)),
    }


def _hostname(pod: dict) -> str:
    """spec.hostname or the pod name, cut to a DNS label (63 chars) as Kubernetes does."""
    name = _spec(pod).get("hostname") or _meta(pod)["name"]
    return name[:63].rstrip("-.") or "pod"


# ----------------------------------------------------------------- sandbox
def sandbox_config(pod: dict, *, node_name: str, image: str = PAUSE_IMAGE,
                   network: str = DEFAULT_NETWORK, attempt: int = 0) -> dict:
    """kwargs for ``client.containers.create`` for the pod's sandbox container.

    The sandbox owns everything network-shaped: the network (bridge, or the
    host's with hostNetwork), the hostname, host ports of all containers, DNS
    settings and /etc/hosts aliases.
    """
    meta, spec = _meta(pod), _spec(pod)
    kwargs: dict = {
        "image": image,
        "name": container_name(SANDBOX_CONTAINER_NAME, meta["name"],
                               meta.get("namespace", "default"), pod_uid(pod), attempt),
        "labels": _labels(pod, SANDBOX_CONTAINER_NAME, KIND_SANDBOX, node_name, attempt),
        "detach": True,
        "ipc_mode": "shareable",
    }
    if spec.get("hostNetwork"):
        kwargs["network_mode"] = "host"
    else:
        kwargs["network"] = network
        kwargs["hostname"] = _hostname(pod)
        ports = {}
        for c in list(spec.get("initContainers") or []) + list(spec.get("containers") or []):
            for p in c.get("ports") or []:
                if p.get("hostPort"):
                    key = f"{p['containerPort']}/{p.get('protocol', 'TCP').lower()}"
                    ports[key] = (p.get("hostIP", ""), int(p["hostPort"])) if p.get("hostIP") \
                        else int(p["hostPort"])
        if ports:
            kwargs["ports"] = ports
    dns = spec.get("dnsConfig") or {}
    if dns.get("nameservers"):
        kwargs["dns"] = list(dns["nameservers"])
    if dns.get("searches"):
        kwargs["dns_search"] = list(dns["searches"])
    if dns.get("options"):
        kwargs["dns_opt"] = [o["name"] + (f":{o['value']}" if o.get("value") else "")
                             for o in dns["options"]]
    aliases = {}
    for a in spec.get("hostAliases") or []:
        for h in a.get("hostnames") or []:
            aliases[h] = a["ip"]
    if aliases:
        kwargs["extra_hosts"] = aliases
    return kwargs


# ----------------------------------------------------------------- containers
def _security(pod: dict, spec: dict) -> dict:
    """securityContext -> user, privileged, capabilities, read-only rootfs."""
    psc = _spec(pod).get("securityContext") or {}
    sc = spec.get("securityContext") or {}
    out: dict = {}
    user = sc.get("runAsUser", psc.get("runAsUser"))
    group = sc.get("runAsGroup", psc.get("runAsGroup"))
    if user is not None:
        out["user"] = f"{user}:{group}" if group is not None else str(user)
    if sc.get("privileged"):
        out["privileged"] = True
    caps = sc.get("capabilities") or {}
    if caps.get("add"):
        out["cap_add"] = list(caps["add"])
    if caps.get("drop"):
        out["cap_drop"] = list(caps["drop"])
    if sc.get("readOnlyRootFilesystem"):
        out["read_only"] = True
    if psc.get("supplementalGroups"):
        out["group_add"] = [str(g) for g in psc["supplementalGroups"]]
    return out


def _resources(spec: dict) -> dict:
    """resources -> cgroup settings, with Kubernetes' formulas.

    limits.cpu -> CFS quota/period; requests.cpu (or limits.cpu when there is no
    request, as API defaulting does) -> cpu shares; limits.memory -> memory
    limit with no extra swap.
    """
    res = spec.get("resources") or {}
    limits, requests_ = res.get("limits") or {}, res.get("requests") or {}
    out: dict = {}
    if "cpu" in limits:
        out["cpu_period"] = CPU_PERIOD_US
        out["cpu_quota"] = cpu_quota(cpu_millis(limits["cpu"]))
    request = requests_.get("cpu", limits.get("cpu"))
    out["cpu_shares"] = cpu_shares(cpu_millis(request) if request is not None else 0)
    if "memory" in limits:
        out["mem_limit"] = memory_bytes(limits["memory"])
        out["memswap_limit"] = out["mem_limit"]
    return out


def _mounts(spec: dict, volume_host_paths: dict) -> list:
    mounts = []
    for vm in spec.get("volumeMounts") or []:
        name = vm["name"]
        if name not in volume_host_paths:
            raise ContainerStartError(
                "CreateContainerConfigError",
                f"container {spec.get('name')!r}: volume {name!r} is not available "
                f"(unknown or unsupported volume type)")
        source = volume_host_paths[name]
        if vm.get("subPath"):
            source = os.path.join(source, vm["subPath"])
        mounts.append(docker.types.Mount(target=vm["mountPath"], source=source,
                                         type="bind", read_only=bool(vm.get("readOnly"))))
    return mounts


def container_config(pod: dict, spec: dict, *, sandbox_id: str, node_name: str,
                     restart_count: int = 0, kind: str = KIND_APP,
                     env: dict | None = None, volume_host_paths: dict | None = None,
                     runtime: str | None = None, device_requests: list | None = None,
                     extra_mounts: list | None = None, devices: list | None = None) -> dict:
    """kwargs for ``client.containers.create`` for one init/app container of a pod.

    ``env`` is the ready environment (see ``resolve_env``); ``volume_host_paths``
    maps volume names to host directories (see ``prepare_volumes``).
    ``extra_mounts`` (``[{"container_path", "host_path", "read_only"}]``) and
    ``devices`` (``[{"container_path", "host_path", "permissions"}]``) come from
    the device manager's allocation (what a device plugin's Allocate answered).
    ``command`` becomes the entrypoint and ``args`` the cmd, so (as in
    Kubernetes) ``command`` alone drops the image's CMD and ``args`` alone keeps
    the image's ENTRYPOINT.
    """
    if kind not in (KIND_INIT, KIND_APP):
        raise ValueError(f"kind must be {KIND_INIT!r} or {KIND_APP!r}, not {kind!r}")
    meta = _meta(pod)
    env = dict(env or {})
    labels = _labels(pod, spec["name"], kind, node_name, restart_count)
    labels[LABEL_CONTAINER_HASH] = container_hash(spec)
    kwargs: dict = {
        "image": spec["image"],
        "name": container_name(spec["name"], meta["name"], meta.get("namespace", "default"),
                               pod_uid(pod), restart_count),
        "labels": labels,
        "detach": True,
        "network_mode": f"container:{sandbox_id}",
        "ipc_mode": f"container:{sandbox_id}",
        "environment": env,
    }
    if _spec(pod).get("shareProcessNamespace"):
        kwargs["pid_mode"] = f"container:{sandbox_id}"
    if spec.get("command"):
        kwargs["entrypoint"] = [expand_vars(str(a), env) for a in spec["command"]]
    if spec.get("args"):
        kwargs["command"] = [expand_vars(str(a), env) for a in spec["args"]]
    if spec.get("workingDir"):
        kwargs["working_dir"] = spec["workingDir"]
    if spec.get("tty"):
        kwargs["tty"] = True
    if spec.get("stdin"):
        kwargs["stdin_open"] = True
    kwargs.update(_resources(spec))
    kwargs.update(_security(pod, spec))
    mounts = _mounts(spec, volume_host_paths or {})
    for m in extra_mounts or []:
        mounts.append(docker.types.Mount(target=m["container_path"], source=m["host_path"],
                                         type="bind", read_only=bool(m.get("read_only"))))
    if mounts:
        kwargs["mounts"] = mounts
    if devices:
        kwargs["devices"] = [f'{d["host_path"]}:{d.get("container_path") or d["host_path"]}:'
                             f'{d.get("permissions") or "rwm"}' for d in devices]
    if runtime:
        kwargs["runtime"] = runtime
    if device_requests:
        kwargs["device_requests"] = list(device_requests)
    return kwargs


# ----------------------------------------------------------------- volumes
def pod_dir(state_dir: str, uid: str) -> str:
    """Where a pod's files live on the node (as /var/lib/kubelet/pods/<uid>)."""
    return os.path.join(os.path.abspath(state_dir), "pods", uid)


def prepare_volumes(pod: dict, state_dir: str) -> dict:
    """Create the host side of the pod's emptyDir and hostPath volumes.

    Returns ``{volume name: host path}`` for the volumes it knows; other volume
    types (configMap, secret, ...) are for the caller to write out and add.
    emptyDir lives in ``<state_dir>/pods/<uid>/volumes/kubernetes.io~empty-dir/<name>``
    (the kubelet's own layout) and is removed with the pod.  ``medium: Memory``
    is served from the same directory (no tmpfs, to keep it shareable and simple).
    """
    uid = pod_uid(pod)
    out = {}
    for v in _spec(pod).get("volumes") or []:
        name = v["name"]
        if "emptyDir" in v:
            path = os.path.join(pod_dir(state_dir, uid), "volumes",
                                "kubernetes.io~empty-dir", name)
            os.makedirs(path, exist_ok=True)
            os.chmod(path, 0o777)          # Kubernetes makes emptyDirs world-writable
            out[name] = path
        elif "hostPath" in v:
            hp = v["hostPath"]
            path, typ = hp["path"], hp.get("type", "") or ""
            if typ in ("", "DirectoryOrCreate") and not os.path.exists(path):
                os.makedirs(path, mode=0o755, exist_ok=True)
            elif typ == "FileOrCreate" and not os.path.exists(path):
                os.makedirs(os.path.dirname(path) or "/", exist_ok=True)
                open(path, "a").close()
            checks = {"Directory": os.path.isdir, "File": os.path.isfile,
                      "Socket": lambda p: os.path.exists(p) and _is_socket(p),
                      "CharDevice": os.path.exists, "BlockDevice": os.path.exists}
            if typ in checks and not checks[typ](path):
                raise ContainerStartError(
                    "CreateContainerConfigError",
                    f"hostPath volume {name!r}: {path} is not a {typ}")
            out[name] = path
    return out


def _is_socket(path: str) -> bool:
    import stat
    return stat.S_ISSOCK(os.stat(path).st_mode)


# ====================================================================== runtime
class DockerRuntime:
    """The kubelet's container runtime on one Docker engine, for one node.

    ``client``: a ``docker.DockerClient`` (default: ``docker.from_env()``, created
    on first use, so a kubelet can start before Docker does).
    ``state_dir``: where pod volumes live.  If the kubelet itself runs in a
    container on the host's Docker socket, this directory must have the same
    path inside the kubelet container and on the host (bind sources are host
    paths).
    """

    name = "docker"

    def __init__(self, node_name: str, client: docker.DockerClient | None = None, *,
                 state_dir: str | None = None, network: str = DEFAULT_NETWORK,
                 pause_image: str = PAUSE_IMAGE, pull_timeout: float = PULL_TIMEOUT_S):
        self.node_name = node_name
        self._client = client
        self.state_dir = os.path.abspath(state_dir or os.path.join(
            os.environ.get("MINIKUBE_PY_STATE", "/tmp/minikube-py"), "nodes", node_name))
        self.network = network
        self.pause_image = pause_image
        self.pull_timeout = pull_timeout
        self._lock = threading.Lock()
        self._pull_failed: dict[str, float] = {}     # image -> monotonic time of last failure
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

    def runtime_version(self) -> str:
        """For NodeStatus.nodeInfo.containerRuntimeVersion, e.g. ``docker://20.10.24``."""
        with self._engine():
            return "docker://" + self.client.version().get("Version", "unknown")

    # ------------------------------------------------------------ images
    def image_present(self, image: str) -> bool:
        """Is ``image`` in the engine's local store? (InvalidImageName for a bad reference)."""
        return self._image_present(image)

    def _image_present(self, image: str) -> bool:
        with self._engine():
            try:
                self.client.images.get(image)
                return True
            except docker.errors.ImageNotFound:
                return False
            except docker.errors.APIError as e:
                if e.status_code == 400:      # malformed reference
                    raise ImageError("InvalidImageName", str(e.explanation or e)) from e
                raise

    def _pull(self, image: str) -> str | None:
        """Pull with a deadline; None on success, else why it failed.

        The pull runs in a daemon thread so that an unreachable registry can
        never hang a pod worker: after ``pull_timeout`` we stop waiting.
        """
        repo, tag = docker.utils.parse_repository_tag(image)
        result: dict = {}

        def pull():
            try:
                with self._engine():
                    self.client.api.pull(repo, tag=tag or "latest")
                result["ok"] = True
            except Exception as e:      # noqa: BLE001 - reported to the caller
                result["error"] = getattr(e, "explanation", None) or str(e)

        t = threading.Thread(target=pull, name=f"pull {image}", daemon=True)
        t.start()
        t.join(self.pull_timeout)
        if t.is_alive():
            return f"pull timed out after {self.pull_timeout:g}s"
        return None if result.get("ok") else result.get("error", "unknown error")

    def ensure_image(self, image: str, pull_policy: str | None = None) -> None:
        """Make sure ``image`` is present, following the pod's imagePullPolicy.

        Raises ImageError with reason ErrImageNeverPull (Never, image missing),
        ErrImagePull (missing and the pull failed) or InvalidImageName.  With
        ``Always`` a failed pull falls back to a local image (see module doc);
        after a failed pull we do not retry it for PULL_RETRY_AFTER_S seconds
        while a local image exists.
        """
        if not image or image != image.strip():
            raise ImageError("InvalidImageName", f"invalid image name {image!r}")
        policy = pull_policy or default_pull_policy(image)
        local = self._image_present(image)
        if policy == "Never":
            if local:
                return
            raise ImageError("ErrImageNeverPull",
                             f'Container image "{image}" is not present with pull policy of Never')
        if local and policy == "IfNotPresent":
            return
        if local:   # Always
            failed = self._pull_failed.get(image)
            if failed is not None and time.monotonic() - failed < PULL_RETRY_AFTER_S:
                return
        error = self._pull(image)
        if error is None:
            self._pull_failed.pop(image, None)
            return
        self._pull_failed[image] = time.monotonic()
        if local:
            log.info("pull of %s failed (%s); using the local image", image, error)
            return
        hint = " (images are built locally: run lab/build-images.sh)" \
            if image.split(":")[0] in ("busybox", "minikube-py/pause", "registry.k8s.io/pause") else ""
        raise ImageError("ErrImagePull", f'failed to pull image "{image}": {error}{hint}')

    def list_images(self) -> list[dict]:
        """For NodeStatus.images: ``[{"names": [...], "sizeBytes": n}]``."""
        with self._engine():
            return [{"names": list(i.get("RepoTags") or []) + list(i.get("RepoDigests") or []),
                     "sizeBytes": i.get("Size", 0)}
                    for i in self.client.api.images()]

    # ------------------------------------------------------------ create/start
    def _create(self, kwargs: dict):
        """containers.create, clearing a dead leftover of ours that holds the name."""
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
                                network=self.network, attempt=attempt)
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

    def prepare_volumes(self, pod: dict) -> dict:
        return prepare_volumes(pod, self.state_dir)

    def start_container(self, pod: dict, container_spec: dict, sandbox_id: str,
                        restart_count: int = 0, kind: str = KIND_APP, extra_env: dict | None = None,
                        runtime: str | None = None, device_requests: list | None = None,
                        volume_host_paths: dict | None = None, extra_mounts: list | None = None,
                        devices: list | None = None) -> str:
        """Create and start one init/app container inside the pod's sandbox.

        Env: see ``resolve_env`` (fieldRefs are resolved here; ``extra_env`` wins).
        Volumes: ``volume_host_paths`` if given, else emptyDir/hostPath are prepared
        under ``state_dir``.  GPUs: ``runtime="nvidia"`` plus
        ``extra_env={"NVIDIA_VISIBLE_DEVICES": ...}`` (nvidia-docker2 style), or
        ``device_requests``; ``extra_mounts``/``devices`` from a device plugin.

        Raises ContainerStartError: CreateContainerConfigError, CreateContainerError,
        or RunContainerError (created but could not start, e.g. no such command;
        ``.container_id`` is then set and the container is left for the kubelet to
        see and garbage-collect, as Kubernetes does).
        """
        env = resolve_env(pod, container_spec, node_name=self.node_name,
                          pod_ip=self.sandbox_ip(sandbox_id), extra_env=extra_env)
        if volume_host_paths is None:
            volume_host_paths = self.prepare_volumes(pod)
        for vm in container_spec.get("volumeMounts") or []:
            if vm.get("subPath") and vm["name"] in volume_host_paths:
                os.makedirs(os.path.join(volume_host_paths[vm["name"]], vm["subPath"]),
                            exist_ok=True)
        kwargs = container_config(pod, container_spec, sandbox_id=sandbox_id,
                                  node_name=self.node_name, restart_count=restart_count,
                                  kind=kind, env=env, volume_host_paths=volume_host_paths,
                                  runtime=runtime, device_requests=device_requests,
                                  extra_mounts=extra_mounts, devices=devices)
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
                        info = _info(self.client.api.inspect_container(cid))
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

    def inspect(self, container_id: str) -> ContainerInfo:
        with self._engine():
            try:
                return _info(self.client.api.inspect_container(container_id))
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


def _info(attrs: dict) -> ContainerInfo:
    """docker inspect -> ContainerInfo."""
    labels = (attrs.get("Config") or {}).get("Labels") or {}
    st = attrs.get("State") or {}
    status = st.get("Status", "")
    error = st.get("Error") or None
    reason = None
    exit_code = None
    if status in ("running", "paused", "restarting"):
        state = STATE_RUNNING
    elif status == "created" and not error:
        state = STATE_CREATED
    else:
        state = STATE_EXITED
        exit_code = st.get("ExitCode")
        if status == "created":                     # start failed (e.g. no such command)
            reason = "StartError"
            exit_code = exit_code or 128
        elif st.get("OOMKilled"):
            reason = "OOMKilled"
        elif exit_code == 0:
            reason = "Completed"
        else:
            reason = "Error"
    try:
        restart = int(labels.get(LABEL_RESTART_COUNT, "0"))
    except ValueError:
        restart = 0
    return ContainerInfo(
        id=attrs["Id"],
        name=attrs.get("Name", "").lstrip("/"),
        pod_uid=labels.get(LABEL_POD_UID, ""),
        pod_name=labels.get(LABEL_POD_NAME, ""),
        namespace=labels.get(LABEL_POD_NAMESPACE, ""),
        container_name=labels.get(LABEL_CONTAINER_NAME, ""),
        kind=labels.get(LABEL_KIND, KIND_APP),
        restart_count=restart,
        state=state,
        exit_code=exit_code,
        started_at=parse_time(st.get("StartedAt")),
        finished_at=parse_time(st.get("FinishedAt")),
        created_at=parse_time(attrs.get("Created")),
        image=(attrs.get("Config") or {}).get("Image", ""),
        image_id=attrs.get("Image", ""),
        oom_killed=bool(st.get("OOMKilled")),
        reason=reason,
        message=error,
        pid=st.get("Pid") or None if state == STATE_RUNNING else None,
        container_hash=labels.get(LABEL_CONTAINER_HASH),
        labels=dict(labels),
    )
