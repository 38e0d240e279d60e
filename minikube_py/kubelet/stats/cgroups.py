"""Container CPU and memory usage from cgroup files, as cAdvisor and `docker stats` read them.

Two numbers matter to Kubernetes (``kubectl top``, metrics.k8s.io, evictions):

* **CPU usage**: cumulative CPU time in nanoseconds.
  cgroup v1: ``cpuacct.usage``;  cgroup v2: ``usage_usec`` in ``cpu.stat`` (x1000).
  A rate comes from two samples: ``cpu_nanocores(a, b)`` = Δusage_ns / Δseconds
  (1 CPU busy = 1e9 nanocores = "1000m").
* **Memory working set**: what the kernel could not easily reclaim:
  v1: ``memory.usage_in_bytes`` - ``total_inactive_file`` (from ``memory.stat``);
  v2: ``memory.current`` - ``inactive_file``; never below 0.

cAdvisor also reports RSS (v1 ``total_rss``, v2 ``anon``), page faults
(``pgfault`` / ``pgmajfault``) and the number of processes (``pids.current``);
so does ``read_cgroup``.

Where a container's cgroup is depends on the host: the cgroup version, the
cgroup driver (cgroupfs: ``docker/<id>``; systemd: ``system.slice/docker-<id>.scope``)
and how the controllers are mounted (``cpu,cpuacct`` together, or ``cpu`` and
``cpuacct`` apart).  ``find_cgroup()`` tries the known layouts and falls back
to ``/proc/<pid>/cgroup`` of the container's main process.  When none of that
works (e.g. the kubelet runs in a container that cannot see the host's
cgroups), ``container_stats()`` can ask the Docker API instead
(``docker_client=``), which reports the same counters.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

CGROUP_ROOT = "/sys/fs/cgroup"


class StatsUnavailable(Exception):
    """No cgroup (and no fallback) gives numbers for this container."""


@dataclass
class CgroupPaths:
    version: int            # 1 or 2
    cpu: str                # v1: the cpuacct dir; v2: the unified dir
    memory: str             # v1: the memory dir;  v2: the unified dir
    pids: str | None = None  # v1: the pids dir (if mounted); v2: the unified dir


# ------------------------------------------------------------------ files
def _read(path: str) -> str:
    with open(path) as f:
        return f.read().strip()


def _read_int(path: str) -> int:
    return int(_read(path))


def _read_kv(path: str) -> dict[str, int]:
    out = {}
    with open(path) as f:
        for line in f:
            parts = line.split()
            if len(parts) == 2:
                try:
                    out[parts[0]] = int(parts[1])
                except ValueError:
                    pass
    return out


# ------------------------------------------------------------------ layout
def is_cgroup_v2(root: str = CGROUP_ROOT) -> bool:
    """Pure cgroup v2 ("unified"): the root itself is a cgroup2 mount."""
    return os.path.exists(os.path.join(root, "cgroup.controllers"))


def controller_dir(controller: str, root: str = CGROUP_ROOT) -> str | None:
    """The mount of a cgroup v1 controller: ``cpuacct`` may be mounted as
    ``cpuacct``, ``cpu,cpuacct`` or ``cpuacct,cpu``; None when not mounted."""
    try:
        names = os.listdir(root)
    except OSError:
        return None
    for name in sorted(names, key=len):
        if controller in name.split(",") and os.path.isdir(os.path.join(root, name)):
            return os.path.join(root, name)
    return None


def _candidates(container_id: str) -> list[str]:
    """Relative cgroup paths of a Docker container under the usual drivers."""
    return [
        f"docker/{container_id}",                           # cgroupfs driver
        f"system.slice/docker-{container_id}.scope",        # systemd driver
        f"docker.slice/docker-{container_id}.scope",
        f"machine.slice/docker-{container_id}.scope",
    ]


def _proc_cgroups(pid: int) -> dict[str, str]:
    """/proc/<pid>/cgroup -> {controller: path}; the v2 entry is under key ''."""
    out = {}
    try:
        with open(f"/proc/{pid}/cgroup") as f:
            for line in f:
                _, controllers, path = line.rstrip("\n").split(":", 2)
                for c in controllers.split(",") if controllers else [""]:
                    out[c] = path
    except (OSError, ValueError):
        pass
    return out


def find_cgroup(container_id: str, pid: int | None = None,
                root: str = CGROUP_ROOT) -> CgroupPaths:
    """Locate a container's cgroup directories; StatsUnavailable if not found."""
    if is_cgroup_v2(root):
        for rel in _candidates(container_id):
            d = os.path.join(root, rel)
            if os.path.exists(os.path.join(d, "cpu.stat")):
                return CgroupPaths(2, d, d, d)
        if pid:
            rel = _proc_cgroups(pid).get("")
            if rel is not None:
                d = os.path.join(root, rel.lstrip("/"))
                if os.path.exists(os.path.join(d, "cpu.stat")):
                    return CgroupPaths(2, d, d, d)
        raise StatsUnavailable(f"no cgroup v2 directory for container {container_id[:12]}")

    cpu_root = controller_dir("cpuacct", root)
    mem_root = controller_dir("memory", root)
    pids_root = controller_dir("pids", root)
    if cpu_root is None or mem_root is None:
        raise StatsUnavailable(f"no cgroup v1 cpuacct/memory mounts under {root}")

    def v1(cpu_rel: str, mem_rel: str, pids_rel: str) -> CgroupPaths | None:
        c, m = os.path.join(cpu_root, cpu_rel), os.path.join(mem_root, mem_rel)
        if os.path.exists(os.path.join(c, "cpuacct.usage")) and \
                os.path.exists(os.path.join(m, "memory.usage_in_bytes")):
            p = os.path.join(pids_root, pids_rel) if pids_root else None
            return CgroupPaths(1, c, m, p if p and os.path.isdir(p) else None)
        return None

    for rel in _candidates(container_id):
        found = v1(rel, rel, rel)
        if found:
            return found
    if pid:
        procs = _proc_cgroups(pid)
        if "cpuacct" in procs and "memory" in procs:
            found = v1(procs["cpuacct"].lstrip("/"), procs["memory"].lstrip("/"),
                       procs.get("pids", "/").lstrip("/"))
            if found:
                return found
    raise StatsUnavailable(f"no cgroup v1 directory for container {container_id[:12]}")


