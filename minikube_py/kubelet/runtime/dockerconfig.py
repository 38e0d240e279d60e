"""A pod spec as Docker create arguments: the sandbox, each container, their cgroup numbers.

Pure functions (no engine calls), so the mapping from a Kubernetes container
spec to ``client.containers.create(**kwargs)`` can be read and unit-tested:

* ``sandbox_config()``    pod -> kwargs for the sandbox (the pod's network, hostname,
                          host ports, DNS settings, /etc/hosts aliases);
* ``container_config()``  pod + container spec -> kwargs for an init/app container
                          in the sandbox's namespaces;
* ``cpu_shares()``, ``cpu_quota()``, ``memory_bytes()``: Kubernetes' formulas from
  requests/limits to cgroup settings.

And back: ``container_info()`` reads ``docker inspect`` as a ``ContainerInfo``.

The environment (``envvars.py``) and the volumes' host paths (``volumes.py``) are
the kubelet's, computed before and handed in.
"""
from __future__ import annotations

import os

import docker.types

from ...api.quantity import cpu_millis, to_int
from ..envvars import expand_vars
from .base import (
    KIND_APP, KIND_INIT, KIND_SANDBOX, LABEL_CONTAINER_HASH, LABEL_CONTAINER_NAME,
    LABEL_GRACE_PERIOD, LABEL_KIND, LABEL_NODE, LABEL_POD_NAME, LABEL_POD_NAMESPACE,
    LABEL_POD_UID, LABEL_RESTART_COUNT, SANDBOX_CONTAINER_NAME, STATE_CREATED, STATE_EXITED,
    STATE_RUNNING, ContainerInfo, ContainerStartError, container_hash, container_name, parse_time,
)

PAUSE_IMAGE = "minikube-py/pause:3.9"
DEFAULT_NETWORK = "bridge"
CPU_PERIOD_US = 100_000     # CFS period Kubernetes uses (100 ms)
MIN_CPU_SHARES = 2          # Kubernetes' MinShares (best-effort containers)
MIN_CPU_QUOTA_US = 1_000    # Kubernetes' MinQuotaPeriod


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


def _copy_lists(src: dict, kwargs: dict, **names) -> None:
    """``kwargs[docker_name] = list(src[k8s_name])`` for each non-empty list named."""
    for k8s_name, docker_name in names.items():
        if src.get(k8s_name):
            kwargs[docker_name] = list(src[k8s_name])


# ----------------------------------------------------------------- sandbox
def sandbox_config(pod: dict, *, node_name: str, image: str = PAUSE_IMAGE,
                   network: str = DEFAULT_NETWORK, attempt: int = 0, dns=None) -> dict:
    """kwargs for ``client.containers.create`` for the pod's sandbox container.

    The sandbox owns everything network-shaped: the network (bridge, or the
    host's with hostNetwork), the hostname, host ports of all containers, DNS
    settings and /etc/hosts aliases. ``dns`` (a kubelet/dns.py DNSConfigurer)
    decides the resolv.conf by dnsPolicy, and the hostname's domain; without it
    only the pod's dnsConfig is passed on.
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
        if dns is not None:
            kwargs["hostname"], domain = dns.hostname_and_domain(pod)
            if domain and spec.get("setHostnameAsFQDN"):
                kwargs["hostname"] = f"{kwargs['hostname']}.{domain}"
            elif domain:
                kwargs["domainname"] = domain    # /etc/hosts: <ip> <hostname>.<domain> <hostname>
        ports = {}
        for c in list(spec.get("initContainers") or []) + list(spec.get("containers") or []):
            for p in c.get("ports") or []:
                if p.get("hostPort"):
                    key = f"{p['containerPort']}/{p.get('protocol', 'TCP').lower()}"
                    ports[key] = (p.get("hostIP", ""), int(p["hostPort"])) if p.get("hostIP") \
                        else int(p["hostPort"])
        if ports:
            kwargs["ports"] = ports
    if dns is not None:
        kwargs.update(dns.pod_dns(pod).docker_kwargs())
    else:
        config = spec.get("dnsConfig") or {}
        _copy_lists(config, kwargs, nameservers="dns", searches="dns_search")
        if config.get("options"):
            kwargs["dns_opt"] = [o["name"] + (f":{o['value']}" if o.get("value") else "")
                                 for o in config["options"]]
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
    _copy_lists(sc.get("capabilities") or {}, out, add="cap_add", drop="cap_drop")
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


def _mounts(spec: dict, volume_host_paths: dict, read_only_volumes=()) -> list:
    """volumeMounts -> bind mounts.  Volumes in ``read_only_volumes`` (configMap, secret,
    downwardAPI, projected: the kubelet's files) are always mounted read-only, as upstream.
    A ``subPath`` is resolved now, symlinks included, and must stay inside its volume:
    a subPath of a configMap key is that version of the file, never updated (as upstream)."""
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
            base = os.path.realpath(source)
            source = os.path.realpath(os.path.join(source, vm["subPath"]))
            if source != base and not source.startswith(base.rstrip(os.sep) + os.sep):
                raise ContainerStartError(
                    "CreateContainerConfigError",
                    f"failed to prepare subPath for volumeMount {name!r} of container "
                    f"{spec.get('name')!r}: subPath {vm['subPath']!r} is outside the volume")
        read_only = bool(vm.get("readOnly")) or name in read_only_volumes
        mounts.append(docker.types.Mount(target=vm["mountPath"], source=source,
                                         type="bind", read_only=read_only))
    return mounts


def container_config(pod: dict, spec: dict, *, sandbox_id: str, node_name: str,
                     restart_count: int = 0, kind: str = KIND_APP,
                     env: dict | None = None, volume_host_paths: dict | None = None,
                     runtime: str | None = None, device_requests: list | None = None,
                     extra_mounts: list | None = None, devices: list | None = None,
                     read_only_volumes=()) -> dict:
    """kwargs for ``client.containers.create`` for one init/app container of a pod.

    ``env`` is the ready environment (see ``resolve_env``); ``volume_host_paths``
    maps volume names to host directories (see volumemanager.py), those in
    ``read_only_volumes`` are mounted read-only.
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
    mounts = _mounts(spec, volume_host_paths or {}, read_only_volumes or ())
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


# ----------------------------------------------------------------- and back
def container_info(attrs: dict) -> ContainerInfo:
    """``docker inspect`` -> ContainerInfo: the container as the kubelet sees it."""
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


def summary_info(summary: dict, created) -> ContainerInfo:
    """A running container from ``docker ps``'s summary (labels, no State details, no pid)."""
    labels = summary.get("Labels") or {}
    try:
        restart = int(labels.get(LABEL_RESTART_COUNT, "0"))
    except ValueError:
        restart = 0
    return ContainerInfo(
        id=summary["Id"], name=((summary.get("Names") or [""])[0]).lstrip("/"),
        pod_uid=labels.get(LABEL_POD_UID, ""), pod_name=labels.get(LABEL_POD_NAME, ""),
        namespace=labels.get(LABEL_POD_NAMESPACE, ""),
        container_name=labels.get(LABEL_CONTAINER_NAME, ""), kind=labels.get(LABEL_KIND, KIND_APP),
        restart_count=restart, state=STATE_RUNNING, created_at=created,
        image=summary.get("Image", ""), image_id=summary.get("ImageID", ""), labels=dict(labels))
