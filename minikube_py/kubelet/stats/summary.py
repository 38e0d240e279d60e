"""The kubelet's Summary API (``GET /stats/summary``, stats/v1alpha1): one document with
the node and every pod's containers, as metrics-server and ``kubectl top`` consume it.

    {"node": {"nodeName", "cpu", "memory", "network", "fs", "runtime": {"imageFs"}, "rlimit"},
     "pods": [{"podRef": {name, namespace, uid}, "startTime",
               "containers": [{"name", "startTime", "cpu", "memory", "logs", "accelerators"?}],
               "cpu", "memory", "network", "ephemeral-storage", "process_stats": {"process_count"}}]}

cpu: ``{time, usageNanoCores, usageCoreNanoSeconds}`` (usageNanoCores only once
two passes exist); memory: ``{time, usageBytes, workingSetBytes, rssBytes,
pageFaults, majorPageFaults}`` (+ ``availableBytes`` when there is a limit).
A pod's figures are the sum of its containers *and its sandbox*, which is what
the pod cgroup of a real kubelet holds.  The sandbox itself is not listed as a
container, as the kubelet does not list it.  A container's ``logs`` (and the pod's
``ephemeral-storage``) is the size of its Docker log file; the container's writable
layer is not measured (that needs a walk of its files).
"""
from __future__ import annotations

from . import accelerators as accel
from . import machine, network
from .collector import Snapshot, rfc3339


def cpu_stats(sample: dict) -> dict:
    out = {"time": rfc3339(sample["timestamp"]), "usageCoreNanoSeconds": int(sample["cpu_usage_ns"])}
    if sample.get("cpu_nanocores") is not None:
        out["usageNanoCores"] = int(sample["cpu_nanocores"])
    return out


def memory_stats(sample: dict) -> dict:
    out = {"time": rfc3339(sample["timestamp"]), "usageBytes": sample["memory_usage_bytes"],
           "workingSetBytes": sample["memory_working_set_bytes"],
           "rssBytes": sample["memory_rss_bytes"], "pageFaults": sample["memory_page_faults"],
           "majorPageFaults": sample["memory_major_page_faults"]}
    limit = sample.get("memory_limit_bytes")
    if limit is not None:
        out["availableBytes"] = max(0, limit - sample["memory_working_set_bytes"])
    elif sample.get("memory_available_bytes") is not None:
        out["availableBytes"] = sample["memory_available_bytes"]
    return out


def _sum(samples: list[dict]) -> dict:
    """A pod's sample: its containers' added up, at the newest container's time."""
    keys = ("cpu_usage_ns", "memory_usage_bytes", "memory_working_set_bytes", "memory_rss_bytes",
            "memory_page_faults", "memory_major_page_faults")
    out = {k: sum(s.get(k) or 0 for s in samples) for k in keys}
    out["timestamp"] = max(s["timestamp"] for s in samples)
    rates = [s.get("cpu_nanocores") for s in samples]
    out["cpu_nanocores"] = None if any(r is None for r in rates) else sum(rates)
    out["process_count"] = sum(s.get("process_count") or 0 for s in samples)
    return out


def node_summary(node_name: str, snap: Snapshot, *, node_fs_path: str,
                 image_fs_path: str | None = None) -> dict:
    n = snap.node
    time_ = rfc3339(n["timestamp"])
    out = {"nodeName": node_name, "cpu": cpu_stats(n), "memory": memory_stats(n),
           "rlimit": {"time": time_, "curproc": n["process_count"]}}
    net = network.network_stats(network.read_interfaces("self"), time_)
    if net:
        out["network"] = net
    fs = machine.fs_stats(node_fs_path)
    if fs:
        out["fs"] = {"time": time_, **fs}
    image_fs = machine.fs_stats(image_fs_path) if image_fs_path else None
    if image_fs:
        out["runtime"] = {"imageFs": {"time": time_, **image_fs}}
    return out


def _fs_totals(fs: dict | None) -> dict:
    return {k: fs[k] for k in ("availableBytes", "capacityBytes")} if fs else {}


def pod_summaries(snap: Snapshot, *, devices: dict | None = None, gpu_source=None,
                  image_fs: dict | None = None) -> list[dict]:
    """One PodStats per pod that has running containers in the snapshot.

    ``devices``: the device manager's assignments {pod uid: {container: [device ids]}};
    ``image_fs``: FsStats of the filesystem the container logs are on.
    """
    devices = devices or {}
    by_pod: dict[str, list[dict]] = {}
    for c in snap.containers:
        by_pod.setdefault(c["pod_uid"], []).append(c)
    pods = []
    for uid, samples in sorted(by_pod.items(), key=lambda kv: (kv[1][0]["namespace"],
                                                               kv[1][0]["pod_name"])):
        first = samples[0]
        sandbox = next((s for s in samples if s["sandbox"]), None)
        containers = []
        for s in sorted((s for s in samples if not s["sandbox"]), key=lambda s: s["container_name"]):
            entry = {"name": s["container_name"], "startTime": _time(s.get("started_at")),
                     "cpu": cpu_stats(s), "memory": memory_stats(s)}
            if s.get("log_bytes") is not None:
                entry["logs"] = {"time": rfc3339(s["timestamp"]), "usedBytes": s["log_bytes"],
                                 **_fs_totals(image_fs)}
            ids = (devices.get(uid) or {}).get(s["container_name"])
            if ids:
                entry["accelerators"] = accel.container_accelerators(
                    ids, gpu_source, s.get("cpu_nanocores"), s.get("memory_working_set_bytes"))
            containers.append(entry)
        total = _sum(samples)
        pod = {"podRef": {"name": first["pod_name"], "namespace": first["namespace"], "uid": uid},
               "startTime": _time((sandbox or first).get("started_at")),
               "containers": containers, "cpu": cpu_stats(total), "memory": memory_stats(total),
               "process_stats": {"process_count": total["process_count"]}}
        net = network.network_stats(snap.networks.get(uid) or [], rfc3339(total["timestamp"]))
        if net:
            pod["network"] = net
        logs = [s["log_bytes"] for s in samples if s.get("log_bytes") is not None]
        if logs:        # what a pod writes on the node's disk here: its containers' logs
            pod["ephemeral-storage"] = {"time": rfc3339(total["timestamp"]), "usedBytes": sum(logs),
                                        **_fs_totals(image_fs)}
        pods.append(pod)
    return pods


def summary(node_name: str, snap: Snapshot, *, node_fs_path: str, image_fs_path: str | None = None,
            devices: dict | None = None, gpu_source=None) -> dict:
    return {"node": node_summary(node_name, snap, node_fs_path=node_fs_path,
                                 image_fs_path=image_fs_path),
            "pods": pod_summaries(snap, devices=devices, gpu_source=gpu_source,
                                  image_fs=machine.fs_stats(image_fs_path) if image_fs_path else None)}


def _time(dt) -> str | None:
    if dt is None:
        return None
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")
