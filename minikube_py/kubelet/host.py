"""Facts about the machine a kubelet runs on: what goes into Node.status.

A real kubelet asks cAdvisor for the number of CPUs and the memory size and
reads /etc/os-release, the kernel version and the machine id.  We read the same
files.  Labs override capacity with flags (``--cpu 2 --memory 4Gi``) so that
scheduling exercises give the same answers on every laptop.

The facts that do not change while the machine runs (machine id, boot id, OS image,
architecture) are read once, as the kubelet reads cAdvisor's MachineInfo at start:
the NodeStatus is recomputed every 10 s, by every hollow node of a scale test too.
"""
from __future__ import annotations

import functools
import os
import platform
import shutil


def _read(path: str) -> str:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return ""


def cpu_count() -> int:
    """CPUs this process may use (cgroup/affinity aware where the OS tells us)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def memory_bytes() -> int:
    """MemTotal from /proc/meminfo, in bytes."""
    for line in _read("/proc/meminfo").splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def ephemeral_storage_bytes(path: str) -> int:
    """Size of the filesystem holding ``path`` (the kubelet's state directory)."""
    while path and not os.path.exists(path):
        path = os.path.dirname(path)
    try:
        return shutil.disk_usage(path or "/").total
    except OSError:
        return 0


@functools.cache
def os_image() -> str:
    """PRETTY_NAME from /etc/os-release, e.g. "Debian GNU/Linux 12 (bookworm)"."""
    for line in _read("/etc/os-release").splitlines():
        if line.startswith("PRETTY_NAME="):
            return line.split("=", 1)[1].strip().strip('"')
    return platform.system()


@functools.cache
def architecture() -> str:
    """Go's GOARCH names, as the kubernetes.io/arch label uses them."""
    machine = platform.machine().lower()
    return {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "i686": "386"}.get(machine, machine)


@functools.cache
def machine_id() -> str:
    return _read("/etc/machine-id") or _read("/var/lib/dbus/machine-id")


@functools.cache
def boot_id() -> str:
    return _read("/proc/sys/kernel/random/boot_id")


@functools.cache
def system_uuid() -> str:
    return _read("/sys/class/dmi/id/product_uuid") or machine_id()