# ------------------------------------------------------------------ reading
def _pids(directory: str | None) -> int | None:
    """``pids.current``: the processes (threads) in the cgroup; None without a pids controller."""
    if not directory:
        return None
    try:
        return _read_int(os.path.join(directory, "pids.current"))
    except (OSError, ValueError):
        return None


def cpu_usage_ns(paths: CgroupPaths) -> int:
    """Cumulative CPU time of the cgroup, in nanoseconds."""
    if paths.version == 2:
        return _read_kv(os.path.join(paths.cpu, "cpu.stat"))["usage_usec"] * 1000
    return _read_int(os.path.join(paths.cpu, "cpuacct.usage"))


def read_cgroup(paths: CgroupPaths) -> dict:
    """Read the counters of one cgroup (see the module doc for the formulas)."""
    cpu_ns = cpu_usage_ns(paths)
    if paths.version == 2:
        usage = _read_int(os.path.join(paths.memory, "memory.current"))
        stat = _read_kv(os.path.join(paths.memory, "memory.stat"))
        inactive = stat.get("inactive_file", 0)
        rss = stat.get("anon", 0)
        faults, major = stat.get("pgfault", 0), stat.get("pgmajfault", 0)
        limit_text = _read(os.path.join(paths.memory, "memory.max"))
        limit = None if limit_text == "max" else int(limit_text)
    else:
        usage = _read_int(os.path.join(paths.memory, "memory.usage_in_bytes"))
        stat = _read_kv(os.path.join(paths.memory, "memory.stat"))

        def total(name):                    # total_*: this cgroup and its children
            return stat.get(f"total_{name}", stat.get(name, 0))
        inactive, rss = total("inactive_file"), total("rss")
        faults, major = total("pgfault"), total("pgmajfault")
        limit = _read_int(os.path.join(paths.memory, "memory.limit_in_bytes"))
        if limit >= 1 << 62:                # "unlimited" is a huge page-aligned number
            limit = None
    return {
        "cpu_usage_ns": cpu_ns,
        "memory_usage_bytes": usage,
        "memory_working_set_bytes": max(0, usage - inactive) if inactive < usage else 0,
        "memory_rss_bytes": rss,
        "memory_page_faults": faults,
        "memory_major_page_faults": major,
        "memory_limit_bytes": limit,
        "process_count": _pids(paths.pids),
        "cgroup_version": paths.version,
    }


