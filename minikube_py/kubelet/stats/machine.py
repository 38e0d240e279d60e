"""The node's own figures: the whole machine, from the root cgroup and /proc.

As the kubelet does, the node's CPU is the root cgroup's cumulative CPU time
(v1 ``cpuacct.usage``, v2 ``usage_usec``); without a readable root cgroup it
is the non-idle time of ``/proc/stat``.  Memory comes from ``/proc/meminfo``
with cAdvisor's formulas for a machine: usage = MemTotal - MemFree,
working set = usage - Inactive(file), RSS = AnonPages, and the kubelet's
``availableBytes`` = MemTotal - working set.  ``/proc/vmstat`` gives the page
faults; the filesystem figures come from statvfs of the kubelet's state dir
(its ``nodefs``) and of Docker's data root (its ``imagefs``).

Several kubelets of one lab machine share the machine: they report the same figures.
"""
from __future__ import annotations

import os

from . import cgroups

PROC = "/proc"
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _kv(path: str) -> dict[str, int]:
    out = {}
    with open(path) as f:
        for line in f:
            key, _, rest = line.partition(":") if ":" in line else line.partition(" ")
            parts = rest.split()
            if parts:
                try:
                    out[key.strip()] = int(parts[0]) * (1024 if parts[1:] == ["kB"] else 1)
                except ValueError:
                    pass
    return out


def proc_cpu_ns(proc: str = PROC) -> int:
    """Non-idle CPU time of the machine from /proc/stat (user nice system irq softirq steal)."""
    with open(os.path.join(proc, "stat")) as f:
        fields = f.readline().split()
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[1:9])
    return (user + nice + system + irq + softirq + steal) * 1_000_000_000 // CLOCK_TICKS


def machine_memory(proc: str = PROC) -> dict:
    info = _kv(os.path.join(proc, "meminfo"))
    total = info.get("MemTotal", 0)
    usage = max(0, total - info.get("MemFree", 0))
    working_set = max(0, usage - info.get("Inactive(file)", 0))
    try:
        vm = _kv(os.path.join(proc, "vmstat"))
    except OSError:
        vm = {}
    return {"memory_usage_bytes": usage, "memory_working_set_bytes": working_set,
            "memory_rss_bytes": info.get("AnonPages", 0),
            "memory_available_bytes": max(0, total - working_set),
            "memory_page_faults": vm.get("pgfault", 0),
            "memory_major_page_faults": vm.get("pgmajfault", 0)}


def process_count(proc: str = PROC) -> int:
    """Processes on the machine: the numeric entries of /proc."""
    try:
        return sum(1 for name in os.listdir(proc) if name.isdigit())
    except OSError:
        return 0


def fs_stats(path: str) -> dict | None:
    """The Summary API's FsStats of the filesystem holding ``path`` (None if it is not there)."""
    try:
        st = os.statvfs(path)
    except OSError:
        return None
    capacity, available = st.f_blocks * st.f_frsize, st.f_bavail * st.f_frsize
    return {"availableBytes": available, "capacityBytes": capacity,
            "usedBytes": capacity - st.f_bfree * st.f_frsize,
            "inodesFree": st.f_favail, "inodes": st.f_files,
            "inodesUsed": st.f_files - st.f_ffree}


def machine_sample(root: str = cgroups.CGROUP_ROOT, proc: str = PROC) -> dict:
    """One sample of the node: cpu_usage_ns, the memory figures, process_count, timestamp."""
    import time
    ts = time.time()
    try:
        cpu_ns = cgroups.cpu_usage_ns(cgroups.root_cgroup(root))
        source = "cgroup"
    except (cgroups.StatsUnavailable, OSError, KeyError, ValueError):
        cpu_ns, source = proc_cpu_ns(proc), "proc"
    return {"cpu_usage_ns": cpu_ns, **machine_memory(proc), "process_count": process_count(proc),
            "timestamp": ts, "source": source}