def root_cgroup(root: str = CGROUP_ROOT) -> CgroupPaths:
    """The root cgroup: the whole machine, which the kubelet reports as the node."""
    if is_cgroup_v2(root):
        return CgroupPaths(2, root, root, None)
    cpu_root, mem_root = controller_dir("cpuacct", root), controller_dir("memory", root)
    if cpu_root is None or mem_root is None:
        raise StatsUnavailable(f"no cgroup v1 cpuacct/memory mounts under {root}")
    return CgroupPaths(1, cpu_root, mem_root, None)


def docker_api_stats(docker_client, container_id: str) -> dict:
    """The same numbers from Docker's stats API (one shot), computed as `docker stats` does."""
    s = docker_client.api.stats(container_id, stream=False, one_shot=True)
    mem = s.get("memory_stats") or {}
    cpu = (s.get("cpu_stats") or {}).get("cpu_usage") or {}
    if "usage" not in mem or "total_usage" not in cpu:
        raise StatsUnavailable(f"Docker has no stats for container {container_id[:12]}")
    stat = mem.get("stats") or {}
    inactive = stat.get("total_inactive_file", stat.get("inactive_file", 0))
    usage = mem["usage"]
    limit = mem.get("limit")
    return {
        "cpu_usage_ns": int(cpu["total_usage"]),
        "memory_usage_bytes": usage,
        "memory_working_set_bytes": max(0, usage - inactive),
        "memory_rss_bytes": stat.get("total_rss", stat.get("anon", 0)),
        "memory_page_faults": stat.get("total_pgfault", stat.get("pgfault", 0)),
        "memory_major_page_faults": stat.get("total_pgmajfault", stat.get("pgmajfault", 0)),
        "memory_limit_bytes": limit if limit and limit < 1 << 62 else None,
        "process_count": (s.get("pids_stats") or {}).get("current"),
        "cgroup_version": None,
    }


def container_stats(container_id: str, pid: int | None = None, *,
                    root: str = CGROUP_ROOT, docker_client=None) -> dict:
    """One sample for a container.

    Returns ``{cpu_usage_ns, memory_working_set_bytes, memory_usage_bytes,
    memory_limit_bytes, cgroup_version, source, timestamp}`` (timestamp: unix
    seconds, float).  Reads cgroup files; with ``docker_client`` it falls back
    to the Docker API when the files cannot be found.  StatsUnavailable otherwise.
    """
    ts = time.time()
    try:
        out = read_cgroup(find_cgroup(container_id, pid, root))
        out["source"] = "cgroup"
    except (StatsUnavailable, OSError, KeyError, ValueError) as e:
        if docker_client is None:
            if isinstance(e, StatsUnavailable):
                raise
            raise StatsUnavailable(f"reading cgroup of {container_id[:12]}: {e}") from e
        out = docker_api_stats(docker_client, container_id)
        out["source"] = "docker-api"
    out["timestamp"] = ts
    return out


def cpu_nanocores(previous: dict, current: dict) -> int:
    """CPU rate between two samples in nanocores (1e9 = one CPU fully busy)."""
    dt = current["timestamp"] - previous["timestamp"]
    if dt <= 0:
        return 0
    used = current["cpu_usage_ns"] - previous["cpu_usage_ns"]
    return max(0, int(used / dt))


def format_cpu(nanocores: int) -> str:
    """Nanocores as a Kubernetes quantity, the way metrics-server reports them ("12345n")."""
    return f"{int(nanocores)}n"


def format_memory(nbytes: int) -> str:
    """Bytes as a Kubernetes quantity in Ki, the way metrics-server reports them."""
    return f"{int(nbytes) // 1024}Ki"
